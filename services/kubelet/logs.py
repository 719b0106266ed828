"""Reading container logs in the CRI log format, as the kubelet serves them to `kubectl logs`.

A CRI log line is `<RFC3339Nano> <stdout|stderr> <F|P> <content>`; `P` marks a partial line that
the following entries of the same stream continue. Guarantees:
- `read_log` returns whole lines (partials joined), the last `tail_lines` of them when asked,
  only those at or after `since_ns`, with `timestamps` the line's own RFC3339Nano time in front,
  as the real kubelet prints them; `limit_bytes` cuts the output there.
- `follow_log` yields what is in the file and then what is appended, until `still_running()`
  says the container has stopped and the file has no more to give, or the reader goes away.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

FOLLOW_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class LogLine:
    timestamp: str
    stream: str
    content: bytes

    def render(self, timestamps: bool) -> bytes:
        return (self.timestamp.encode() + b" " if timestamps else b"") + self.content + b"\n"


def parse_timestamp_ns(stamp: str) -> int:
    """RFC3339Nano (`2024-01-02T03:04:05.123456789Z`) to nanoseconds since the epoch."""
    base, _, frac = stamp.rstrip("Z").partition(".")
    secs = dt.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc).timestamp()
    return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9])


class LineAssembler:
    """Joins CRI entries (partial ones too) into whole lines; malformed entries are skipped."""

    def __init__(self) -> None:
        self.partial: dict[str, tuple[str, bytes]] = {}

    def feed(self, raw: bytes) -> LogLine | None:
        parts = raw.rstrip(b"\n").split(b" ", 3)
        if len(parts) < 3:
            return None
        stamp, stream, tag = parts[0].decode(), parts[1].decode(), parts[2]
        content = parts[3] if len(parts) == 4 else b""
        first_stamp, before = self.partial.pop(stream, (stamp, b""))
        if tag == b"P":
            self.partial[stream] = (first_stamp, before + content)
            return None
        return LogLine(first_stamp, stream, before + content)


def entries(data: bytes) -> list[bytes]:
    """The CRI entries in `data`: split at "\n" only, as a content may hold "\r" (a terminal's "\r\n")."""
    return [raw for raw in data.split(b"\n") if raw]


def parse_lines(data: bytes) -> list[LogLine]:
    assembler = LineAssembler()
    lines = []
    for raw in entries(data):
        line = assembler.feed(raw)
        if line is not None:
            lines.append(line)
    return lines


def select(lines: list[LogLine], *, tail_lines: int | None = None, since_ns: int | None = None) -> list[LogLine]:
    if since_ns is not None:
        lines = [line for line in lines if parse_timestamp_ns(line.timestamp) >= since_ns]
    if tail_lines is not None:
        lines = lines[-tail_lines:] if tail_lines > 0 else []
    return lines


def read_log(path: Path, *, tail_lines: int | None = None, timestamps: bool = False,
             since_ns: int | None = None, limit_bytes: int | None = None) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return b""
    out = b"".join(line.render(timestamps) for line in select(parse_lines(data), tail_lines=tail_lines,
                                                               since_ns=since_ns))
    return out[:limit_bytes] if limit_bytes is not None else out


async def follow_log(path: Path, still_running: Callable[[], bool], *, tail_lines: int | None = None,
                     timestamps: bool = False, since_ns: int | None = None) -> AsyncIterator[bytes]:
    """Existing lines (as `read_log` selects them), then new ones as the container writes them."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    complete = data[: data.rfind(b"\n") + 1]
    offset = len(complete)
    first = select(parse_lines(complete), tail_lines=tail_lines, since_ns=since_ns)
    if first:
        yield b"".join(line.render(timestamps) for line in first)
    assembler, pending = LineAssembler(), b""
    while True:
        running = still_running()
        chunk = read_from(path, offset)
        offset += len(chunk)
        pending += chunk
        cut = pending.rfind(b"\n") + 1
        lines = [assembler.feed(raw) for raw in entries(pending[:cut])]
        pending = pending[cut:]
        out = b"".join(line.render(timestamps) for line in lines if line is not None)
        if out:
            yield out
        if not running and not chunk:
            return
        await asyncio.sleep(FOLLOW_POLL_SECONDS)


def read_from(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read()
    except FileNotFoundError:
        return b""
