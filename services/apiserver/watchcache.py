"""The watch cache: one store watch per resource, fanned out to every watcher of that resource.

Guarantees:
- A cache lists its resource's prefix once, then follows one store watch from that revision. It
  keeps the current objects and the last `size` events; every watcher is served from memory.
- `watch(rv)` replays, in revision order, every event after `rv` and then follows live events,
  none missed or repeated. rv None/0 starts with a synthetic ADDED per current object. An rv
  older than the kept history raises a 410 `Expired` Status (`too old resource version`).
- Each watcher sees events through its own predicate (namespace, label and field selectors): an
  object that starts matching arrives as ADDED, one that stops matching as DELETED.
- A watcher that falls more than `MAX_PENDING` events behind is ended (it re-watches, as with
  kube-apiserver). When the store watch fails, every watcher is ended cleanly and the cache
  resumes from its last revision (or relists, ending watchers with 410, if that was compacted).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.apiserver import errors
from services.apiserver.storage.base import Compacted, EventType, WatchEvent
from shared.logging import get_logger

log = get_logger()

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]
MAX_PENDING = 20000


@dataclass(slots=True)
class CacheEvent:
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj  # with metadata.resourceVersion = revision
    prev: Obj | None
    revision: int
    key: str
    _encoded: dict[str, bytes] = field(default_factory=dict)

    def encoded(self, type_: str) -> bytes:
        """`{"type": ..., "object": ...}` + newline, encoded once per type for all watchers."""
        data = self._encoded.get(type_)
        if data is None:
            data = orjson.dumps({"type": type_, "object": self.object_for(type_)}) + b"\n"
            self._encoded[type_] = data
        return data

    def object_for(self, type_: str) -> Obj:
        """The object a watcher sees: one that stopped matching is its previous state (at this rv)."""
        if type_ == "DELETED" and self.type != "DELETED" and self.prev is not None:
            prev = dict(self.prev)
            prev["metadata"] = {**prev.get("metadata", {}), "resourceVersion": str(self.revision)}
            return prev
        return self.obj


class Watcher:
    """One client's view of a cache: a queue of (type, CacheEvent) filtered by its predicate."""

    def __init__(self, cache: "WatchCache", predicate: Predicate, start_revision: int) -> None:
        self.cache = cache
        self.predicate = predicate
        self.start_revision = start_revision
        self.queue: asyncio.Queue[tuple[str, CacheEvent] | None] = asyncio.Queue()
        self.error: dict | None = None  # a Status to send as an ERROR event before ending
        self.closed = False
        # Set by the stream once the replay is written: events then go straight to the client.
        self.sink: Callable[[str, CacheEvent], None] | None = None

    def offer(self, event: CacheEvent) -> None:
        if self.closed or event.revision <= self.start_revision:
            return
        type_ = self._visible_type(event)
        if type_ is None:
            return
        if self.sink is not None:
            try:
                self.sink(type_, event)
            except Exception as exc:  # the client went away or is too slow: end this watch
                log.info("watch.ended", resource=self.cache.name, reason=str(exc))
                self.close()
            return
        if self.queue.qsize() >= MAX_PENDING:
            log.warning("watch.too_slow", resource=self.cache.name, pending=self.queue.qsize())
            self.close()
            return
        self.queue.put_nowait((type_, event))

    def _visible_type(self, event: CacheEvent) -> str | None:
        new_ok = event.type != "DELETED" and self.predicate(event.obj)
        old_ok = event.prev is not None and self.predicate(event.prev)
        if event.type == "DELETED":
            return "DELETED" if old_ok else None
        if new_ok:
            return "MODIFIED" if old_ok else "ADDED"
        return "DELETED" if old_ok else None

    def close(self, error: dict | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        self.error = error
        self.queue.put_nowait(None)
        self.cache.unregister(self)


class WatchCache:
    def __init__(self, name: str, backend: Any, prefix: str, decode: Callable[[bytes, int], Obj], *,
                 size: int = 10000, on_watchers: Callable[[str, int], None] | None = None) -> None:
        self.name = name
        self.backend = backend
        self.prefix = prefix
        self.decode = decode
        self.history: collections.deque[CacheEvent] = collections.deque()
        self.size = size
        self.state: dict[str, Obj] = {}
        self.by_namespace: dict[str, dict[str, Obj]] = {}  # the same objects, per namespace
        self.revision = 0  # the last revision this cache has seen
        self.complete_from = 0  # every event after this revision is in history
        self.watchers: set[Watcher] = set()
        self.ready = asyncio.Event()
        self.on_watchers = on_watchers
        self._task: asyncio.Task | None = None
        self.listeners: list[Callable[[CacheEvent], None]] = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"watchcache-{self.name}")

    async def stop(self) -> None:
        for watcher in list(self.watchers):
            watcher.close()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def wait_ready(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            raise errors.unavailable(f"the watch cache for {self.name} is not ready (storage unavailable?)") from None

    def objects(self, namespace: str | None = None) -> list[tuple[str, Obj]]:
        """(key, object) of every current object (of `namespace`), in key order."""
        items = self.state if namespace is None else self.by_namespace.get(namespace, {})
        return sorted(items.items())

    def watch(self, resource_version: int | None, predicate: Predicate, namespace: str | None = None
              ) -> tuple[Watcher, list[tuple[str, CacheEvent]]]:
        """Register a watcher; returns it and the events to send first (replay or synthetic ADDED)."""
        if not resource_version:
            initial = [("ADDED", CacheEvent("ADDED", obj, None, self.revision, key))
                       for key, obj in self.objects(namespace) if predicate(obj)]
            watcher = Watcher(self, predicate, self.revision)
        else:
            if resource_version < self.complete_from:
                raise errors.too_old(resource_version, self.complete_from)
            watcher = Watcher(self, predicate, resource_version)
            initial = []
            for event in self.history:
                if event.revision > resource_version:
                    type_ = watcher._visible_type(event)
                    if type_:
                        initial.append((type_, event))
        self.watchers.add(watcher)
        self._count_changed()
        return watcher, initial

    def unregister(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)
        self._count_changed()

    def _count_changed(self) -> None:
        if self.on_watchers:
            self.on_watchers(self.name, len(self.watchers))

    async def _run(self) -> None:
        backoff = 0.1
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                backoff = 0.1
                async for event in self.backend.watch(self.prefix, self.revision + 1):
                    self._apply(event)
            except asyncio.CancelledError:
                raise
            except Compacted as exc:
                log.warning("watchcache.compacted", resource=self.name, revision=self.revision, error=str(exc))
                self._end_watchers(errors.too_old(self.revision, exc.compact_revision).status())
                need_list = True
            except Exception as exc:  # the store went away: end watchers cleanly, resume later
                log.warning("watchcache.store_failed", resource=self.name, revision=self.revision, error=str(exc))
                self._end_watchers(None)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _relist(self) -> None:
        self.ready.clear()
        result = await self.backend.list(self.prefix)
        self.state, self.by_namespace = {}, {}
        for kv in result.items:
            self._put(kv.key, self.decode(kv.value, kv.mod_revision))
        self.revision = result.revision
        self.complete_from = result.revision
        self.history.clear()
        self.ready.set()
        log.info("watchcache.listed", resource=self.name, revision=self.revision, objects=len(self.state))

    def _namespace_of(self, key: str) -> str:
        namespace, slash, _ = key[len(self.prefix):].partition("/")
        return namespace if slash else ""

    def _put(self, key: str, obj: Obj) -> None:
        self.state[key] = obj
        self.by_namespace.setdefault(self._namespace_of(key), {})[key] = obj

    def _remove(self, key: str) -> None:
        self.state.pop(key, None)
        namespace = self._namespace_of(key)
        objects = self.by_namespace.get(namespace)
        if objects is not None:
            objects.pop(key, None)
            if not objects:
                del self.by_namespace[namespace]

    def _end_watchers(self, status: dict | None) -> None:
        for watcher in list(self.watchers):
            watcher.close(status)

    def _apply(self, event: WatchEvent) -> None:
        key = event.kv.key
        prev = self.state.get(key)
        if event.type is EventType.DELETE:
            obj = self.decode(event.kv.value, event.revision)
            self._remove(key)
            cache_event = CacheEvent("DELETED", obj, prev if prev is not None else obj, event.revision, key)
        else:
            obj = self.decode(event.kv.value, event.kv.mod_revision)
            self._put(key, obj)
            cache_event = CacheEvent("MODIFIED" if prev is not None else "ADDED", obj, prev, event.revision, key)
        self.revision = event.revision
        self.history.append(cache_event)
        if len(self.history) > self.size:
            dropped = self.history.popleft()
            self.complete_from = dropped.revision
        for listener in self.listeners:
            listener(cache_event)
        for watcher in list(self.watchers):
            watcher.offer(cache_event)
