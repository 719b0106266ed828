"""The reflector: list, then watch from the list's resourceVersion, forever (client-go's Reflector).

Guarantees:
- The list is read in pages of `page_size` (`limit` + `continue`); if a continue token expires
  mid-list, the list restarts without paging. The whole list goes to `sink.replace(items, rv)` at
  once, so the sink can compute what changed.
- The watch starts at the list's resourceVersion with `allowWatchBookmarks` and a `timeoutSeconds`
  drawn from [watch_timeout, 2*watch_timeout) so that many clients do not re-watch together. Every
  event (bookmarks included) advances the last seen resourceVersion.
- A watch that ends (timeout, dropped connection, API server restart) is re-established from the
  last seen resourceVersion, so no event is missed and none is seen twice. A 410 Gone (that
  resourceVersion was compacted away) makes it relist: the sink then learns the differences,
  deletes included.
- Any other failure is logged, then list+watch starts again after a backoff (0.8 s doubling to
  30 s, reset once things work), as client-go's backoff manager does.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any, Protocol

from shared.client import ApiClient, ApiError, Gone, ServerUnavailable, TooManyRequests
from shared.logging import get_logger
from shared.resources import ResourceRef

log = get_logger()

Obj = dict[str, Any]


class Sink(Protocol):
    def replace(self, items: list[Obj], resource_version: str) -> None: ...
    def upsert(self, obj: Obj) -> None: ...
    def delete(self, obj: Obj) -> None: ...


class Backoff:
    """Exponential backoff with jitter; `reset()` after a success."""

    def __init__(self, initial: float = 0.8, maximum: float = 30.0) -> None:
        self.initial, self.maximum = initial, maximum
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay * (1 + random.random() / 2)

    def reset(self) -> None:
        self._next = self.initial


class Reflector:
    def __init__(self, client: ApiClient, ref: ResourceRef, sink: Sink, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 page_size: int = 500, watch_timeout: float = 300.0, backoff: Backoff | None = None) -> None:
        self.client, self.ref, self.sink = client, ref, sink
        self.namespace = namespace
        self.label_selector, self.field_selector = label_selector, field_selector
        self.page_size, self.watch_timeout = page_size, watch_timeout
        self.backoff = backoff or Backoff()
        self.last_resource_version = ""
        self.lists = 0  # how many times it listed: 1 + relists

    def _log_fields(self) -> dict[str, Any]:
        return {"resource": self.ref.group_resource, "namespace": self.namespace or "",
                "label_selector": self.label_selector or "", "field_selector": self.field_selector or ""}

    async def run(self) -> None:
        """List and watch until cancelled."""
        while True:
            try:
                await self._list_and_watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the reflector must outlive any API trouble
                delay = self.backoff.next()
                log.warning("reflector.list_watch_failed", error=f"{type(exc).__name__}: {exc}",
                            retry_in=round(delay, 2), **self._log_fields())
                await asyncio.sleep(delay)

    async def _list_and_watch(self) -> None:
        items, rv = await self._list()
        self.sink.replace(items, rv)
        self.last_resource_version = rv
        self.lists += 1
        self.backoff.reset()
        log.debug("reflector.listed", items=len(items), resource_version=rv, **self._log_fields())
        await self._watch_until_gone()

    async def _list(self) -> tuple[list[Obj], str]:
        try:
            return await self._list_pages(self.page_size)
        except Gone:  # the continue token expired: read it all at once instead
            return await self._list_pages(None)

    async def _list_pages(self, limit: int | None) -> tuple[list[Obj], str]:
        items: list[Obj] = []
        token: str | None = None
        while True:
            page = await self.client.list(self.ref, namespace=self.namespace, label_selector=self.label_selector,
                                          field_selector=self.field_selector, limit=limit, continue_=token)
            items.extend(_with_kind(page.get("items") or [], self.ref))
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                return items, meta.get("resourceVersion", "")

    async def _watch_until_gone(self) -> None:
        """Watch and re-watch from the last resourceVersion; returns when it is Gone (relist)."""
        while True:
            started = asyncio.get_running_loop().time()
            try:
                events = await self._watch_once()
            except Gone:
                log.info("reflector.watch_expired", resource_version=self.last_resource_version,
                         **self._log_fields())
                return
            except (ServerUnavailable, TooManyRequests) as exc:
                delay = self.backoff.next()
                log.info("reflector.watch_dropped", error=str(exc), retry_in=round(delay, 2),
                         resource_version=self.last_resource_version, **self._log_fields())
                await asyncio.sleep(delay)
                continue
            if events or asyncio.get_running_loop().time() - started > 1.0:
                self.backoff.reset()
            else:  # a watch that ends at once with nothing would otherwise spin
                await asyncio.sleep(self.backoff.next())

    async def _watch_once(self) -> int:
        """One watch request; the number of events it delivered."""
        timeout = int(self.watch_timeout * (1 + random.random()))
        count = 0
        stream = self.client.watch(self.ref, namespace=self.namespace, resource_version=self.last_resource_version,
                                   label_selector=self.label_selector, field_selector=self.field_selector,
                                   timeout_seconds=max(timeout, 1), allow_bookmarks=True)
        async with contextlib.aclosing(stream):
            async for event in stream:
                self._handle(event)
                count += 1
        return count

    def _handle(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if kind in ("ADDED", "MODIFIED"):
            self.sink.upsert(_with_kind([obj], self.ref)[0])
        elif kind == "DELETED":
            self.sink.delete(_with_kind([obj], self.ref)[0])
        elif kind != "BOOKMARK":
            raise ApiError({"code": 500, "reason": "InternalError", "message": f"unexpected watch event {kind!r}"})
        if rv:
            self.last_resource_version = rv


def _with_kind(items: list[Obj], ref: ResourceRef) -> list[Obj]:
    """List items come without kind/apiVersion; set them so cached objects look like watched ones."""
    for obj in items:
        obj.setdefault("kind", ref.kind)
        obj.setdefault("apiVersion", ref.api_version)
    return items
