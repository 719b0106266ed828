"""NodeResourcesFit: a pod fits a node only if its requests fit in what the node has left;
scored by the LeastAllocated strategy (the plugin once called NodeResourcesLeastAllocated).

Guarantees:
- Filter compares the pod's requests (app containers' sum raised to the largest init
  container's, plus overhead: see util.resources) with allocatable minus the requests of the
  pods already counted on the node (bound and assumed). Each shortfall is its own reason, as
  kube-scheduler words them: "Too many pods", "Insufficient cpu", "Insufficient memory",
  "Insufficient ephemeral-storage", "Insufficient <extended resource>".
- A resource the pod does not request is never insufficient; a node is always checked for its
  pod count.
- LeastAllocated score per resource: (allocatable - requested) * 100 / allocatable, integer
  arithmetic, with non-zero requests (100m cpu / 200Mi memory for a container that names none),
  averaged by resource weight (cpu 1, memory 1).
"""

from __future__ import annotations

from services.scheduler.framework import (
    MAX_NODE_SCORE,
    ActionType,
    ClusterEvent,
    Code,
    CycleState,
    FilterPlugin,
    NodeInfo,
    PodInfo,
    PreFilterPlugin,
    PreFilterResult,
    ScorePlugin,
    Status,
)
from services.scheduler.util.resources import Resource

PRE_FILTER_STATE_KEY = "PreFilterNodeResourcesFit"
LEAST_ALLOCATED, MOST_ALLOCATED = "LeastAllocated", "MostAllocated"


def insufficient_resources(request: Resource, node: NodeInfo) -> list[str]:
    """kube-scheduler's fitsRequest: the reasons `request` does not fit on `node`, if any."""
    reasons = []
    if len(node.pods) + 1 > node.allocatable.allowed_pod_number:
        reasons.append("Too many pods")
    if request.milli_cpu == 0 and request.memory == 0 and request.ephemeral_storage == 0 and not request.scalar:
        return reasons
    alloc, used = node.allocatable, node.requested
    if request.milli_cpu > 0 and request.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        reasons.append("Insufficient cpu")
    if request.memory > 0 and request.memory > alloc.memory - used.memory:
        reasons.append("Insufficient memory")
    if request.ephemeral_storage > 0 and request.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage:
        reasons.append("Insufficient ephemeral-storage")
    for name, amount in request.scalar.items():
        if amount > 0 and amount > alloc.scalar.get(name, 0) - used.scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    return min(requested, capacity) * MAX_NODE_SCORE // capacity


class NodeResourcesFit(PreFilterPlugin, FilterPlugin, ScorePlugin):
    name = "NodeResourcesFit"

    def __init__(self, *, scoring_strategy: str = LEAST_ALLOCATED, cpu_weight: int = 1, memory_weight: int = 1) -> None:
        if scoring_strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED):
            raise ValueError(f"unknown scoring strategy {scoring_strategy!r}")
        self._scorer = least_requested_score if scoring_strategy == LEAST_ALLOCATED else most_requested_score
        self._cpu_weight, self._memory_weight = cpu_weight, memory_weight

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Pod", ActionType.DELETE),
                ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE)]

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        state.write(PRE_FILTER_STATE_KEY, pod.requests)
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        try:
            request = state.read(PRE_FILTER_STATE_KEY)
        except KeyError:
            return Status(Code.ERROR, f'error reading "{PRE_FILTER_STATE_KEY}" from cycleState: not found')
        alloc, used = node.allocatable, node.requested
        if (len(node.pods) < alloc.allowed_pod_number and request.milli_cpu <= alloc.milli_cpu - used.milli_cpu
                and request.memory <= alloc.memory - used.memory
                and request.ephemeral_storage <= alloc.ephemeral_storage - used.ephemeral_storage
                and not request.scalar):
            return None  # the common case, decided without building a list of reasons
        reasons = insufficient_resources(request, node)
        if reasons:
            return Status(Code.UNSCHEDULABLE, *reasons)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status | None]:
        alloc, used, req = node.allocatable, node.non_zero_requested, pod.non_zero_requests
        scorer = self._scorer
        total = weights = 0
        if alloc.milli_cpu:
            total += scorer(used.milli_cpu + req.milli_cpu, alloc.milli_cpu) * self._cpu_weight
            weights += self._cpu_weight
        if alloc.memory:
            total += scorer(used.memory + req.memory, alloc.memory) * self._memory_weight
            weights += self._memory_weight
        return (total // weights if weights else 0), None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        if self._scorer is not least_requested_score or self._cpu_weight != self._memory_weight:
            return super().score_nodes(state, pod, nodes)
        # LeastAllocated over cpu and memory with equal weights, inlined (same arithmetic as `score`).
        req_cpu, req_mem = pod.non_zero_requests.milli_cpu, pod.non_zero_requests.memory
        out = []
        for node in nodes:
            alloc, used = node.allocatable, node.non_zero_requested
            cap_cpu, cap_mem = alloc.milli_cpu, alloc.memory
            if not (cap_cpu and cap_mem):
                out.append(self.score(state, pod, node)[0])
                continue
            cpu, mem = used.milli_cpu + req_cpu, used.memory + req_mem
            cpu_score = (cap_cpu - cpu) * MAX_NODE_SCORE // cap_cpu if cpu <= cap_cpu else 0
            mem_score = (cap_mem - mem) * MAX_NODE_SCORE // cap_mem if mem <= cap_mem else 0
            out.append((cpu_score + mem_score) // 2)
        return out
