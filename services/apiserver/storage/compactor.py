"""Periodic compaction of the store, as the API server's compactor does (--etcd-compaction-interval).

Guarantees: every `interval` seconds the store is compacted to the revision it had one interval
earlier, so history (for watches resuming and paged lists) stays at least `interval` seconds long
and the store does not grow without bound. A failed compaction is logged and retried next tick.
"""

from __future__ import annotations

import asyncio

from services.apiserver.storage.base import Backend, StorageError
from shared.logging import get_logger

log = get_logger()

DEFAULT_INTERVAL = 300.0  # Kubernetes' default: 5 minutes


async def run_compactor(backend: Backend, *, interval: float = DEFAULT_INTERVAL) -> None:
    """Run until cancelled (e.g. as a `shared.service.background` task)."""
    previous = 0
    while True:
        await asyncio.sleep(interval)
        previous = await compact_once(backend, previous)


async def compact_once(backend: Backend, previous: int) -> int:
    """Compact to `previous` (if any); returns the current revision, the next tick's target."""
    try:
        if previous:
            await backend.compact(previous)
            log.info("storage.compacted", revision=previous)
        return await backend.current_revision()
    except StorageError as exc:
        log.warning("storage.compact_failed", revision=previous, error=str(exc))
        return previous
