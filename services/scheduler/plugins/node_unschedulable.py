"""NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods that tolerate
the `node.kubernetes.io/unschedulable:NoSchedule` taint."""

from __future__ import annotations

from services.scheduler.framework import (
    ActionType,
    ClusterEvent,
    Code,
    CycleState,
    FilterPlugin,
    NodeInfo,
    PodInfo,
    Status,
)
from services.scheduler.util.taints import NO_SCHEDULE, UNSCHEDULABLE_TAINT_KEY, tolerated

ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
_UNSCHEDULABLE_TAINT = {"key": UNSCHEDULABLE_TAINT_KEY, "effect": NO_SCHEDULE}


class NodeUnschedulable(FilterPlugin):
    name = "NodeUnschedulable"

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_TAINT)]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable:
            return None
        if tolerated(_UNSCHEDULABLE_TAINT, pod.spec.get("tolerations") or []):
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNSCHEDULABLE)
