"""Console output like `docker compose up`: every component's log lines, prefixed and coloured.

Components log JSON lines (one per event); the console shows them compactly —
`scheduler         | 12:00:01 info  pod.scheduled key=default/nginx-1 node=node-2` — while the
per-component log file keeps the JSON line as written.
"""

from __future__ import annotations

import sys

import orjson

COLOURS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94]
_HIDDEN = {"event", "timestamp", "level", "component", "msg", "ts", "caller"}


class Console:
    def __init__(self, *, width: int = 18, colour: bool | None = None) -> None:
        self.width = width
        self.colour = sys.stdout.isatty() if colour is None else colour
        self._assigned: dict[str, int] = {}

    def prefix(self, name: str) -> str:
        code = self._assigned.setdefault(name, COLOURS[len(self._assigned) % len(COLOURS)])
        label = f"{name:<{self.width}}|"
        return f"\x1b[{code}m{label}\x1b[0m" if self.colour else label

    def line(self, name: str, raw: str) -> None:
        print(f"{self.prefix(name)} {render(raw)}", flush=True)

    def say(self, message: str) -> None:
        self.line("launcher", message)


def render(raw: str) -> str:
    """One JSON log line as `HH:MM:SS level event k=v ...`; anything else as it is."""
    raw = raw.rstrip("\n")
    try:
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    if not isinstance(entry, dict):
        return raw
    event = entry.get("event", entry.get("msg"))  # structlog's `event`, or etcd's (zap) `msg`
    if event is None:
        return raw
    when = str(entry.get("timestamp", entry.get("ts", "")))[11:19]
    fields = " ".join(f"{k}={_short(v)}" for k, v in entry.items() if k not in _HIDDEN and v not in (None, ""))
    return f"{when} {entry.get('level', ''):<7} {event} {fields}".rstrip()


def _short(value: object) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if " " not in text else repr(text)
