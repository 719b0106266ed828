"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in equal
proportion once the pod is placed.

Guarantees: with the fractions f = requested / allocatable (capped at 1) of cpu and memory,
counting the pod's actual requests and those already on the node, the score is
int((1 - |f_cpu - f_mem| / 2) * 100) — kube-scheduler's balancedResourceScorer for two resources
(the standard deviation for more). A resource the node has none of is left out. A pod that
requests neither cpu nor memory (best effort) is not scored by this plugin (PreScore Skip),
so such pods do not all pile onto one node (kubernetes#129138).
"""

from __future__ import annotations

import math

from services.scheduler.framework import (
    MAX_NODE_SCORE,
    ActionType,
    ClusterEvent,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    PreScorePlugin,
    ScorePlugin,
    Status,
)


def balanced_resource_score(fractions: list[float]) -> int:
    fractions = [min(f, 1.0) for f in fractions]
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation(PreScorePlugin, ScorePlugin):
    name = "NodeResourcesBalancedAllocation"

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Pod", ActionType.DELETE),
                ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE)]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if pod.requests.milli_cpu == 0 and pod.requests.memory == 0:
            return Status(Code.SKIP)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status | None]:
        alloc, used, req = node.allocatable, node.requested, pod.requests
        if alloc.milli_cpu and alloc.memory:  # the usual case, without building a list
            cpu = min((used.milli_cpu + req.milli_cpu) / alloc.milli_cpu, 1.0)
            memory = min((used.memory + req.memory) / alloc.memory, 1.0)
            return int((1 - abs(cpu - memory) / 2) * MAX_NODE_SCORE), None
        fractions = []
        if alloc.milli_cpu:
            fractions.append((used.milli_cpu + req.milli_cpu) / alloc.milli_cpu)
        if alloc.memory:
            fractions.append((used.memory + req.memory) / alloc.memory)
        return balanced_resource_score(fractions), None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        req_cpu, req_mem = pod.requests.milli_cpu, pod.requests.memory
        out = []
        for node in nodes:  # `score`, inlined for the usual node with both resources
            alloc, used = node.allocatable, node.requested
            if not (alloc.milli_cpu and alloc.memory):
                out.append(self.score(state, pod, node)[0])
                continue
            cpu = (used.milli_cpu + req_cpu) / alloc.milli_cpu
            memory = (used.memory + req_mem) / alloc.memory
            cpu, memory = (cpu if cpu < 1.0 else 1.0), (memory if memory < 1.0 else 1.0)
            out.append(int((1 - abs(cpu - memory) / 2) * MAX_NODE_SCORE))
        return out
