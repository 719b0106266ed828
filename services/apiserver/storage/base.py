"""The storage interface of the API server, shaped like kine's `Backend`.

Guarantees every backend keeps (one shared test suite checks them):
- One global, strictly increasing revision counter. Every successful write (create, update,
  delete) gets a new revision; an object's `mod_revision` is its `metadata.resourceVersion`.
- `create` fails with `KeyExists` when the key is present.
- `update` and `delete` are compare-and-swap on the key's `mod_revision`; losing the race is a
  result (`WriteResult.ok is False`, with the current value), never an exception.
- `list` reads one consistent snapshot: every page of a paged list can be read at the first page's
  revision (until that revision is compacted, then `Compacted`).
- `watch(prefix, start_revision)` yields every change under `prefix` with revision >=
  `start_revision`, in revision order, none missed or repeated, even across a lost connection to
  the store. A `start_revision` at or below the compacted revision raises `Compacted`.
- A store that cannot be reached raises `Unavailable` (the API server answers 503/504).
Keys are `str` (`/registry/pods/default/nginx`), values `bytes` (JSON).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


class StorageError(Exception):
    """Base of every storage error."""


class KeyExists(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class Compacted(StorageError):
    """The revision asked for has been compacted away (the API server answers 410 Gone)."""

    def __init__(self, requested_revision: int, compact_revision: int) -> None:
        super().__init__(
            f"required revision {requested_revision} has been compacted (compacted at {compact_revision})"
        )
        self.requested_revision = requested_revision
        self.compact_revision = compact_revision


class FutureRevision(StorageError):
    """The revision asked for is newer than the store's current revision."""

    def __init__(self, requested_revision: int, current_revision: int) -> None:
        super().__init__(f"revision {requested_revision} is in the future (current {current_revision})")
        self.requested_revision = requested_revision
        self.current_revision = current_revision


class Unavailable(StorageError):
    """The store cannot be reached or did not answer in time."""


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


class EventType(enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: EventType
    # PUT: the new value. DELETE: the value that was deleted, with mod_revision = the deletion's revision.
    kv: KeyValue
    # The value before this change, when the backend knows it (always present for DELETE).
    prev: KeyValue | None
    revision: int


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the store revision this page was read at
    more: bool  # keys remain after the last item


@dataclass(frozen=True, slots=True)
class WriteResult:
    ok: bool
    # ok: the revision of this write. not ok: the store's current revision.
    revision: int
    # ok: update → the new value; delete → the deleted value.
    # not ok: the key's current value, or None when the key does not exist.
    kv: KeyValue | None


class Backend(Protocol):
    async def get(self, key: str) -> KeyValue | None: ...

    async def list(
        self, prefix: str, *, limit: int = 0, continue_key: str | None = None, revision: int = 0
    ) -> ListResult:
        """Keys under `prefix` in key order, starting at `continue_key` (inclusive) if given,
        at most `limit` (0: all), read at `revision` (0: current)."""
        ...

    async def count(self, prefix: str) -> int: ...

    async def create(self, key: str, value: bytes) -> int:
        """Store a new key; returns its revision. Raises KeyExists."""
        ...

    async def update(self, key: str, value: bytes, expected_revision: int) -> WriteResult: ...

    async def delete(self, key: str, expected_revision: int = 0) -> WriteResult:
        """Delete `key` if its mod_revision is `expected_revision` (0: whatever it is)."""
        ...

    def watch(self, prefix: str, start_revision: int) -> AsyncIterator[WatchEvent]: ...

    async def current_revision(self) -> int: ...

    async def compact(self, revision: int) -> None: ...

    async def close(self) -> None: ...
