"""DaemonSet controller: one sync against a preloaded cache, asserting the API calls it makes."""

from __future__ import annotations

import copy

import pytest

from services.controller_manager.controllers import daemonset_util as du
from services.controller_manager.controllers.daemonset import (
    DaemonSetController,
    calculate_status,
    node_to_daemon_pods,
)
from services.controller_manager.controllers.deployment_util import compute_hash
from shared.client import Forbidden
from shared.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from tests.unit.controller_manager.builders import owner_ref, pod, template
from tests.unit.controller_manager.fakes import NOW, api_error

DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def daemonset(name: str = "agent", *, generation: int = 1, image: str = "agent:1", status: dict | None = None,
              strategy: dict | None = None, node_selector: dict | None = None, min_ready: int = 0,
              history_limit: int = 10) -> dict:
    tmpl = template({"app": name}, image=image)
    if node_selector:
        tmpl["spec"]["nodeSelector"] = dict(node_selector)
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "10",
                         "generation": generation, "creationTimestamp": "2026-01-01T11:00:00Z"},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": tmpl, "minReadySeconds": min_ready,
                     "revisionHistoryLimit": history_limit,
                     "updateStrategy": strategy or {"type": "RollingUpdate",
                                                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
            "status": status if status is not None else {}}


def node(name: str, *, labels: dict | None = None, taints: list | None = None, unschedulable: bool = False) -> dict:
    n = {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
         "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    if taints:
        n["spec"]["taints"] = taints
    if unschedulable:
        n["spec"]["unschedulable"] = True
    return n


def hash_of(ds: dict) -> str:
    return compute_hash(ds["spec"]["template"], None)


def daemon_pod(ds: dict, name: str, node_name: str, *, current: bool = True, **kwargs) -> dict:
    labels = {"app": ds["metadata"]["name"], du.HASH_LABEL: hash_of(ds) if current else "oldhash"}
    p = pod(name, labels=labels, owner=owner_ref(ds, "DaemonSet"), node=node_name, **kwargs)
    return p


def revision(ds: dict, number: int, *, data: dict | None = None, hash_: str | None = None) -> dict:
    hash_ = hash_ or hash_of(ds)
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": f"{ds['metadata']['name']}-{hash_}", "namespace": "default",
                         "labels": {"app": ds["metadata"]["name"], du.HASH_LABEL: hash_},
                         "ownerReferences": [owner_ref(ds, "DaemonSet")]},
            "data": data if data is not None else du.get_patch(ds), "revision": number}


def make(cluster, ds, nodes=(), pods=(), revisions=()):
    cluster.add(DAEMONSETS, ds)
    for n in nodes:
        cluster.add(NODES, n)
    for p in pods:
        cluster.add(PODS, p)
    for r in revisions:
        cluster.add(CONTROLLERREVISIONS, r)
    return DaemonSetController(cluster.ctx())


def created_on(cluster) -> dict[str, dict]:
    """The pods created, by the node their affinity names."""
    return {du.target_node_name(c.body): c.body for c in cluster.client.calls_of("create", "pods")}


def deleted(cluster) -> list[str]:
    return sorted(c.name for c in cluster.client.calls_of("delete", "pods"))


def last_status(cluster) -> dict:
    calls = cluster.client.calls_of("update", "daemonsets")
    assert calls and all(c.kwargs["subresource"] == "status" for c in calls)
    return calls[-1].body["status"]


# --- creating pods ---

async def test_one_pod_per_node_pinned_by_node_affinity(cluster):
    ds = daemonset("agent")
    dsc = make(cluster, ds, [node("node-1"), node("node-2")])
    await dsc.sync("default/agent")
    pods = created_on(cluster)
    assert sorted(pods) == ["node-1", "node-2"]
    body = pods["node-2"]
    assert body["metadata"]["generateName"] == "agent-"
    assert body["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": hash_of(ds),
                                          "pod-template-generation": "1"}
    assert body["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "uid-agent", "controller": True,
        "blockOwnerDeletion": True}]
    assert body["spec"]["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}]}}}
    assert "nodeName" not in body["spec"]  # the default scheduler binds it
    assert body["spec"]["tolerations"] == DAEMON_TOLERATIONS
    assert [e[2] for e in cluster.events] == ["SuccessfulCreate"] * 2
    assert cluster.events[0][3].startswith("Created pod: agent-")
    assert dsc.expectations.pending("default/agent") == (2, 0)


async def test_host_network_pods_tolerate_network_unavailable(cluster):
    ds = daemonset("agent")
    ds["spec"]["template"]["spec"]["hostNetwork"] = True
    dsc = make(cluster, ds, [node("node-1")])
    await dsc.sync("default/agent")
    assert created_on(cluster)["node-1"]["spec"]["tolerations"][-1] == {
        "key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


def test_daemon_tolerations_replace_a_matching_one_and_keep_the_rest():
    spec = {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300}, {"key": "dedicated", "operator": "Exists"}]}
    du.add_daemon_tolerations(spec)
    assert spec["tolerations"][0] == DAEMON_TOLERATIONS[0]  # no tolerationSeconds: never evicted
    assert spec["tolerations"][1] == {"key": "dedicated", "operator": "Exists"}
    assert spec["tolerations"][2:] == DAEMON_TOLERATIONS[1:]


def test_node_affinity_of_the_template_becomes_the_node_name_term():
    affinity = {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["other"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}]},
        "podAntiAffinity": {"x": 1}}
    out = du.replace_node_name_affinity(affinity, "node-1")
    assert out["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]}
    assert out["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == [{"weight": 1, "preference": {}}]
    assert out["podAntiAffinity"] == {"x": 1}
    assert affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]


@pytest.mark.parametrize(("n", "expected"), [
    (node("plain"), (True, True)),
    (node("ssd", labels={"disk": "ssd"}), (True, True)),
    (node("hdd", labels={"disk": "hdd"}), (False, False)),
    (node("cordoned", unschedulable=True,
          taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]), (True, True)),
    (node("not-ready", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]), (True, True)),
    (node("gpu", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}]), (False, True)),
    (node("evicting", taints=[{"key": "gpu", "value": "true", "effect": "NoExecute"}]), (False, False)),
    (node("prefer", taints=[{"key": "gpu", "value": "true", "effect": "PreferNoSchedule"}]), (True, True)),
])
def test_node_should_run(n, expected):
    ds = daemonset("agent")
    ds["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["hdd"]}]}]}}}
    assert du.node_should_run(n, ds) == expected


def test_tolerated_taints_and_node_selector():
    ds = daemonset("agent", node_selector={"role": "edge"})
    ds["spec"]["template"]["spec"]["tolerations"] = [{"key": "gpu", "operator": "Exists"}]
    tainted = node("a", labels={"role": "edge"}, taints=[{"key": "gpu", "value": "true", "effect": "NoExecute"}])
    assert du.node_should_run(tainted, ds) == (True, True)
    assert du.node_should_run(node("b"), ds) == (False, False)


async def test_nodes_out_of_the_selector_or_tainted_get_no_pod(cluster):
    ds = daemonset("agent", node_selector={"role": "edge"})
    dsc = make(cluster, ds, [node("edge-1", labels={"role": "edge"}), node("core-1"),
                             node("edge-2", labels={"role": "edge"},
                                  taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])])
    await dsc.sync("default/agent")
    assert sorted(created_on(cluster)) == ["edge-1"]
    assert last_status(cluster)["desiredNumberScheduled"] == 1


async def test_unobserved_creations_block_a_second_create(cluster):
    dsc = make(cluster, daemonset("agent"), [node("node-1"), node("node-2")])
    await dsc.sync("default/agent")
    await dsc.sync("default/agent")
    assert len(cluster.client.calls_of("create", "pods")) == 2


async def test_observed_creation_satisfies_expectations(cluster):
    dsc = make(cluster, daemonset("agent"), [node("node-1")])
    await dsc.sync("default/agent")
    created = copy.deepcopy(cluster.client.calls_of("create", "pods")[0].body)
    created["metadata"].update(namespace="default", uid="uid-new", resourceVersion="20")
    cluster.informers.informer(PODS).fire_add(created)
    assert dsc.expectations.satisfied("default/agent")


async def test_slow_start_stops_after_a_failed_batch(cluster):
    dsc = make(cluster, daemonset("agent"), [node(f"node-{i}") for i in range(8)])
    cluster.client.fail_next("create", "pods", None, api_error(Forbidden, "exceeded quota", 403))
    with pytest.raises(Forbidden):
        await dsc.sync("default/agent")
    assert len(cluster.client.calls_of("create", "pods")) == 3  # batch 1, then a batch of 2 with a failure
    assert dsc.expectations.pending("default/agent") == (2, 0)
    assert sorted(e[2] for e in cluster.events) == ["FailedCreate", "SuccessfulCreate", "SuccessfulCreate"]
    assert cluster.client.calls_of("update", "daemonsets"), "the status is written even so"


# --- deleting pods ---

async def test_pod_on_a_node_that_left_the_selector_is_deleted(cluster):
    ds = daemonset("agent", node_selector={"role": "edge"})
    dsc = make(cluster, ds, [node("edge-1", labels={"role": "edge"}), node("core-1")],
               [daemon_pod(ds, "agent-a", "edge-1"), daemon_pod(ds, "agent-b", "core-1")])
    await dsc.sync("default/agent")
    assert deleted(cluster) == ["agent-b"]
    assert cluster.client.calls_of("create", "pods") == []
    assert ("default/agent", "Normal", "SuccessfulDelete", "Deleted pod: agent-b") in cluster.events
    assert last_status(cluster)["numberMisscheduled"] == 1


async def test_no_execute_taint_evicts_but_no_schedule_does_not(cluster):
    ds = daemonset("agent")
    nodes = [node("ns", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]),
             node("ne", taints=[{"key": "k", "value": "v", "effect": "NoExecute"}])]
    dsc = make(cluster, ds, nodes, [daemon_pod(ds, "agent-ns", "ns"), daemon_pod(ds, "agent-ne", "ne")])
    await dsc.sync("default/agent")
    assert deleted(cluster) == ["agent-ne"]


async def test_extra_pods_on_a_node_all_but_the_oldest_go(cluster):
    ds = daemonset("agent")
    dsc = make(cluster, ds, [node("node-1")], [
        daemon_pod(ds, "agent-old", "node-1", created="2026-01-01T10:00:00Z"),
        daemon_pod(ds, "agent-new", "node-1", created="2026-01-01T11:00:00Z"),
        daemon_pod(ds, "agent-going", "node-1", created="2026-01-01T09:00:00Z", deleting=True)])
    await dsc.sync("default/agent")
    assert deleted(cluster) == ["agent-new"]
    assert dsc.expectations.pending("default/agent") == (0, 1)


async def test_failed_pod_is_deleted_with_backoff(cluster):
    ds = daemonset("agent")
    dsc = make(cluster, ds, [node("node-1")], [daemon_pod(ds, "agent-x", "node-1", phase="Failed", ready=False)])
    clock = [100.0]
    dsc.monotonic = lambda: clock[0]
    await dsc.sync("default/agent")
    assert deleted(cluster) == ["agent-x"]
    assert ("default/agent", "Warning", "FailedDaemonPod",
            "Found failed daemon pod default/agent-x on node node-1, will try to kill it") in cluster.events
    dsc._delete_pod(cluster.cache(PODS).get("agent-x", "default"))  # observed
    clock[0] = 100.5  # the pod is back, failed again, within the 1 s backoff
    await dsc.sync("default/agent")
    assert deleted(cluster) == ["agent-x"]  # not again
    assert dsc.queue.waiting == 1  # retried after the backoff
    clock[0] = 101.5
    await dsc.sync("default/agent")
    assert deleted(cluster) == ["agent-x", "agent-x"]
    assert dsc.failed_pods_backoff.get("uid-agent/0/node-1") == 2.0  # doubled


async def test_pending_pod_for_a_vanished_node_is_deleted(cluster):
    ds = daemonset("agent")
    stray = daemon_pod(ds, "agent-gone", None, phase="Pending", ready=False)
    stray["spec"]["affinity"] = du.replace_node_name_affinity(None, "gone")
    dsc = make(cluster, ds, [node("node-1")], [daemon_pod(ds, "agent-1", "node-1"), stray])
    await dsc.sync("default/agent")
    assert deleted(cluster) == ["agent-gone"]


async def test_adopts_orphans_and_releases_strays(cluster):
    ds = daemonset("agent")
    orphan = pod("orphan", labels={"app": "agent"}, node="node-1")
    stray = daemon_pod(ds, "stray", "node-2")
    stray["metadata"]["labels"] = {"app": "other"}
    dsc = make(cluster, ds, [node("node-1"), node("node-2")], [orphan, stray])
    await dsc.sync("default/agent")
    patches = {c.name: c.body for c in cluster.client.calls_of("patch", "pods")}
    assert patches["orphan"]["metadata"]["ownerReferences"] == [owner_ref(ds, "DaemonSet")]
    assert patches["stray"]["metadata"]["ownerReferences"] is None
    assert sorted(created_on(cluster)) == ["node-2"]


async def test_daemonset_being_deleted_or_gone_does_nothing(cluster):
    ds = daemonset("agent")
    ds["metadata"]["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    dsc = make(cluster, ds, [node("node-1")])
    await dsc.sync("default/agent")
    await dsc.sync("default/gone")
    assert cluster.client.writes() == []


# --- revisions ---

async def test_the_template_is_recorded_as_a_controller_revision(cluster):
    ds = daemonset("agent")
    ds["metadata"]["annotations"] = {"note": "x"}
    dsc = make(cluster, ds, [node("node-1")])
    await dsc.sync("default/agent")
    [call] = cluster.client.calls_of("create", "controllerrevisions")
    body = call.body
    assert body["metadata"]["name"] == f"agent-{hash_of(ds)}"
    assert body["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": hash_of(ds)}
    assert body["metadata"]["annotations"] == {"note": "x"}
    assert body["metadata"]["ownerReferences"] == [owner_ref(ds, "DaemonSet")]
    assert body["revision"] == 1
    assert body["data"] == {"spec": {"template": {**ds["spec"]["template"], "$patch": "replace"}}}


async def test_a_template_change_makes_the_next_revision(cluster):
    old = daemonset("agent")
    new = daemonset("agent", image="agent:2", generation=2)
    dsc = make(cluster, new, [node("node-1")], revisions=[revision(old, 3)])
    await dsc.sync("default/agent")
    [call] = cluster.client.calls_of("create", "controllerrevisions")
    assert call.body["revision"] == 4
    assert call.body["metadata"]["name"] == f"agent-{hash_of(new)}"


async def test_a_rollback_renumbers_the_matching_revision(cluster):
    ds = daemonset("agent")
    newer = daemonset("agent", image="agent:2")
    dsc = make(cluster, ds, [node("node-1")], revisions=[revision(ds, 1), revision(newer, 2)])
    await dsc.sync("default/agent")
    [update] = cluster.client.calls_of("update", "controllerrevisions")
    assert (update.name, update.body["revision"]) == (f"agent-{hash_of(ds)}", 3)
    assert cluster.client.calls_of("create", "controllerrevisions") == []


async def test_a_revision_without_the_hash_label_gets_its_name_as_one(cluster):
    ds = daemonset("agent")
    bare = revision(ds, 1)
    del bare["metadata"]["labels"][du.HASH_LABEL]
    dsc = make(cluster, ds, [node("node-1")], revisions=[bare])
    await dsc.sync("default/agent")
    [update] = cluster.client.calls_of("update", "controllerrevisions")
    assert update.body["metadata"]["labels"][du.HASH_LABEL] == f"agent-{hash_of(ds)}"
    assert cluster.client.calls_of("create", "controllerrevisions") == []


async def test_old_revisions_past_the_limit_go_unless_a_pod_uses_them(cluster):
    ds = daemonset("agent", history_limit=2)  # three old ones: one must go, the oldest one not in use
    olds = [revision(ds, i, data={"spec": {"template": {"v": i}}}, hash_=f"h{i}") for i in (1, 2, 3)]
    in_use = daemon_pod(ds, "agent-1", "node-1")
    in_use["metadata"]["labels"][du.HASH_LABEL] = "h1"
    dsc = make(cluster, ds, [node("node-1")], [in_use], revisions=[*olds, revision(ds, 4)])
    await dsc.sync("default/agent")
    assert [c.name for c in cluster.client.calls_of("delete", "controllerrevisions")] == ["agent-h2"]


# --- rolling update ---

async def test_rolling_update_replaces_max_unavailable_old_pods_at_a_time(cluster):
    ds = daemonset("agent", image="agent:2", generation=2)
    nodes = [node(f"node-{i}") for i in (1, 2, 3)]
    dsc = make(cluster, ds, nodes, [daemon_pod(ds, f"agent-{i}", f"node-{i}", current=False) for i in (1, 2, 3)])
    await dsc.sync("default/agent")
    assert len(deleted(cluster)) == 1
    assert cluster.client.calls_of("create", "pods") == []  # the create path follows once the pod is gone
    status = last_status(cluster)
    assert "updatedNumberScheduled" not in status  # omitempty: none updated yet
    assert status["observedGeneration"] == 2


async def test_rolling_update_waits_for_the_new_pod_to_be_available(cluster):
    ds = daemonset("agent", image="agent:2", generation=2)
    nodes = [node(f"node-{i}") for i in (1, 2, 3)]
    pods = [daemon_pod(ds, "agent-1", "node-1", ready=False), daemon_pod(ds, "agent-2", "node-2", current=False),
            daemon_pod(ds, "agent-3", "node-3", current=False)]
    dsc = make(cluster, ds, nodes, pods)
    await dsc.sync("default/agent")
    assert deleted(cluster) == []


@pytest.mark.parametrize(("max_unavailable", "expected"), [(1, 1), ("50%", 2), ("10%", 1), (3, 3)])
async def test_max_unavailable_as_a_number_or_a_percent_rounded_up(cluster, max_unavailable, expected):
    ds = daemonset("agent", image="agent:2", strategy={"type": "RollingUpdate",
                                                       "rollingUpdate": {"maxUnavailable": max_unavailable}})
    nodes = [node(f"node-{i}") for i in (1, 2, 3)]
    dsc = make(cluster, ds, nodes, [daemon_pod(ds, f"agent-{i}", f"node-{i}", current=False) for i in (1, 2, 3)])
    await dsc.sync("default/agent")
    assert len(deleted(cluster)) == expected


async def test_an_unavailable_old_pod_is_replaced_whatever_the_budget(cluster):
    ds = daemonset("agent", image="agent:2")
    nodes = [node(f"node-{i}") for i in (1, 2)]
    pods = [daemon_pod(ds, "agent-1", "node-1", current=False, ready=False),
            daemon_pod(ds, "agent-2", "node-2", current=False, ready=False)]
    dsc = make(cluster, ds, nodes, pods)
    await dsc.sync("default/agent")
    assert deleted(cluster) == ["agent-1", "agent-2"]


async def test_on_delete_only_replaces_what_was_deleted(cluster):
    ds = daemonset("agent", image="agent:2", strategy={"type": "OnDelete"})
    dsc = make(cluster, ds, [node("node-1"), node("node-2")], [daemon_pod(ds, "agent-1", "node-1", current=False)])
    await dsc.sync("default/agent")
    assert deleted(cluster) == []
    assert created_on(cluster)["node-2"]["metadata"]["labels"][du.HASH_LABEL] == hash_of(ds)


# --- status ---

def test_status_counts():
    ds = daemonset("agent", node_selector={"role": "edge"}, min_ready=30)
    nodes = [node(f"edge-{i}", labels={"role": "edge"}) for i in (1, 2, 3, 4)] + [node("core")]
    pods = [daemon_pod(ds, "a", "edge-1"),                                        # ready, available, updated
            daemon_pod(ds, "b", "edge-2", ready_since="2026-01-01T11:59:50Z"),     # ready, not yet available
            daemon_pod(ds, "c", "edge-3", current=False, ready=False),            # old, not ready
            daemon_pod(ds, "d", "core")]                                          # misscheduled
    status = calculate_status(ds, nodes, node_to_daemon_pods(pods), hash_of(ds), NOW)
    assert status == {"desiredNumberScheduled": 4, "currentNumberScheduled": 3, "numberMisscheduled": 1,
                      "numberReady": 2, "updatedNumberScheduled": 2, "numberAvailable": 1, "numberUnavailable": 3}


async def test_status_written_through_the_subresource_only_when_changed(cluster):
    ds = daemonset("agent", generation=3)
    dsc = make(cluster, ds, [node("node-1")], [daemon_pod(ds, "agent-1", "node-1")], revisions=[revision(ds, 1)])
    await dsc.sync("default/agent")
    [update] = cluster.client.calls_of("update", "daemonsets")
    assert update.kwargs["subresource"] == "status"
    assert update.body["status"] == {"desiredNumberScheduled": 1, "currentNumberScheduled": 1,
                                     "numberMisscheduled": 0, "numberReady": 1, "updatedNumberScheduled": 1,
                                     "numberAvailable": 1, "observedGeneration": 3}
    cluster.cache(DAEMONSETS).objects[("default", "agent")] = cluster.client.store[("daemonsets", "default", "agent")]
    await dsc.sync("default/agent")
    assert len(cluster.client.calls_of("update", "daemonsets")) == 1
    assert cluster.client.writes() == [update]


async def test_min_ready_seconds_requeues_until_available(cluster):
    ds = daemonset("agent", min_ready=10)
    dsc = make(cluster, ds, [node("node-1")], [daemon_pod(ds, "agent-1", "node-1", ready_since="2026-01-01T11:59:58Z")])
    await dsc.sync("default/agent")
    assert dsc.queue.waiting == 1


# --- event handlers ---

def test_node_handlers(cluster):
    dsc = make(cluster, daemonset("edge", node_selector={"role": "edge"}))
    cluster.add(DAEMONSETS, daemonset("all"))
    seen: list[str] = []
    dsc.enqueue = lambda ds: seen.append(ds["metadata"]["name"])
    dsc._add_node(node("node-1"))
    assert seen == ["all"]
    seen.clear()
    dsc._update_node(node("node-1"), node("node-1", labels={"role": "edge"}))
    assert seen == ["edge"]
    seen.clear()
    heartbeat = node("node-1")
    heartbeat["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T12:00:10Z"
    dsc._update_node(node("node-1"), heartbeat)
    cordoned = node("node-1", unschedulable=True)
    dsc._update_node(node("node-1"), cordoned)  # daemon pods tolerate unschedulable
    assert seen == []
    dsc._update_node(node("node-1"), node("node-1", taints=[{"key": "k", "effect": "NoExecute"}]))
    assert seen == ["all"]
