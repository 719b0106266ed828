"""The plugin extension points (kube-scheduler's framework interfaces), as small base classes.

Guarantees: a plugin is an object with a `name` that subclasses the extension points it
implements; the framework finds them with isinstance. Every method gets the cycle's
`CycleState` and the pod's `PodInfo`. Success is `None`; failures are a `Status`.

- PreFilter: once per cycle, before any Filter; may narrow the nodes (PreFilterResult), reject
  the pod outright, or return Skip so its Filter is not called this cycle.
- Filter: once per node, in the profile's order; the first rejection decides the node's status.
- PostFilter: only when no node passed (preemption's place); optional.
- PreScore/Score/NormalizeScore: only on the nodes that passed (Score through `score_nodes`,
  one call per cycle, which plugins may specialise for speed); scores end in [0, 100] after
  NormalizeScore and are multiplied by the plugin's weight.
- Bind: async; returns Skip to let the next bind plugin handle the pod.
- `events_to_register` (EnqueueExtensions): the cluster events after which a pod this plugin
  rejected may fit, so the queue retries it only then.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.scheduler.framework.cycle_state import CycleState
from services.scheduler.framework.status import Status
from services.scheduler.framework.types import ClusterEvent, NodeInfo, PodInfo

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class ScoreError(Exception):
    """A Score plugin failed for some node (raised by `score_nodes`)."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.message())
        self.status = status


class Plugin:
    name: str = ""

    def events_to_register(self) -> list[ClusterEvent]:
        return []


@dataclass(slots=True)
class PreFilterResult:
    """The nodes a PreFilter allows; None means all of them."""

    node_names: set[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.all_nodes():
            return self
        if self.all_nodes():
            return PreFilterResult(set(other.node_names))
        return PreFilterResult(self.node_names & other.node_names)


class NodeScore:
    __slots__ = ("name", "score")

    def __init__(self, name: str, score: int) -> None:
        self.name = name
        self.score = score

    def __repr__(self) -> str:
        return f"NodeScore({self.name}, {self.score})"


class PreFilterPlugin(Plugin):
    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        raise NotImplementedError


class FilterPlugin(Plugin):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        raise NotImplementedError


@dataclass(slots=True)
class PostFilterResult:
    nominated_node_name: str = ""


class PostFilterPlugin(Plugin):
    def post_filter(self, state: CycleState, pod: PodInfo,
                    node_to_status: dict[str, Status]) -> tuple[PostFilterResult | None, Status | None]:
        raise NotImplementedError


class PreScorePlugin(Plugin):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        raise NotImplementedError


class ScorePlugin(Plugin):
    # When NormalizeScore is exactly helper.DefaultNormalizeScore, say so (False: as is, True: reversed)
    # and the framework applies it to plain integers, without building a NodeScore per node.
    default_normalize_reverse: bool | None = None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status | None]:
        raise NotImplementedError

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """`score` for each node, in order (what the framework calls). A plugin may override it with
        an equivalent loop that avoids a method call per node; a failing `score` raises ScoreError."""
        out = []
        for node in nodes:
            value, status = self.score(state, pod, node)
            if status is not None and not status.is_success():
                raise ScoreError(status)
            out.append(value)
        return out

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status | None:
        """ScoreExtensions.NormalizeScore; the default leaves scores as they are."""
        return None


class BindPlugin(Plugin):
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        raise NotImplementedError


def default_normalize_values(max_priority: int, reverse: bool, scores: list[int]) -> list[int]:
    """`default_normalize_score` on plain integers (same arithmetic)."""
    max_count = max(scores, default=0)
    if max_count == 0:
        return [max_priority] * len(scores) if reverse else list(scores)
    if reverse:
        return [max_priority - max_priority * s // max_count for s in scores]
    return [max_priority * s // max_count for s in scores]


def default_normalize_score(max_priority: int, reverse: bool, scores: list[NodeScore]) -> None:
    """kube-scheduler's helper.DefaultNormalizeScore: scale to [0, max_priority], optionally reversed."""
    max_count = max((s.score for s in scores), default=0)
    if max_count == 0:
        if reverse:
            for s in scores:
                s.score = max_priority
        return
    for s in scores:
        score = max_priority * s.score // max_count
        s.score = max_priority - score if reverse else score
