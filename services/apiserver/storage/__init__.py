"""The API server's storage layer: one interface (`base.Backend`), an etcd and an embedded backend.

`open_backend(etcd_servers=..., data_dir=...)` picks one: etcd when servers are given, else the
embedded SQLite store in `data_dir`.
"""

from __future__ import annotations

from services.apiserver.storage.base import (
    Backend,
    Compacted,
    EventType,
    FutureRevision,
    KeyExists,
    KeyValue,
    ListResult,
    StorageError,
    Unavailable,
    WatchEvent,
    WriteResult,
)


def open_backend(*, etcd_servers: str | None = None, data_dir: str | None = None,
                 timeout: float = 5.0) -> Backend:
    """An etcd backend for `etcd_servers` ("http://127.0.0.1:2379[,...]"), else an embedded one
    in `data_dir`. Connections are made lazily, on first use; call `close()` when done."""
    if etcd_servers:
        from services.apiserver.storage.etcd import EtcdBackend

        return EtcdBackend(etcd_servers, timeout=timeout)
    if data_dir:
        from services.apiserver.storage.sqlite import SqliteBackend

        return SqliteBackend(data_dir)
    raise ValueError("open_backend needs etcd_servers or data_dir")


__all__ = [
    "Backend",
    "Compacted",
    "EventType",
    "FutureRevision",
    "KeyExists",
    "KeyValue",
    "ListResult",
    "StorageError",
    "Unavailable",
    "WatchEvent",
    "WriteResult",
    "open_backend",
]
