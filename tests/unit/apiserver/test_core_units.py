"""Unit tests of the API server core's pure parts: allocator, token auth, request paths, protobuf,
and the watch cache over the in-memory backend."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from services.apiserver import errors
from services.apiserver.allocator import AllocationError, IPAllocator, PortAllocator, ServiceAllocator
from services.apiserver.auth import TokenAuthenticator, parse_token_file
from tests.unit.apiserver.memstore import MemoryBackend
from tests.unit.apiserver.protowire import ld as _ld
from tests.unit.apiserver.protowire import vi as _vi
from services.apiserver.objectstore import decode
from services.apiserver.protobuf import ProtobufError
from services.apiserver.protobuf import decode as pb_decode
from services.apiserver.registry import default_registry
from services.apiserver.requestinfo import parse
from services.apiserver.watchcache import WatchCache


# --- allocator --------------------------------------------------------------------------------

def test_ip_allocator_range_and_reuse() -> None:
    ips = IPAllocator("127.96.0.0/29")  # .1 - .6 usable
    got = {ips.allocate_next() for _ in range(6)}
    assert got == {f"127.96.0.{i}" for i in range(1, 7)}
    with pytest.raises(AllocationError, match="range is full"):
        ips.allocate_next()
    ips.release("127.96.0.3")
    assert ips.allocate_next() == "127.96.0.3"


@pytest.mark.parametrize("ip, message", [
    ("127.96.0.0", "not in the valid range"), ("127.96.0.7", "not in the valid range"),
    ("10.0.0.1", "not in the valid range"), ("bogus", "not a valid IP"),
])
def test_ip_allocator_rejects(ip: str, message: str) -> None:
    with pytest.raises(AllocationError, match=message):
        IPAllocator("127.96.0.0/29").allocate(ip)


def test_port_allocator() -> None:
    ports = PortAllocator("30000-30001")
    ports.allocate(30000)
    with pytest.raises(AllocationError, match="already allocated"):
        ports.allocate(30000)
    with pytest.raises(AllocationError, match="valid range"):
        ports.allocate(80)
    assert ports.allocate_next() == 30001


def test_service_allocator_observe_and_release() -> None:
    alloc = ServiceAllocator("127.96.0.0/16", "30000-32767")
    alloc.observe({"spec": {"clusterIP": "127.96.0.9", "ports": [{"port": 80, "nodePort": 30005}]}})
    svc = {"spec": {"type": "NodePort", "clusterIP": "127.96.0.9", "ports": [{"port": 80, "nodePort": 30005}]}}
    causes = alloc.allocate(svc)
    assert [c["field"] for c in causes] == ["spec.clusterIPs", "spec.ports[0].nodePort"]
    headless = {"spec": {"clusterIP": "None", "ports": [{"port": 80}]}}
    assert alloc.allocate(headless) == [] and headless["spec"]["clusterIPs"] == ["None"]
    fresh = {"spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    assert alloc.allocate(fresh) == []
    ip, port = fresh["spec"]["clusterIP"], fresh["spec"]["ports"][0]["nodePort"]
    assert alloc.ips.is_allocated(ip) and alloc.ports.is_allocated(port)
    alloc.release(fresh)
    assert not alloc.ips.is_allocated(ip) and not alloc.ports.is_allocated(port)


# --- auth -----------------------------------------------------------------------------------

def test_token_file_parsing_and_authentication() -> None:
    users = parse_token_file('# comment\nt1,alice,u1,"dev,ops"\n\nt2,bob,u2\n')
    assert users["t1"].name == "alice" and users["t1"].groups == ("dev", "ops", "system:authenticated")
    auth = TokenAuthenticator(users)
    assert auth.authenticate("Bearer t2").name == "bob"
    assert auth.authenticate("Bearer nope") is None
    assert auth.authenticate(None) is None
    assert auth.authenticate("Basic t1") is None
    assert TokenAuthenticator(None).authenticate(None).name == "system:anonymous"
    with pytest.raises(ValueError):
        parse_token_file("only-a-token\n")


# --- request paths --------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, verb, plural, ns, name, sub", [
    ("GET", "/api/v1/pods", "list", "pods", None, None, None),
    ("GET", "/api/v1/namespaces/default/pods", "list", "pods", "default", None, None),
    ("GET", "/api/v1/namespaces/default/pods/x", "get", "pods", "default", "x", None),
    ("PUT", "/api/v1/namespaces/default/pods/x/status", "update", "pods", "default", "x", "status"),
    ("POST", "/api/v1/namespaces/default/pods/x/binding", "create", "pods", "default", "x", "binding"),
    ("GET", "/api/v1/namespaces/x", "get", "namespaces", None, "x", None),
    ("PUT", "/api/v1/namespaces/x/finalize", "update", "namespaces", None, "x", "finalize"),
    ("DELETE", "/apis/apps/v1/namespaces/d/deployments", "deletecollection", "deployments", "d", None, None),
    ("PATCH", "/apis/apps/v1/namespaces/d/deployments/w/scale", "patch", "deployments", "d", "w", "scale"),
    ("GET", "/api/v1/watch/namespaces/default/pods", "watch", "pods", "default", None, None),
    ("GET", "/api/v1/nodes/n1", "get", "nodes", None, "n1", None),
])
def test_request_info(method: str, path: str, verb: str, plural: str, ns: str | None, name: str | None,
                      sub: str | None) -> None:
    info = parse(default_registry(), method, [p for p in path.split("/") if p], False)
    assert (info.verb, info.resource.plural, info.namespace, info.name, info.subresource) == \
        (verb, plural, ns, name, sub)


@pytest.mark.parametrize("method, path, code", [
    ("GET", "/api/v1/widgets", 404), ("GET", "/api/v1/namespaces/d/nodes", 404),
    ("GET", "/api/v1/pods/x", 404), ("POST", "/api/v1/pods", 405), ("POST", "/api/v1/namespaces/d/pods/x", 405),
    ("GET", "/api/v1/namespaces/d/pods/x/nope", 404),
])
def test_request_info_errors(method: str, path: str, code: int) -> None:
    with pytest.raises(errors.ApiStatusError) as err:
        parse(default_registry(), method, [p for p in path.split("/") if p], False)
    assert err.value.code == code


# --- protobuf -------------------------------------------------------------------------------

def test_protobuf_configmap_and_deployment() -> None:
    meta = _ld(1, b"cfg") + _ld(2, b"") + _vi(7, 0) + _ld(11, _ld(1, b"app") + _ld(2, b"web"))
    cm = _ld(1, meta) + _ld(2, _ld(1, b"k") + _ld(2, b"v"))
    body = b"k8s\x00" + _ld(1, _ld(1, b"v1") + _ld(2, b"ConfigMap")) + _ld(2, cm)
    assert pb_decode(body) == {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "cfg", "labels": {"app": "web"}}, "data": {"k": "v"}}
    container = _ld(1, b"c") + _ld(2, b"nginx") + _ld(6, _vi(3, 80) + _ld(4, b"TCP"))
    spec = _vi(1, 0) + _ld(3, _ld(2, _ld(2, container)))
    dep = b"k8s\x00" + _ld(1, _ld(1, b"apps/v1") + _ld(2, b"Deployment")) + _ld(2, _ld(1, _ld(1, b"d")) + _ld(2, spec))
    decoded = pb_decode(dep)
    assert decoded["spec"]["replicas"] == 0  # a pointer field: zero is kept
    assert decoded["spec"]["template"]["spec"]["containers"] == [
        {"name": "c", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]


@pytest.mark.parametrize("body", [b"", b"nope", b"k8s\x00\x0a\xff", b"k8s\x00" + _ld(1, _ld(2, b"Widget"))])
def test_protobuf_rejects(body: bytes) -> None:
    with pytest.raises(ProtobufError):
        pb_decode(body)


# --- watch cache ----------------------------------------------------------------------------

async def _next(watcher, timeout: float = 2.0):
    return await asyncio.wait_for(watcher.queue.get(), timeout)


async def test_watch_cache_replay_live_selectors_and_expiry() -> None:
    backend = MemoryBackend()
    await backend.create("/registry/pods/ns/a", orjson.dumps({"metadata": {"name": "a", "labels": {"x": "1"}}}))
    cache = WatchCache("pods", backend, "/registry/pods/", decode, size=3)
    cache.start()
    try:
        await cache.wait_ready(2)
        start = cache.revision
        _, initial = cache.watch(0, lambda o: True)
        assert [(t, e.obj["metadata"]["name"]) for t, e in initial] == [("ADDED", "a")]
        assert [k for k, _ in cache.objects("ns")] == ["/registry/pods/ns/a"] and cache.objects("other") == []
        _, initial = cache.watch(0, lambda o: True, "other")
        assert initial == []
        labelled = lambda o: (o["metadata"].get("labels") or {}).get("x") == "1"  # noqa: E731
        watcher, initial = cache.watch(start, labelled)
        assert initial == []
        kv = await backend.get("/registry/pods/ns/a")
        await backend.update(kv.key, orjson.dumps({"metadata": {"name": "a", "labels": {"x": "2"}}}),
                             kv.mod_revision)
        type_, event = await _next(watcher)
        assert type_ == "DELETED" and event.object_for(type_)["metadata"]["labels"] == {"x": "1"}
        for i in range(4):
            await backend.create(f"/registry/pods/ns/b{i}", orjson.dumps({"metadata": {"name": f"b{i}"}}))
        await asyncio.sleep(0.05)
        with pytest.raises(errors.ApiStatusError) as err:
            cache.watch(start, labelled)
        assert err.value.code == 410
        assert sorted(k for k, _ in cache.objects("ns")) == [f"/registry/pods/ns/{n}" for n in
                                                            ("a", "b0", "b1", "b2", "b3")]
        replay_from = cache.revision - 2
        _, replay = cache.watch(replay_from, lambda o: True)
        assert [e.revision for _, e in replay] == [replay_from + 1, replay_from + 2]
    finally:
        await cache.stop()
