"""A tiny fake API server for the shared library's unit tests (the real one is used in integration).

It keeps objects by path with etcd-like revisions, answers list (with limit/continue), watch (with
compaction → 410 ERROR events, bookmarks, forced drops), get/create/update/patch(merge)/delete
with Kubernetes' Status errors, and lets a test inject failures. Only what the client, reflector,
leader election and event recorder rely on.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from shared.client import ApiClient
from tests.conftest import free_port


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


@dataclass
class FakeApi:
    """State and knobs; `collection` is e.g. '/api/v1/namespaces/default/pods' (or cluster-wide)."""

    objects: dict[str, dict[str, dict]] = field(default_factory=dict)  # collection -> name -> obj
    log: list[tuple[int, str, str, dict]] = field(default_factory=list)  # (rv, collection, type, obj)
    rv: int = 100
    compacted: int = 0
    failures: list[tuple[int, dict | str]] = field(default_factory=list)  # next answers to force
    requests: list[tuple[str, str, dict]] = field(default_factory=list)  # (method, path, query)
    bodies: list[Any] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    drop: asyncio.Event = field(default_factory=asyncio.Event)
    bookmarks: bool = False

    # --- test-side helpers -------------------------------------------------------------------

    def put(self, collection: str, obj: dict, kind: str | None = None) -> dict:
        """Create or replace `obj` directly (as another client would), recording the event."""
        name = obj["metadata"]["name"]
        items = self.objects.setdefault(collection, {})
        kind = kind or ("MODIFIED" if name in items else "ADDED")
        return self._record(collection, kind, obj)

    def remove(self, collection: str, name: str) -> dict:
        obj = self.objects[collection].pop(name)
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.log.append((self.rv, collection, "DELETED", obj))
        self._wake()
        return obj

    def compact(self) -> None:
        self.compacted = self.rv

    def drop_watches(self) -> None:
        old, self.drop = self.drop, asyncio.Event()
        old.set()

    def _record(self, collection: str, kind: str, obj: dict) -> dict:
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.objects.setdefault(collection, {})[obj["metadata"]["name"]] = obj
        self.log.append((self.rv, collection, kind, obj))
        self._wake()
        return obj

    def _wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


def _split(path: str) -> tuple[str, str | None, str | None]:
    """(collection path, name, subresource) for /api/v1[/namespaces/ns]/plural[/name[/sub]]."""
    parts = path.strip("/").split("/")
    base = 3 if parts[0] == "apis" else 2
    if len(parts) > base + 1 and parts[base] == "namespaces" and len(parts) >= base + 3:
        base += 2
    collection = "/" + "/".join(parts[: base + 1])
    rest = parts[base + 1:]
    return collection, (rest[0] if rest else None), (rest[1] if len(rest) > 1 else None)


def _matching(api: FakeApi, collection: str) -> list[dict]:
    """Items of `collection`, or of every namespace when it is cluster-wide (no /namespaces/)."""
    if "/namespaces/" in collection:
        return list(api.objects.get(collection, {}).values())
    plural = collection.rsplit("/", 1)[1]
    return [o for c, items in api.objects.items() if c.rsplit("/", 1)[1] == plural for o in items.values()]


def _in(collection: str, event_collection: str) -> bool:
    if "/namespaces/" in collection:
        return collection == event_collection
    return collection.rsplit("/", 1)[1] == event_collection.rsplit("/", 1)[1]


def make_app(api: FakeApi) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        api.requests.append((request.method, request.path, dict(request.query)))
        if request.can_read_body:
            api.bodies.append(orjson.loads(await request.read()))
        if api.failures:
            code, body = api.failures.pop(0)
            if isinstance(body, str):
                return web.Response(status=code, text=body)
            return web.json_response(body, status=code)
        collection, name, sub = _split(request.path)
        if request.method == "GET" and name is None and request.query.get("watch") == "true":
            return await _watch(request, api, collection)
        if request.method == "GET" and name is None:
            return _list(request, api, collection)
        return await _object(request, api, collection, name)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def _list(request: web.Request, api: FakeApi, collection: str) -> web.Response:
    items = sorted(_matching(api, collection), key=lambda o: o["metadata"]["name"])
    start = int(request.query.get("continue") or 0)
    limit = int(request.query.get("limit") or 0) or len(items)
    page = items[start:start + limit]
    meta: dict[str, Any] = {"resourceVersion": str(api.rv)}
    if start + limit < len(items):
        meta["continue"] = str(start + limit)
    return web.json_response({"kind": "List", "apiVersion": "v1", "metadata": meta, "items": page})


async def _watch(request: web.Request, api: FakeApi, collection: str) -> web.StreamResponse:
    since = int(request.query.get("resourceVersion") or api.rv)
    transport = request.transport
    resp = web.StreamResponse()
    await resp.prepare(request)
    if since < api.compacted:
        err = _status(410, "Expired", f"too old resource version: {since} ({api.compacted})")
        await resp.write(orjson.dumps({"type": "ERROR", "object": err}) + b"\n")
        return resp
    drop = api.drop
    while not drop.is_set():
        changed = api.changed
        for rv, coll, kind, obj in list(api.log):
            if rv > since and _in(collection, coll):
                await resp.write(orjson.dumps({"type": kind, "object": obj}) + b"\n")
                since = rv
        if api.bookmarks and since < api.rv:
            since = api.rv
            bookmark = {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(since)}}
            await resp.write(orjson.dumps({"type": "BOOKMARK", "object": bookmark}) + b"\n")
        waits = [asyncio.ensure_future(changed.wait()), asyncio.ensure_future(drop.wait())]
        _, pending = await asyncio.wait(waits, timeout=float(request.query.get("timeoutSeconds", 30)),
                                        return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()
        if len(pending) == 2:
            break  # timeoutSeconds passed
    if drop.is_set():
        transport.abort()  # a broken stream, as when the API server dies
    return resp


async def _object(request: web.Request, api: FakeApi, collection: str, name: str | None) -> web.Response:
    items = api.objects.setdefault(collection, {})
    plural = collection.rsplit("/", 1)[1]
    if request.method == "POST":
        body = api.bodies[-1]
        if body["metadata"]["name"] in items:
            return web.json_response(_status(409, "AlreadyExists", f'{plural} "{body["metadata"]["name"]}" already exists'), status=409)
        return web.json_response(api.put(collection, body, "ADDED"), status=201)
    if name not in items:
        return web.json_response(_status(404, "NotFound", f'{plural} "{name}" not found'), status=404)
    current = items[name]
    if request.method == "GET":
        return web.json_response(current)
    if request.method == "PUT":
        body = api.bodies[-1]
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            msg = f'Operation cannot be fulfilled on {plural} "{name}": the object has been modified; please apply your changes to the latest version and try again'
            return web.json_response(_status(409, "Conflict", msg), status=409)
        return web.json_response(api.put(collection, body, "MODIFIED"))
    if request.method == "PATCH":
        merged = _merge(current, api.bodies[-1])
        return web.json_response(api.put(collection, merged, "MODIFIED"))
    if request.method == "DELETE":
        return web.json_response(api.remove(collection, name))
    return web.json_response(_status(405, "MethodNotAllowed", "no"), status=405)


@pytest.fixture
async def fake_api() -> AsyncIterator[tuple[FakeApi, str]]:
    """(state, base URL) of a fake API server on a free loopback port."""
    api = FakeApi()
    runner = web.AppRunner(make_app(api), handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield api, f"http://127.0.0.1:{port}"
    finally:
        api.drop_watches()
        await runner.cleanup()


@pytest.fixture
async def fake_client(fake_api: tuple[FakeApi, str]) -> AsyncIterator[ApiClient]:
    _, url = fake_api
    client = ApiClient(url, token="t0ken", max_retries=2)
    try:
        yield client
    finally:
        await client.close()
