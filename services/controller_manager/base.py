"""The shape every controller has (client-go sample-controller).

Informer event handlers only enqueue keys; workers take a key from the controller's rate-limited
workqueue and call `sync(key)`, the only code that changes the world. `sync` is level-based: it
reads the current state from the informers' caches, computes what should be, and writes the
difference through the API server. An error requeues the key with backoff.

Guarantees: each sync logs one `controller.synced` line with `controller`, `key`, `result` and
the number of API `writes` it made — at info level when it wrote something or failed, at debug
level when it found nothing to do (periodic node checks would otherwise drown the log) — and
records its duration in `controller_sync_duration_seconds{controller=...}`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import structlog

from shared.controller import run_workers
from shared.logging import get_logger
from shared.workqueue import RateLimitingQueue

from services.controller_manager.metrics import SYNC_DURATION, SYNC_TOTAL
from services.controller_manager.objects import key_of, unwrap_tombstone, utcnow

log = get_logger()

_WRITES: ContextVar[list[int] | None] = ContextVar("controller_sync_writes", default=None)


class WriteCountingClient:
    """The API client as a controller uses it: each create/update/patch/delete is counted for the
    sync (the asyncio task) that made it."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @staticmethod
    def _count() -> None:
        holder = _WRITES.get()
        if holder is not None:
            holder[0] += 1

    async def create(self, *args: Any, **kwargs: Any) -> Any:
        self._count()
        return await self._client.create(*args, **kwargs)

    async def update(self, *args: Any, **kwargs: Any) -> Any:
        self._count()
        return await self._client.update(*args, **kwargs)

    async def patch(self, *args: Any, **kwargs: Any) -> Any:
        self._count()
        return await self._client.patch(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> Any:
        self._count()
        return await self._client.delete(*args, **kwargs)


@dataclass
class ControllerContext:
    """What a controller is built from: the API client, the shared informers, its options."""

    client: Any
    informers: Any
    recorder_factory: Callable[[str], Any]
    options: Any = None
    clock: Callable[[], datetime] = field(default=utcnow)


class Controller:
    name: ClassVar[str] = "controller"       # kube-controller-manager's name, e.g. "deployment-controller"
    queue_name: ClassVar[str] = "controller"  # the workqueue's name, e.g. "deployment"
    default_workers: ClassVar[int] = 1

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        self.ctx = ctx
        self.client = WriteCountingClient(ctx.client)
        self.now = ctx.clock
        self.workers = workers or self.default_workers
        self.queue = RateLimitingQueue(name=self.queue_name, base_delay=0.005, max_delay=1000.0)

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    def enqueue(self, obj: dict) -> None:
        self.queue.add(key_of(obj))

    def enqueue_deleted(self, obj: object) -> None:
        """A delete handler: enqueue the deleted object (unwrapped from its tombstone)."""
        deleted = unwrap_tombstone(obj)
        if deleted is not None:
            self.enqueue(deleted)

    async def timed_sync(self, key: str) -> None:
        await self.timed(self.sync, key, self.queue_name)

    async def timed(self, fn: Callable[[str], Awaitable[None]], key: str, controller: str) -> None:
        """Run `fn(key)` with the sync's log context, write counting, log line and metrics."""
        start = time.perf_counter()
        result = "error"
        writes = [0]
        token = _WRITES.set(writes)
        with structlog.contextvars.bound_contextvars(controller=controller, key=key):
            try:
                await fn(key)
                result = "success"
            finally:
                _WRITES.reset(token)
                elapsed = time.perf_counter() - start
                SYNC_DURATION.labels(controller).observe(elapsed)
                SYNC_TOTAL.labels(controller, result).inc()
                emit = log.info if writes[0] or result == "error" else log.debug
                emit("controller.synced", result=result, writes=writes[0], duration_ms=round(elapsed * 1000, 2))

    async def prepare(self) -> None:
        """Called once after the informers have synced, before any worker runs."""

    async def run(self) -> None:
        """Run the workers until the queue is shut down (the informers must have synced)."""
        await run_workers(self.queue, self.timed_sync, workers=self.workers, name=self.queue_name)

    def shutdown(self) -> None:
        self.queue.shutdown()
