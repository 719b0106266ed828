"""The REST client against a fake API server: requests as Kubernetes expects, errors mapped, watch parsed."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from shared.client import (
    AlreadyExists,
    ApiClient,
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    NotFound,
    ServerUnavailable,
    TooManyRequests,
    Unauthorized,
)
from shared.resources import DEPLOYMENTS, NODES, PODS
from tests.conftest import free_port


def status(code: int, reason: str, message: str = "m") -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
            "message": message}


ERRORS = {
    "404 NotFound": (404, status(404, "NotFound", 'pods "x" not found'), NotFound, "NotFound"),
    "409 Conflict": (409, status(409, "Conflict"), Conflict, "Conflict"),
    "409 AlreadyExists": (409, status(409, "AlreadyExists"), AlreadyExists, "AlreadyExists"),
    "410 Gone": (410, status(410, "Gone"), Gone, "Gone"),
    "410 Expired": (410, status(410, "Expired"), Gone, "Expired"),
    "422 Invalid": (422, status(422, "Invalid"), Invalid, "Invalid"),
    "400 BadRequest": (400, status(400, "BadRequest"), BadRequest, "BadRequest"),
    "401 Unauthorized": (401, status(401, "Unauthorized"), Unauthorized, "Unauthorized"),
    "403 Forbidden": (403, status(403, "Forbidden"), Forbidden, "Forbidden"),
    "429 TooManyRequests": (429, status(429, "TooManyRequests"), TooManyRequests, "TooManyRequests"),
    "500 InternalError": (500, status(500, "InternalError"), InternalError, "InternalError"),
    "503 ServiceUnavailable": (503, status(503, "ServiceUnavailable"), ServerUnavailable, "ServiceUnavailable"),
    "504 Timeout": (504, status(504, "Timeout"), ServerUnavailable, "Timeout"),
    "text 404": (404, "404 page not found", NotFound, "NotFound"),
    "text 502": (502, "bad gateway", ApiError, "Unknown"),
    "Status without reason": (409, {"kind": "Status", "code": 409, "message": "x"}, Conflict, "Conflict"),
}


@pytest.mark.parametrize(("code", "body", "cls", "reason"), ERRORS.values(), ids=ERRORS.keys())
async def test_status_errors_map_to_classes(fake_api, fake_client, code, body, cls, reason) -> None:
    api, _ = fake_api
    api.failures.append((code, body))
    with pytest.raises(cls) as info:
        await fake_client.get(PODS, "x", namespace="default")
    err = info.value
    assert type(err) is cls
    assert (err.code, err.reason) == (code, reason)
    assert err.status["code"] == code
    assert isinstance(err.__cause__, aiohttp.ClientResponseError) and err.__cause__.status == code
    if isinstance(body, dict) and "message" in body:
        assert err.message == body["message"] and str(err) == body["message"]


def test_error_classes_are_distinct_api_errors() -> None:
    classes = [NotFound, Conflict, AlreadyExists, Gone, Invalid, Unauthorized, Forbidden, ServerUnavailable]
    assert all(issubclass(c, ApiError) for c in classes)
    assert not issubclass(AlreadyExists, Conflict), "IsConflict and IsAlreadyExists differ in apimachinery"


REQUESTS = {
    "get": (lambda c: c.get(PODS, "p", namespace="ns"), "GET", "/api/v1/namespaces/ns/pods/p", {}),
    "get subresource": (lambda c: c.get(PODS, "p", namespace="ns", subresource="status"),
                        "GET", "/api/v1/namespaces/ns/pods/p/status", {}),
    "list all namespaces": (lambda c: c.list(PODS, label_selector="app=x", field_selector="spec.nodeName=n1",
                                             limit=10, continue_="abc", resource_version="5"),
                            "GET", "/api/v1/pods", {"labelSelector": "app=x", "fieldSelector": "spec.nodeName=n1",
                                                    "limit": "10", "continue": "abc", "resourceVersion": "5"}),
    "list group resource": (lambda c: c.list(DEPLOYMENTS, namespace="ns"), "GET",
                            "/apis/apps/v1/namespaces/ns/deployments", {}),
    "cluster-scoped": (lambda c: c.get(NODES, "n1"), "GET", "/api/v1/nodes/n1", {}),
    "create takes namespace from body": (
        lambda c: c.create(PODS, {"metadata": {"name": "p", "namespace": "ns"}}), "POST",
        "/api/v1/namespaces/ns/pods", {}),
    "create binding subresource": (
        lambda c: c.create(PODS, {"kind": "Binding", "metadata": {"name": "p", "namespace": "ns"},
                                  "target": {"kind": "Node", "name": "n1"}}, subresource="binding"),
        "POST", "/api/v1/namespaces/ns/pods/p/binding", {}),
    "update": (lambda c: c.update(PODS, {"metadata": {"name": "p", "namespace": "ns", "resourceVersion": "3"}},
                                  subresource="status"), "PUT", "/api/v1/namespaces/ns/pods/p/status", {}),
    "apply patch": (lambda c: c.patch(PODS, "p", {"a": 1}, namespace="ns", patch_type="apply",
                                      field_manager="me", force=True),
                    "PATCH", "/api/v1/namespaces/ns/pods/p", {"fieldManager": "me", "force": "true"}),
    "delete": (lambda c: c.delete(PODS, "p", namespace="ns"), "DELETE", "/api/v1/namespaces/ns/pods/p", {}),
}


@pytest.mark.parametrize(("call", "method", "path", "query"), REQUESTS.values(), ids=REQUESTS.keys())
async def test_requests(fake_api, fake_client, call, method, path, query) -> None:
    api, _ = fake_api
    api.failures.append((200, {"kind": "Pod", "metadata": {"name": "p"}}))
    assert (await call(fake_client))["metadata"]["name"] == "p"
    assert api.requests[-1] == (method, path, query)


PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


@pytest.mark.parametrize(("patch_type", "content_type"), PATCH_TYPES.items(), ids=PATCH_TYPES.keys())
async def test_patch_content_types(fake_api, patch_type, content_type) -> None:
    api, url = fake_api
    seen = {}

    async def trace(session, ctx, params: aiohttp.TraceRequestStartParams) -> None:
        seen.update(params.headers)

    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(trace)
    client = ApiClient(url, token="abc")
    client._session = aiohttp.ClientSession(trace_configs=[tracing])
    api.failures.append((200, {}))
    try:
        await client.patch(PODS, "p", [{"op": "add"}] if patch_type == "json" else {"a": 1}, namespace="ns",
                           patch_type=patch_type, field_manager="m")
    finally:
        await client.close()
    assert seen["Content-Type"] == content_type
    assert seen["Authorization"] == "Bearer abc"


async def test_delete_sends_delete_options(fake_api, fake_client) -> None:
    api, _ = fake_api
    api.failures.append((200, {}))
    await fake_client.delete(PODS, "p", namespace="ns", grace_period_seconds=0, propagation_policy="Foreground",
                             preconditions={"uid": "u1"})
    assert api.bodies[-1] == {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                              "propagationPolicy": "Foreground", "preconditions": {"uid": "u1"}}


async def test_namespaced_call_without_namespace_is_refused(fake_client) -> None:
    with pytest.raises(ValueError):
        await fake_client.get(PODS, "p")


async def test_retry_after_is_honoured_even_for_post() -> None:
    hits = []

    async def handler(request):
        hits.append(1)
        if len(hits) == 1:
            return web.json_response(status(503, "ServiceUnavailable"), status=503, headers={"Retry-After": "0"})
        return web.json_response({"kind": "Pod", "metadata": {"name": "p"}})

    async with _server(handler) as url, ApiClient(url) as client:
        assert (await client.create(PODS, {"metadata": {"name": "p"}}))["metadata"]["name"] == "p"
    assert len(hits) == 2


async def test_503_without_retry_after_is_not_retried_for_post() -> None:
    hits = []

    async def handler(request):
        hits.append(1)
        return web.json_response(status(503, "ServiceUnavailable"), status=503)

    async with _server(handler) as url, ApiClient(url) as client:
        with pytest.raises(ServerUnavailable):
            await client.create(PODS, {"metadata": {"name": "p"}})
    assert len(hits) == 1


async def test_connection_refused_is_server_unavailable_after_retries() -> None:
    client = ApiClient(f"http://127.0.0.1:{free_port()}", max_retries=1)
    try:
        with pytest.raises(ServerUnavailable) as info:
            await client.get(NODES, "n1")
    finally:
        await client.close()
    assert info.value.code == 503
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)


async def test_get_retried_until_server_comes_up() -> None:
    port = free_port()
    client = ApiClient(f"http://127.0.0.1:{port}", max_retries=6)

    async def handler(request):
        return web.json_response({"kind": "Node", "metadata": {"name": "n1"}})

    async def start_later():
        await asyncio.sleep(0.3)
        return await _start(handler, port)

    try:
        starter = asyncio.create_task(start_later())
        node = await client.get(NODES, "n1")
        assert node["metadata"]["name"] == "n1"
    finally:
        await client.close()
        await (await starter).cleanup()


async def test_token_file_is_reread(tmp_path, fake_api) -> None:
    api, url = fake_api
    token = tmp_path / "token"
    token.write_text("one\n")
    client = ApiClient(url, token_file=str(token))
    try:
        assert client._headers(None)["Authorization"] == "Bearer one"
        token.write_text("two")
        import os
        os.utime(token, (1, 1))
        assert client._headers(None)["Authorization"] == "Bearer two"
    finally:
        await client.close()


# --- watch ----------------------------------------------------------------------------------------

async def test_watch_yields_events_from_resource_version(fake_api, fake_client) -> None:
    api, _ = fake_api
    coll = "/api/v1/namespaces/default/pods"
    api.put(coll, {"metadata": {"name": "a", "namespace": "default"}})  # rv 101
    api.put(coll, {"metadata": {"name": "b", "namespace": "default"}})  # rv 102
    api.remove(coll, "a")  # rv 103
    events = []
    async for event in fake_client.watch(PODS, namespace="default", resource_version="101", timeout_seconds=1):
        events.append((event["type"], event["object"]["metadata"]["name"]))
    assert events == [("ADDED", "b"), ("DELETED", "a")]
    assert api.requests[-1][2] == {"watch": "true", "resourceVersion": "101", "timeoutSeconds": "1",
                                   "allowWatchBookmarks": "true"}


async def test_watch_error_event_raises_gone(fake_api, fake_client) -> None:
    api, _ = fake_api
    api.rv = 500
    api.compact()
    with pytest.raises(Gone) as info:
        async for _ in fake_client.watch(PODS, resource_version="10"):
            pass
    assert info.value.code == 410 and "too old" in info.value.message


async def test_watch_refused_with_http_status_raises(fake_api, fake_client) -> None:
    api, _ = fake_api
    api.failures.append((403, status(403, "Forbidden", "pods is forbidden")))
    with pytest.raises(Forbidden):
        async for _ in fake_client.watch(PODS):
            pass


async def test_watch_broken_stream_raises_server_unavailable(fake_api, fake_client) -> None:
    api, _ = fake_api
    got = []

    async def consume():
        async for event in fake_client.watch(PODS, resource_version="100"):
            got.append(event)
            api.drop_watches()

    api.put("/api/v1/namespaces/default/pods", {"metadata": {"name": "a", "namespace": "default"}})
    with pytest.raises(ServerUnavailable):
        await asyncio.wait_for(consume(), 5)
    assert len(got) == 1


WATCH_BODIES = {
    "split across chunks": ([b'{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"MOD',
                             b'IFIED","object":{"metadata":{"name":"a"}}}\n'], ["ADDED", "MODIFIED"]),
    "no trailing newline": ([b'{"type":"ADDED","object":{}}'], ["ADDED"]),
    "blank lines skipped": ([b'\n{"type":"BOOKMARK","object":{}}\n\n'], ["BOOKMARK"]),
    "many in one chunk": ([b'{"type":"ADDED","object":{}}\n' * 3], ["ADDED"] * 3),
}


@pytest.mark.parametrize(("chunks", "types"), WATCH_BODIES.values(), ids=WATCH_BODIES.keys())
async def test_watch_stream_parsing(chunks: list[bytes], types: list[str]) -> None:
    async def handler(request):
        resp = web.StreamResponse()
        await resp.prepare(request)
        for chunk in chunks:
            await resp.write(chunk)
            await asyncio.sleep(0.01)
        return resp

    async with _server(handler) as url, ApiClient(url) as client:
        assert [e["type"] async for e in client.watch(PODS)] == types


# --- helpers ----------------------------------------------------------------------------------------

async def _start(handler, port: int):
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


class _server:
    def __init__(self, handler) -> None:
        self.handler = handler

    async def __aenter__(self) -> str:
        port = free_port()
        self.runner = await _start(self.handler, port)
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()
