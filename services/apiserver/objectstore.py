"""API objects over the storage `Backend`: keys, JSON encoding, resourceVersion, store errors.

Guarantees:
- Keys are `<etcd-prefix>/<resource>/<namespace>/<name>` (cluster-scoped: no namespace), with
  Kubernetes' storage names (`minions` for nodes, `services/specs` for services).
- Values are JSON without `metadata.resourceVersion`; every object read back carries
  `resourceVersion` = the key's `mod_revision` (a deleted object: the deletion's revision).
- A store that cannot be reached answers 503 ServiceUnavailable, one that does not answer within
  `timeout` 504 Timeout; a compacted revision 410. No storage exception leaks out otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson

from services.apiserver import errors
from services.apiserver.registry import Resource
from services.apiserver.storage.base import Compacted, FutureRevision, KeyValue, ListResult, StorageError, \
    Unavailable, WriteResult

Obj = dict[str, Any]
T = TypeVar("T")


def encode(obj: Obj) -> bytes:
    meta = obj.get("metadata") or {}
    if "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return orjson.dumps(obj)


def decode(value: bytes, revision: int) -> Obj:
    obj = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


class ObjectStore:
    def __init__(self, backend: Any, *, prefix: str = "/registry", timeout: float = 5.0) -> None:
        self.backend = backend
        self.prefix = prefix.rstrip("/")
        self.timeout = timeout

    def resource_prefix(self, res: Resource, namespace: str | None = None) -> str:
        base = f"{self.prefix}/{res.storage_resource or res.plural}/"
        return f"{base}{namespace}/" if res.namespaced and namespace else base

    def key(self, res: Resource, name: str, namespace: str | None) -> str:
        return f"{self.resource_prefix(res, namespace if res.namespaced else None)}{name}"

    async def get(self, res: Resource, name: str, namespace: str | None) -> tuple[Obj, int] | None:
        kv = await self.call(self.backend.get(self.key(res, name, namespace)))
        return None if kv is None else (decode(kv.value, kv.mod_revision), kv.mod_revision)

    async def list(self, prefix: str, *, limit: int = 0, continue_key: str | None = None,
                   revision: int = 0) -> ListResult:
        return await self.call(self.backend.list(prefix, limit=limit, continue_key=continue_key, revision=revision))

    async def create(self, key: str, obj: Obj) -> int:
        return await self.call(self.backend.create(key, encode(obj)))

    async def update(self, key: str, obj: Obj, expected_revision: int) -> WriteResult:
        return await self.call(self.backend.update(key, encode(obj), expected_revision))

    async def delete(self, key: str, expected_revision: int = 0) -> WriteResult:
        return await self.call(self.backend.delete(key, expected_revision))

    async def current_revision(self) -> int:
        return await self.call(self.backend.current_revision())

    async def call(self, aw: Awaitable[T]) -> T:
        """Await a backend call, turning store failures into Status errors (KeyExists passes)."""
        try:
            async with asyncio.timeout(self.timeout):  # unlike wait_for, no task per call
                return await aw
        except TimeoutError:
            raise errors.timeout() from None
        except Compacted as exc:
            raise errors.expired(f"The resourceVersion for the provided list is too old. ({exc})") from exc
        except FutureRevision as exc:
            raise errors.timeout(f"Too large resource version: {exc.requested_revision}, "
                                 f"current resource version: {exc.current_revision}") from exc
        except Unavailable as exc:
            raise errors.unavailable(f"storage is unavailable: {exc}") from exc
        except (StorageError, OSError, ConnectionError) as exc:
            if type(exc).__name__ == "KeyExists":
                raise
            raise errors.unavailable(f"storage is unavailable: {exc}") from exc


def kv_object(kv: KeyValue) -> Obj:
    return decode(kv.value, kv.mod_revision)
