"""PodTopologySpread: spread a pod's matching pods evenly over topology domains, as the pod's own
`spec.topologySpreadConstraints` ask (kube-scheduler 1.32's podtopologyspread plugin).

Guarantees:
- Only the pod's own constraints count. kube-scheduler's system default constraints (hostname
  maxSkew 3 and zone maxSkew 5, ScheduleAnyway, for pods a Service/ReplicaSet/StatefulSet selects)
  are NOT applied: a pod without constraints is left alone, and pays one dict lookup at PreFilter
  and one at PreScore (both return Skip).
- A constraint's selector is its labelSelector (none: matches no pod), with the pod's values of
  its `matchLabelKeys` ANDed in. Pods counted are those in the pod's namespace, not terminating
  (no deletionTimestamp), that the selector matches, on the nodes eligible for that constraint:
  nodes carrying every DoNotSchedule (resp. ScheduleAnyway) constraint's topologyKey and passing
  its inclusion policies — nodeAffinityPolicy (default Honor: the pod's nodeSelector and required
  node affinity must match the node) and nodeTaintsPolicy (default Ignore; Honor: no untolerated
  NoSchedule/NoExecute taint). A domain is one value of the topologyKey label on eligible nodes.
- Filter (DoNotSchedule): a node without a constraint's topologyKey is rejected
  UnschedulableAndUnresolvable, "node(s) didn't match pod topology spread constraints (missing
  required label)"; a node whose domain's count + 1 (if the pod matches the selector itself) minus
  the global minimum over the domains exceeds maxSkew is rejected Unschedulable (preemption may
  help), "node(s) didn't match pod topology spread constraints". The global minimum is 0 when
  there are fewer domains than minDomains (default 1).
- Counts are taken once at PreFilter over all nodes. When Filter is handed a copy of a node with
  other pods than PreFilter counted (nominated pods added, or preemption's victims removed), the
  node's domain count and the global minimum follow the difference, which is what
  kube-scheduler's PreFilterExtensions AddPod/RemovePod achieve: preemption can free a domain.
- Score (ScheduleAnyway): for each constraint, count x log(domains + 2) + (maxSkew - 1), summed and
  rounded (domains: of the topologyKey among the nodes that passed Filter, or their number for
  kubernetes.io/hostname); counts are over all eligible nodes. Nodes missing a topologyKey score
  0. NormalizeScore maps the lowest sum to 100: 100 * (max + min - s) / max.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.informer.selectors import Requirement, Selector, from_label_selector
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
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    ScorePlugin,
    Status,
)
from services.scheduler.util.nodeselector import matches_node_selector, matches_node_selector_terms
from services.scheduler.util import taints as taintutil

ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
PRE_FILTER_STATE_KEY = "PreFilterPodTopologySpread"
PRE_SCORE_STATE_KEY = "PreScorePodTopologySpread"
ALL_NODES_KEY = "AllNodesPodTopologySpread"
DO_NOT_SCHEDULE, SCHEDULE_ANYWAY = "DoNotSchedule", "ScheduleAnyway"
HONOR, IGNORE = "Honor", "Ignore"
LABEL_HOSTNAME = "kubernetes.io/hostname"
_NO_COUNT = 2**31 - 1  # criticalPaths' MatchNum before any domain is seen


@dataclass(slots=True)
class Constraint:
    """A topologySpreadConstraint with its selector parsed and defaults applied."""

    max_skew: int
    topology_key: str
    selector: Selector
    min_domains: int = 1
    node_affinity_policy: str = HONOR
    node_taints_policy: str = IGNORE
    self_match: int = 0  # 1 if the selector matches the pod being scheduled


def _labels(pod: dict) -> dict:
    return (pod.get("metadata") or {}).get("labels") or {}


def constraints_of(pod: PodInfo, action: str) -> list[Constraint]:
    """The pod's constraints with `whenUnsatisfiable == action` (filterTopologySpreadConstraints);
    a malformed labelSelector raises ValueError."""
    labels, out = _labels(pod.pod), []
    for c in pod.spec.get("topologySpreadConstraints") or ():
        if (c.get("whenUnsatisfiable") or DO_NOT_SCHEDULE) != action:
            continue
        selector = from_label_selector(c.get("labelSelector"))
        keys = [(k, labels[k]) for k in c.get("matchLabelKeys") or () if k in labels]
        if keys:  # mergeLabelSetWithSelector: a selector of nothing has no requirements to keep
            kept = () if selector.nothing else selector.requirements
            selector = Selector(tuple(Requirement(k, "in", frozenset([v])) for k, v in keys) + kept)
        out.append(Constraint(max_skew=c.get("maxSkew") or 1, topology_key=c.get("topologyKey") or "",
                              selector=selector, min_domains=c.get("minDomains") or 1,
                              node_affinity_policy=c.get("nodeAffinityPolicy") or HONOR,
                              node_taints_policy=c.get("nodeTaintsPolicy") or IGNORE,
                              self_match=int(selector.matches(labels))))
    return out


def _has_keys(labels: dict, constraints: list[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


def _node_affinity_matches(pod: PodInfo, node: NodeInfo) -> bool:
    """nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): nodeSelector and required terms."""
    selector = pod.spec.get("nodeSelector")
    if selector and not matches_node_selector(selector, node.labels):
        return False
    required = ((pod.spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return True
    return matches_node_selector_terms(required.get("nodeSelectorTerms") or [], node.labels, node.name)


def _eligible(c: Constraint, pod: PodInfo, node: NodeInfo, affinity_ok: bool) -> bool:
    """matchNodeInclusionPolicies."""
    if c.node_affinity_policy == HONOR and not affinity_ok:
        return False
    return c.node_taints_policy != HONOR or taintutil.find_untolerated_taint(
        node.no_schedule_taints, pod.spec.get("tolerations") or [], taintutil.DO_NOT_SCHEDULE) is None


def count_matching(pods: Iterable[PodInfo], selector: Selector, namespace: str) -> int:
    """countPodsMatchSelector: pods of `namespace`, not terminating, whose labels `selector` matches."""
    count = 0
    for info in pods:
        meta = info.pod.get("metadata") or {}
        if meta.get("namespace") == namespace and not meta.get("deletionTimestamp") and selector.matches(
                meta.get("labels") or {}):
            count += 1
    return count


def _namespace(pod: PodInfo) -> str:
    return (pod.pod.get("metadata") or {}).get("namespace", "")


@dataclass(slots=True)
class PreFilterState:
    constraints: list[Constraint]
    counts: list[dict[str, int]]  # per constraint: domain -> matching pods
    # node name -> (the NodeInfo counted, its count per constraint; None where not eligible)
    nodes: dict[str, tuple[NodeInfo, list[int | None]]] = field(default_factory=dict)
    # per constraint: the two smallest (count, domain) (criticalPaths)
    critical: list[list[tuple[int, str]]] = field(default_factory=list)

    def min_match(self, i: int, domain: str, delta: int) -> int:
        """The global minimum for constraint i, `domain`'s count changed by `delta` (minMatchNum)."""
        if len(self.counts[i]) < self.constraints[i].min_domains:
            return 0
        paths = self.critical[i]
        if not delta:
            return paths[0][0] if paths else _NO_COUNT
        others = [n for n, d in paths if d != domain][:1]  # the smallest count of another domain
        return min([self.counts[i].get(domain, 0) + delta, *others])


class PodTopologySpread(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = "PodTopologySpread"

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Pod", ActionType.ADD | ActionType.UPDATE_POD | ActionType.DELETE),
                ClusterEvent("Node", ActionType.ADD | ActionType.DELETE | ActionType.UPDATE_NODE_LABEL
                             | ActionType.UPDATE_NODE_TAINT)]

    # PreFilter / Filter ----------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        if not pod.spec.get("topologySpreadConstraints"):
            return None, Status(Code.SKIP)
        state.write(ALL_NODES_KEY, nodes)  # PreScore counts over all nodes, as it reads the snapshot
        try:
            constraints = constraints_of(pod, DO_NOT_SCHEDULE)
        except ValueError as err:
            return None, Status.as_error(ValueError(f"get constraints from pod: {err}"))
        if not constraints:
            return None, Status(Code.SKIP)
        state.write(PRE_FILTER_STATE_KEY, self._pre_filter_state(pod, constraints, nodes))
        return None, None

    @staticmethod
    def _pre_filter_state(pod: PodInfo, constraints: list[Constraint], nodes: list[NodeInfo]) -> PreFilterState:
        s = PreFilterState(constraints, [{} for _ in constraints])
        namespace = _namespace(pod)
        for node in nodes:
            if node.node is None or not _has_keys(node.labels, constraints):
                continue
            affinity_ok = _node_affinity_matches(pod, node)
            if not affinity_ok and all(c.node_affinity_policy == HONOR for c in constraints):
                continue
            per_constraint: list[int | None] = []
            for i, c in enumerate(constraints):
                if not _eligible(c, pod, node, affinity_ok):
                    per_constraint.append(None)
                    continue
                count = count_matching(node.pods.values(), c.selector, namespace)
                domain = node.labels[c.topology_key]
                s.counts[i][domain] = s.counts[i].get(domain, 0) + count
                per_constraint.append(count)
            s.nodes[node.name] = (node, per_constraint)
        s.critical = [heapq.nsmallest(2, ((n, d) for d, n in counts.items())) for counts in s.counts]
        return s

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        try:
            s: PreFilterState = state.read(PRE_FILTER_STATE_KEY)
        except KeyError:
            return Status(Code.ERROR, f'reading "{PRE_FILTER_STATE_KEY}" from cycleState: not found')
        counted = s.nodes.get(node.name)
        changed = counted is not None and counted[0] is not node  # a copy: nominated pods or victims
        for i, c in enumerate(s.constraints):
            domain = node.labels.get(c.topology_key)
            if domain is None:
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_NODE_LABEL_NOT_MATCH)
            delta = 0
            if changed and counted[1][i] is not None:
                delta = count_matching(node.pods.values(), c.selector, _namespace(pod)) - counted[1][i]
            skew = s.counts[i].get(domain, 0) + delta + c.self_match - s.min_match(i, domain, delta)
            if skew > c.max_skew:
                return Status(Code.UNSCHEDULABLE, ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return None

    # PreScore / Score ------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not pod.spec.get("topologySpreadConstraints"):
            return Status(Code.SKIP)
        try:
            constraints = constraints_of(pod, SCHEDULE_ANYWAY)
        except ValueError as err:
            return Status.as_error(ValueError(f"obtaining pod's soft topology spread constraints: {err}"))
        if not constraints:
            return Status(Code.SKIP)
        try:
            all_nodes = state.read(ALL_NODES_KEY)
        except KeyError:  # PreFilter did not run (a profile without it): the nodes at hand
            all_nodes = nodes
        state.write(PRE_SCORE_STATE_KEY, _pre_score_state(pod, constraints, nodes, all_nodes))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status | None]:
        try:
            s: PreScoreState = state.read(PRE_SCORE_STATE_KEY)
        except KeyError:
            return 0, Status(Code.ERROR, f'error reading "{PRE_SCORE_STATE_KEY}" from cycleState: not found')
        if node.name in s.ignored:
            return 0, None
        total = 0.0
        for i, c in enumerate(s.constraints):
            domain = node.labels.get(c.topology_key)
            if domain is None:
                continue
            if c.topology_key == LABEL_HOSTNAME:
                count = count_matching(node.pods.values(), c.selector, s.namespace)
            else:
                count = s.counts[i].get(domain, 0)
            total += count * s.weights[i] + (c.max_skew - 1)
        return math.floor(total + 0.5), None  # Go's math.Round (half away from zero; total >= 0)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status | None:
        s: PreScoreState = state.read(PRE_SCORE_STATE_KEY)
        valid = [x.score for x in scores if x.name not in s.ignored]
        low, high = min(valid, default=0), max(valid, default=0)
        for x in scores:
            if x.name in s.ignored:
                x.score = 0
            elif high == 0:
                x.score = MAX_NODE_SCORE
            else:
                x.score = MAX_NODE_SCORE * (high + low - x.score) // high
        return None


@dataclass(slots=True)
class PreScoreState:
    constraints: list[Constraint]
    namespace: str
    ignored: set[str]  # filtered nodes missing a topologyKey: scored 0
    counts: list[dict[str, int]]  # per constraint: domain (of a filtered node) -> matching pods
    weights: list[float]  # per constraint: log(domains + 2)


def _pre_score_state(pod: PodInfo, constraints: list[Constraint], filtered: list[NodeInfo],
                     all_nodes: list[NodeInfo]) -> PreScoreState:
    """initPreScoreState, then the counts over all nodes (PreScore's processAllNode)."""
    s = PreScoreState(constraints, _namespace(pod), set(), [{} for _ in constraints], [])
    for node in filtered:
        if not _has_keys(node.labels, constraints):
            s.ignored.add(node.name)
            continue
        for i, c in enumerate(constraints):
            if c.topology_key != LABEL_HOSTNAME:  # per-node counts are taken at Score
                s.counts[i].setdefault(node.labels[c.topology_key], 0)
    for i, c in enumerate(constraints):
        size = len(filtered) - len(s.ignored) if c.topology_key == LABEL_HOSTNAME else len(s.counts[i])
        s.weights.append(math.log(size + 2))
    for node in all_nodes:
        if node.node is None or not _has_keys(node.labels, constraints):
            continue
        affinity_ok = _node_affinity_matches(pod, node)
        for i, c in enumerate(constraints):
            domain = node.labels[c.topology_key]
            if domain not in s.counts[i] or not _eligible(c, pod, node, affinity_ok):
                continue
            s.counts[i][domain] += count_matching(node.pods.values(), c.selector, s.namespace)
    return s
