"""kube-scheduler's scheduling framework, smaller: statuses, cycle state, plugin interfaces, runtime."""

from services.scheduler.framework.cycle_state import CycleState
from services.scheduler.framework.fit_error import Diagnosis, FitError
from services.scheduler.framework.interface import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    BindPlugin,
    FilterPlugin,
    NodeScore,
    Plugin,
    PostFilterPlugin,
    PostFilterResult,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    ScoreError,
    ScorePlugin,
    default_normalize_score,
    default_normalize_values,
)
from services.scheduler.framework.runtime import Framework
from services.scheduler.framework.status import Code, Status, code_of, is_success
from services.scheduler.framework.types import (
    ActionType,
    ClusterEvent,
    NodeInfo,
    PodInfo,
    node_update_event,
    pod_key,
)

__all__ = [
    "ActionType", "BindPlugin", "ClusterEvent", "Code", "CycleState", "Diagnosis", "FilterPlugin", "FitError",
    "Framework", "MAX_NODE_SCORE", "MIN_NODE_SCORE", "NodeInfo", "NodeScore", "Plugin",
    "PodInfo", "PostFilterPlugin", "PostFilterResult", "PreFilterPlugin", "PreFilterResult", "PreScorePlugin",
    "ScoreError", "ScorePlugin", "Status", "code_of", "default_normalize_score", "default_normalize_values",
    "is_success", "node_update_event", "pod_key",
]
