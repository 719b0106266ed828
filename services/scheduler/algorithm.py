"""One scheduling decision, as kube-scheduler's schedulePod: filter, score, select.

Guarantees:
- Filtering starts at a round-robin index that advances by the number of nodes examined, so
  across cycles every node gets its turn, and stops once `num_feasible_nodes_to_find` nodes
  passed: all nodes below 100; else percentageOfNodesToScore of them (0 means adaptive:
  50 - nodes/125 percent, at least 5 %), and never fewer than 100.
- With no feasible node, `FitError` carries the status of every node examined (its str is
  kube-scheduler's "0/N nodes are available: ..." message). With no nodes at all,
  `NoNodesAvailable`. A plugin error raises `SchedulingError`.
- One feasible node is chosen without scoring; otherwise the highest total score wins and ties
  are broken uniformly at random.
- The decision is synchronous: it reads the cache without yielding to the event loop, so it sees
  one consistent state (what kube-scheduler's per-cycle snapshot gives it).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from services.scheduler.framework import (
    Code,
    CycleState,
    Diagnosis,
    FitError,
    Framework,
    NodeInfo,
    NodePluginScores,
    PodInfo,
    Status,
)

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


class NoNodesAvailable(Exception):
    def __str__(self) -> str:
        return "no nodes available to schedule pods"


class SchedulingError(Exception):
    def __init__(self, status: Status) -> None:
        super().__init__(status.message())
        self.status = status


@dataclass(slots=True)
class ScheduleResult:
    suggested_host: str
    evaluated_nodes: int
    feasible_nodes: int


def num_feasible_nodes_to_find(percentage_of_nodes_to_score: int, num_all_nodes: int) -> int:
    """kube-scheduler's numFeasibleNodesToFind."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    percentage = percentage_of_nodes_to_score
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    num_nodes = num_all_nodes * percentage // 100
    return max(num_nodes, MIN_FEASIBLE_NODES_TO_FIND)


def select_host(scores: list[NodePluginScores], rng: random.Random) -> str:
    """The node with the highest total score; among equals, each equally likely."""
    best, best_score, ties = "", -1, 0
    for node in scores:
        if node.total_score > best_score:
            best, best_score, ties = node.name, node.total_score, 1
        elif node.total_score == best_score:
            ties += 1
            if rng.random() * ties < 1:  # reservoir sampling (p = 1/ties), as kube-scheduler's selectHost
                best = node.name
    return best


class Algorithm:
    def __init__(self, *, percentage_of_nodes_to_score: int = 0, rng: random.Random | None = None) -> None:
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.next_start_node_index = 0
        self.rng = rng or random.Random()

    def schedule_pod(self, fwk: Framework, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> ScheduleResult:
        if not nodes:
            raise NoNodesAvailable()
        feasible, diagnosis = self.find_nodes_that_fit_pod(fwk, state, pod, nodes)
        if not feasible:
            raise FitError(pod.key, len(nodes), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        scores = self.prioritize_nodes(fwk, state, pod, feasible)
        return ScheduleResult(select_host(scores, self.rng), evaluated, len(feasible))

    def find_nodes_that_fit_pod(self, fwk: Framework, state: CycleState, pod: PodInfo,
                                nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        result, status, rejected_by = fwk.run_pre_filter_plugins(state, pod, nodes)
        diagnosis.unschedulable_plugins |= rejected_by
        if status is not None and not status.is_success():
            if not status.is_rejected():
                raise SchedulingError(status)
            diagnosis.absent_nodes_status = status
            diagnosis.pre_filter_msg = status.message()
            return [], diagnosis
        candidates = nodes
        if result is not None and not result.all_nodes():
            candidates = [n for n in nodes if n.name in result.node_names]
            diagnosis.absent_nodes_status = Status(
                Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(diagnosis.unschedulable_plugins))}]")
        feasible, error = self._find_nodes_that_pass_filters(fwk, state, pod, diagnosis, candidates)
        # Advance even after an error, so that every node keeps its chance to be examined.
        processed = len(feasible) + len(diagnosis.node_to_status)
        self.next_start_node_index = (self.next_start_node_index + processed) % len(nodes)
        if error is not None:
            raise SchedulingError(error)
        return feasible, diagnosis

    def _find_nodes_that_pass_filters(self, fwk: Framework, state: CycleState, pod: PodInfo, diagnosis: Diagnosis,
                                      nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Status | None]:
        count = len(nodes)
        if count == 0:
            return [], None
        to_find = num_feasible_nodes_to_find(self._percentage(fwk), count)
        if not fwk.has_score_plugins():
            to_find = 1
        start = self.next_start_node_index
        if not fwk.has_filter_plugins():
            return [nodes[(start + i) % count] for i in range(to_find)], None
        filters = fwk.filters_for_cycle(state)
        run_filters = fwk.run_filter_plugins
        statuses = diagnosis.node_to_status
        feasible: list[NodeInfo] = []
        for node in itertools.chain(nodes[start:], nodes[:start]) if start < count else nodes:
            status = run_filters(state, pod, node, filters)
            if status is None:
                feasible.append(node)
                if len(feasible) >= to_find:
                    break
            elif status.code == Code.ERROR:
                return feasible, status
            else:
                statuses[node.name] = status
                diagnosis.add_plugin_status(status)
        return feasible, None

    def _percentage(self, fwk: Framework) -> int:
        if fwk.percentage_of_nodes_to_score is not None:
            return fwk.percentage_of_nodes_to_score
        return self.percentage_of_nodes_to_score

    def prioritize_nodes(self, fwk: Framework, state: CycleState, pod: PodInfo,
                         nodes: list[NodeInfo]) -> list[NodePluginScores]:
        if not fwk.has_score_plugins():
            return [NodePluginScores(n.name, 1) for n in nodes]
        status = fwk.run_pre_score_plugins(state, pod, nodes)
        if status is not None:
            raise SchedulingError(status)
        scores, status = fwk.run_score_plugins(state, pod, nodes)
        if status is not None:
            raise SchedulingError(status)
        return scores
