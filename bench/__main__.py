"""Run kubemu's benchmarks: `python -m bench [name ...]` (default: all of them, in order)."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = ["store", "api", "scheduler", "kubelet", "proxy"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    failed = []
    for name in args.names or BENCHMARKS:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.{name}":
                raise
            print(f"bench: {name}: not written yet, skipped")
            continue
        print(f"bench: running {name}")
        if module.main(quick=args.quick) is False:
            failed.append(name)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
