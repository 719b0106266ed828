"""`python -m services.launcher up|down|logs` — what `make up`, `make down` and `make logs` run.

Settings come from the environment: KUBEMU_STATE_DIR (default .kubemu), KUBEMU_NODES (2),
KUBEMU_API_PORT (6443), KUBEMU_ETCD_PORT (2379), KUBEMU_ETCD_PEER_PORT (2380), KUBEMU_STORE (auto|etcd|embedded).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time

from services.launcher.cluster import Cluster, Settings, ensure_tokens, write_kubeconfigs
from services.launcher.console import Console, render


def usage(s: Settings, *, detached: bool = False) -> str:
    kubeconfig = s.kubeconfig("admin")
    token_cmd = f"$(awk -F, '$2==\"kubernetes-admin\"{{print $1}}' {s.state_dir / 'tokens.csv'})"
    return "\n".join([
        "",
        "kubemu is up.",
        f"  kubeconfig:  {kubeconfig}",
        f"  kubectl:     kubectl --kubeconfig {kubeconfig} get nodes",
        f"  curl:        curl --cacert {s.ca_file} -H \"Authorization: Bearer {token_cmd}\" {s.server}/api/v1/nodes",
        f"  logs:        {s.logs_dir}/<component>.log   (make logs C=scheduler)",
        "  stop:        " + ("make down" if detached else "Ctrl-C here"),
        "",
    ])


async def run_up(s: Settings, console: Console) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    cluster = Cluster(s, console)
    code = 0
    try:
        start = asyncio.create_task(cluster.start())
        stop_wait = asyncio.create_task(stop.wait())
        await asyncio.wait([start, stop_wait], return_when=asyncio.FIRST_COMPLETED)
        if start.done():
            start.result()
            for line in usage(s).splitlines():
                console.say(line)
            (s.state_dir / "ready").write_text(f"{os.getpid()}\n")
            await cluster.wait_stopped(stop)
        else:
            start.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await start
        stop_wait.cancel()
    except RuntimeError as exc:
        console.say(f"error: {exc}")
        code = 1
    finally:
        (s.state_dir / "ready").unlink(missing_ok=True)
        console.say("stopping the cluster")
        await cluster.stop()
        console.say("stopped; nothing of the cluster is left running")
    return code


def _running_pid(s: Settings) -> int | None:
    path = s.state_dir / "launcher.pid"
    try:
        pid = int(path.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def up(s: Settings, detach: bool) -> int:
    if (pid := _running_pid(s)) is not None:
        print(f"kubemu is already running from {s.state_dir} (launcher pid {pid}); `make down` stops it", file=sys.stderr)
        return 1
    s.state_dir.mkdir(parents=True, exist_ok=True)
    if detach:
        return _detach(s)
    (s.state_dir / "launcher.pid").write_text(f"{os.getpid()}\n")
    try:
        return asyncio.run(run_up(s, Console()))
    finally:
        (s.state_dir / "launcher.pid").unlink(missing_ok=True)


def _detach(s: Settings) -> int:
    (s.state_dir / "ready").unlink(missing_ok=True)
    out = (s.state_dir / "launcher.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.launcher", "up"], stdout=out, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    print(f"starting kubemu in the background (launcher pid {proc.pid}, output in {s.state_dir / 'launcher.log'})")
    while not (s.state_dir / "ready").exists():
        if proc.poll() is not None:
            print(f"the launcher exited with code {proc.returncode}; see {s.state_dir / 'launcher.log'}", file=sys.stderr)
            return 1
        time.sleep(0.2)
    print(usage(s, detached=True))
    return 0


def down(s: Settings) -> int:
    pid = _running_pid(s)
    if pid is None:
        print(f"no kubemu cluster is running from {s.state_dir}")
        return 0
    os.kill(pid, signal.SIGTERM)
    print(f"stopping kubemu (launcher pid {pid}) ...")
    while _running_pid(s) == pid:
        time.sleep(0.2)
    print("stopped")
    return 0


def logs(s: Settings, component: str | None) -> int:
    names = sorted(p.stem for p in s.logs_dir.glob("*.log"))
    if not component:
        print("components with logs: " + (", ".join(names) or "none yet") + "\nusage: make logs C=<component>")
        return 0 if names else 1
    path = s.logs_dir / f"{component}.log"
    if not path.exists():
        print(f"no log for {component!r}; components with logs: {', '.join(names) or 'none yet'}", file=sys.stderr)
        return 1
    with contextlib.suppress(KeyboardInterrupt), path.open() as f:
        while True:
            line = f.readline()
            if line:
                print(render(line), flush=True)
            else:
                time.sleep(0.2)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m services.launcher", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start a cluster (foreground; --detach for background)")
    up_parser.add_argument("--detach", action="store_true", help="run in the background; `down` stops it")
    sub.add_parser("down", help="stop a cluster started with --detach")
    logs_parser = sub.add_parser("logs", help="follow one component's log")
    logs_parser.add_argument("component", nargs="?")
    cred_parser = sub.add_parser("credentials", help="write the token file, or the kubeconfigs (docker compose)")
    cred_parser.add_argument("phase", choices=["tokens", "kubeconfigs"])
    args = parser.parse_args()
    s = Settings.from_env()
    if args.command == "up":
        return up(s, args.detach)
    if args.command == "down":
        return down(s)
    if args.command == "credentials":
        return write_credentials(s, args.phase)
    return logs(s, args.component)


def write_credentials(s: Settings, phase: str) -> int:
    """kubeadm-like phases for docker compose: tokens before the apiserver, kubeconfigs after its CA exists."""
    tokens = ensure_tokens(s)
    if phase == "kubeconfigs":
        if not s.ca_file.exists():
            print(f"no CA at {s.ca_file}: start the apiserver (it writes its CA there) first", file=sys.stderr)
            return 1
        write_kubeconfigs(s, tokens)
    print(f"wrote {phase} in {s.state_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
