"""TaintToleration: NoSchedule/NoExecute taints a pod does not tolerate keep it off a node;
untolerated PreferNoSchedule taints lower the node's score.

Guarantees: the filter's reason names the first untolerated taint in the node's order, as
kube-scheduler's "node(s) had untolerated taint {key: value}". The score counts the node's
untolerated PreferNoSchedule taints (against tolerations with effect PreferNoSchedule or none)
and is normalized reversed, so the node with the fewest gets 100.
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
    NodeScore,
    PodInfo,
    PreScorePlugin,
    ScorePlugin,
    Status,
    default_normalize_score,
)
from services.scheduler.util.taints import DO_NOT_SCHEDULE, PREFER_NO_SCHEDULE, find_untolerated_taint, tolerated

PRE_SCORE_STATE_KEY = "PreScoreTaintToleration"


class TaintToleration(FilterPlugin, PreScorePlugin, ScorePlugin):
    name = "TaintToleration"
    default_normalize_reverse = True  # normalize_score below, applied by the framework on integers

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_TAINT)]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.no_schedule_taints:
            return None
        taint = find_untolerated_taint(node.no_schedule_taints, pod.spec.get("tolerations") or [], DO_NOT_SCHEDULE)
        if taint is None:
            return None
        reason = f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reason)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        tolerations = [t for t in pod.spec.get("tolerations") or []
                       if (t.get("effect") or PREFER_NO_SCHEDULE) == PREFER_NO_SCHEDULE]
        state.write(PRE_SCORE_STATE_KEY, tolerations)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status | None]:
        if not node.taints:
            return 0, None
        tolerations = state.read(PRE_SCORE_STATE_KEY)
        count = sum(1 for taint in node.taints
                    if taint.get("effect") == PREFER_NO_SCHEDULE and not tolerated(taint, tolerations))
        return count, None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        return [self.score(state, pod, node)[0] if node.taints else 0 for node in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status | None:
        default_normalize_score(MAX_NODE_SCORE, True, scores)
        return None
