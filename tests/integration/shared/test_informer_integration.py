"""Informers against a real kubemu API server on real etcd (issue 4's integration tests).

- 1,000 rapid changes: the informer's cache, and the state its handlers were told about, end
  exactly equal to the API server's.
- An API server restart plus an etcd compaction while the informer is cut off: the informer
  relists (410) and its handlers miss no delete.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import aetcd
import pytest

from shared.client import ApiClient, NotFound
from shared.informer import DeletedFinalStateUnknown, SharedInformerFactory
from shared.informer.reflector import Backoff
from shared.resources import CONFIGMAPS

pytestmark = pytest.mark.etcd

NS = "default"


def cm(name: str, value: str = "0") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS,
                                                                  "labels": {"test": "informer"}},
            "data": {"v": value}}


class Mirror:
    """What the handlers were told, applied to a dict: it must end equal to the server."""

    def __init__(self) -> None:
        self.state: dict[str, str] = {}  # name -> resourceVersion
        self.deletes: list[str] = []
        self.tombstones: list[str] = []
        self.errors: list[str] = []

    def handlers(self) -> dict[str, Callable]:
        return {"on_add": self.add, "on_update": self.update, "on_delete": self.delete}

    def add(self, obj: dict) -> None:
        name = obj["metadata"]["name"]
        if name in self.state:
            self.errors.append(f"add of known {name}")
        self.state[name] = obj["metadata"]["resourceVersion"]

    def update(self, old: dict, new: dict) -> None:
        name = new["metadata"]["name"]
        if self.state.get(name) != old["metadata"]["resourceVersion"]:
            self.errors.append(f"update of {name} from {old['metadata']['resourceVersion']}, "
                               f"had {self.state.get(name)}")
        self.state[name] = new["metadata"]["resourceVersion"]

    def delete(self, obj) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
            self.tombstones.append(obj["metadata"]["name"])
        name = obj["metadata"]["name"]
        self.deletes.append(name)
        if self.state.pop(name, None) is None:
            self.errors.append(f"delete of unknown {name}")


async def server_state(client: ApiClient) -> dict[str, str]:
    items = (await client.list(CONFIGMAPS, namespace=NS, label_selector="test=informer"))["items"]
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in items}


def cache_state(inf) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in inf.lister.list(NS)}


async def eventually(check: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def churn(client: ApiClient, changes: int, names: int, *, seed: int, concurrency: int = 16) -> None:
    """`changes` creates/updates/deletes on `names` configmaps, `concurrency` at a time."""
    rng = random.Random(seed)
    locks = {f"cm-{i}": asyncio.Lock() for i in range(names)}
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        name = rng.choice(list(locks))
        async with sem, locks[name]:
            try:
                current = await client.get(CONFIGMAPS, name, namespace=NS)
            except NotFound:
                await client.create(CONFIGMAPS, cm(name, str(i)))
                return
            if rng.random() < 0.3:
                await client.delete(CONFIGMAPS, name, namespace=NS)
            else:
                current["data"] = {"v": str(i)}
                await client.update(CONFIGMAPS, current)

    await asyncio.gather(*(one(i) for i in range(changes)))


async def test_informer_sees_1000_rapid_changes(etcd_apiserver) -> None:
    async with ApiClient.from_kubeconfig(etcd_apiserver.kubeconfig) as writer, \
            ApiClient.from_kubeconfig(etcd_apiserver.kubeconfig) as reader:
        for i in range(0, 40, 2):  # something to list first, across pages
            await writer.create(CONFIGMAPS, cm(f"cm-{i}"))
        factory = SharedInformerFactory(reader, page_size=7)
        inf = factory.informer(CONFIGMAPS, namespace=NS, label_selector="test=informer")
        mirror = Mirror()
        inf.add_event_handler(**mirror.handlers())
        factory.start()
        try:
            assert await factory.wait_for_cache_sync(timeout=30)
            # each (get +) write is a change; ~1,000 writes in all
            await churn(writer, 1000, 50, seed=4)
            want = await server_state(writer)
            await eventually(lambda: cache_state(inf) == want)
            await inf.wait_for_handlers()
            assert mirror.state == want
            assert mirror.errors == []
            assert mirror.tombstones == [], "no relist was needed"
            assert inf.reflector.lists == 1
        finally:
            await factory.stop()


def _compact(endpoint: str) -> int:
    """Compact the private etcd to its current revision; returns that revision."""

    async def run() -> int:
        host, port = endpoint.removeprefix("http://").split(":")
        async with aetcd.Client(host, int(port)) as etcd:
            revision = (await etcd.put(b"/compaction-marker", b"x")).header.revision
            await etcd.compact(revision, physical=True)
            return revision

    return asyncio.run(run())


async def test_informer_survives_restart_and_compaction_without_missing_deletes(
        private_etcd, apiserver_process, apiserver_factory) -> None:
    prefix = "/registry-informer"
    proc = await asyncio.to_thread(apiserver_process, etcd_servers=private_etcd.endpoint, etcd_prefix=prefix)
    # a second API server on the same etcd: the world keeps changing while the first is down
    other = await asyncio.to_thread(apiserver_factory, storage="etcd", etcd_servers=[private_etcd.endpoint],
                                    etcd_prefix=prefix)
    async with ApiClient.from_kubeconfig(proc.handle.kubeconfig) as client, \
            ApiClient.from_kubeconfig(other.kubeconfig) as writer:
        for i in range(10):
            await client.create(CONFIGMAPS, cm(f"cm-{i}"))
        factory = SharedInformerFactory(client)
        inf = factory.informer(CONFIGMAPS, namespace=NS, label_selector="test=informer")
        inf.reflector.backoff = Backoff(0.05, 0.5)
        mirror = Mirror()
        inf.add_event_handler(**mirror.handlers())
        factory.start()
        try:
            assert await factory.wait_for_cache_sync(timeout=30)
            await client.delete(CONFIGMAPS, "cm-0", namespace=NS)  # seen live: a plain delete
            await eventually(lambda: "cm-0" in mirror.deletes)

            await asyncio.to_thread(proc.stop)
            for i in (1, 2, 3):
                await writer.delete(CONFIGMAPS, f"cm-{i}", namespace=NS)
            changed = await writer.get(CONFIGMAPS, "cm-4", namespace=NS)
            changed["data"] = {"v": "changed"}
            await writer.update(CONFIGMAPS, changed)
            await writer.create(CONFIGMAPS, cm("cm-new"))
            await asyncio.to_thread(_compact, private_etcd.endpoint)
            await asyncio.to_thread(proc.start)

            want = await server_state(writer)
            await eventually(lambda: cache_state(inf) == want)
            await inf.wait_for_handlers()
            assert mirror.state == want
            assert sorted(mirror.deletes) == ["cm-0", "cm-1", "cm-2", "cm-3"]
            assert sorted(mirror.tombstones) == ["cm-1", "cm-2", "cm-3"]
            assert mirror.errors == []
            assert inf.reflector.lists == 2, "the 410 made it relist once"
        finally:
            await factory.stop()


async def test_informer_rewatches_after_restart_without_changes(apiserver_process, private_etcd) -> None:
    proc = await asyncio.to_thread(apiserver_process, etcd_servers=private_etcd.endpoint, etcd_prefix="/r")
    async with ApiClient.from_kubeconfig(proc.handle.kubeconfig) as client:
        await client.create(CONFIGMAPS, cm("a"))
        factory = SharedInformerFactory(client)
        inf = factory.informer(CONFIGMAPS, namespace=NS, label_selector="test=informer")
        inf.reflector.backoff = Backoff(0.05, 0.5)
        mirror = Mirror()
        inf.add_event_handler(**mirror.handlers())
        factory.start()
        try:
            assert await factory.wait_for_cache_sync(timeout=30)
            await asyncio.to_thread(proc.restart)
            await client.create(CONFIGMAPS, cm("b"))
            await eventually(lambda: set(cache_state(inf)) == {"a", "b"})
            await inf.wait_for_handlers()
            assert set(mirror.state) == {"a", "b"} and mirror.errors == []
        finally:
            await factory.stop()


async def test_bookmarks_move_the_informer_past_changes_it_does_not_see(apiserver_factory) -> None:
    server = apiserver_factory(bookmark_interval=0.2)
    async with ApiClient.from_kubeconfig(server.kubeconfig) as client:
        factory = SharedInformerFactory(client)
        inf = factory.informer(CONFIGMAPS, namespace=NS, label_selector="test=informer")
        factory.start()
        try:
            assert await factory.wait_for_cache_sync(timeout=30)
            listed = int(inf.last_sync_resource_version())
            other = cm("unrelated")
            other["metadata"]["labels"] = {"test": "other"}
            created = await client.create(CONFIGMAPS, other)
            rv = int(created["metadata"]["resourceVersion"])
            await eventually(lambda: int(inf.last_sync_resource_version()) >= rv, timeout=10)
            assert rv > listed and inf.lister.list() == []
        finally:
            await factory.stop()
