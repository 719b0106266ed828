"""One scheduling decision, as kube-scheduler's schedulePod: filter, score, select.

Guarantees:
- Filtering starts at a round-robin index that advances by the number of nodes examined, so
  across cycles every node gets its turn, and stops once `num_feasible_nodes_to_find` nodes
  passed: all nodes below 100; else percentageOfNodesToScore of them (0 means adaptive:
  50 - nodes/125 percent, at least 5 %), and never fewer than 100.
- A node with pods nominated to it (by preemption) of equal or higher priority than the pod is
  filtered as if they ran there (on a copy), so the room preemption freed stays reserved for
  them; the feasible list and scoring still use the node as it is (as kube-scheduler does).
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
    PodInfo,
    Status,
)
from services.scheduler.framework.runtime import add_ge_nominated_pods

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


def select_host(nodes: list[NodeInfo], totals: list[int], rng: random.Random) -> str:
    """The node with the highest total score; among equals, each equally likely (as selectHost)."""
    best = max(totals)
    ties = totals.count(best)
    index = totals.index(best)
    for _ in range(rng.randrange(ties)):  # the k-th of the tied nodes, k uniform
        index = totals.index(best, index + 1)
    return nodes[index].name


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
        totals = self.prioritize_nodes(fwk, state, pod, feasible)
        return ScheduleResult(select_host(feasible, totals, self.rng), evaluated, len(feasible))

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
        statuses = diagnosis.node_to_status
        nominated = fwk.nominated_pods()
        feasible: list[NodeInfo] = []
        wanted = to_find
        for node in itertools.chain(nodes[start:], nodes[:start]) if start < count else nodes:
            # Framework.run_filter_plugins_with_nominated_pods, inlined: this loop runs for hundreds
            # of nodes per pod, and a node nobody is nominated to costs one dict lookup.
            info = node
            if nominated and (on_node := nominated.get(node.name)) is not None:
                info = add_ge_nominated_pods(pod, node, on_node.values())
            for name, filter_fn in filters:
                status = filter_fn(state, pod, info)
                if status is not None and status.code != Code.SUCCESS:
                    break
            else:
                feasible.append(node)
                wanted -= 1
                if not wanted:
                    break
                continue
            status.plugin = name
            if not status.is_rejected():
                return feasible, Status(Code.ERROR, f'running "{name}" filter plugin: {status.message()}',
                                        plugin=name, error=status.error)
            statuses[node.name] = status
            diagnosis.add_plugin_status(status)
        return feasible, None

    def _percentage(self, fwk: Framework) -> int:
        if fwk.percentage_of_nodes_to_score is not None:
            return fwk.percentage_of_nodes_to_score
        return self.percentage_of_nodes_to_score

    def prioritize_nodes(self, fwk: Framework, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """Each node's total score, in the order of `nodes`."""
        if not fwk.has_score_plugins():
            return [1] * len(nodes)
        status = fwk.run_pre_score_plugins(state, pod, nodes)
        if status is not None:
            raise SchedulingError(status)
        totals, status = fwk.run_score_plugins(state, pod, nodes)
        if status is not None:
            raise SchedulingError(status)
        return totals
