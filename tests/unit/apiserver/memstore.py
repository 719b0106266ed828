"""An in-memory `Backend` (storage/base.py semantics) for unit tests only.

Guarantees: the storage interface's revision, CAS, snapshot-list, watch and compaction semantics,
in one process, with nothing persisted. The real backends (etcd, embedded SQLite) live in
`storage/`; this one exists so API server logic can be tested without either.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator

from services.apiserver.storage.base import (
    Compacted, EventType, FutureRevision, KeyExists, KeyValue, ListResult, WatchEvent, WriteResult,
)


class MemoryBackend:
    def __init__(self) -> None:
        self._rev = 1
        self._compacted = 0
        self._events: list[WatchEvent] = []  # every change, in revision order (until compacted)
        self._data: dict[str, KeyValue] = {}
        self._changed = asyncio.Condition()

    async def get(self, key: str) -> KeyValue | None:
        return self._data.get(key)

    async def list(self, prefix: str, *, limit: int = 0, continue_key: str | None = None,
                   revision: int = 0) -> ListResult:
        rev = revision or self._rev
        if rev > self._rev:
            raise FutureRevision(rev, self._rev)
        if revision and revision <= self._compacted:
            raise Compacted(revision, self._compacted)
        state = self._state_at(rev) if revision else self._data
        keys = sorted(k for k in state if k.startswith(prefix) and (continue_key is None or k >= continue_key))
        page = keys[:limit] if limit else keys
        return ListResult([state[k] for k in page], rev, len(page) < len(keys))

    async def count(self, prefix: str) -> int:
        return sum(1 for k in self._data if k.startswith(prefix))

    async def create(self, key: str, value: bytes) -> int:
        if key in self._data:
            raise KeyExists(key)
        rev = self._next()
        kv = KeyValue(key, value, rev, rev)
        await self._apply(WatchEvent(EventType.PUT, kv, None, rev))
        return rev

    async def update(self, key: str, value: bytes, expected_revision: int) -> WriteResult:
        cur = self._data.get(key)
        if cur is None or cur.mod_revision != expected_revision:
            return WriteResult(False, self._rev, cur)
        rev = self._next()
        kv = KeyValue(key, value, cur.create_revision, rev)
        await self._apply(WatchEvent(EventType.PUT, kv, cur, rev))
        return WriteResult(True, rev, kv)

    async def delete(self, key: str, expected_revision: int = 0) -> WriteResult:
        cur = self._data.get(key)
        if cur is None or (expected_revision and cur.mod_revision != expected_revision):
            return WriteResult(False, self._rev, cur)
        rev = self._next()
        gone = KeyValue(key, cur.value, cur.create_revision, rev)
        await self._apply(WatchEvent(EventType.DELETE, gone, cur, rev))
        return WriteResult(True, rev, cur)

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[WatchEvent]:
        if start_revision and start_revision <= self._compacted:
            raise Compacted(start_revision, self._compacted)
        next_rev = start_revision or self._rev + 1
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: self._rev >= next_rev)
            revs = [e.revision for e in self._events]
            for event in self._events[bisect.bisect_left(revs, next_rev):]:
                if event.kv.key.startswith(prefix):
                    yield event
            next_rev = self._rev + 1

    async def current_revision(self) -> int:
        return self._rev

    async def compact(self, revision: int) -> None:
        self._compacted = max(self._compacted, revision)
        self._events = [e for e in self._events if e.revision > revision]

    async def close(self) -> None:
        return None

    def _next(self) -> int:
        self._rev += 1
        return self._rev

    async def _apply(self, event: WatchEvent) -> None:
        if event.type is EventType.PUT:
            self._data[event.kv.key] = event.kv
        else:
            self._data.pop(event.kv.key, None)
        self._events.append(event)
        async with self._changed:
            self._changed.notify_all()

    def _state_at(self, rev: int) -> dict[str, KeyValue]:
        state = dict(self._data)
        for event in reversed(self._events):
            if event.revision <= rev:
                break
            if event.prev is None:
                state.pop(event.kv.key, None)
            else:
                state[event.kv.key] = event.prev
        return state
