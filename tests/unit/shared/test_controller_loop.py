"""run_workers and the key functions behave as sample-controller's loop and client-go's keyfuncs."""

from __future__ import annotations

import asyncio

import pytest

from shared.controller import meta_namespace_key, run_workers, split_meta_namespace_key
from shared.resources import ALL, DEPLOYMENTS, NODES, PODS, for_kind
from shared.workqueue import RateLimitingQueue

KEYS = {
    "namespaced": ({"metadata": {"namespace": "default", "name": "nginx"}}, "default/nginx"),
    "cluster-scoped": ({"metadata": {"name": "node-1"}}, "node-1"),
    "empty namespace": ({"metadata": {"namespace": "", "name": "node-1"}}, "node-1"),
}


@pytest.mark.parametrize(("obj", "key"), KEYS.values(), ids=KEYS.keys())
def test_meta_namespace_key(obj: dict, key: str) -> None:
    assert meta_namespace_key(obj) == key


def test_meta_namespace_key_of_tombstone() -> None:
    from shared.informer import DeletedFinalStateUnknown

    tomb = DeletedFinalStateUnknown(key="ns/gone", obj={"metadata": {"namespace": "ns", "name": "gone"}})
    assert meta_namespace_key(tomb) == "ns/gone"


SPLITS = {
    "namespaced": ("default/nginx", ("default", "nginx")),
    "cluster-scoped": ("node-1", ("", "node-1")),
    "empty namespace part": ("/x", ("", "x")),
}


@pytest.mark.parametrize(("key", "parts"), SPLITS.values(), ids=SPLITS.keys())
def test_split_meta_namespace_key(key: str, parts: tuple[str, str]) -> None:
    assert split_meta_namespace_key(key) == parts


@pytest.mark.parametrize("bad", ["", "a/b/c", "ns/", "/"])
def test_split_rejects_bad_keys(bad: str) -> None:
    with pytest.raises(ValueError):
        split_meta_namespace_key(bad)


PATHS = {
    "core collection, all namespaces": (PODS, None, None, None, "/api/v1/pods"),
    "core namespaced object": (PODS, "default", "nginx", None, "/api/v1/namespaces/default/pods/nginx"),
    "subresource": (PODS, "default", "nginx", "binding", "/api/v1/namespaces/default/pods/nginx/binding"),
    "group resource": (DEPLOYMENTS, "ns", None, None, "/apis/apps/v1/namespaces/ns/deployments"),
    "cluster-scoped ignores namespace": (NODES, "default", "n1", "status", "/api/v1/nodes/n1/status"),
}


@pytest.mark.parametrize(("ref", "ns", "name", "sub", "path"), PATHS.values(), ids=PATHS.keys())
def test_resource_paths(ref, ns, name, sub, path) -> None:
    assert ref.path(ns, name, sub) == path


def test_resource_table() -> None:
    assert DEPLOYMENTS.api_version == "apps/v1" and PODS.api_version == "v1"
    from services.apiserver.registry import REGISTRY

    # one constant per resource the API server serves, with the same names and scope
    assert {(r.group, r.version, r.plural, r.kind, r.namespaced) for r in ALL} == {
        (r.group, r.version, r.plural, r.kind, r.namespaced) for r in REGISTRY.all()}
    assert len({r.plural for r in ALL}) == len(ALL)
    assert all(for_kind(r.api_version, r.kind) is r for r in ALL)


async def _run(queue: RateLimitingQueue, sync, workers: int = 2) -> asyncio.Task:
    return asyncio.create_task(run_workers(queue, sync, workers=workers, name=queue.name))


async def test_workers_sync_each_key_and_forget() -> None:
    q = RateLimitingQueue(name="test-ctl", qps=None)
    synced: list[str] = []

    async def sync(key: str) -> None:
        synced.append(key)

    runner = await _run(q, sync)
    for key in ("a", "b", "c"):
        q.add(key)
    await asyncio.sleep(0.01)
    await q.shutdown_with_drain()
    await asyncio.wait_for(runner, 1)
    assert sorted(synced) == ["a", "b", "c"]
    assert [q.num_requeues(k) for k in "abc"] == [0, 0, 0]


async def test_failed_sync_is_retried_with_backoff_then_forgotten() -> None:
    q = RateLimitingQueue(name="test-ctl", base_delay=0.001, qps=None)
    attempts: list[str] = []
    succeeded = asyncio.Event()

    async def sync(key: str) -> None:
        attempts.append(key)
        if len(attempts) < 4:
            raise RuntimeError("boom")
        succeeded.set()

    runner = await _run(q, sync)
    q.add("k")
    await asyncio.wait_for(succeeded.wait(), 2)
    assert attempts == ["k"] * 4
    assert q.num_requeues("k") == 0
    q.shutdown()
    await asyncio.wait_for(runner, 1)


async def test_max_retries_drops_the_key() -> None:
    q = RateLimitingQueue(name="test-ctl", base_delay=0.001, qps=None)
    attempts = 0

    async def sync(key: str) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("always")

    runner = asyncio.create_task(run_workers(q, sync, workers=1, max_retries=2))
    q.add("k")
    await asyncio.sleep(0.1)
    assert attempts == 3  # the first try and two retries
    q.shutdown()
    await asyncio.wait_for(runner, 1)


async def test_cancelling_run_workers_stops_workers() -> None:
    q = RateLimitingQueue(name="test-ctl")
    started = asyncio.Event()

    async def sync(key: str) -> None:
        started.set()
        await asyncio.sleep(100)

    runner = await _run(q, sync)
    q.add("k")
    await asyncio.wait_for(started.wait(), 1)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert not q.is_processing("k"), "done() ran in finally"
