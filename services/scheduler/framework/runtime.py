"""Runs a profile's plugins at each extension point (kube-scheduler's frameworkruntime).

Guarantees:
- PreFilter plugins run in order; Skip marks the plugin's Filter as not to run this cycle; the
  first rejection ends PreFilter with that status; node sets from PreFilterResults intersect,
  and an empty intersection rejects the pod as kube-scheduler does.
- Filter plugins run in profile order and the first non-success decides; a status that is
  neither success nor a rejection becomes an Error status naming the plugin.
- With nominated pods (RunFilterPluginsWithNominatedPods): the filters see the node with the pods
  nominated to it of equal or higher priority than the pod (not the pod itself) added, on a copy.
  kube-scheduler then filters again without them, which only matters for plugins a nominated pod
  can help: InterPodAffinity does that second pass itself on the copy it is given, so the
  framework does not. No PreFilterExtensions.AddPod/RemovePod either: the plugins with per-cycle
  counts of other pods (PodTopologySpread, InterPodAffinity) recount a node copy instead.
- Score: every non-skipped score plugin scores every node, normalizes, and each score must then
  lie in [0, 100] (else an Error); the total is the sum of score x weight.
- Bind plugins run in order until one does not return Skip.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from services.scheduler.framework.cycle_state import CycleState
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
    default_normalize_values,
)
from services.scheduler.framework.status import Code, Status
from services.scheduler.framework.types import ClusterEvent, NodeInfo, PodInfo

if TYPE_CHECKING:
    from services.scheduler.nominator import PodNominator

FilterFn = Callable[[CycleState, PodInfo, NodeInfo], "Status | None"]


def add_ge_nominated_pods(pod: PodInfo, node: NodeInfo, nominated: Iterable[PodInfo]) -> NodeInfo:
    """`node`, or a copy of it with those `nominated` pods of priority >= `pod`'s added (addGENominatedPods)."""
    priority = pod.priority
    added = [p for p in nominated if p.priority >= priority and p.key != pod.key]
    if not added:
        return node
    copy = node.clone()
    for pod_info in added:
        copy.add_pod(pod_info)
    return copy


class Framework:
    def __init__(self, plugins: Sequence[Plugin], *, score_weights: dict[str, int] | None = None,
                 profile_name: str = "default-scheduler",
                 percentage_of_nodes_to_score: int | None = None) -> None:
        self.profile_name = profile_name
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.plugins = list(plugins)
        self.pre_filter_plugins = [p for p in plugins if isinstance(p, PreFilterPlugin)]
        self.filter_plugins = [p for p in plugins if isinstance(p, FilterPlugin)]
        self.post_filter_plugins = [p for p in plugins if isinstance(p, PostFilterPlugin)]
        self.pre_score_plugins = [p for p in plugins if isinstance(p, PreScorePlugin)]
        self.score_plugins = [p for p in plugins if isinstance(p, ScorePlugin)]
        self.bind_plugins = [p for p in plugins if isinstance(p, BindPlugin)]
        # The Handle's PodNominator (the scheduling queue's), set by whoever wires the scheduler.
        self.pod_nominator: PodNominator | None = None
        weights = score_weights or {}
        self.score_weights = {p.name: weights.get(p.name, 1) for p in self.score_plugins}

    def has_score_plugins(self) -> bool:
        return bool(self.score_plugins)

    def has_filter_plugins(self) -> bool:
        return bool(self.filter_plugins)

    def events_to_register(self) -> list[tuple[ClusterEvent, str]]:
        """(event, plugin name) for every event some plugin wants pods it rejected retried on."""
        return [(event, p.name) for p in self.plugins for event in p.events_to_register()]

    def run_pre_filter_plugins(self, state: CycleState, pod: PodInfo,
                               nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None, set[str]]:
        result: PreFilterResult | None = None
        narrowed_by: list[str] = []
        for plugin in self.pre_filter_plugins:
            plugin_result, status = plugin.pre_filter(state, pod, nodes)
            if status is not None and status.code == Code.SKIP:
                state.skip_filter_plugins.add(plugin.name)
                continue
            if status is not None and not status.is_success():
                status.plugin = plugin.name
                if status.is_rejected():
                    return None, status, {plugin.name}
                return None, _as_error(f'running PreFilter plugin "{plugin.name}"', status, plugin.name), set()
            if plugin_result is not None and not plugin_result.all_nodes():
                narrowed_by.append(plugin.name)
                result = plugin_result if result is None else result.merge(plugin_result)
                if not result.node_names:
                    return result, _no_nodes_status(narrowed_by), set(narrowed_by)
        return result, None, set(narrowed_by)

    def filters_for_cycle(self, state: CycleState) -> list[tuple[str, FilterFn]]:
        """The Filter methods to run this cycle (those not skipped at PreFilter), in order."""
        return [(p.name, p.filter) for p in self.filter_plugins if p.name not in state.skip_filter_plugins]

    def run_filter_plugins(self, state: CycleState, pod: PodInfo, node: NodeInfo,
                           filters: list[tuple[str, FilterFn]] | None = None) -> Status | None:
        for name, filter_fn in filters if filters is not None else self.filters_for_cycle(state):
            status = filter_fn(state, pod, node)
            if status is not None and status.code != Code.SUCCESS:
                status.plugin = name
                if not status.is_rejected():
                    return _as_error(f'running "{name}" filter plugin', status, name)
                return status
        return None

    def nominated_pods(self) -> dict[str, dict[str, PodInfo]]:
        """node name -> the pods nominated to it (empty without a nominator)."""
        return self.pod_nominator.nominated_pods if self.pod_nominator is not None else {}

    def run_filter_plugins_with_nominated_pods(self, state: CycleState, pod: PodInfo, node: NodeInfo,
                                               filters: list[tuple[str, FilterFn]] | None = None) -> Status | None:
        if (nominated := self.nominated_pods().get(node.name)) is not None:
            node = add_ge_nominated_pods(pod, node, nominated.values())
        return self.run_filter_plugins(state, pod, node, filters)

    def run_post_filter_plugins(self, state: CycleState, pod: PodInfo,
                                node_to_status: dict[str, Status]) -> tuple[PostFilterResult | None, Status]:
        reasons: list[str] = []
        for plugin in self.post_filter_plugins:
            result, status = plugin.post_filter(state, pod, node_to_status)
            if status is None or status.is_success():
                return result, Status(Code.SUCCESS, plugin=plugin.name)
            if not status.is_rejected():
                return None, _as_error(f'running PostFilter plugin "{plugin.name}"', status, plugin.name)
            reasons.extend(status.reasons)
        return None, Status(Code.UNSCHEDULABLE, *reasons)

    def run_pre_score_plugins(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        for plugin in self.pre_score_plugins:
            status = plugin.pre_score(state, pod, nodes)
            if status is not None and status.code == Code.SKIP:
                state.skip_score_plugins.add(plugin.name)
            elif status is not None and not status.is_success():
                return _as_error(f'running PreScore plugin "{plugin.name}"', status, plugin.name)
        return None

    def run_score_plugins(self, state: CycleState, pod: PodInfo,
                          nodes: list[NodeInfo]) -> tuple[list[int], Status | None]:
        """Each node's total weighted score, in the order of `nodes`."""
        totals = [0] * len(nodes)
        for plugin in self.score_plugins:
            if plugin.name in state.skip_score_plugins:
                continue
            scores, status = self._score_with(plugin, state, pod, nodes)
            if status is not None:
                return [], status
            weight = self.score_weights[plugin.name]
            if weight == 1:
                totals = list(map(operator.add, totals, scores))
            else:
                totals = [total + score * weight for total, score in zip(totals, scores)]
        return totals, None

    def _score_with(self, plugin: ScorePlugin, state: CycleState, pod: PodInfo,
                    nodes: list[NodeInfo]) -> tuple[list[int], Status | None]:
        try:
            scores = plugin.score_nodes(state, pod, nodes)
        except ScoreError as err:
            return [], _as_error(f'running Score plugin "{plugin.name}"', err.status, plugin.name)
        if plugin.default_normalize_reverse is not None:
            scores = default_normalize_values(MAX_NODE_SCORE, plugin.default_normalize_reverse, scores)
        elif type(plugin).normalize_score is not ScorePlugin.normalize_score:
            node_scores = [NodeScore(node.name, value) for node, value in zip(nodes, scores)]
            status = plugin.normalize_score(state, pod, node_scores)
            if status is not None and not status.is_success():
                return [], _as_error(f'running Normalize on Score plugins "{plugin.name}"', status, plugin.name)
            scores = [s.score for s in node_scores]
        if scores and (min(scores) < MIN_NODE_SCORE or max(scores) > MAX_NODE_SCORE):
            bad = next(s for s in scores if not MIN_NODE_SCORE <= s <= MAX_NODE_SCORE)
            return [], Status(Code.ERROR, f'plugin "{plugin.name}" returns an invalid score {bad}, '
                              f"it should in the range of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing",
                              plugin=plugin.name)
        return scores, None

    async def run_bind_plugins(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        if not self.bind_plugins:
            return Status(Code.SKIP)
        for plugin in self.bind_plugins:
            status = await plugin.bind(state, pod, node_name)
            if status is not None and status.code == Code.SKIP:
                continue
            if status is not None and not status.is_success():
                status.plugin = plugin.name
                if status.is_rejected():
                    return status
                return _as_error(f'running Bind plugin "{plugin.name}"', status, plugin.name)
            return Status(Code.SUCCESS, plugin=plugin.name)
        return Status(Code.SKIP)


def _as_error(context: str, status: Status, plugin: str) -> Status:
    return Status(Code.ERROR, f"{context}: {status.message()}", plugin=plugin, error=status.error)


def _no_nodes_status(narrowed_by: list[str]) -> Status:
    if len(narrowed_by) == 1:
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"node(s) didn't satisfy plugin {narrowed_by[0]}")
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                  f"node(s) didn't satisfy plugin(s) [{' '.join(narrowed_by)}] simultaneously")
