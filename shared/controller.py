"""The controller loop of sample-controller: workers that take keys off a queue and `sync` them.

Guarantees:
- `run_workers` runs `workers` concurrent workers. Each takes a key, awaits `sync(key)`, then
  `forget`s the key on success, or logs `controller.sync_failed` and `add_rate_limited`s it on an
  exception; `done(key)` always follows. Every line logged during a sync carries `key` and
  `controller`. It returns once the queue is shut down and drained; cancelling it cancels the
  workers.
- `meta_namespace_key` is client-go's `DeletionHandlingMetaNamespaceKeyFunc`: `ns/name`, `name`
  for a cluster-scoped object, and a tombstone's own key.
- `split_meta_namespace_key` is its inverse: `(namespace, name)`, namespace `""` when cluster-scoped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from shared.logging import get_logger
from shared.workqueue import RateLimitingQueue, ShutDown

log = get_logger()

SyncFn = Callable[[str], Awaitable[Any]]


async def run_workers(queue: RateLimitingQueue, sync: SyncFn, *, workers: int = 1,
                      name: str | None = None, max_retries: int | None = None) -> None:
    """Process keys from `queue` with `workers` workers until the queue shuts down.

    `max_retries`, if set, drops a key (logging `controller.dropped`) after that many failed
    retries in a row, as controllers with a `maxRetries` do; by default a key is retried forever.
    """
    name = name or queue.name
    tasks = [asyncio.create_task(_worker(queue, sync, name, max_retries), name=f"{name}-worker-{i}")
             for i in range(workers)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _worker(queue: RateLimitingQueue, sync: SyncFn, name: str, max_retries: int | None) -> None:
    while True:
        try:
            key = await queue.get()
        except ShutDown:
            return
        try:
            with structlog.contextvars.bound_contextvars(controller=name, key=key):
                await _process(queue, sync, key, max_retries)
        finally:
            queue.done(key)


async def _process(queue: RateLimitingQueue, sync: SyncFn, key: str, max_retries: int | None) -> None:
    try:
        await sync(key)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a failed sync is retried with backoff, never kills the worker
        retries = queue.num_requeues(key)
        if max_retries is not None and retries >= max_retries:
            log.warning("controller.dropped", retries=retries, error=_describe(exc))
            queue.forget(key)
            return
        log.warning("controller.sync_failed", retries=retries, error=_describe(exc),
                    exc_info=_unexpected(exc))
        queue.add_rate_limited(key)
    else:
        queue.forget(key)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _unexpected(exc: BaseException) -> BaseException | bool:
    """A traceback only for errors that are not the API's answers (those say all in their message)."""
    from shared.client.errors import ApiError  # late: the client pulls in aiohttp

    return False if isinstance(exc, ApiError) else exc


def meta_namespace_key(obj: Any) -> str:
    """`namespace/name`, or `name` when the object has no namespace; a tombstone gives its key."""
    key = getattr(obj, "key", None)
    if isinstance(key, str):  # DeletedFinalStateUnknown
        return key
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace"), meta.get("name", "")
    return f"{namespace}/{name}" if namespace else name


def split_meta_namespace_key(key: str) -> tuple[str, str]:
    """`("ns", "name")` from `ns/name`, `("", "name")` from `name`; ValueError otherwise."""
    parts = key.split("/")
    if len(parts) == 1 and parts[0]:
        return "", parts[0]
    if len(parts) == 2 and parts[1]:
        return parts[0], parts[1]
    raise ValueError(f"unexpected key format: {key!r}")
