"""PodTopologySpread: the filter's skew arithmetic and reasons, eligible domains, scores, and the
plugin inside the default profile (FitError message, preemption, the scheduling loop)."""

from __future__ import annotations

import pytest

from services.scheduler.algorithm import Algorithm
from services.scheduler.framework import (
    Code,
    CycleState,
    FitError,
    NodeInfo,
    PodInfo,
    Status,
)
from services.scheduler.plugins import (
    DEFAULT_SCORE_WEIGHTS,
    PodTopologySpread,
    default_framework,
    default_plugins,
)
from services.scheduler.plugins.pod_topology_spread import (
    ERR_REASON_CONSTRAINTS_NOT_MATCH,
    ERR_REASON_NODE_LABEL_NOT_MATCH,
)

from . import builders
from .builders import make_node, make_pod, node_info, taint, terminating
from .test_default_preemption import FakeClient as PreemptionClient
from .test_default_preemption import FirstOffset
from .test_scheduler import Cluster

UNRESOLVABLE = Code.UNSCHEDULABLE_AND_UNRESOLVABLE
SKEWED = Status(Code.UNSCHEDULABLE, ERR_REASON_CONSTRAINTS_NOT_MATCH)
NO_LABEL = Status(UNRESOLVABLE, ERR_REASON_NODE_LABEL_NOT_MATCH)
WEB = {"app": "web"}
HOST = "kubernetes.io/hostname"


def labelled(pod: dict, labels: dict | None) -> dict:
    if labels is not None:
        pod["metadata"]["labels"] = dict(labels)
    return pod


def running(name: str, node: str, labels: dict | None = WEB, *, namespace: str = "default", **kw) -> dict:
    return labelled(make_pod(name, namespace, node_name=node, **kw), labels)


def spread(key: str = "zone", max_skew: int = 1, when: str = "DoNotSchedule", selector: dict | None = None,
           **extra) -> dict:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": WEB} if selector is None else selector, **extra}


def pending(*constraints: dict, labels: dict | None = WEB, **spec) -> PodInfo:
    pod = make_pod("new", topologySpreadConstraints=list(constraints), **spec) if constraints else make_pod(
        "new", **spec)
    return PodInfo(labelled(pod, labels))


def zone_node(name: str, zone: str | None, *pods: dict, **kw) -> NodeInfo:
    labels = {HOST: name, **kw.pop("labels", {})}
    if zone is not None:
        labels["zone"] = zone
    return node_info(make_node(name, labels=labels, **kw), *pods)


def run_filter(pod: PodInfo, nodes: list[NodeInfo]) -> dict[str, Status | None] | str:
    return builders.run_filter(PodTopologySpread(), pod, nodes)


@pytest.mark.parametrize(("pod", "nodes", "expected"), [
    # 2 zones, maxSkew 1: a(1) + 1 - min 0 = 2 > 1
    (pending(spread()), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b")],
     {"n1": SKEWED, "n2": None}),
    # balanced: either zone makes the skew 1
    (pending(spread()), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b", running("p2", "n2"))],
     {"n1": None, "n2": None}),
    # 3 zones a=2 b=1 c=1: only a is too full
    (pending(spread()), [zone_node("n1", "a", running("p1", "n1"), running("p2", "n1")),
                         zone_node("n2", "b", running("p3", "n2")), zone_node("n3", "c", running("p4", "n3"))],
     {"n1": SKEWED, "n2": None, "n3": None}),
    # 3 zones a=1 b=1 c=0: only the empty zone
    (pending(spread()), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b", running("p2", "n2")),
                         zone_node("n3", "c")],
     {"n1": SKEWED, "n2": SKEWED, "n3": None}),
    # two nodes in one zone count together
    (pending(spread()), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "a"), zone_node("n3", "b")],
     {"n1": SKEWED, "n2": SKEWED, "n3": None}),
    # maxSkew 2 tolerates a(1) + 1 - 0
    (pending(spread(max_skew=2)), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b")],
     {"n1": None, "n2": None}),
    # hostname topology
    (pending(spread(HOST)), [zone_node("n1", None, running("p1", "n1")), zone_node("n2", None)],
     {"n1": SKEWED, "n2": None}),
    # the selector does not match the pod itself: it adds nothing to its domain
    (pending(spread(), labels={"app": "other"}), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b")],
     {"n1": None, "n2": None}),
    # pods of other namespaces, terminating pods and pods the selector misses are not counted
    (pending(spread()), [zone_node("n1", "a", running("x", "n1", namespace="other"),
                                   terminating(running("t", "n1")), running("y", "n1", {"app": "db"})),
                         zone_node("n2", "b")],
     {"n1": None, "n2": None}),
    # a labelSelector that is absent matches no pod
    (pending(spread(selector={}) | {"labelSelector": None}), [zone_node("n1", "a", running("p1", "n1")),
                                                              zone_node("n2", "b")],
     {"n1": None, "n2": None}),
    # matchExpressions
    (pending(spread(selector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]})),
     [zone_node("n1", "a", running("p1", "n1", {"app": "api"})), zone_node("n2", "b")],
     {"n1": SKEWED, "n2": None}),
    # a node without the topology key is no candidate, and is no domain either
    (pending(spread()), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b", running("p2", "n2")),
                         zone_node("n3", None)],
     {"n1": None, "n2": None, "n3": NO_LABEL}),
    # minDomains 3 with 2 domains: the global minimum is 0, so a(1) + 1 > 1 everywhere
    (pending(spread(minDomains=3)), [zone_node("n1", "a", running("p1", "n1")),
                                     zone_node("n2", "b", running("p2", "n2"))],
     {"n1": SKEWED, "n2": SKEWED}),
    # minDomains met: as without it
    (pending(spread(minDomains=2)), [zone_node("n1", "a", running("p1", "n1")),
                                     zone_node("n2", "b", running("p2", "n2"))],
     {"n1": None, "n2": None}),
    # nodeSelector (nodeAffinityPolicy Honor by default): zone b is not eligible, a is the only domain
    (pending(spread(), nodeSelector={"disk": "ssd"}),
     [zone_node("n1", "a", running("p1", "n1"), labels={"disk": "ssd"}), zone_node("n2", "b")],
     {"n1": None, "n2": None}),
    # the same with nodeAffinityPolicy Ignore: zone b (0) counts
    (pending(spread(nodeAffinityPolicy="Ignore"), nodeSelector={"disk": "ssd"}),
     [zone_node("n1", "a", running("p1", "n1"), labels={"disk": "ssd"}), zone_node("n2", "b")],
     {"n1": SKEWED, "n2": None}),
    # required node affinity limits the domains the same way
    (pending(spread(), affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}),
     [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b")],
     {"n1": None, "n2": None}),
    # nodeTaintsPolicy Ignore (default): a tainted empty zone still counts
    (pending(spread()), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b", taints=[taint("x")])],
     {"n1": SKEWED, "n2": None}),
    # nodeTaintsPolicy Honor: it does not
    (pending(spread(nodeTaintsPolicy="Honor")),
     [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b", taints=[taint("x")])],
     {"n1": None, "n2": None}),
    # matchLabelKeys: only pods with the pod's own version count
    (pending(spread(matchLabelKeys=["version"]), labels={"app": "web", "version": "v2"}),
     [zone_node("n1", "a", running("old", "n1", {"app": "web", "version": "v1"})), zone_node("n2", "b")],
     {"n1": None, "n2": None}),
    (pending(spread(matchLabelKeys=["version"]), labels={"app": "web", "version": "v1"}),
     [zone_node("n1", "a", running("old", "n1", {"app": "web", "version": "v1"})), zone_node("n2", "b")],
     {"n1": SKEWED, "n2": None}),
    # two constraints: each must hold (zone balanced, but n1's host is the fuller one)
    (pending(spread(), spread(HOST)),
     [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "a"), zone_node("n3", "b", running("p2", "n3")),
      zone_node("n4", "b")],
     {"n1": SKEWED, "n2": None, "n3": SKEWED, "n4": None}),
    # ScheduleAnyway constraints do not filter; no constraints at all: skipped
    (pending(spread(when="ScheduleAnyway")), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b")],
     "skip"),
    (pending(), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b")], "skip"),
])
def test_filter(pod, nodes, expected):
    assert run_filter(pod, nodes) == expected


def test_reason_codes_and_strings_are_kube_schedulers():
    assert ERR_REASON_CONSTRAINTS_NOT_MATCH == "node(s) didn't match pod topology spread constraints"
    assert ERR_REASON_NODE_LABEL_NOT_MATCH == "node(s) didn't match pod topology spread constraints (missing required label)"
    statuses = run_filter(pending(spread()), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", None),
                                              zone_node("n3", "b")])
    assert statuses["n1"].code == Code.UNSCHEDULABLE  # preemption may help
    assert statuses["n2"].code == UNRESOLVABLE


def test_invalid_selector_is_an_error():
    pod = pending(spread(selector={"matchExpressions": [{"key": "app", "operator": "Near"}]}))
    _, status = PodTopologySpread().pre_filter(CycleState(), pod, [zone_node("n1", "a")])
    assert status.code == Code.ERROR


def test_default_profile_runs_it_after_node_resources_fit_with_weight_2():
    names = [p.name for p in default_plugins()]
    assert names.index("PodTopologySpread") == names.index("NodeResourcesFit") + 1
    assert DEFAULT_SCORE_WEIGHTS["PodTopologySpread"] == 2


def test_fit_error_message_through_the_default_profile():
    # zones a=2 b=2 c=1: the pod fits only zone c, whose one node is too small for it
    nodes = [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "a", running("p2", "n2")),
             zone_node("n3", None), zone_node("n4", "b", running("p3", "n4"), running("p4", "n4")),
             zone_node("n5", "c", running("p5", "n5"), cpu="1")]
    pod = pending(spread(), cpu="2")
    with pytest.raises(FitError) as info:
        Algorithm().schedule_pod(default_framework(), CycleState(), pod, nodes)
    assert str(info.value) == (
        "0/5 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod topology spread constraints "
        "(missing required label), 3 node(s) didn't match pod topology spread constraints.")
    assert info.value.diagnosis.unschedulable_plugins == {"NodeResourcesFit", "PodTopologySpread"}


def test_nodes_for_a_pod_without_constraints_are_untouched_by_the_plugin():
    state = CycleState()
    framework = default_framework()
    framework.run_pre_filter_plugins(state, pending(), [zone_node("n1", "a")])
    assert "PodTopologySpread" in state.skip_filter_plugins
    framework.run_pre_score_plugins(state, pending(), [zone_node("n1", "a")])
    assert "PodTopologySpread" in state.skip_score_plugins


# scoring -------------------------------------------------------------------------------------------

def run_scores(pod: PodInfo, nodes: list[NodeInfo], feasible: list[str] | None = None) -> list[int] | str:
    return builders.run_scores(PodTopologySpread(), pod, nodes, feasible)


SOFT = spread(when="ScheduleAnyway")


@pytest.mark.parametrize(("pod", "nodes", "feasible", "expected"), [
    # zones a=2 b=1 c=0, weight log(3 + 2): raw 3, 2, 0 -> 100 * (3 + 0 - s) / 3
    (pending(SOFT), [zone_node("n1", "a", running("p1", "n1"), running("p2", "n1")),
                     zone_node("n2", "b", running("p3", "n2")), zone_node("n3", "c")], None, [0, 33, 100]),
    # equal counts: all 100
    (pending(SOFT), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b", running("p2", "n2"))],
     None, [100, 100]),
    # nothing matches anywhere: max 0, all 100
    (pending(SOFT), [zone_node("n1", "a"), zone_node("n2", "b")], None, [100, 100]),
    # a node without the key scores 0 and does not count as a domain
    (pending(SOFT), [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b"), zone_node("n3", None)],
     None, [0, 100, 0]),
    # hostname, counted per node at Score
    (pending(spread(HOST, when="ScheduleAnyway")),
     [zone_node("n1", None, running("p1", "n1"), running("p2", "n1")), zone_node("n2", None, running("p3", "n2")),
      zone_node("n3", None)], None, [0, 33, 100]),
    # pods on nodes that did not pass Filter still count in their domain (n2 is filtered out)
    (pending(SOFT), [zone_node("n1", "a"), zone_node("n2", "a", running("p1", "n2"), running("p2", "n2")),
                     zone_node("n3", "b", running("p3", "n3"))], ["n1", "n3"], [33, 100]),
    # maxSkew - 1 is added to every node, which waters the differences down:
    # raw round(1 * log(4) + 2) = 3 and 2 -> 100 * (3 + 2 - s) / 3
    (pending(spread(max_skew=3, when="ScheduleAnyway")),
     [zone_node("n1", "a", running("p1", "n1")), zone_node("n2", "b")], None, [66, 100]),
    # DoNotSchedule only: nothing to score
    (pending(spread()), [zone_node("n1", "a"), zone_node("n2", "b")], None, "skip"),
    (pending(), [zone_node("n1", "a"), zone_node("n2", "b")], None, "skip"),
])
def test_score(pod, nodes, feasible, expected):
    assert run_scores(pod, nodes, feasible) == expected


def test_soft_spread_steers_the_default_profile_away_from_the_fuller_zone():
    # the same resources used on both nodes; only n1's pod matches the selector
    nodes = [zone_node("n1", "a", running("p1", "n1", cpu="100m")),
             zone_node("n2", "b", running("other", "n2", {"app": "db"}, cpu="100m"))]
    result = Algorithm().schedule_pod(default_framework(), CycleState(), pending(SOFT, cpu="100m"), nodes)
    assert result.suggested_host == "n2"


# preemption and the scheduling loop -----------------------------------------------------------------

def test_preemption_frees_a_domain():
    """A pod rejected for skew preempts the lower-priority matching pod that makes the skew."""
    low = running("low", "n1", priority=10)
    low["status"] = {"phase": "Running", "startTime": "2026-01-01T00:00:00Z"}
    nodes = [zone_node("n1", None, low),
             zone_node("n2", None, running("big", "n2", {"app": "db"}, cpu="4", priority=1000))]
    framework = default_framework(PreemptionClient(), node_lister=lambda: nodes)
    [preemption] = framework.post_filter_plugins
    preemption._rng = FirstOffset()
    preemption.spawn = lambda coro: coro.close()
    pod = pending(spread(HOST), cpu="1", priority=100)
    state = CycleState()
    with pytest.raises(FitError) as info:
        Algorithm().schedule_pod(framework, state, pod, nodes)
    statuses = info.value.diagnosis.node_to_status
    assert statuses["n1"] == SKEWED and statuses["n2"] == Status(Code.UNSCHEDULABLE, "Insufficient cpu")
    result, status = framework.run_post_filter_plugins(state, pod, statuses)
    assert status.is_success() and result.nominated_node_name == "n1"


def test_nominated_pods_count_in_their_domain():
    """A copy of the node with a matching pod added (a nominated pod) is filtered with it counted."""
    nodes = [zone_node("n1", "a"), zone_node("n2", "b")]
    plugin, state, pod = PodTopologySpread(), CycleState(), pending(spread())
    plugin.pre_filter(state, pod, nodes)
    assert plugin.filter(state, pod, nodes[0]) is None
    copy = nodes[0].clone()
    copy.add_pod(PodInfo(running("nominated", "n1")))
    assert plugin.filter(state, pod, copy) == SKEWED
    assert plugin.filter(state, pod, nodes[1]) is None


async def test_scheduling_loop_spreads_four_pods_two_and_two():
    """The bigger node wins every LeastAllocated score; hostname maxSkew 1 still gives 2 and 2."""
    cluster = Cluster()
    cluster.add_node(make_node("big", cpu="32", memory="64Gi", labels={HOST: "big"}))
    cluster.add_node(make_node("small", cpu="4", memory="8Gi", labels={HOST: "small"}))
    for i in range(4):
        cluster.add_pod(labelled(make_pod(f"web-{i}", cpu="1", topologySpreadConstraints=[spread(HOST)]), WEB))
    await cluster.run_until_idle()
    placement = cluster.placement()
    assert sorted(placement.values()) == ["big", "big", "small", "small"]


async def test_scheduling_loop_without_constraints_piles_onto_the_bigger_node():
    cluster = Cluster()
    cluster.add_node(make_node("big", cpu="32", memory="64Gi", labels={HOST: "big"}))
    cluster.add_node(make_node("small", cpu="4", memory="8Gi", labels={HOST: "small"}))
    for i in range(4):
        cluster.add_pod(labelled(make_pod(f"web-{i}", cpu="1"), WEB))
    await cluster.run_until_idle()
    assert sorted(cluster.placement().values()) == ["big"] * 4
