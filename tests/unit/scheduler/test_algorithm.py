"""One scheduling decision: how many nodes are examined, from where, and which one wins."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from services.scheduler.algorithm import (
    Algorithm,
    NoNodesAvailable,
    SchedulingError,
    num_feasible_nodes_to_find,
    select_host,
)
from services.scheduler.framework import Code, CycleState, FilterPlugin, FitError, Framework, NodeInfo, PodInfo, Status
from services.scheduler.plugins import NodeResourcesFit, default_framework

from .builders import make_node, make_pod, node_info, taint


@pytest.mark.parametrize(("percentage", "nodes", "expected"), [
    (0, 0, 0), (0, 1, 1), (0, 99, 99),            # below 100 nodes: all of them
    (0, 100, 100),                                # 50 - 0 = 50 % of 100 = 50 -> at least 100
    (0, 250, 120),                                # 50 - 2 = 48 %
    (0, 1000, 420),                               # 50 - 8 = 42 %
    (0, 5000, 500),                               # 50 - 40 = 10 %
    (0, 6000, 300),                               # 50 - 48 = 2 % -> floor 5 % = 300
    (0, 1500, 570),                               # 50 - 12 = 38 %
    (10, 500, 100),                               # 10 % = 50 -> at least 100
    (30, 1000, 300), (100, 1000, 1000), (50, 150, 100),
])
def test_num_feasible_nodes_to_find(percentage, nodes, expected):
    assert num_feasible_nodes_to_find(percentage, nodes) == expected


class Count(FilterPlugin):
    """Lets every node through, recording the order in which nodes were examined."""

    name = "Count"

    def __init__(self, reject: set[str] = frozenset()) -> None:
        self.seen: list[str] = []
        self.reject = reject

    def filter(self, state, pod, node):
        self.seen.append(node.name)
        return Status(Code.UNSCHEDULABLE, "no") if node.name in self.reject else None


def _nodes(n: int) -> list[NodeInfo]:
    return [NodeInfo(make_node(f"n{i}")) for i in range(n)]


def test_search_stops_after_enough_feasible_nodes_and_resumes_round_robin():
    nodes = _nodes(1000)
    counter = Count()
    fwk = Framework([counter, NodeResourcesFit()])  # a score plugin, so it looks for 420 nodes
    algo = Algorithm(rng=random.Random(1))
    result = algo.schedule_pod(fwk, CycleState(), PodInfo(make_pod()), nodes)
    assert result.feasible_nodes == 420 and result.evaluated_nodes == 420
    assert counter.seen == [f"n{i}" for i in range(420)]
    assert algo.next_start_node_index == 420
    counter.seen.clear()
    algo.schedule_pod(fwk, CycleState(), PodInfo(make_pod()), nodes)
    assert counter.seen[0] == "n420" and counter.seen[-1] == "n839"
    counter.seen.clear()
    algo.schedule_pod(fwk, CycleState(), PodInfo(make_pod()), nodes)
    assert counter.seen[0] == "n840" and counter.seen[-1] == "n259"  # wraps around
    assert algo.next_start_node_index == 260


def test_rejected_nodes_count_as_examined_for_the_next_start():
    nodes = _nodes(200)
    counter = Count(reject={f"n{i}" for i in range(50)})
    algo = Algorithm()
    result = algo.schedule_pod(Framework([counter, NodeResourcesFit()]), CycleState(), PodInfo(make_pod()), nodes)
    assert result.feasible_nodes == 100 and result.evaluated_nodes == 150
    assert algo.next_start_node_index == 150


def test_without_score_plugins_the_first_feasible_node_wins():
    counter = Count(reject={"n0"})
    algo = Algorithm()
    result = algo.schedule_pod(Framework([counter]), CycleState(), PodInfo(make_pod()), _nodes(10))
    assert result.suggested_host == "n1" and counter.seen == ["n0", "n1"]


def test_select_host_picks_the_best_and_breaks_ties_evenly():
    nodes = [NodeInfo(make_node(n)) for n in "abcde"]
    totals = [10, 30, 30, 5, 30]
    rng = random.Random(7)
    picks = Counter(select_host(nodes, totals, rng) for _ in range(3000))
    assert set(picks) == {"b", "c", "e"}
    assert all(800 < picks[n] < 1200 for n in "bce")
    assert select_host(nodes, [0, 0, 0, 0, 1], rng) == "e"


def test_no_nodes_at_all():
    with pytest.raises(NoNodesAvailable, match="no nodes available to schedule pods"):
        Algorithm().schedule_pod(default_framework(), CycleState(), PodInfo(make_pod()), [])


def test_a_filter_error_aborts_the_cycle():
    fwk = Framework([type("Broken", (FilterPlugin,), {"name": "Broken",
                                                      "filter": lambda self, s, p, n: Status(Code.ERROR, "boom")})()])
    with pytest.raises(SchedulingError, match="boom"):
        Algorithm().schedule_pod(fwk, CycleState(), PodInfo(make_pod()), _nodes(3))


def test_default_profile_failure_message_matches_kube_scheduler():
    nodes = [node_info(make_node("cp", taints=[taint("node-role.kubernetes.io/control-plane")])),
             node_info(make_node("n1", memory="1Gi")), node_info(make_node("n2", memory="1Gi"))]
    with pytest.raises(FitError) as info:
        Algorithm().schedule_pod(default_framework(), CycleState(), PodInfo(make_pod(memory="2Gi")), nodes)
    assert str(info.value) == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                               "{node-role.kubernetes.io/control-plane: }, 2 Insufficient memory.")
    assert info.value.diagnosis.unschedulable_plugins == {"TaintToleration", "NodeResourcesFit"}


def test_default_profile_prefers_the_least_allocated_node():
    nodes = [node_info(make_node("busy"), make_pod("x", cpu="3", memory="6Gi")), node_info(make_node("idle"))]
    result = Algorithm().schedule_pod(default_framework(), CycleState(), PodInfo(make_pod(cpu="100m")), nodes)
    assert result.suggested_host == "idle" and result.feasible_nodes == 2


def test_default_profile_honours_node_selector_and_reports_it():
    nodes = [NodeInfo(make_node("a", labels={"disk": "hdd"})), NodeInfo(make_node("b", labels={"disk": "ssd"}))]
    pod = PodInfo(make_pod(nodeSelector={"disk": "ssd"}))
    assert Algorithm().schedule_pod(default_framework(), CycleState(), pod, nodes).suggested_host == "b"
    with pytest.raises(FitError) as info:
        Algorithm().schedule_pod(default_framework(), CycleState(), PodInfo(make_pod(nodeSelector={"disk": "nvme"})),
                                 nodes)
    assert str(info.value) == "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."


def test_pinned_node_names_report_the_others_as_not_satisfying_the_plugin():
    nodes = [NodeInfo(make_node("a", cpu="1")), NodeInfo(make_node("b")), NodeInfo(make_node("c"))]
    pod = PodInfo(make_pod(cpu="2", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]}]}}}))
    with pytest.raises(FitError) as info:
        Algorithm().schedule_pod(default_framework(), CycleState(), pod, nodes)
    assert str(info.value) == ("0/3 nodes are available: 1 Insufficient cpu, "
                               "2 node(s) didn't satisfy plugin(s) [NodeAffinity].")
