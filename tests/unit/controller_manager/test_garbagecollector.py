"""Garbage collector: graph building from events, and attempt-to-delete / attempt-to-orphan syncs."""

from __future__ import annotations

from shared.resources import DEPLOYMENTS, LEASES, NODES, PODS, REPLICASETS

from services.controller_manager.controllers.garbagecollector import GarbageCollector
from tests.unit.controller_manager.builders import owner_ref, pod, replicaset


def setup(cluster, *objs):
    gc = GarbageCollector(cluster.ctx())
    for ref, obj in objs:
        cluster.add(ref, obj)
        cluster.informers.informer(ref).fire_add(obj)
    return gc


def drain(gc) -> list[str]:
    keys = []
    while len(gc.queue):
        key = gc.queue._queue.popleft()
        gc.queue._dirty.discard(key)
        keys.append(key)
    return keys


async def test_dependent_of_a_deleted_owner_is_deleted_in_background(cluster):
    rs = replicaset("web")
    p = pod("web-1", owner=owner_ref(rs, "ReplicaSet"))
    gc = setup(cluster, (REPLICASETS, rs), (PODS, p))
    drain(gc)
    del cluster.client.store[("replicasets", "default", "web")]
    cluster.informers.informer(REPLICASETS).fire_delete(rs)
    assert drain(gc) == ["uid-web-1"]
    await gc.sync("uid-web-1")
    [delete] = cluster.client.calls_of("delete", "pods")
    assert delete.name == "web-1"
    assert delete.kwargs["propagation_policy"] == "Background"
    assert delete.kwargs["preconditions"] == {"uid": "uid-web-1"}


async def test_owner_still_there_means_nothing_is_deleted(cluster):
    rs = replicaset("web")
    gc = setup(cluster, (REPLICASETS, rs), (PODS, pod("web-1", owner=owner_ref(rs, "ReplicaSet"))))
    await gc.sync("uid-web-1")
    assert cluster.client.writes() == []


async def test_owner_recreated_with_another_uid_is_dangling(cluster):
    rs = replicaset("web")
    gc = setup(cluster, (PODS, pod("web-1", owner=owner_ref(rs, "ReplicaSet"))))
    cluster.add(REPLICASETS, replicaset("web"), cache=False)
    cluster.client.store[("replicasets", "default", "web")]["metadata"]["uid"] = "uid-web-v2"
    await gc.sync("uid-web-1")
    assert [c.name for c in cluster.client.calls_of("delete", "pods")] == ["web-1"]


async def test_one_dangling_owner_among_solid_ones_is_only_unlinked(cluster):
    rs, other = replicaset("web"), replicaset("other")
    gone = {**owner_ref(rs, "ReplicaSet"), "name": "gone", "uid": "uid-gone", "controller": False}
    p = pod("web-1", owner=owner_ref(rs, "ReplicaSet"))
    p["metadata"]["ownerReferences"].append(gone)
    gc = setup(cluster, (REPLICASETS, rs), (REPLICASETS, other), (PODS, p))
    await gc.sync("uid-web-1")
    assert cluster.client.calls_of("delete") == []
    [patch] = cluster.client.calls_of("patch", "pods")
    assert [r["uid"] for r in patch.body["metadata"]["ownerReferences"]] == ["uid-web"]


async def test_unknown_owner_kind_is_never_collected(cluster):
    p = pod("tab-1", owner={"apiVersion": "stable.example.com/v1", "kind": "CronTab", "name": "tab",
                            "uid": "uid-tab", "controller": True})
    gc = setup(cluster, (PODS, p))
    await gc.sync("uid-tab-1")
    assert cluster.client.writes() == []


async def test_foreground_owner_waits_for_blocking_dependents_then_loses_finalizer(cluster):
    d = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "nginx", "namespace": "default", "uid": "uid-nginx",
                      "deletionTimestamp": "2026-01-01T11:59:00Z", "finalizers": ["foregroundDeletion"]}}
    rs = replicaset("nginx-abc", owner=owner_ref(d, "Deployment"))
    gc = setup(cluster, (DEPLOYMENTS, d), (REPLICASETS, rs))
    assert set(drain(gc)) == {"uid-nginx", "uid-nginx-abc"}
    await gc.sync("uid-nginx")
    assert cluster.client.writes() == []  # the RS still blocks it
    await gc.sync("uid-nginx-abc")
    [delete] = cluster.client.calls_of("delete", "replicasets")
    assert delete.kwargs["propagation_policy"] == "Background"
    cluster.informers.informer(REPLICASETS).fire_delete(rs)
    assert "uid-nginx" in drain(gc)
    await gc.sync("uid-nginx")
    [patch] = cluster.client.calls_of("patch", "deployments")
    assert patch.body["metadata"]["finalizers"] is None


async def test_dependent_with_own_dependents_is_deleted_in_foreground(cluster):
    d = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "nginx", "namespace": "default", "uid": "uid-nginx",
                      "deletionTimestamp": "2026-01-01T11:59:00Z", "finalizers": ["foregroundDeletion"]}}
    rs = replicaset("nginx-abc", owner=owner_ref(d, "Deployment"))
    p = pod("nginx-abc-1", owner=owner_ref(rs, "ReplicaSet"))
    gc = setup(cluster, (DEPLOYMENTS, d), (REPLICASETS, rs), (PODS, p))
    await gc.sync("uid-nginx-abc")
    [delete] = cluster.client.calls_of("delete", "replicasets")
    assert delete.kwargs["propagation_policy"] == "Foreground"
    [unblock] = cluster.client.calls_of("patch", "pods")
    assert unblock.body["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is False


async def test_orphan_finalizer_unlinks_dependents_then_goes(cluster):
    rs = replicaset("web")
    rs["metadata"].update(deletionTimestamp="2026-01-01T11:59:00Z", finalizers=["orphan"])
    gc = setup(cluster, (REPLICASETS, rs), (PODS, pod("web-1", owner=owner_ref(rs, "ReplicaSet"))))
    assert len(gc.orphan_queue) == 1
    await gc.orphan("uid-web")
    patches = [(c.plural, c.body["metadata"]) for c in cluster.client.calls_of("patch")]
    assert patches[0][0] == "pods" and patches[0][1]["ownerReferences"] is None
    assert patches[1][0] == "replicasets" and patches[1][1]["finalizers"] is None
    assert cluster.client.calls_of("delete") == []


async def test_owner_alive_in_the_caches_needs_no_api_read(cluster):
    rs = replicaset("web")
    p = pod("web-1", owner=owner_ref(rs, "ReplicaSet"))
    gc = setup(cluster, (REPLICASETS, rs), (PODS, p))
    await gc.sync("uid-web-1")
    assert cluster.client.calls_of("get", "replicasets") == []
    assert cluster.client.writes() == []


async def test_node_lease_goes_with_its_node(cluster):
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "uid": "uid-node-1"}}
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "node-1", "namespace": "kube-node-lease", "uid": "uid-lease-1",
                          "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "node-1",
                                               "uid": "uid-node-1"}]}}
    gc = setup(cluster, (NODES, node), (LEASES, lease))
    del cluster.client.store[("nodes", "", "node-1")]
    cluster.informers.informer(NODES).fire_delete(node)
    assert drain(gc) == ["uid-lease-1"]
    await gc.sync("uid-lease-1")
    [delete] = cluster.client.calls_of("delete", "leases")
    assert (delete.namespace, delete.name) == ("kube-node-lease", "node-1")
