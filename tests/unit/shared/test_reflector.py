"""Informers against a fake API server: list+watch, re-watch, relist after 410, handlers, sharing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from shared.informer import DeletedFinalStateUnknown, SharedInformerFactory
from shared.informer.reflector import Backoff
from shared.resources import NODES, PODS

PODS_NS = "/api/v1/namespaces/default/pods"


def pod(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "labels": labels}, "spec": {}}


class Recorder:
    """Handlers that record what they were told, as (event, name) tuples."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.raw: list[tuple] = []

    def handlers(self) -> dict[str, Callable]:
        return {"on_add": self.add, "on_update": self.update, "on_delete": self.delete}

    def add(self, obj: dict) -> None:
        self.events.append(("add", obj["metadata"]["name"]))
        self.raw.append(("add", obj))

    def update(self, old: dict, new: dict) -> None:
        self.events.append(("update", new["metadata"]["name"]))
        self.raw.append(("update", old, new))

    def delete(self, obj) -> None:
        tomb = isinstance(obj, DeletedFinalStateUnknown)
        name = obj.obj["metadata"]["name"] if tomb else obj["metadata"]["name"]
        self.events.append(("tombstone" if tomb else "delete", name))
        self.raw.append(("delete", obj))


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def factory(fake_client):
    f = SharedInformerFactory(fake_client, page_size=2, watch_timeout=30)
    yield f
    await f.stop()


def fast(inf) -> None:
    inf.reflector.backoff = Backoff(0.01, 0.05)


async def test_lists_in_pages_then_watches(fake_api, factory) -> None:
    api, _ = fake_api
    for name in "abcde":
        api.put(PODS_NS, pod(name))
    rec = Recorder()
    inf = factory.informer(PODS)
    inf.add_event_handler(**rec.handlers())
    factory.start()
    assert await factory.wait_for_cache_sync(timeout=5)
    lists = [q for m, p, q in api.requests if p == "/api/v1/pods" and "watch" not in q]
    assert [q.get("continue") for q in lists] == [None, "2", "4"]
    assert all(q["limit"] == "2" for q in lists)
    await inf.wait_for_handlers()
    assert rec.events == [("add", n) for n in "abcde"]
    await eventually(lambda: any(q.get("watch") == "true" for _, _, q in api.requests))
    watch = [q for _, _, q in api.requests if q.get("watch") == "true"][0]
    assert watch["resourceVersion"] == "105" and watch["allowWatchBookmarks"] == "true"
    assert 30 <= int(watch["timeoutSeconds"]) < 60
    assert inf.lister.get("a", "default")["kind"] == "Pod", "list items get kind and apiVersion"


SCRIPTS = {
    "add": ([("put", "a")], [("add", "a")]),
    "update": ([("put", "a"), ("put", "a")], [("add", "a"), ("update", "a")]),
    "delete": ([("put", "a"), ("rm", "a")], [("add", "a"), ("delete", "a")]),
    "delete then re-add": ([("put", "a"), ("rm", "a"), ("put", "a")], [("add", "a"), ("delete", "a"), ("add", "a")]),
    "interleaved": ([("put", "a"), ("put", "b"), ("put", "a"), ("rm", "b")],
                    [("add", "a"), ("add", "b"), ("update", "a"), ("delete", "b")]),
}


@pytest.mark.parametrize(("ops", "want"), SCRIPTS.values(), ids=SCRIPTS.keys())
async def test_watch_events_reach_handlers_in_order(fake_api, factory, ops, want) -> None:
    api, _ = fake_api
    rec = Recorder()
    inf = factory.informer(PODS, namespace="default")
    inf.add_event_handler(**rec.handlers())
    factory.start()
    await factory.wait_for_cache_sync(timeout=5)
    await eventually(lambda: any(q.get("watch") for _, _, q in api.requests))
    for op, name in ops:
        api.put(PODS_NS, pod(name)) if op == "put" else api.remove(PODS_NS, name)
    await eventually(lambda: len(rec.events) == len(want))
    assert rec.events == want
    assert sorted(inf.lister.keys()) == sorted(f"default/{n}" for n in api.objects.get(PODS_NS, {}))


async def test_update_handler_gets_old_and_new(fake_api, factory) -> None:
    api, _ = fake_api
    api.put(PODS_NS, pod("a", v="1"))
    rec = Recorder()
    inf = factory.informer(PODS)
    inf.add_event_handler(**rec.handlers())
    factory.start()
    await factory.wait_for_cache_sync(timeout=5)
    await eventually(lambda: any(q.get("watch") for _, _, q in api.requests))
    api.put(PODS_NS, pod("a", v="2"))
    await eventually(lambda: len(rec.raw) == 2)
    _, old, new = rec.raw[1]
    assert (old["metadata"]["labels"], new["metadata"]["labels"]) == ({"v": "1"}, {"v": "2"})
    assert inf.lister.get("a", "default") is new


async def test_dropped_watch_resumes_from_last_resource_version(fake_api, factory) -> None:
    api, _ = fake_api
    rec = Recorder()
    inf = factory.informer(PODS)
    fast(inf)
    inf.add_event_handler(**rec.handlers())
    factory.start()
    await factory.wait_for_cache_sync(timeout=5)
    await eventually(lambda: any(q.get("watch") for _, _, q in api.requests))
    api.put(PODS_NS, pod("a"))
    await eventually(lambda: len(rec.events) == 1)
    api.drop_watches()
    api.put(PODS_NS, pod("b"))
    api.remove(PODS_NS, "a")
    await eventually(lambda: len(rec.events) == 3)
    assert rec.events == [("add", "a"), ("add", "b"), ("delete", "a")]
    watches = [q["resourceVersion"] for _, _, q in api.requests if q.get("watch")]
    assert watches[:2] == ["100", "101"], "re-watched from the last event's resourceVersion"
    assert inf.reflector.lists == 1, "a dropped watch does not relist"


async def test_bookmarks_advance_the_resource_version(fake_api, factory) -> None:
    api, _ = fake_api
    api.bookmarks = True
    inf = factory.informer(PODS, namespace="default")
    fast(inf)
    factory.start()
    await factory.wait_for_cache_sync(timeout=5)
    await eventually(lambda: any(q.get("watch") for _, _, q in api.requests))
    api.put("/api/v1/namespaces/other/pods", {"metadata": {"name": "x", "namespace": "other"}})  # not ours
    await eventually(lambda: inf.last_sync_resource_version() == "101")
    api.drop_watches()
    await eventually(lambda: len([q for _, _, q in api.requests if q.get("watch")]) == 2)
    assert [q for _, _, q in api.requests if q.get("watch")][-1]["resourceVersion"] == "101"


async def test_gone_relists_and_emits_only_differences(fake_api, factory) -> None:
    api, _ = fake_api
    for name in ("keep", "change", "vanish"):
        api.put(PODS_NS, pod(name))
    rec = Recorder()
    inf = factory.informer(PODS)
    fast(inf)
    inf.add_event_handler(**rec.handlers())
    factory.start()
    await factory.wait_for_cache_sync(timeout=5)
    await eventually(lambda: len(rec.events) == 3)
    api.drop_watches()  # the watch is down while things change and history is compacted away
    await asyncio.sleep(0)
    api.put(PODS_NS, pod("change", v="2"))
    api.remove(PODS_NS, "vanish")
    api.put(PODS_NS, pod("new"))
    api.log.clear()
    api.compact()
    await eventually(lambda: len(rec.events) == 6)
    assert sorted(rec.events[3:]) == [("add", "new"), ("tombstone", "vanish"), ("update", "change")]
    tomb = [r[1] for r in rec.raw if r[0] == "delete"][0]
    assert tomb.key == "default/vanish" and tomb.obj["metadata"]["name"] == "vanish"
    assert inf.reflector.lists == 2
    assert sorted(inf.lister.keys()) == ["default/change", "default/keep", "default/new"]


async def test_list_failure_is_retried(fake_api, factory) -> None:
    api, _ = fake_api
    api.put(PODS_NS, pod("a"))
    api.failures.append((500, {"kind": "Status", "code": 500, "reason": "InternalError", "message": "boom"}))
    inf = factory.informer(PODS)
    fast(inf)
    factory.start()
    assert await factory.wait_for_cache_sync(timeout=5)
    assert inf.lister.get("a", "default") is not None


async def test_wait_for_cache_sync_times_out(fake_api, factory) -> None:
    api, _ = fake_api
    api.failures.extend([(403, {"kind": "Status", "code": 403, "reason": "Forbidden"})] * 50)
    inf = factory.informer(PODS)
    fast(inf)
    factory.start()
    assert await factory.wait_for_cache_sync(timeout=0.2) is False
    assert not inf.has_synced()


async def test_handler_added_after_sync_gets_existing_items(fake_api, factory) -> None:
    api, _ = fake_api
    api.put(PODS_NS, pod("a"))
    api.put(PODS_NS, pod("b"))
    inf = factory.informer(PODS)
    factory.start()
    await factory.wait_for_cache_sync(timeout=5)
    late = Recorder()
    inf.add_event_handler(**late.handlers())
    await inf.wait_for_handlers()
    assert sorted(late.events) == [("add", "a"), ("add", "b")]


async def test_slow_or_failing_handler_does_not_block_others(fake_api, factory) -> None:
    api, _ = fake_api
    release = asyncio.Event()
    fast_rec = Recorder()

    async def slow(obj: dict) -> None:
        await release.wait()

    def broken(obj: dict) -> None:
        raise RuntimeError("handler bug")

    inf = factory.informer(PODS)
    inf.add_event_handler(on_add=slow)
    inf.add_event_handler(on_add=broken)
    inf.add_event_handler(**fast_rec.handlers())
    factory.start()
    await factory.wait_for_cache_sync(timeout=5)
    await eventually(lambda: any(q.get("watch") for _, _, q in api.requests))
    for name in "abc":
        api.put(PODS_NS, pod(name))
    await eventually(lambda: len(fast_rec.events) == 3)
    await eventually(lambda: len(inf.lister.keys()) == 3)
    release.set()
    await asyncio.wait_for(inf.wait_for_handlers(), 5)


async def test_resync_sends_same_object_updates(fake_api, fake_client) -> None:
    api, _ = fake_api
    api.put(PODS_NS, pod("a"))
    factory = SharedInformerFactory(fake_client, resync_period=0.05)
    rec = Recorder()
    inf = factory.informer(PODS)
    inf.add_event_handler(**rec.handlers())
    factory.start()
    try:
        await eventually(lambda: rec.events.count(("update", "a")) >= 2)
        _, old, new = [r for r in rec.raw if r[0] == "update"][0]
        assert old is new
    finally:
        await factory.stop()


async def test_factory_shares_informers(fake_api, factory) -> None:
    api, _ = fake_api
    a = factory.informer(PODS)
    assert factory.informer(PODS) is a
    assert factory.informer(PODS, namespace="default") is not a
    assert factory.informer(PODS, field_selector="spec.nodeName=n1") is not a
    assert factory.informer(NODES) is not a
    factory.start()
    await factory.wait_for_cache_sync(timeout=5)
    await eventually(lambda: len([1 for _, _, q in api.requests if q.get("watch")]) == 4)
    late = factory.informer(PODS, label_selector="app=x")  # made after start: starts at once
    await asyncio.wait_for(late.wait_for_sync(), 5)
    await asyncio.sleep(0.05)
    assert len([1 for _, p, q in api.requests if q.get("watch") and p == "/api/v1/pods" and not q.get("labelSelector")
                and not q.get("fieldSelector")]) == 1, "one watch per informer"


async def test_selectors_are_sent_to_the_server(fake_api, factory) -> None:
    api, _ = fake_api
    factory.informer(PODS, namespace="kube-system", label_selector="app=x", field_selector="spec.nodeName=n1")
    factory.start()
    await factory.wait_for_cache_sync(timeout=5)
    method, path, query = api.requests[0]
    assert path == "/api/v1/namespaces/kube-system/pods"
    assert (query["labelSelector"], query["fieldSelector"]) == ("app=x", "spec.nodeName=n1")


async def test_stop_ends_every_task(fake_api, fake_client) -> None:
    factory = SharedInformerFactory(fake_client)
    inf = factory.informer(PODS)
    inf.add_event_handler(on_add=lambda o: None)
    factory.start()
    await factory.wait_for_cache_sync(timeout=5)
    await factory.stop()
    assert not inf.started
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert not any(n.startswith(("reflector-", "informer-handler-")) for n in names)


async def test_cache_sync_means_handlers_have_the_first_list(fake_api, factory) -> None:
    api, _ = fake_api
    for name in "abc":
        api.put(PODS_NS, pod(name))
    rec = Recorder()
    inf = factory.informer(PODS)
    reg = inf.add_event_handler(**rec.handlers())
    assert not reg.has_synced()
    factory.start()
    assert await factory.wait_for_cache_sync(timeout=5)
    assert sorted(rec.events) == [("add", "a"), ("add", "b"), ("add", "c")]  # no extra waiting needed
    assert reg.has_synced()
    late = Recorder()
    late_reg = inf.add_event_handler(**late.handlers())
    await asyncio.wait_for(inf.wait_for_sync(), 5)
    assert late_reg.has_synced() and len(late.events) == 3
