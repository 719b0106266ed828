"""The API server's storage layer: one interface (`base.Backend`), an etcd and an embedded backend."""

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
]
