"""Node lifecycle, taint eviction and node IPAM: tables and single syncs against a fake cache."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.resources import LEASES, NODES, PODS

from services.controller_manager.config import ControllerManagerConfig
from services.controller_manager.controllers.nodeipam import CidrSet, NodeIpamController
from services.controller_manager.controllers.nodelifecycle import NodeLifecycleController, desired_taints, zone_state
from services.controller_manager.controllers.tainteviction import TaintEvictionController, eviction_due
from tests.unit.controller_manager.builders import pod
from tests.unit.controller_manager.fakes import NOW


def node(name: str = "node-1", *, ready: str | None = "True", taints: list | None = None, cidr: str | None = None,
         unschedulable: bool = False) -> dict:
    n = {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": "2026-01-01T10:00:00Z"},
         "spec": {}, "status": {"conditions": []}}
    if ready is not None:
        n["status"]["conditions"].append({"type": "Ready", "status": ready, "reason": "KubeletReady",
                                          "lastHeartbeatTime": "2026-01-01T11:59:00Z",
                                          "lastTransitionTime": "2026-01-01T10:00:00Z"})
    if taints:
        n["spec"]["taints"] = taints
    if cidr:
        n["spec"]["podCIDR"] = cidr
    if unschedulable:
        n["spec"]["unschedulable"] = True
    return n


def lease(name: str = "node-1", renew: str = "2026-01-01T11:59:50.000000Z") -> dict:
    return {"metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew}}


OPTS = ControllerManagerConfig(node_monitor_grace_period=40, node_startup_grace_period=60)


# --- node lifecycle ---

@pytest.mark.parametrize(("ready", "unschedulable", "expected"), [
    ("True", False, set()),
    ("Unknown", False, {("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")}),
    ("False", False, {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/not-ready", "NoSchedule")}),
    ("True", True, {("node.kubernetes.io/unschedulable", "NoSchedule")}),
    (None, False, set()),
])
def test_desired_taints(ready, unschedulable, expected):
    assert desired_taints(node(ready=ready, unschedulable=unschedulable)) == expected


async def test_node_with_a_fresh_lease_stays_ready(cluster):
    cluster.add(NODES, node())
    cluster.add(LEASES, lease())
    nlc = NodeLifecycleController(cluster.ctx(OPTS))
    await nlc.sync("node-1")
    assert cluster.client.writes() == []
    assert nlc.queue.waiting == 1  # back when the grace period would run out


async def test_stopped_lease_marks_node_unknown_taints_it_and_pods_not_ready(cluster):
    cluster.add(NODES, node())
    cluster.add(NODES, node("node-2"))
    cluster.add(LEASES, lease())
    cluster.add(PODS, pod("web-1", node="node-1"))
    cluster.add(PODS, pod("elsewhere", node="node-2"))
    nlc = NodeLifecycleController(cluster.ctx(OPTS))
    await nlc.sync("node-1")                      # first sight: the probe time is now
    cluster.now = NOW + timedelta(seconds=41)     # no renewal since
    await nlc.sync("node-1")
    status = cluster.client.calls_of("update", "nodes")[0]
    assert status.kwargs["subresource"] == "status"
    ready = next(c for c in status.body["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert ready["lastHeartbeatTime"] == "2026-01-01T11:59:00Z"
    assert {c["type"] for c in status.body["status"]["conditions"]} >= {"MemoryPressure", "DiskPressure", "PIDPressure"}
    spec = cluster.client.calls_of("update", "nodes")[1]
    assert {(t["key"], t["effect"]) for t in spec.body["spec"]["taints"]} == {
        ("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")}
    assert all(t["timeAdded"] == "2026-01-01T12:00:41Z" for t in spec.body["spec"]["taints"])
    [pod_status] = cluster.client.calls_of("update", "pods")
    assert pod_status.name == "web-1" and pod_status.kwargs["subresource"] == "status"
    assert pod_status.body["status"]["conditions"][0]["status"] == "False"
    reasons = [(e[0], e[2]) for e in cluster.events]
    assert ("node-1", "NodeNotReady") in reasons and ("default/web-1", "NodeNotReady") in reasons


async def test_renewed_lease_keeps_node_alive(cluster):
    cluster.add(NODES, node())
    cluster.add(LEASES, lease())
    nlc = NodeLifecycleController(cluster.ctx(OPTS))
    await nlc.sync("node-1")
    cluster.now = NOW + timedelta(seconds=30)
    cluster.cache(LEASES).objects[("kube-node-lease", "node-1")] = lease(renew="2026-01-01T12:00:30.000000Z")
    await nlc.sync("node-1")
    cluster.now = NOW + timedelta(seconds=60)
    await nlc.sync("node-1")
    assert cluster.client.writes() == []


async def test_node_back_loses_its_taints_keeping_others(cluster):
    taints = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-01-01T11:00:00Z"},
              {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    cluster.add(NODES, node(ready="True", taints=taints))
    nlc = NodeLifecycleController(cluster.ctx(OPTS))
    await nlc.sync("node-1")
    [update] = cluster.client.calls_of("update", "nodes")
    assert update.body["spec"]["taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]


async def test_kubelet_reported_not_ready_gets_not_ready_taints(cluster):
    cluster.add(NODES, node(ready="False"))
    nlc = NodeLifecycleController(cluster.ctx(OPTS))
    await nlc.sync("node-1")
    [update] = cluster.client.calls_of("update", "nodes")
    assert {t["key"] for t in update.body["spec"]["taints"]} == {"node.kubernetes.io/not-ready"}
    assert cluster.client.calls_of("update", "pods") == []


async def test_node_that_never_posted_status_after_startup_grace(cluster):
    cluster.add(NODES, node(ready=None))
    nlc = NodeLifecycleController(cluster.ctx(OPTS))
    await nlc.sync("node-1")
    cluster.now = NOW + timedelta(seconds=61)
    await nlc.sync("node-1")
    status = cluster.client.calls_of("update", "nodes")[0]
    ready = next(c for c in status.body["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == ("NodeStatusNeverUpdated", "Kubelet never posted node status.")


async def dead(cluster, names: list[str], *, healthy: list[str] = (), opts=OPTS) -> NodeLifecycleController:
    """`names` stop renewing their leases; returns the controller after the grace period passed."""
    for name in [*names, *healthy]:
        cluster.add(NODES, node(name))
    nlc = NodeLifecycleController(cluster.ctx(opts))
    for name in names:
        await nlc.sync(name)
    cluster.now = NOW + timedelta(seconds=41)
    return nlc


def refresh(cluster) -> None:
    """The informer catches up with the server."""
    for (plural, _, name), obj in cluster.client.store.items():
        if plural == "nodes":
            cluster.cache(NODES).objects[("", name)] = obj


def no_execute_taints(cluster) -> dict[str, list]:
    out = {}
    for call in cluster.client.calls_of("update", "nodes"):
        if call.kwargs["subresource"] is None:
            out[call.name] = [t["key"] for t in call.body["spec"]["taints"] if t["effect"] == "NoExecute"]
    return out


async def test_when_every_node_is_down_nothing_is_evicted(cluster):
    nlc = await dead(cluster, ["node-1", "node-2"])
    await nlc.sync("node-1")  # node-2 still looks Ready: node-1 is tainted
    for name in ("node-2", "node-1"):
        refresh(cluster)
        await nlc.sync(name)
    # once both are seen down (full disruption), neither keeps a NoExecute taint; NoSchedule stays
    assert no_execute_taints(cluster) == {"node-1": [], "node-2": []}
    node1 = cluster.client.store[("nodes", "", "node-1")]
    assert [t["key"] for t in node1["spec"]["taints"]] == ["node.kubernetes.io/unreachable"]


async def test_no_execute_tainting_is_rate_limited_per_zone(cluster):
    opts = ControllerManagerConfig(node_eviction_rate=0.1)
    nlc = await dead(cluster, ["node-1", "node-2"], healthy=["node-3", "node-4"], opts=opts)
    await nlc.sync("node-1")
    await nlc.sync("node-2")
    assert no_execute_taints(cluster) == {"node-1": ["node.kubernetes.io/unreachable"], "node-2": []}
    assert nlc.queue.waiting >= 1
    cluster.now = NOW + timedelta(seconds=52)  # 0.1 nodes/s: the next token after 10 s
    refresh(cluster)
    await nlc.sync("node-2")
    assert no_execute_taints(cluster)["node-2"] == ["node.kubernetes.io/unreachable"]


@pytest.mark.parametrize(("ready", "not_ready", "expected"), [
    (3, 0, "Normal"), (0, 1, "FullDisruption"), (1, 2, "Normal"), (2, 3, "PartialDisruption"), (5, 3, "Normal"),
])
def test_zone_state(ready, not_ready, expected):
    assert zone_state(ready, not_ready, 0.55) == expected


# --- taint eviction ---

UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-01-01T11:59:00Z"}
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


@pytest.mark.parametrize(("tolerations", "taints", "expected"), [
    ([], [UNREACHABLE], 0.0),                                    # not tolerated: now
    (DEFAULT_TOLERATIONS, [UNREACHABLE], 240.0),                 # 300 s from timeAdded (60 s ago)
    ([{"operator": "Exists"}], [UNREACHABLE], None),             # tolerates everything forever
    ([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 5}], [UNREACHABLE], 0.0),
    ([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 0}], [UNREACHABLE], 0.0),
    (DEFAULT_TOLERATIONS, [], None),
    ([{"key": "other", "operator": "Exists"}], [UNREACHABLE], 0.0),
])
def test_eviction_due(tolerations, taints, expected):
    p = pod("a")
    p["spec"]["tolerations"] = tolerations
    assert eviction_due(p, taints, NOW) == expected


async def test_pod_is_evicted_when_its_toleration_runs_out(cluster):
    cluster.add(NODES, node(ready="Unknown", taints=[UNREACHABLE]))
    p = pod("web-1")
    p["spec"]["tolerations"] = DEFAULT_TOLERATIONS
    cluster.add(PODS, p)
    tec = TaintEvictionController(cluster.ctx(OPTS))
    await tec.sync("default/web-1")
    assert cluster.client.writes() == [] and tec.queue.waiting == 1
    cluster.now = NOW + timedelta(seconds=241)
    await tec.sync("default/web-1")
    [delete] = cluster.client.calls_of("delete", "pods")
    assert delete.name == "web-1"
    assert cluster.events == [("default/web-1", "Normal", "TaintManagerEviction",
                               "Marking for deletion Pod default/web-1")]


async def test_pending_eviction_is_cancelled_when_the_node_comes_back(cluster):
    cluster.add(NODES, node(ready="Unknown", taints=[UNREACHABLE]))
    p = pod("web-1")
    p["spec"]["tolerations"] = DEFAULT_TOLERATIONS
    cluster.add(PODS, p)
    tec = TaintEvictionController(cluster.ctx(OPTS))
    await tec.sync("default/web-1")
    cluster.cache(NODES).objects[("", "node-1")] = node()
    await tec.sync("default/web-1")
    assert cluster.client.writes() == []
    assert cluster.events == [("default/web-1", "Normal", "TaintManagerEviction",
                               "Cancelling deletion of Pod default/web-1")]


async def test_pod_on_healthy_node_is_left_alone(cluster):
    cluster.add(NODES, node())
    cluster.add(PODS, pod("web-1"))
    tec = TaintEvictionController(cluster.ctx(OPTS))
    await tec.sync("default/web-1")
    assert cluster.client.writes() == [] and tec.queue.waiting == 0


# --- node IPAM ---

@pytest.mark.parametrize(("taken", "name", "expected"), [
    ({}, "node-1", "127.244.1.0/24"),
    ({}, "node-7", "127.244.7.0/24"),
    ({1: "other"}, "node-1", "127.244.2.0/24"),
    ({}, "control-plane", "127.244.1.0/24"),
    ({}, "node-300", "127.244.1.0/24"),   # out of range: first free
])
def test_cidr_preference(taken, name, expected):
    cidrs = CidrSet("127.244.0.0/16", 24)
    for idx, owner in taken.items():
        cidrs.occupy(owner, cidrs.cidr(idx))
    assert cidrs.allocate(name) == expected


def test_cidr_release_and_exhaustion():
    cidrs = CidrSet("127.244.0.0/23", 24)
    assert cidrs.allocate("a") == "127.244.1.0/24"
    assert cidrs.allocate("b") == "127.244.0.0/24"
    assert cidrs.allocate("c") is None
    cidrs.release("a")
    assert cidrs.allocate("c") == "127.244.1.0/24"


async def test_ipam_patches_pod_cidr_and_respects_existing(cluster):
    cluster.add(NODES, node("node-1", cidr="127.244.2.0/24"))
    cluster.add(NODES, node("node-2"))
    ipam = NodeIpamController(cluster.ctx(OPTS))
    await ipam.prepare()
    await ipam.sync("node-1")
    await ipam.sync("node-2")
    [patch] = cluster.client.calls_of("patch", "nodes")
    assert patch.name == "node-2"
    assert patch.body == {"spec": {"podCIDR": "127.244.1.0/24", "podCIDRs": ["127.244.1.0/24"]}}


async def test_ipam_releases_deleted_node(cluster):
    ipam = NodeIpamController(cluster.ctx(OPTS))
    cluster.add(NODES, node("node-3"))
    await ipam.sync("node-3")
    del cluster.cache(NODES).objects[("", "node-3")]
    await ipam.sync("node-3")
    assert ipam.cidrs.owner == {}
