"""NodeName: a pod that names a node (`spec.nodeName`) fits only that node."""

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

ERR_REASON = "node(s) didn't match the requested node name"


class NodeName(FilterPlugin):
    name = "NodeName"

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Node", ActionType.ADD)]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        wanted = pod.node_name
        if not wanted or wanted == node.name:
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON)
