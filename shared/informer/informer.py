"""Shared informers: one list+watch per resource and selector, a cache, and handlers (client-go's).

Guarantees:
- The cache is updated before handlers hear of a change, so a handler (or a worker it wakes)
  reads a cache at least as new as the event.
- Each handler registration has its own queue and task: it sees every change in order, and a slow
  handler delays neither the watch nor other handlers. A handler that raises is logged and skipped.
- ADDED/MODIFIED of an unknown key is `on_add`, of a known key `on_update(old, new)`; DELETED is
  `on_delete(last object)`. After a relist, handlers get only the differences: new objects as
  `on_add`, changed ones (other resourceVersion) as `on_update`, and objects that vanished as
  `on_delete(DeletedFinalStateUnknown(key, last_known))`.
- A handler added after the informer has synced first gets `on_add` for every cached object.
- With a resync period, every handler gets `on_update(obj, obj)` for every cached object each
  period (as client-go's resync), to re-drive level-based controllers.
- `has_synced()` is True once the first list is in the cache. `wait_for_sync()` (and the
  factory's `wait_for_cache_sync()`) also waits until every handler registered so far has handled
  that first list, so workers started afterwards find the keys already queued (client-go's
  handler-registration HasSynced).
- `SharedInformerFactory.informer(...)` gives the same informer for the same (resource, namespace,
  label selector, field selector), so all controllers of a process share one watch. Informers made
  after `start()` start at once.

Handlers may be plain callables (the usual: they only enqueue a key) or coroutine functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.client import ApiClient
from shared.controller import meta_namespace_key
from shared.informer.reflector import Reflector
from shared.informer.store import DeletedFinalStateUnknown, IndexFunc, Lister, Obj, Store
from shared.logging import get_logger
from shared.resources import ResourceRef

log = get_logger()

Handler = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class _Note:
    kind: str  # "add" | "update" | "delete" | "synced" (the end of the first list, for this handler)
    args: tuple[Any, ...]


class HandlerRegistration:
    """One `add_event_handler` call: its queue and the task that feeds its handlers."""

    def __init__(self, informer: SharedIndexInformer, on_add: Handler | None, on_update: Handler | None,
                 on_delete: Handler | None) -> None:
        self._informer = informer
        self._fns = {"add": on_add, "update": on_update, "delete": on_delete}
        self._queue: asyncio.Queue[_Note] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self.synced = asyncio.Event()

    def has_synced(self) -> bool:
        """True once this handler has handled the informer's first list."""
        return self.synced.is_set()

    def notify(self, note: _Note) -> None:
        if note.kind == "synced" or self._fns[note.kind] is not None:
            self._queue.put_nowait(note)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"informer-handler-{self._informer.ref}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def pending(self) -> int:
        return self._queue.qsize()

    async def _run(self) -> None:
        while True:
            note = await self._queue.get()
            if note.kind == "synced":
                self.synced.set()
                self._queue.task_done()
                continue
            try:
                result = self._fns[note.kind](*note.args)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad handler must not stop the others or the informer
                log.exception("informer.handler_failed", resource=str(self._informer.ref), notification=note.kind,
                              key=_key_of(note.args[-1]))
            finally:
                self._queue.task_done()

    async def wait_idle(self) -> None:
        """Wait until every queued notification has been handled."""
        await self._queue.join()

    def remove(self) -> None:
        self._informer.remove_event_handler(self)


def _key_of(obj: Any) -> str:
    try:
        return meta_namespace_key(obj)
    except Exception:
        return "?"


class SharedIndexInformer:
    """A cache of one resource kept current by a reflector, and the handlers told of changes."""

    def __init__(self, client: ApiClient, ref: ResourceRef, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 resync_period: float = 0, page_size: int = 500, watch_timeout: float = 300.0) -> None:
        self.ref = ref
        self.namespace = namespace
        self.store = Store()
        self.lister = Lister(self.store)
        self.resync_period = resync_period
        self.reflector = Reflector(client, ref, self, namespace=namespace, label_selector=label_selector,
                                   field_selector=field_selector, page_size=page_size, watch_timeout=watch_timeout)
        self._handlers: list[HandlerRegistration] = []
        self._synced = asyncio.Event()  # binds to the loop on first use: may be made before it runs
        self._tasks: list[asyncio.Task] = []

    # --- the public surface ---------------------------------------------------------------------

    def add_event_handler(self, on_add: Handler | None = None, on_update: Handler | None = None,
                          on_delete: Handler | None = None) -> HandlerRegistration:
        reg = HandlerRegistration(self, on_add, on_update, on_delete)
        self._handlers.append(reg)
        if self.has_synced():
            for obj in self.store.items():
                reg.notify(_Note("add", (obj,)))
            reg.notify(_Note("synced", ()))
        if self._tasks:
            reg.start()
        return reg

    def remove_event_handler(self, reg: HandlerRegistration) -> None:
        if reg in self._handlers:
            self._handlers.remove(reg)
            if reg._task is not None:
                reg._task.cancel()

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self.store.add_indexer(name, fn)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        """Wait for the first list, and for the handlers registered so far to have handled it."""
        await self._synced.wait()
        for reg in list(self._handlers):
            await reg.synced.wait()

    async def wait_for_handlers(self) -> None:
        """Wait until every handler has handled every change queued so far (tests, shutdown)."""
        for reg in list(self._handlers):
            await reg.wait_idle()

    def last_sync_resource_version(self) -> str:
        return self.reflector.last_resource_version

    @property
    def started(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        """Start the reflector and the handlers' tasks (idempotent)."""
        if self._tasks:
            return
        for reg in self._handlers:
            reg.start()
        self._tasks.append(asyncio.create_task(self.reflector.run(), name=f"reflector-{self.ref}"))
        if self.resync_period > 0:
            self._tasks.append(asyncio.create_task(self._resync_loop(), name=f"resync-{self.ref}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for reg in self._handlers:
            await reg.stop()

    # --- the sink the reflector feeds -----------------------------------------------------------

    def replace(self, items: list[Obj], resource_version: str) -> None:
        old = {key: self.store.get(key) for key in self.store.keys()}
        self.store.replace(items)
        for obj in items:
            before = old.pop(meta_namespace_key(obj), None)
            if before is None:
                self._distribute(_Note("add", (obj,)))
            elif _rv(before) != _rv(obj):
                self._distribute(_Note("update", (before, obj)))
        for key, gone in old.items():
            self._distribute(_Note("delete", (DeletedFinalStateUnknown(key, gone),)))
        if not self._synced.is_set():
            self._distribute(_Note("synced", ()))
            self._synced.set()

    def upsert(self, obj: Obj) -> None:
        old = self.store.upsert(obj)
        self._distribute(_Note("add", (obj,)) if old is None else _Note("update", (old, obj)))

    def delete(self, obj: Obj) -> None:
        self.store.delete(meta_namespace_key(obj))
        self._distribute(_Note("delete", (obj,)))

    def _distribute(self, note: _Note) -> None:
        for reg in self._handlers:
            reg.notify(note)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_period)
            if self.has_synced():
                for obj in self.store.items():
                    self._distribute(_Note("update", (obj, obj)))


def _rv(obj: Obj) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")


class SharedInformerFactory:
    """Informers by (resource, namespace, label selector, field selector): one watch each."""

    def __init__(self, client: ApiClient, resync_period: float = 0, *, page_size: int = 500,
                 watch_timeout: float = 300.0) -> None:
        self.client = client
        self.resync_period = resync_period
        self.page_size, self.watch_timeout = page_size, watch_timeout
        self._informers: dict[tuple, SharedIndexInformer] = {}
        self._started = False

    def informer(self, ref: ResourceRef, namespace: str | None = None, label_selector: str | None = None,
                 field_selector: str | None = None, *, resync_period: float | None = None) -> SharedIndexInformer:
        key = (ref, namespace or None, label_selector or None, field_selector or None)
        inf = self._informers.get(key)
        if inf is None:
            inf = SharedIndexInformer(
                self.client, ref, namespace=key[1], label_selector=key[2], field_selector=key[3],
                resync_period=self.resync_period if resync_period is None else resync_period,
                page_size=self.page_size, watch_timeout=self.watch_timeout)
            self._informers[key] = inf
            if self._started:
                inf.start()
        return inf

    def informers(self) -> list[SharedIndexInformer]:
        return list(self._informers.values())

    def start(self) -> None:
        self._started = True
        for inf in self._informers.values():
            inf.start()

    async def wait_for_cache_sync(self, timeout: float | None = None) -> bool:
        """True once every informer has listed; False if `timeout` passes first."""
        waits = [inf.wait_for_sync() for inf in self._informers.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except TimeoutError:
            return False
        return True

    def has_synced(self) -> bool:
        return all(inf.has_synced() for inf in self._informers.values())

    async def stop(self) -> None:
        for inf in self._informers.values():
            await inf.stop()
        self._started = False
