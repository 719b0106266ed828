"""The verbs of the REST API over the object store: create, get, list, update, patch, delete,
deletecollection and watch, for every registered resource.

Guarantees (kube-apiserver's generic registry semantics):
- create fills in name (generateName), uid, creationTimestamp, generation 1, defaults, validates
  (422 with field causes), runs admission, and fails with 409 AlreadyExists on an existing name.
- update/patch are compare-and-swap on the stored revision: a stale `resourceVersion` is 409
  Conflict; without one, races are retried. Updates of the main resource keep `status`; `/status`
  changes only `status`; `metadata.generation` grows when `spec` changes; an update that changes
  nothing writes nothing. Immutable metadata (uid, creationTimestamp, deletionTimestamp) is kept.
- delete honours preconditions, propagationPolicy (Orphan/Foreground add the `orphan` /
  `foregroundDeletion` finalizers), finalizers (the object gets `deletionTimestamp` and stays until
  they are removed) and pod graceful deletion (a pod bound to a node is only marked; its kubelet
  deletes it with grace 0; an unscheduled or finished pod goes at once).
- list filters by label and field selectors and pages with `limit`/`continue` at the first page's
  revision; `resourceVersion=0` lists are served from the watch cache.
- watch streams one JSON event per line from the watch cache (see watchcache.py).
Nothing stored changes when a request is rejected.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from services.apiserver import admission, codec, compat, errors, priority
from services.apiserver.allocator import ServiceAllocator
from services.apiserver.objectstore import ObjectStore, decode as decode_obj
from services.apiserver.registry import Registry, Resource
from services.apiserver.requestinfo import RequestInfo
from services.apiserver.selectors import SelectorError, parse_field_selector, parse_label_selector
from services.apiserver.storage.base import KeyExists
from services.apiserver.watchcache import WatchCache
from shared.logging import get_logger

log = get_logger()

Obj = dict[str, Any]
Mutate = Callable[[Obj], Obj]
RETURN_DELETED = frozenset({"pods", "services", "namespaces"})
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_IMMUTABLE_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                   "name", "namespace")
CONFLICT_RETRIES = 20


def now_rfc3339(delta_seconds: float = 0) -> str:
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Api:
    """The REST verbs; one per API server (state: registry, store, caches, allocator)."""

    def __init__(self, registry: Registry, store: ObjectStore, *, allocator: ServiceAllocator,
                 caches: dict[str, WatchCache], min_request_timeout: float = 1800.0,
                 bookmark_interval: float = 60.0) -> None:
        self.registry = registry
        self.store = store
        self.allocator = allocator
        self.caches = caches
        self.min_request_timeout = min_request_timeout
        self.bookmark_interval = bookmark_interval
        self.namespaces = registry.get("", "v1", "namespaces")
        self._terminated: dict[str, float] = {}
        self.store_ok = True  # kept by the app's store monitor  # namespace -> when this server marked it Terminating

    # --- reading -------------------------------------------------------------------------

    async def get_object(self, res: Resource, name: str, namespace: str | None) -> tuple[Obj, int]:
        found = await self.store.get(res, name, namespace)
        if found is None:
            raise errors.not_found(res.plural, res.group, name)
        return found

    async def list_objects(self, res: Resource, namespace: str | None, query: Any) -> tuple[list[Obj], str, str]:
        """(items, list resourceVersion, continue token)."""
        match = self.predicate(res, namespace, query)
        limit = _int_param(query, "limit", 0)
        token = query.get("continue", "")
        rv = query.get("resourceVersion", "")
        if rv == "0" and not token and res.plural in self.caches:
            cache = self.caches[res.plural]
            await cache.wait_ready(self.store.timeout)
            items = [obj for _, obj in cache.objects(namespace) if match(obj)]
            return items, str(cache.revision), ""
        prefix = self.store.resource_prefix(res, namespace)
        revision, start = 0, None
        if token:
            revision, start = _decode_continue(token, prefix)
        elif rv and query.get("resourceVersionMatch") == "Exact":
            revision = _parse_rv(rv)
        return await self._list_pages(prefix, match, limit, start, revision)

    async def _list_pages(self, prefix: str, match: Callable[[Obj], bool], limit: int, start: str | None,
                          revision: int) -> tuple[list[Obj], str, str]:
        items: list[Obj] = []
        page_size = max(limit, 500) if limit else 0
        while True:
            page = await self.store.list(prefix, limit=page_size, continue_key=start, revision=revision)
            revision = revision or page.revision
            for i, kv in enumerate(page.items):
                obj = decode_obj(kv.value, kv.mod_revision)
                if match(obj):
                    items.append(obj)
                if limit and len(items) >= limit:
                    more = page.more or i < len(page.items) - 1
                    cont = _encode_continue(revision, kv.key + "\x00", prefix) if more else ""
                    return items, str(revision), cont
            if not page.more or not page.items:
                return items, str(revision), ""
            start = page.items[-1].key + "\x00"

    def predicate(self, res: Resource, namespace: str | None, query: Any, name: str | None = None
                  ) -> Callable[[Obj], bool]:
        try:
            labels = parse_label_selector(query.get("labelSelector") or "")
            fields = parse_field_selector(query.get("fieldSelector") or "")
            if not fields.empty():
                fields.check_supported(res.field_label_names())
        except SelectorError as exc:
            raise errors.bad_request(str(exc)) from exc
        check_labels = not labels.empty()
        check_fields = not fields.empty()

        def match(obj: Obj) -> bool:
            meta = obj.get("metadata") or {}
            if namespace is not None and meta.get("namespace") != namespace:
                return False
            if name is not None and meta.get("name") != name:
                return False
            if check_labels and not labels.matches(meta.get("labels") or {}):
                return False
            return not check_fields or fields.matches(res.field_labels(obj))

        return match

    # --- create --------------------------------------------------------------------------

    async def create(self, res: Resource, namespace: str | None, obj: Obj, *, dry_run: bool = False) -> Obj:
        self.prepare_create(res, namespace, obj)
        await self.admit_create(res, obj)
        _raise_invalid(res, obj, [c.to_dict() for c in res.validate(obj, None)])
        meta = obj["metadata"]
        if res.plural == "services":
            causes = self.allocator.allocate(obj)
            _raise_invalid(res, obj, causes)
        if dry_run:
            self._release(res, obj)
            return obj
        key = self.store.key(res, meta["name"], meta.get("namespace"))
        try:
            rev = await self.store.create(key, obj)
        except KeyExists:
            self._release(res, obj)
            raise errors.already_exists(res.plural, res.group, meta["name"]) from None
        except BaseException:
            self._release(res, obj)
            raise
        meta["resourceVersion"] = str(rev)
        return obj

    def prepare_create(self, res: Resource, namespace: str | None, obj: Obj) -> None:
        _check_type(res, obj)
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        meta = obj["metadata"]
        if res.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            meta["namespace"] = namespace or body_ns or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and isinstance(meta.get("generateName"), str) and meta["generateName"]:
            meta["name"] = meta["generateName"] + "".join(random.choices(_NAME_CHARS, k=5))
        if not meta.get("name"):
            _raise_invalid(res, obj, [{"reason": "FieldValueRequired", "field": "metadata.name",
                                       "message": "Required value: name or generateName is required"}])
        for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        compat.prepare_for_create(res, obj)
        res.default(obj)

    async def admit_create(self, res: Resource, obj: Obj) -> None:
        meta = obj["metadata"]
        if res.namespaced:
            ns_obj = await self.namespace_object(meta["namespace"])
            admission.check_namespace(res, meta["name"], ns_obj, meta["namespace"])
        if res.plural == "pods":
            admission.default_tolerations(obj)
            priority.admit_pod(obj, await self.priority_classes())
        elif res.plural == "priorityclasses":
            priority.admit_class(obj, await self.priority_classes())

    async def priority_classes(self) -> list[Obj]:
        """Every PriorityClass, from the watch cache once it has listed (as the plugin's lister)."""
        res = self.registry.get("scheduling.k8s.io", "v1", "priorityclasses")
        cache = self.caches.get("priorityclasses")
        if cache is not None and cache.ready.is_set():
            return list(cache.state.values())
        items, _, _ = await self.list_objects(res, None, {})
        return items

    async def namespace_object(self, name: str) -> Obj | None:
        """The namespace, from the watch cache unless this server marked it for deletion lately
        (the cache may not have seen that yet: kube-apiserver's forceLiveLookup)."""
        cache = self.caches.get("namespaces")
        recent = self._terminated.get(name)
        if recent is not None and time.monotonic() - recent > 30:
            self._terminated.pop(name, None)
            recent = None
        if cache is not None and cache.ready.is_set() and recent is None:
            found = cache.state.get(self.store.key(self.namespaces, name, None))
            if found is not None:
                return found
        got = await self.store.get(self.namespaces, name, None)  # the cache may lag a fresh create
        return got[0] if got else None

    def _release(self, res: Resource, obj: Obj) -> None:
        if res.plural == "services":
            self.allocator.release(obj)

    # --- update and patch ----------------------------------------------------------------

    async def update(self, info: RequestInfo, mutate: Mutate, *, create: Callable[[], Obj] | None = None,
                     dry_run: bool = False, status_too: bool = False, validate: bool = True) -> tuple[Obj, bool]:
        """Read-modify-write `info`'s object with `mutate` (CAS, retried); (object, created)."""
        res, name, ns = info.resource, info.name or "", info.namespace
        for _ in range(CONFLICT_RETRIES):
            found = await self.store.get(res, name, ns)
            if found is None:
                if create is None:
                    raise errors.not_found(res.plural, res.group, name)
                return await self.create(res, ns, create(), dry_run=dry_run), True
            current, revision = found
            base = copy.deepcopy(current)
            base["metadata"].pop("resourceVersion", None)  # only a resourceVersion the client sent is a precondition
            new = mutate(base)
            if isinstance(new, dict):
                codec.check_meta_types(new)
            asked_rv = str((new.get("metadata") or {}).get("resourceVersion") or "")
            if asked_rv and asked_rv != str(revision):
                raise errors.stale(res.plural, res.group, name)
            new = self.prepare_update(info, current, new, status_too=status_too, validate=validate)
            if res.plural == "priorityclasses":
                priority.admit_class(new, await self.priority_classes())
            if _same(current, new):
                return current, False
            if dry_run:
                return new, False
            done = await self._write_update(res, current, new, revision)
            if done is not None:
                return done, False
            if asked_rv:
                raise errors.stale(res.plural, res.group, name)
        raise errors.conflict(res.plural, res.group, name, "too many concurrent updates, please retry")

    async def _write_update(self, res: Resource, current: Obj, new: Obj, revision: int) -> Obj | None:
        meta = new["metadata"]
        key = self.store.key(res, meta["name"], meta.get("namespace"))
        if _should_delete_now(res, new):
            result = await self.store.delete(key, revision)
            if result.ok:
                self._release(res, current)
                meta["resourceVersion"] = str(result.revision)
                return new
            return None
        result = await self.store.update(key, new, revision)
        if not result.ok:
            if result.kv is None:
                raise errors.not_found(res.plural, res.group, meta["name"])
            return None
        if res.plural == "services":
            self.allocator.release_unused(current, new)
        meta["resourceVersion"] = str(result.revision)
        return new

    def prepare_update(self, info: RequestInfo, current: Obj, new: Obj, *, status_too: bool = False,
                       validate: bool = True) -> Obj:
        res = info.resource
        if not isinstance(new, dict):
            raise errors.bad_request("the object must be a JSON object")
        _check_type(res, new)
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            new["metadata"] = meta = {}
        if meta.get("name") and meta["name"] != info.name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL "
                                     f"({info.name})")
        if res.namespaced and meta.get("namespace") and meta["namespace"] != info.namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on "
                                     "the request")
        if info.subresource == "status":
            return self._status_update(current, new)
        if info.subresource == "ephemeralcontainers":
            return self._ephemeral_containers_update(res, current, new)
        cur_meta = current.get("metadata", {})
        if meta.get("uid") and meta["uid"] != cur_meta.get("uid"):
            raise errors.conflict(res.plural, res.group, info.name or "",
                                  f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: "
                                  f"{cur_meta.get('uid')}")
        for key in _IMMUTABLE_META:
            if key in cur_meta:
                meta[key] = cur_meta[key]
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = cur_meta.get("resourceVersion")
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        if res.has_status and not status_too:
            if "status" in current:
                new["status"] = current["status"]
            else:
                new.pop("status", None)
        self._check_finalizers(res, current, new)
        res.default(new)
        causes = [c.to_dict() for c in res.validate(new, current)] if validate else []
        if res.plural == "services" and not causes:
            causes = self.allocator.allocate(new, current)
        _raise_invalid(res, new, causes)
        if new.get("spec") != current.get("spec") and ("spec" in new or "spec" in current):
            meta["generation"] = int(cur_meta.get("generation") or 1) + 1
        if (res.group, res.kind) == ("apps", "DaemonSet"):
            compat.daemonset_template_generation(new, current)
        return new

    def _ephemeral_containers_update(self, res: Resource, current: Obj, new: Obj) -> Obj:
        """pods/ephemeralcontainers: only spec.ephemeralContainers is taken from `new`, defaulted
        like containers; existing ones may not change or go (ephemeralContainersStrategy)."""
        result = copy.deepcopy(current)
        wanted = (new.get("spec") or {}).get("ephemeralContainers") if isinstance(new.get("spec"), dict) else None
        result["spec"]["ephemeralContainers"] = copy.deepcopy(wanted) if isinstance(wanted, list) else []
        if not result["spec"]["ephemeralContainers"]:
            del result["spec"]["ephemeralContainers"]
        compat.default_ephemeral_containers(result["spec"])
        _raise_invalid(res, result, [c.to_dict() for c in compat.validate_ephemeral_containers_update(result, current)])
        return result

    def _status_update(self, current: Obj, new: Obj) -> Obj:
        result = copy.deepcopy(current)
        if "status" in new:
            result["status"] = new["status"]
        else:
            result.pop("status", None)
        return result

    def _check_finalizers(self, res: Resource, current: Obj, new: Obj) -> None:
        if not current.get("metadata", {}).get("deletionTimestamp"):
            return
        old = set(current["metadata"].get("finalizers") or [])
        added = [f for f in new["metadata"].get("finalizers") or [] if f not in old]
        if added:
            _raise_invalid(res, new, [{"reason": "FieldValueForbidden", "field": "metadata.finalizers",
                                       "message": f"Forbidden: no new finalizers can be added if the object is "
                                                  f"being deleted, found new finalizers {added!r}"}])

    # --- delete --------------------------------------------------------------------------

    async def delete(self, info: RequestInfo, options: Obj, *, dry_run: bool = False) -> tuple[Obj, bool]:
        """Delete or mark for deletion; (object, deleted now)."""
        res, name, ns = info.resource, info.name or "", info.namespace
        if res.plural == "namespaces":
            admission.check_namespace_delete(name)
        elif res.plural == "priorityclasses":
            priority.check_delete(name)
        for _ in range(CONFLICT_RETRIES):
            current, revision = await self.get_object(res, name, ns)
            _check_preconditions(res, current, options)
            new = _mark_for_deletion(res, copy.deepcopy(current), options)
            if dry_run:
                return (new or current), new is None
            key = self.store.key(res, name, ns)
            if new is None:
                result = await self.store.delete(key, revision)
                if result.ok:
                    self._release(res, current)
                    current["metadata"]["resourceVersion"] = str(result.revision)
                    return current, True
            elif _same(current, new):
                return current, False
            else:
                if res.plural == "namespaces":
                    self._terminated[name] = time.monotonic()
                result = await self.store.update(key, new, revision)
                if result.ok:
                    new["metadata"]["resourceVersion"] = str(result.revision)
                    return new, False
            if result.kv is None:
                raise errors.not_found(res.plural, res.group, name)
        raise errors.conflict(res.plural, res.group, name, "too many concurrent updates, please retry")

    # --- watch ---------------------------------------------------------------------------

    async def watch(self, request: web.Request, info: RequestInfo, *, as_table: bool) -> web.StreamResponse:
        res, query = info.resource, request.query
        match = self.predicate(res, info.namespace, query, name=info.name)
        if not self.store_ok:
            raise errors.unavailable("storage is unavailable: watches resume when it is back")
        cache = self.caches[res.plural]
        await cache.wait_ready(self.store.timeout)
        timeout = _float_param(query, "timeoutSeconds", None)
        if timeout is None:
            timeout = self.min_request_timeout * (1 + random.random())
        rv_text = query.get("resourceVersion", "")
        initial_end = query.get("sendInitialEvents") == "true"
        rv = 0 if initial_end else _parse_rv(rv_text) if rv_text else 0
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/json"
        resp.enable_chunked_encoding()
        try:
            watcher, initial = cache.watch(rv, match, info.namespace)
        except errors.ApiStatusError as err:
            await resp.prepare(request)
            await resp.write(orjson.dumps({"type": "ERROR", "object": err.status()}) + b"\n")
            return resp
        stream = _WatchStream(request, resp, res, as_table=as_table, bookmarks=bookmarks,
                              interval=self.bookmark_interval)
        try:
            await resp.prepare(request)
            await stream.send(initial)
            if initial_end and bookmarks:
                await stream.bookmark(cache.revision, initial_events_end=True)
            await stream.follow(watcher, timeout)
        except (ConnectionResetError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            watcher.close()
        return resp


class _WatchStream:
    """Writes watch events to one client: JSON lines, or one-row Tables for kubectl.

    After the replay, events are written straight from the watch cache's dispatch (`sink`) into
    the connection as HTTP chunks: no task switch per watcher per event, which is what lets one
    event reach a thousand watchers in a few milliseconds. A client whose unsent data passes
    `MAX_BUFFERED` is too slow and is ended (it re-watches from its last resourceVersion)."""

    MAX_BUFFERED = 16 * 1024 * 1024

    def __init__(self, request: web.Request, resp: web.StreamResponse, res: Resource, *, as_table: bool,
                 bookmarks: bool, interval: float) -> None:
        self.request, self.resp, self.res = request, resp, res
        self.as_table, self.bookmarks, self.interval = as_table, bookmarks, interval
        self.sent_rv = 0
        self.first = True
        self.direct = False

    async def send(self, events: list) -> None:
        if not events:
            return
        chunks = [self._encode(type_, event) for type_, event in events]
        self.sent_rv = max(self.sent_rv, events[-1][1].revision)
        await self._write(b"".join(chunks))

    def sink(self, type_: str, event: Any) -> None:
        """Called by the watch cache for each event this watcher sees (raises: the watcher ends)."""
        self._write_now(self._encode(type_, event))
        self.sent_rv = max(self.sent_rv, event.revision)

    def _encode(self, type_: str, event: Any) -> bytes:
        if not self.as_table:
            return event.encoded(type_)
        obj = event.object_for(type_)
        table = compat.to_table(self.res, [obj], resource_version=obj["metadata"].get("resourceVersion", ""),
                                with_columns=self.first)
        self.first = False
        return orjson.dumps({"type": type_, "object": table}) + b"\n"

    async def _write(self, data: bytes) -> None:
        if self.direct:
            self._write_now(data)
        else:
            await self.resp.write(data)

    def _write_now(self, data: bytes) -> None:
        transport = self.request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the watch client went away")
        transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        if transport.get_write_buffer_size() > self.MAX_BUFFERED:
            log.warning("watch.too_slow", resource=self.res.plural, buffered=transport.get_write_buffer_size())
            raise ConnectionResetError("the watch client is too slow")

    async def bookmark(self, revision: int, *, initial_events_end: bool = False) -> None:
        meta: Obj = {"resourceVersion": str(revision)}
        if initial_events_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.res.kind, "apiVersion": self.res.api_version, "metadata": meta}
        await self._write(orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n")
        self.sent_rv = max(self.sent_rv, revision)

    async def follow(self, watcher: Any, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        next_bookmark = loop.time() + self.interval
        queue = watcher.queue
        while True:
            if not self.direct and queue.empty() and not watcher.closed and self.request.transport is not None:
                watcher.sink = self.sink  # from now on the cache writes to us directly
                self.direct = True
            now = loop.time()
            if now >= deadline:
                return
            wait = min(deadline, next_bookmark, now + 5.0) - now
            try:
                if queue.empty():  # asyncio.timeout, unlike wait_for, starts no task per event
                    async with asyncio.timeout(max(wait, 0.001)):
                        item = await queue.get()
                else:
                    item = queue.get_nowait()
            except TimeoutError:
                if self._client_gone():
                    return
                if self.bookmarks and loop.time() >= next_bookmark:
                    next_bookmark = loop.time() + self.interval
                    await self.bookmark(max(watcher.cache.revision, watcher.start_revision, self.sent_rv))
                continue
            batch = [item]
            while not queue.empty() and len(batch) < 500:
                batch.append(queue.get_nowait())
            events = [b for b in batch if b is not None]
            await self.send(events)
            if len(events) != len(batch):
                if watcher.error is not None:
                    await self._write(orjson.dumps({"type": "ERROR", "object": watcher.error}) + b"\n")
                return

    def _client_gone(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()


# --- helpers ---------------------------------------------------------------------------------

def _check_type(res: Resource, obj: Obj) -> None:
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if kind and kind != res.kind:
        raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")
    if api_version and api_version != res.api_version:
        raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                                 f"version ({res.api_version})")


def _raise_invalid(res: Resource, obj: Obj, causes: list[dict]) -> None:
    if causes:
        name = (obj.get("metadata") or {}).get("name") or ""
        raise errors.invalid(res.kind, res.group, name, causes)


def _same(current: Obj, new: Obj) -> bool:
    cur_rv = (current.get("metadata") or {}).get("resourceVersion")
    new.setdefault("metadata", {})["resourceVersion"] = cur_rv
    return current == new


def _should_delete_now(res: Resource, obj: Obj) -> bool:
    meta = obj.get("metadata") or {}
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    if res.plural == "namespaces":
        return False
    return not meta.get("deletionGracePeriodSeconds")


def _check_preconditions(res: Resource, obj: Obj, options: Obj) -> None:
    pre = options.get("preconditions") or {}
    meta = obj["metadata"]
    name = meta.get("name", "")
    if pre.get("uid") and pre["uid"] != meta.get("uid"):
        raise errors.conflict(res.plural, res.group, name,
                              f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
                              f"{meta.get('uid')}")
    if pre.get("resourceVersion") and str(pre["resourceVersion"]) != meta.get("resourceVersion"):
        raise errors.conflict(res.plural, res.group, name,
                              f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                              f"ResourceVersion in object meta: {meta.get('resourceVersion')}")


def _mark_for_deletion(res: Resource, obj: Obj, options: Obj) -> Obj | None:
    """The object marked for deletion, or None when it can go at once."""
    meta = obj["metadata"]
    finalizers = _gc_finalizers(list(meta.get("finalizers") or []), options)
    if res.plural == "namespaces":
        return _mark_namespace(obj, finalizers)
    grace = _grace_period(res, obj, options)
    if not finalizers and not grace:
        return None
    if finalizers != list(meta.get("finalizers") or []):
        meta["finalizers"] = finalizers
    if not meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = now_rfc3339(grace)
        meta["deletionGracePeriodSeconds"] = grace
    elif grace < int(meta.get("deletionGracePeriodSeconds") or 0):
        meta["deletionTimestamp"] = now_rfc3339(grace)
        meta["deletionGracePeriodSeconds"] = grace
    if not finalizers and not meta["deletionGracePeriodSeconds"]:
        return None
    return obj


def _mark_namespace(obj: Obj, finalizers: list[str]) -> Obj | None:
    meta = obj["metadata"]
    spec_finalizers = (obj.get("spec") or {}).get("finalizers") or []
    if meta.get("deletionTimestamp") and not spec_finalizers and not finalizers:
        return None
    if finalizers:
        meta["finalizers"] = finalizers
    meta.setdefault("deletionTimestamp", now_rfc3339())
    meta.setdefault("deletionGracePeriodSeconds", 0)
    obj.setdefault("status", {})["phase"] = "Terminating"
    return obj


def _gc_finalizers(finalizers: list[str], options: Obj) -> list[str]:
    policy = options.get("propagationPolicy")
    if options.get("orphanDependents") is True and not policy:
        policy = "Orphan"
    if policy == "Orphan":
        finalizers = [f for f in finalizers if f != "foregroundDeletion"]
        return finalizers if "orphan" in finalizers else [*finalizers, "orphan"]
    if policy == "Foreground":
        finalizers = [f for f in finalizers if f != "orphan"]
        return finalizers if "foregroundDeletion" in finalizers else [*finalizers, "foregroundDeletion"]
    return finalizers


def _grace_period(res: Resource, obj: Obj, options: Obj) -> int:
    if res.plural != "pods":
        return 0
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Failed", "Succeeded"):
        return 0
    grace = options.get("gracePeriodSeconds")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", 30)
    try:
        return max(0, int(grace))
    except (TypeError, ValueError):
        return 30


def _int_param(query: Any, name: str, default: int) -> int:
    value = query.get(name)
    if value in (None, ""):
        return default
    try:
        parsed = int(value)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {value!r}") from None
    if parsed < 0:
        raise errors.bad_request(f"invalid value for {name}: {value!r}")
    return parsed


def _float_param(query: Any, name: str, default: float | None) -> float | None:
    value = query.get(name)
    if value in (None, ""):
        return default
    try:
        parsed = float(value)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {value!r}") from None
    return max(parsed, 0.0)


def _parse_rv(value: str) -> int:
    try:
        rv = int(value)
    except ValueError:
        raise errors.bad_request(f"invalid resource version: {value!r}") from None
    if rv < 0:
        raise errors.bad_request(f"invalid resource version: {value!r}")
    return rv


def _encode_continue(revision: int, next_key: str, prefix: str) -> str:
    token = {"v": "meta.k8s.io/v1", "rv": revision, "start": next_key[len(prefix):]}
    return base64.urlsafe_b64encode(orjson.dumps(token)).decode()


def _decode_continue(token: str, prefix: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        revision, start = int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                 "(version meta.k8s.io/v1)") from None
    if revision <= 0 or data.get("v") != "meta.k8s.io/v1":
        raise errors.bad_request("continue key is not valid")
    return revision, prefix + start
