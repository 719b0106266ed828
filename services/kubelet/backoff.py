"""Per-key exponential backoff, as client-go's flowcontrol.Backoff that the kubelet uses.

Guarantees, for a key (one container of one pod, or one image):
- The first failure is not delayed; `next(key, t)` then sets the delay to `base`, and each later
  `next` doubles it, up to `cap`: restarts come after 0, base, 2 base, 4 base ... cap.
- `in_backoff_since(key, t)` is True while less than the current delay has passed since `t`
  (the failure's time).
- An entry whose last update is more than `reset_after` (2 x cap, 10 min by default) before the
  new failure starts over at `base`: a container that ran that long is not punished for old crashes.
Times are wall-clock seconds (container finishedAt times are wall-clock).
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    def __init__(self, base: float, cap: float, *, reset_after: float | None = None) -> None:
        self.base, self.cap = base, cap
        self.reset_after = 2 * cap if reset_after is None else reset_after
        self._entries: dict[str, _Entry] = {}

    def _expired(self, entry: _Entry, event_time: float) -> bool:
        return event_time - entry.last_update > self.reset_after

    def next(self, key: str, event_time: float) -> float:
        """Record a failure at `event_time`; returns the delay to wait after this one."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, event_time):
            entry = self._entries[key] = _Entry(self.base, event_time)
        else:
            entry.delay = min(entry.delay * 2, self.cap)
            entry.last_update = event_time
        return entry.delay

    def get(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def in_backoff_since(self, key: str, event_time: float, *, now: float | None = None) -> bool:
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, event_time):
            return False
        return (time.time() if now is None else now) - event_time < entry.delay

    def remaining(self, key: str, event_time: float, *, now: float | None = None) -> float:
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, event_time + entry.delay - (time.time() if now is None else now))

    def forget(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
