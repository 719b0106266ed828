"""The filter and score plugins, one table of cases each, called as the framework calls them."""

from __future__ import annotations

import pytest

from services.scheduler.framework import Code, CycleState, NodeInfo, NodeScore, PodInfo, Status
from services.scheduler.plugins import (
    BalancedAllocation,
    NodeAffinity,
    NodeName,
    NodeResourcesFit,
    NodeUnschedulable,
    TaintToleration,
)
from services.scheduler.plugins.balanced_allocation import balanced_resource_score
from services.scheduler.plugins.node_resources_fit import MOST_ALLOCATED

from .builders import make_node, make_pod, node_info, taint

UNRESOLVABLE = Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def run_filter(plugin, pod: dict, node: NodeInfo) -> Status | None:
    state, info = CycleState(), PodInfo(pod)
    if hasattr(plugin, "pre_filter"):
        _, status = plugin.pre_filter(state, info, [node])
        if status is not None and status.code == Code.SKIP:
            return None
        assert status is None, status
    return plugin.filter(state, info, node)


def run_scores(plugin, pod: dict, nodes: list[NodeInfo]) -> list[int] | None:
    state, info = CycleState(), PodInfo(pod)
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, info, nodes)
        if status is not None and status.code == Code.SKIP:
            return None
    scores = []
    for node in nodes:
        score, status = plugin.score(state, info, node)
        assert status is None
        scores.append(NodeScore(node.name, score))
    plugin.normalize_score(state, info, scores)
    return [s.score for s in scores]


TOLERATE_UNSCHEDULABLE = [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]


@pytest.mark.parametrize(("pod", "node", "expected"), [
    (make_pod(), make_node(), None),
    (make_pod(), make_node(unschedulable=True), Status(UNRESOLVABLE, "node(s) were unschedulable")),
    (make_pod(tolerations=TOLERATE_UNSCHEDULABLE), make_node(unschedulable=True), None),
])
def test_node_unschedulable(pod, node, expected):
    assert run_filter(NodeUnschedulable(), pod, NodeInfo(node)) == expected


@pytest.mark.parametrize(("pod", "expected"), [
    (make_pod(), None),
    (make_pod(node_name="n"), None),
    (make_pod(node_name="other"), Status(UNRESOLVABLE, "node(s) didn't match the requested node name")),
])
def test_node_name(pod, expected):
    assert run_filter(NodeName(), pod, NodeInfo(make_node("n"))) == expected


def _fit(reasons: list[str]) -> Status | None:
    return Status(Code.UNSCHEDULABLE, *reasons) if reasons else None


@pytest.mark.parametrize(("pod", "node", "reasons"), [
    (make_pod(cpu="1", memory="1Gi"), node_info(make_node(cpu="2", memory="2Gi")), []),
    (make_pod(cpu="3"), node_info(make_node(cpu="2")), ["Insufficient cpu"]),
    (make_pod(memory="3Gi"), node_info(make_node(memory="2Gi")), ["Insufficient memory"]),
    (make_pod(cpu="3", memory="3Gi"), node_info(make_node(cpu="2", memory="2Gi")),
     ["Insufficient cpu", "Insufficient memory"]),
    # what the pods already on the node request is no longer free
    (make_pod(cpu="1"), node_info(make_node(cpu="2"), make_pod("a", cpu="1500m")), ["Insufficient cpu"]),
    (make_pod(cpu="500m"), node_info(make_node(cpu="2"), make_pod("a", cpu="1500m")), []),
    # exactly full fits
    (make_pod(cpu="1"), node_info(make_node(cpu="2"), make_pod("a", cpu="1")), []),
    (make_pod(), node_info(make_node(pods="1"), make_pod("a")), ["Too many pods"]),
    (make_pod(cpu="3"), node_info(make_node(cpu="2", pods="1"), make_pod("a")), ["Too many pods", "Insufficient cpu"]),
    # a pod that requests nothing only needs a pod slot
    (make_pod(), node_info(make_node(cpu="1"), make_pod("a", cpu="1")), []),
    # init containers: the largest one counts
    (make_pod(containers=[{"name": "a", "resources": {"requests": {"cpu": "100m"}}}],
              initContainers=[{"name": "i", "resources": {"requests": {"cpu": "3"}}}]),
     node_info(make_node(cpu="2")), ["Insufficient cpu"]),
    (make_pod(containers=[{"name": "a", "resources": {"requests": {"ephemeral-storage": "2Gi"}}}]),
     node_info(make_node(ephemeral_storage="1Gi")), ["Insufficient ephemeral-storage"]),
    (make_pod(containers=[{"name": "a", "resources": {"requests": {"example.com/gpu": "1"}}}]),
     node_info(make_node()), ["Insufficient example.com/gpu"]),
])
def test_node_resources_fit_filter(pod, node, reasons):
    assert run_filter(NodeResourcesFit(), pod, node) == _fit(reasons)


def test_node_resources_fit_least_allocated_score():
    # busy: cpu (4000-2000)*100//4000 = 50, memory (8Gi-2Gi-200Mi)*100//8Gi = 72 -> (50+72)//2 = 61
    # idle: cpu (4000-1000)*100//4000 = 75, memory (8Gi-200Mi)*100//8Gi = 97 -> 86
    # (the pod requests no memory: 200Mi is counted for it when scoring)
    busy = node_info(make_node("busy", cpu="4", memory="8Gi"), make_pod("a", cpu="1", memory="2Gi"))
    idle = node_info(make_node("idle", cpu="4", memory="8Gi"))
    assert run_scores(NodeResourcesFit(), make_pod(cpu="1"), [busy, idle]) == [61, 86]


def test_node_resources_fit_most_allocated_prefers_the_fuller_node():
    busy = node_info(make_node("busy", cpu="4", memory="8Gi"), make_pod("a", cpu="2", memory="4Gi"))
    idle = node_info(make_node("idle", cpu="4", memory="8Gi"))
    most = NodeResourcesFit(scoring_strategy=MOST_ALLOCATED)
    busy_score, idle_score = run_scores(most, make_pod(cpu="1"), [busy, idle])
    assert busy_score > idle_score


def test_least_allocated_over_committed_node_scores_zero_for_that_resource():
    full = node_info(make_node("full", cpu="1", memory="1Gi"), make_pod("a", cpu="1", memory="1Gi"))
    assert run_scores(NodeResourcesFit(), make_pod(cpu="1", memory="1Gi"), [full]) == [0]


@pytest.mark.parametrize(("fractions", "expected"), [
    ([0.5, 0.5], 100), ([0.2, 0.6], 80), ([1.0, 0.0], 50), ([1.5, 0.5], 75), ([0.3], 100),
])
def test_balanced_resource_score(fractions, expected):
    assert balanced_resource_score(fractions) == expected


def test_balanced_allocation_prefers_the_node_it_balances():
    # pod: 1 cpu, 1Gi.  a: 2/4 cpu, 4/8Gi -> 0.5 vs 0.5 = 100; b: 2/4 cpu, 1/8Gi -> 0.5 vs 0.125 = 81
    a = node_info(make_node("a", cpu="4", memory="8Gi"), make_pod("x", cpu="1", memory="3Gi"))
    b = node_info(make_node("b", cpu="4", memory="8Gi"), make_pod("x", cpu="1"))
    assert run_scores(BalancedAllocation(), make_pod(cpu="1", memory="1Gi"), [a, b]) == [100, 81]


def test_balanced_allocation_skips_best_effort_pods():
    assert run_scores(BalancedAllocation(), make_pod(), [node_info(make_node())]) is None


CONTROL_PLANE = taint("node-role.kubernetes.io/control-plane")


@pytest.mark.parametrize(("tolerations", "taints", "reason"), [
    ([], [], None),
    ([], [CONTROL_PLANE], "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"),
    ([], [taint("dedicated", "gpu", "NoExecute")], "node(s) had untolerated taint {dedicated: gpu}"),
    ([], [taint("soft", "x", "PreferNoSchedule")], None),
    ([{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
     [CONTROL_PLANE], None),
    ([{"key": "dedicated", "operator": "Equal", "value": "db"}], [taint("dedicated", "gpu")],
     "node(s) had untolerated taint {dedicated: gpu}"),
    # the first untolerated taint, in the node's order, is named
    ([{"key": "a", "operator": "Exists"}], [taint("a"), taint("b", "2"), taint("c", "3")],
     "node(s) had untolerated taint {b: 2}"),
])
def test_taint_toleration_filter(tolerations, taints, reason):
    expected = Status(UNRESOLVABLE, reason) if reason else None
    pod = make_pod(tolerations=tolerations)
    assert run_filter(TaintToleration(), pod, NodeInfo(make_node(taints=taints))) == expected


def test_taint_toleration_score_counts_untolerated_prefer_no_schedule_reversed():
    soft = [taint("s1", effect="PreferNoSchedule"), taint("s2", effect="PreferNoSchedule")]
    nodes = [NodeInfo(make_node("clean")), NodeInfo(make_node("one", taints=soft[:1])),
             NodeInfo(make_node("two", taints=soft))]
    assert run_scores(TaintToleration(), make_pod(), nodes) == [100, 50, 0]
    tolerant = make_pod(tolerations=[{"key": "s1", "operator": "Exists", "effect": "PreferNoSchedule"}])
    assert run_scores(TaintToleration(), tolerant, nodes) == [100, 100, 0]
    # a NoSchedule toleration does not count against PreferNoSchedule taints
    other_effect = make_pod(tolerations=[{"key": "s1", "operator": "Exists", "effect": "NoSchedule"}])
    assert run_scores(TaintToleration(), other_effect, nodes) == [100, 50, 0]


def test_taint_toleration_score_all_clean_is_all_max():
    assert run_scores(TaintToleration(), make_pod(), [NodeInfo(make_node("a")), NodeInfo(make_node("b"))]) == [100, 100]


def _required(*terms: dict) -> dict:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


MISMATCH = Status(UNRESOLVABLE, "node(s) didn't match Pod's node affinity/selector")
SSD = {"disk": "ssd", "zone": "a"}


@pytest.mark.parametrize(("spec", "labels", "expected"), [
    ({}, SSD, None),
    ({"nodeSelector": {"disk": "ssd"}}, SSD, None),
    ({"nodeSelector": {"disk": "hdd"}}, SSD, MISMATCH),
    ({"nodeSelector": {"disk": "ssd"}}, {}, MISMATCH),
    ({"affinity": _required({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]})},
     SSD, None),
    ({"affinity": _required({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]})},
     SSD, MISMATCH),
    ({"affinity": _required({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["c"]}]},
                            {"matchExpressions": [{"key": "disk", "operator": "Exists"}]})}, SSD, None),
    # nodeSelector and affinity must both hold
    ({"nodeSelector": {"disk": "hdd"},
      "affinity": _required({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]})},
     SSD, MISMATCH),
    ({"affinity": _required()}, SSD, MISMATCH),  # no terms: matches nothing
    ({"affinity": _required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]})},
     SSD, None),
    ({"affinity": _required({"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n"]}]})},
     SSD, MISMATCH),
])
def test_node_affinity_filter(spec, labels, expected):
    assert run_filter(NodeAffinity(), make_pod(**spec), NodeInfo(make_node("n", labels=labels))) == expected


def _pre_filter(spec: dict):
    return NodeAffinity().pre_filter(CycleState(), PodInfo(make_pod(**spec)), [])


def test_node_affinity_pre_filter_skips_pods_without_constraints():
    _, status = _pre_filter({})
    assert status.code == Code.SKIP


def _names_term(*names: str) -> dict:
    return {"matchFields": [{"key": "metadata.name", "operator": "In", "values": list(names)}]}


@pytest.mark.parametrize(("terms", "names", "code"), [
    ([_names_term("a", "b")], {"a", "b"}, None),
    ([_names_term("a"), _names_term("b")], {"a", "b"}, None),  # union over ORed terms
    ([{"matchFields": _names_term("a", "b")["matchFields"] + _names_term("b", "c")["matchFields"]}], {"b"}, None),
    ([_names_term("a"), {"matchExpressions": [{"key": "x", "operator": "Exists"}]}], None, None),  # any node
    ([{"matchFields": _names_term("a")["matchFields"] + _names_term("b")["matchFields"]}], None, UNRESOLVABLE),
])
def test_node_affinity_pre_filter_narrows_to_pinned_names(terms, names, code):
    result, status = _pre_filter({"affinity": _required(*terms)})
    if code is not None:
        assert status.code == code and status.reasons == ["pod affinity terms conflict"]
        return
    assert status is None
    assert (result.node_names if result is not None else None) == names


def test_node_affinity_score_sums_matching_preferred_weights_normalized():
    pod = make_pod(affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
        {"weight": 30, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
        {"weight": 0, "preference": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}},
    ]}})
    nodes = [NodeInfo(make_node("both", labels=SSD)), NodeInfo(make_node("zone", labels={"zone": "a"})),
             NodeInfo(make_node("none", labels={"gpu": "1"}))]
    assert run_scores(NodeAffinity(), pod, nodes) == [100, 75, 0]


def test_node_affinity_score_skipped_without_preferences():
    assert run_scores(NodeAffinity(), make_pod(), [NodeInfo(make_node())]) is None


@pytest.mark.parametrize("plugin", [NodeResourcesFit(), NodeResourcesFit(scoring_strategy=MOST_ALLOCATED),
                                    BalancedAllocation(), TaintToleration(), NodeAffinity()],
                         ids=lambda p: p.name)
def test_score_nodes_equals_score_per_node(plugin):
    """The batch `score_nodes` the framework calls must agree with `score` on every kind of node."""
    nodes = [node_info(make_node("empty")), node_info(make_node("busy", cpu="2", memory="2Gi"), make_pod("a", cpu="1")),
             node_info(make_node("over", cpu="1", memory="1Gi"), make_pod("b", cpu="2", memory="2Gi")),
             node_info(make_node("no-memory", memory="0")), node_info(make_node("no-cpu", cpu="0")),
             node_info(make_node("soft", taints=[taint("s", effect="PreferNoSchedule")], labels={"zone": "a"}))]
    for pod in (make_pod(cpu="500m", memory="1Gi"), make_pod(), make_pod(cpu="3", affinity={"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 5, "preference": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}}]}})):
        state, info = CycleState(), PodInfo(pod)
        if hasattr(plugin, "pre_score") and plugin.pre_score(state, info, nodes) is not None:
            continue  # skipped for this pod
        assert plugin.score_nodes(state, info, nodes) == [plugin.score(state, info, n)[0] for n in nodes]
