"""Fakes for controller unit tests: preloaded informer caches and a client that records calls.

`FakeCluster.add(ref, obj)` puts an object both in the informer cache and in the fake server;
writes through `FakeCluster.client` change only the server (as an informer that has not caught up),
and every call is recorded in `client.calls` as `Call(verb, plural, namespace, name, body, kwargs)`.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.client import AlreadyExists, ApiError, Conflict, NotFound

from services.controller_manager.base import ControllerContext
from services.controller_manager.labels import selector_matches

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def api_error(cls: type[ApiError], message: str, code: int, *, causes: list | None = None) -> ApiError:
    """An error as the client raises it: the class around a Kubernetes Status."""
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
              "reason": cls.__name__, "code": code}
    if causes:
        status["details"] = {"causes": causes}
    return cls(status)


@dataclass
class Call:
    verb: str
    plural: str
    namespace: str | None
    name: str | None
    body: Any = None
    kwargs: dict = field(default_factory=dict)


class FakeLister:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict] = {}

    def get(self, name: str, namespace: str | None = None) -> dict | None:
        return self.objects.get((namespace or "", name))

    def list(self, namespace: str | None = None, label_selector: Any = None) -> list[dict]:
        out = [o for (ns, _), o in sorted(self.objects.items()) if namespace is None or ns == namespace]
        if isinstance(label_selector, dict):
            out = [o for o in out if selector_matches({"matchLabels": label_selector},
                                                      (o.get("metadata") or {}).get("labels"))]
        return out

    def by_index(self, index: str, value: str) -> list[dict]:
        fn = self.indexers[index]
        return [o for o in self.list() if value in fn(o)]


class FakeInformer:
    def __init__(self) -> None:
        self.lister = FakeLister()
        self.lister.indexers = {}
        self.handlers: list[dict] = []

    def add_event_handler(self, on_add=None, on_update=None, on_delete=None) -> None:
        self.handlers.append({"add": on_add, "update": on_update, "delete": on_delete})

    def add_indexer(self, name: str, fn) -> None:
        self.lister.indexers[name] = fn

    def has_synced(self) -> bool:
        return True

    # test helpers: change the cache and fire the handlers as a watch event would
    def fire_add(self, obj: dict) -> None:
        self.lister.objects[_ckey(obj)] = obj
        for h in self.handlers:
            if h["add"]:
                h["add"](obj)

    def fire_update(self, old: dict, new: dict) -> None:
        self.lister.objects[_ckey(new)] = new
        for h in self.handlers:
            if h["update"]:
                h["update"](old, new)

    def fire_delete(self, obj: dict) -> None:
        self.lister.objects.pop(_ckey(obj), None)
        for h in self.handlers:
            if h["delete"]:
                h["delete"](obj)


def _ckey(obj: dict) -> tuple[str, str]:
    m = obj.get("metadata") or {}
    return m.get("namespace") or "", m["name"]


class FakeInformerFactory:
    def __init__(self) -> None:
        self.informers: dict[str, FakeInformer] = {}

    def informer(self, ref, namespace=None, label_selector=None, field_selector=None) -> FakeInformer:
        return self.informers.setdefault(ref.plural, FakeInformer())


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class FakeClient:
    def __init__(self) -> None:
        self.store: dict[tuple[str, str, str], dict] = {}
        self.calls: list[Call] = []
        self.fail: dict[tuple[str, str], list[Exception]] = {}
        self._rv = itertools.count(1000)
        self._names = itertools.count(1)

    def fail_next(self, verb: str, plural: str, *errors: Exception) -> None:
        self.fail.setdefault((verb, plural), []).extend(errors)

    def _maybe_fail(self, verb: str, plural: str) -> None:
        queued = self.fail.get((verb, plural))
        if queued:
            error = queued.pop(0)
            if error is not None:  # None in the queue: that call succeeds
                raise error

    def calls_of(self, verb: str, plural: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.verb == verb and (plural is None or c.plural == plural)]

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.verb != "get" and c.verb != "list"]

    def _key(self, ref, namespace, name) -> tuple[str, str, str]:
        return ref.plural, (namespace or "") if ref.namespaced else "", name

    async def get(self, ref, name, namespace=None, subresource=None) -> dict:
        self.calls.append(Call("get", ref.plural, namespace, name))
        obj = self.store.get(self._key(ref, namespace, name))
        if obj is None:
            raise api_error(NotFound, f'{ref.plural} "{name}" not found', 404)
        return copy.deepcopy(obj)

    async def list(self, ref, namespace=None, **kwargs) -> dict:
        self.calls.append(Call("list", ref.plural, namespace, None, kwargs=kwargs))
        items = [copy.deepcopy(o) for (p, ns, _), o in sorted(self.store.items())
                 if p == ref.plural and (namespace is None or ns == namespace)]
        return {"items": items, "metadata": {"resourceVersion": str(next(self._rv))}}

    async def create(self, ref, body, namespace=None, subresource=None) -> dict:
        body = copy.deepcopy(body)
        m = body.setdefault("metadata", {})
        ns = namespace or m.get("namespace")
        if not m.get("name") and m.get("generateName"):
            m["name"] = f"{m['generateName']}{next(self._names):05d}"
        self.calls.append(Call("create", ref.plural, ns, m.get("name"), copy.deepcopy(body),
                               {"subresource": subresource}))
        self._maybe_fail("create", ref.plural)
        key = self._key(ref, ns, m["name"])
        if key in self.store:
            raise api_error(AlreadyExists, f'{ref.plural} "{m["name"]}" already exists', 409)
        if ref.namespaced:
            m["namespace"] = ns
        m.setdefault("uid", f"uid-{m['name']}")
        m["resourceVersion"] = str(next(self._rv))
        m.setdefault("creationTimestamp", "2026-01-01T12:00:00Z")
        m.setdefault("generation", 1)
        self.store[key] = body
        return copy.deepcopy(body)

    async def update(self, ref, body, namespace=None, subresource=None) -> dict:
        body = copy.deepcopy(body)
        m = body["metadata"]
        ns = namespace or m.get("namespace")
        self.calls.append(Call("update", ref.plural, ns, m["name"], body, {"subresource": subresource}))
        self._maybe_fail("update", ref.plural)
        key = self._key(ref, ns, m["name"])
        current = self.store.get(key)
        if current is None:
            raise api_error(NotFound, f'{ref.plural} "{m["name"]}" not found', 404)
        if m.get("resourceVersion") and m["resourceVersion"] != current["metadata"].get("resourceVersion"):
            raise api_error(Conflict, "the object has been modified", 409)
        if subresource == "status":
            new = copy.deepcopy(current)
            new["status"] = body.get("status")
        else:
            new = body
            new.setdefault("status", current.get("status"))
        new["metadata"]["resourceVersion"] = str(next(self._rv))
        self.store[key] = new
        return copy.deepcopy(new)

    async def patch(self, ref, name, patch, namespace=None, subresource=None, patch_type="merge") -> dict:
        self.calls.append(Call("patch", ref.plural, namespace, name, patch,
                               {"subresource": subresource, "patch_type": patch_type}))
        self._maybe_fail("patch", ref.plural)
        key = self._key(ref, namespace, name)
        current = self.store.get(key)
        if current is None:
            raise api_error(NotFound, f'{ref.plural} "{name}" not found', 404)
        want_rv = ((patch.get("metadata") or {}) if isinstance(patch, dict) else {}).get("resourceVersion")
        if want_rv and want_rv != current["metadata"].get("resourceVersion"):
            raise api_error(Conflict, "the object has been modified", 409)
        new = merge_patch(current, patch)
        new["metadata"]["resourceVersion"] = str(next(self._rv))
        self.store[key] = new
        return copy.deepcopy(new)

    async def delete(self, ref, name, namespace=None, grace_period_seconds=None, propagation_policy=None,
                     preconditions=None) -> dict:
        self.calls.append(Call("delete", ref.plural, namespace, name, None,
                               {"grace_period_seconds": grace_period_seconds,
                                "propagation_policy": propagation_policy, "preconditions": preconditions}))
        self._maybe_fail("delete", ref.plural)
        key = self._key(ref, namespace, name)
        if key not in self.store:
            raise api_error(NotFound, f'{ref.plural} "{name}" not found', 404)
        return self.store.pop(key)

    async def close(self) -> None:
        pass


class FakeRecorder:
    def __init__(self, events: list) -> None:
        self.events = events

    def event(self, obj: dict, type_: str, reason: str, message: str) -> None:
        m = obj.get("metadata") or {}
        self.events.append((f"{m.get('namespace', '')}/{m.get('name')}".lstrip("/"), type_, reason, message))

    async def close(self) -> None:
        pass


class FakeCluster:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now
        self.client = FakeClient()
        self.informers = FakeInformerFactory()
        self.events: list[tuple[str, str, str, str]] = []

    def ctx(self, options: Any = None) -> ControllerContext:
        return ControllerContext(client=self.client, informers=self.informers,
                                 recorder_factory=lambda component: FakeRecorder(self.events),
                                 options=options, clock=lambda: self.now)

    def add(self, ref, obj: dict, *, cache: bool = True, server: bool = True) -> dict:
        m = obj.setdefault("metadata", {})
        m.setdefault("uid", f"uid-{m['name']}")
        m.setdefault("resourceVersion", "1")
        m.setdefault("creationTimestamp", "2026-01-01T11:00:00Z")
        if cache:
            self.informers.informer(ref).lister.objects[_ckey(obj)] = obj
        if server:
            ns = m.get("namespace") or ""
            self.client.store[(ref.plural, ns if ref.namespaced else "", m["name"])] = copy.deepcopy(obj)
        return obj

    def cache(self, ref) -> FakeLister:
        return self.informers.informer(ref).lister
