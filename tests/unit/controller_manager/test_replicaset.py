"""ReplicaSet controller: one sync against a preloaded cache, asserting the API calls it makes."""

from __future__ import annotations

import pytest

from shared.client import Forbidden
from shared.resources import PODS, REPLICASETS

from services.controller_manager.controllers.replicaset import (
    ReplicaSetController,
    calculate_status,
    pods_to_delete,
)
from tests.unit.controller_manager.builders import owner_ref, pod, replicaset
from tests.unit.controller_manager.fakes import NOW, api_error


def make(cluster, rs, pods=()):
    cluster.add(REPLICASETS, rs)
    for p in pods:
        cluster.add(PODS, p)
    return ReplicaSetController(cluster.ctx())


async def test_creates_missing_pods_from_template(cluster):
    rs = replicaset("web", 3)
    rsc = make(cluster, rs)
    await rsc.sync("default/web")
    creates = cluster.client.calls_of("create", "pods")
    assert len(creates) == 3
    body = creates[0].body
    assert body["metadata"]["generateName"] == "web-"
    assert body["metadata"]["labels"] == {"app": "web"}
    assert body["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "uid-web",
        "controller": True, "blockOwnerDeletion": True}]
    assert body["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert [e[2] for e in cluster.events] == ["SuccessfulCreate"] * 3
    assert cluster.events[0][3].startswith("Created pod: web-")
    assert rsc.expectations.pending("default/web") == (3, 0)


async def test_unobserved_creations_block_a_second_create(cluster):
    rsc = make(cluster, replicaset("web", 2))
    await rsc.sync("default/web")
    await rsc.sync("default/web")
    assert len(cluster.client.calls_of("create", "pods")) == 2


async def test_observed_creations_satisfy_expectations(cluster):
    rs = replicaset("web", 1)
    rsc = make(cluster, rs)
    await rsc.sync("default/web")
    created = cluster.client.calls_of("create", "pods")[0].body
    cluster.informers.informer(PODS).fire_add(created)
    assert rsc.expectations.satisfied("default/web")


async def test_deleted_replicaset_is_quiet(cluster):
    rsc = ReplicaSetController(cluster.ctx())
    await rsc.sync("default/gone")
    assert cluster.client.writes() == []


async def test_replicaset_being_deleted_does_not_create(cluster):
    rs = replicaset("web", 3)
    rs["metadata"]["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    rsc = make(cluster, rs)
    await rsc.sync("default/web")
    assert cluster.client.calls_of("create") == []


async def test_terminating_and_finished_pods_are_replaced(cluster):
    rs = replicaset("web", 2)
    ref = owner_ref(rs, "ReplicaSet")
    rsc = make(cluster, rs, [pod("a", owner=ref, deleting=True), pod("b", owner=ref, phase="Succeeded"),
                             pod("c", owner=ref)])
    await rsc.sync("default/web")
    assert len(cluster.client.calls_of("create", "pods")) == 1


async def test_adopts_orphans_and_releases_non_matching(cluster):
    rs = replicaset("web", 2)
    ref = owner_ref(rs, "ReplicaSet")
    rsc = make(cluster, rs, [pod("orphan"), pod("strayed", labels={"app": "other"}, owner=ref),
                             pod("theirs", owner={**ref, "uid": "uid-other", "name": "other"})])
    await rsc.sync("default/web")
    patches = {c.name: c.body for c in cluster.client.calls_of("patch", "pods")}
    assert patches["orphan"]["metadata"]["ownerReferences"] == [ref]
    assert patches["orphan"]["metadata"]["uid"] == "uid-orphan"
    assert patches["strayed"]["metadata"]["ownerReferences"] is None
    assert "theirs" not in patches
    assert cluster.client.calls_of("get", "replicasets"), "adoption re-reads the owner first"
    assert len(cluster.client.calls_of("create", "pods")) == 1  # orphan counts, strayed does not


async def test_no_adoption_when_owner_was_recreated(cluster):
    rs = replicaset("web", 1)
    rsc = make(cluster, rs, [pod("orphan")])
    cluster.client.store[("replicasets", "default", "web")]["metadata"]["uid"] = "uid-new"
    with pytest.raises(Exception, match="gone"):
        await rsc.sync("default/web")
    assert cluster.client.calls_of("patch") == []


@pytest.mark.parametrize(("pods", "diff", "expected"), [
    ([pod("scheduled"), pod("unscheduled", node=None, phase="Pending", ready=False)], 1, ["unscheduled"]),
    ([pod("running"), pod("pending", phase="Pending", ready=False)], 1, ["pending"]),
    ([pod("ready"), pod("notready", ready=False)], 1, ["notready"]),
    ([pod("old", ready_since="2026-01-01T08:00:00Z"), pod("new", ready_since="2026-01-01T11:59:00Z")], 1, ["new"]),
    ([pod("stable", restarts=0), pod("crashy", restarts=5)], 1, ["crashy"]),
    ([pod("older", created="2026-01-01T02:00:00Z"), pod("newer", created="2026-01-01T11:59:50Z")], 1, ["newer"]),
    ([pod("a"), pod("b")], 2, ["a", "b"]),
])
def test_scale_down_ranking(pods, diff, expected):
    assert sorted(p["metadata"]["name"] for p in pods_to_delete(pods, [], diff, NOW)) == sorted(expected)


def test_doubled_up_pods_go_first():
    lonely, doubled = pod("lonely", node="node-1"), pod("doubled", node="node-2")
    related = [lonely, doubled, pod("sibling", node="node-2")]
    assert [p["metadata"]["name"] for p in pods_to_delete([lonely, doubled], related, 1, NOW)] == ["doubled"]


async def test_scale_down_deletes_and_tracks_expectations(cluster):
    rs = replicaset("web", 1)
    ref = owner_ref(rs, "ReplicaSet")
    rsc = make(cluster, rs, [pod("ready", owner=ref), pod("pending", owner=ref, phase="Pending", ready=False)])
    await rsc.sync("default/web")
    assert [c.name for c in cluster.client.calls_of("delete", "pods")] == ["pending"]
    assert cluster.events == [("default/web", "Normal", "SuccessfulDelete", "Deleted pod: pending")]
    assert not rsc.expectations.satisfied("default/web")
    rsc._delete_pod(pod("pending", owner=ref))
    assert rsc.expectations.satisfied("default/web")


async def test_slow_start_stops_at_the_first_failing_batch(cluster):
    rsc = make(cluster, replicaset("web", 10))
    cluster.client.fail_next("create", "pods", None, api_error(Forbidden, "exceeded quota", 403))
    with pytest.raises(Forbidden):
        await rsc.sync("default/web")
    # batch of 1 succeeds; in the batch of 2 one call fails: no batch of 4 follows
    assert len(cluster.client.calls_of("create", "pods")) == 3
    assert rsc.expectations.pending("default/web") == (2, 0)  # the 8 never attempted are not expected
    assert [e[2] for e in cluster.events].count("FailedCreate") == 1
    [status] = cluster.client.calls_of("update", "replicasets")
    failure = status.body["status"]["conditions"][0]
    assert (failure["type"], failure["reason"]) == ("ReplicaFailure", "FailedCreate")


async def test_namespace_terminating_is_not_an_error(cluster):
    rsc = make(cluster, replicaset("web", 1))
    cluster.client.fail_next("create", "pods", api_error(
        Forbidden, "unable to create new content in namespace default because it is being terminated", 403,
        causes=[{"type": "NamespaceTerminating"}]))
    await rsc.sync("default/web")
    assert cluster.events == []


def test_status_counts_ready_available_and_fully_labeled():
    rs = replicaset("web", 3, min_ready=30)
    pods = [pod("a", ready_since="2026-01-01T11:00:00Z"),
            pod("b", ready_since="2026-01-01T11:59:50Z"),
            pod("c", ready=False, labels={"app": "web", "extra": "x"})]
    pods[2]["metadata"]["labels"] = {"app": "other"}
    status = calculate_status(rs, pods, NOW)
    assert status == {"replicas": 3, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1,
                      "observedGeneration": 1}


async def test_status_written_only_when_changed(cluster):
    rs = replicaset("web", 1, status={"replicas": 1, "fullyLabeledReplicas": 1, "readyReplicas": 1,
                                      "availableReplicas": 1, "observedGeneration": 1})
    rsc = make(cluster, rs, [pod("a", owner=owner_ref(rs, "ReplicaSet"))])
    await rsc.sync("default/web")
    assert cluster.client.writes() == []


async def test_status_update_after_scale(cluster):
    rs = replicaset("web", 1, generation=4)
    rsc = make(cluster, rs, [pod("a", owner=owner_ref(rs, "ReplicaSet"))])
    await rsc.sync("default/web")
    [update] = cluster.client.calls_of("update", "replicasets")
    assert update.kwargs["subresource"] == "status"
    assert update.body["status"]["observedGeneration"] == 4
    assert update.body["status"]["readyReplicas"] == 1


async def test_min_ready_seconds_requeues_until_available(cluster):
    rs = replicaset("web", 1, min_ready=10)
    rsc = make(cluster, rs, [pod("a", owner=owner_ref(rs, "ReplicaSet"), ready_since="2026-01-01T11:59:58Z")])
    await rsc.sync("default/web")
    assert rsc.queue.waiting == 1
