"""The `pause` image (registry.k8s.io/pause): sleeps until SIGINT or SIGTERM, then exits 0.

Standard library only; it does nothing else, as the real pause binary does nothing else.
"""

import signal
import sys


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
