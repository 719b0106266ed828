"""InterPodAffinity: place a pod near (podAffinity) or away from (podAntiAffinity) other pods, by
topology domain (kube-scheduler 1.32's interpodaffinity plugin).

Guarantees:
- A term matches a pod when the pod's namespace is among the term's namespaces and its labels
  match the term's labelSelector (none: matches no pod). The namespaces are the term's
  `namespaces`, or the owner's namespace when it lists none and has no namespaceSelector. A
  namespaceSelector of `{}` adds every namespace; any other namespaceSelector adds none (kubemu's
  scheduler has no namespace lister to evaluate it against). A domain is one value of the term's
  topologyKey label; a pod's domain is its node's.
- Terminating pods (deletionTimestamp set) count like any other, as in kube-scheduler (they may
  run for a long while yet; kubernetes#111793 and the unmerged #112098).
- PreFilter returns Skip when the pod has no required (anti-)affinity terms and no existing
  pod's required anti-affinity term matches it. Which nodes hold pods with any pod (anti-)affinity
  is kept in `AffinityIndex`, refreshed by comparing each node's pods with the ones seen last
  time (C-speed dict comparisons, Python work only for nodes that changed), so a cluster without
  affinity costs a pod without affinity no per-pod work at PreFilter or PreScore (both Skip).
  Given the cache's count of pods with pod (anti-)affinity, a pod without any in a cluster where
  that count is 0 skips both at once, without looking at the nodes.
- Filter, in this order (the first failure is the status):
  1. every required podAffinity term needs a matching pod in the node's domain, all terms matched
     by one pod (kube-scheduler counts pods matching all terms); a node without a term's
     topologyKey fails. Exception: when no pod anywhere matches all the terms and the pod matches
     them itself, it may go anywhere with the keys (the first of a group).
     UnschedulableAndUnresolvable, "node(s) didn't match pod affinity rules".
  2. no pod matching a required podAntiAffinity term in the node's domain; Unschedulable,
     "node(s) didn't match pod anti-affinity rules".
  3. no existing pod whose required podAntiAffinity term matches this pod in the node's domain
     for that term; Unschedulable, "node(s) didn't satisfy existing pods anti-affinity rules".
- Counts are taken once at PreFilter. A node copy handed to Filter (nominated pods added,
  preemption victims removed) is judged with its own pods (what PreFilterExtensions AddPod /
  RemovePod achieve), and, when pods were added, also without the added ones: it must pass both,
  as kube-scheduler's two filter passes with and without nominated pods require.
- Score: for each existing pod on a node with labels, the incoming pod's preferred affinity
  (+weight) and anti-affinity (-weight) terms it matches, and its own required affinity terms
  (+1, hardPodAffinityWeight), preferred affinity (+weight) and anti-affinity (-weight) terms
  the incoming pod matches, add to the existing pod's domain. A node's score is the sum over
  its domains; NormalizeScore maps [min, max] to [0, 100] (all 0 when equal). PreScore returns
  Skip when nothing was added to any domain.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from shared.informer.selectors import Selector, from_label_selector
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

ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod anti-affinity rules"
PRE_FILTER_STATE_KEY = "PreFilterInterPodAffinity"
PRE_SCORE_STATE_KEY = "PreScoreInterPodAffinity"
ALL_NODES_KEY = "AllNodesInterPodAffinity"
HARD_POD_AFFINITY_WEIGHT = 1  # InterPodAffinityArgs' default
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"

Pair = tuple[str, str]  # (topologyKey, value): one domain
Counts = dict[Pair, int]


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A PodAffinityTerm with its selector parsed and its namespaces resolved (framework.AffinityTerm)."""

    namespaces: frozenset[str]
    all_namespaces: bool  # namespaceSelector {}
    selector: Selector
    topology_key: str

    def matches(self, namespace: str, labels: dict) -> bool:
        return (self.all_namespaces or namespace in self.namespaces) and self.selector.matches(labels)


@dataclass(frozen=True, slots=True)
class PodTerms:
    """A pod's four kinds of pod (anti-)affinity terms; preferred ones with their weight."""

    required_affinity: tuple[AffinityTerm, ...] = ()
    required_anti: tuple[AffinityTerm, ...] = ()
    preferred_affinity: tuple[tuple[int, AffinityTerm], ...] = ()
    preferred_anti: tuple[tuple[int, AffinityTerm], ...] = ()


NO_TERMS = PodTerms()


def _meta(pod: dict) -> dict:
    return pod.get("metadata") or {}


def _term(namespace: str, term: dict) -> AffinityTerm:
    names = term.get("namespaces") or ()
    ns_selector = term.get("namespaceSelector")
    namespaces = frozenset(names) if names or ns_selector is not None else frozenset([namespace])
    return AffinityTerm(namespaces, ns_selector is not None and from_label_selector(ns_selector).empty(),
                        from_label_selector(term.get("labelSelector")), term.get("topologyKey") or "")


def _weighted(namespace: str, terms: Iterable[dict]) -> tuple[tuple[int, AffinityTerm], ...]:
    return tuple((t.get("weight") or 0, _term(namespace, t.get("podAffinityTerm") or {})) for t in terms)


def terms_of(pod: PodInfo) -> PodTerms:
    """The pod's terms (NO_TERMS without pod (anti-)affinity); a malformed selector raises ValueError."""
    affinity = pod.spec.get("affinity")
    if not affinity:
        return NO_TERMS
    pod_affinity, anti = affinity.get("podAffinity") or {}, affinity.get("podAntiAffinity") or {}
    if not pod_affinity and not anti:
        return NO_TERMS
    namespace = _meta(pod.pod).get("namespace", "")
    return PodTerms(tuple(_term(namespace, t) for t in pod_affinity.get(REQUIRED) or ()),
                    tuple(_term(namespace, t) for t in anti.get(REQUIRED) or ()),
                    _weighted(namespace, pod_affinity.get(PREFERRED) or ()),
                    _weighted(namespace, anti.get(PREFERRED) or ()))


def _existing_terms(pod: PodInfo) -> PodTerms:
    try:
        return terms_of(pod)
    except ValueError:  # kube-scheduler cannot build a PodInfo for it either; its terms do nothing
        return NO_TERMS


_PODS = operator.attrgetter("pods")
NodePods = list[tuple[PodInfo, PodTerms]]


class AffinityIndex:
    """For a node list, the pods with pod (anti-)affinity on each node (HavePodsWithAffinityList).

    A node's pods are rescanned only when its `pods` dict differs from the copy taken when it was
    last scanned (PodInfos compare by identity); a different node list starts over."""

    def __init__(self) -> None:
        self._nodes: list[NodeInfo] | None = None
        self._seen: list[dict | None] = []
        self._found: dict[int, NodePods] = {}

    def nodes_with_affinity(self, nodes: list[NodeInfo]) -> list[tuple[NodeInfo, NodePods]]:
        if nodes is not self._nodes or len(nodes) != len(self._seen):
            self._nodes, self._seen, self._found = nodes, [None] * len(nodes), {}
        seen, found = self._seen, self._found
        for i in itertools.compress(range(len(nodes)), map(operator.ne, seen, map(_PODS, nodes))):
            pods = nodes[i].pods
            seen[i] = dict(pods)
            with_terms = [(p, t) for p in pods.values() if (t := _existing_terms(p)) is not NO_TERMS]
            if with_terms:
                found[i] = with_terms
            else:
                found.pop(i, None)
        return [(nodes[i], pods) for i, pods in found.items()]


def _add(counts: Counts, node: NodeInfo, key: str, value: int) -> None:
    if (domain := node.labels.get(key)) is not None:
        pair = (key, domain)
        if (total := counts.get(pair, 0) + value) == 0:
            counts.pop(pair, None)  # a domain down to 0 is gone (the first-pod rule reads emptiness)
        else:
            counts[pair] = total


def _matches_all(terms: tuple[AffinityTerm, ...], namespace: str, labels: dict) -> bool:
    return bool(terms) and all(t.matches(namespace, labels) for t in terms)


@dataclass(slots=True)
class PreFilterState:
    terms: PodTerms
    namespace: str
    labels: dict
    self_match: bool  # the pod matches all its own required affinity terms
    nodes: dict[str, NodeInfo]  # the NodeInfos counted, by name
    affinity: Counts = field(default_factory=dict)  # pods matching all the pod's required affinity terms
    anti: Counts = field(default_factory=dict)  # pods matching a required anti-affinity term of the pod
    existing: Counts = field(default_factory=dict)  # existing pods' required anti-affinity terms matching it

    def update_with_pod(self, other: PodInfo, node: NodeInfo, multiplier: int) -> None:
        """`other` on `node` counted `multiplier` more times (updateWithPod)."""
        for term in _existing_terms(other).required_anti:
            if term.matches(self.namespace, self.labels):
                _add(self.existing, node, term.topology_key, multiplier)
        meta = _meta(other.pod)
        namespace, labels = meta.get("namespace", ""), meta.get("labels") or {}
        if _matches_all(self.terms.required_affinity, namespace, labels):
            for term in self.terms.required_affinity:
                _add(self.affinity, node, term.topology_key, multiplier)
        for term in self.terms.required_anti:
            if term.matches(namespace, labels):
                _add(self.anti, node, term.topology_key, multiplier)

    def adjusted(self, node: NodeInfo, removed: list[PodInfo], added: list[PodInfo]) -> PreFilterState:
        copy = PreFilterState(self.terms, self.namespace, self.labels, self.self_match, self.nodes,
                              dict(self.affinity), dict(self.anti), dict(self.existing))
        for pod in removed:
            copy.update_with_pod(pod, node, -1)
        for pod in added:
            copy.update_with_pod(pod, node, 1)
        return copy

    def check(self, node: NodeInfo) -> Status | None:
        if not self._satisfies_affinity(node.labels):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_AFFINITY_RULES_NOT_MATCH)
        if self.anti and any(self.anti.get((t.topology_key, node.labels.get(t.topology_key)), 0) > 0
                             for t in self.terms.required_anti):
            return Status(Code.UNSCHEDULABLE, ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)
        if self.existing and any(self.existing.get(pair, 0) > 0 for pair in node.labels.items()):
            return Status(Code.UNSCHEDULABLE, ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)
        return None

    def _satisfies_affinity(self, labels: dict) -> bool:
        pods_exist = True
        for term in self.terms.required_affinity:
            domain = labels.get(term.topology_key)
            if domain is None:
                return False  # every topologyKey must be on the node
            if self.affinity.get((term.topology_key, domain), 0) <= 0:
                pods_exist = False
        # The first pod of a group with affinity to itself: allowed anywhere if nothing matches yet.
        return pods_exist or (not self.affinity and self.self_match)


class InterPodAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = "InterPodAffinity"

    def __init__(self, *, hard_pod_affinity_weight: int = HARD_POD_AFFINITY_WEIGHT,
                 pods_with_affinity: Callable[[], int] | None = None) -> None:
        """`pods_with_affinity`: how many pods the cache counts that have pod (anti-)affinity; when
        it says none and the pod has none either, PreFilter and PreScore skip at once."""
        self.hard_pod_affinity_weight = hard_pod_affinity_weight
        self.index = AffinityIndex()
        self._pods_with_affinity = pods_with_affinity

    def _nothing_to_do(self, pod: PodInfo) -> bool:
        return self._pods_with_affinity is not None and not pod.has_pod_affinity and self._pods_with_affinity() == 0

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Pod", ActionType.ADD | ActionType.UPDATE_POD | ActionType.DELETE),
                ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_LABEL)]

    # PreFilter / Filter ----------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        if self._nothing_to_do(pod):
            return None, Status(Code.SKIP)
        with_affinity = self.index.nodes_with_affinity(nodes)
        state.write(ALL_NODES_KEY, (nodes, with_affinity))  # PreScore reads all nodes, as the snapshot
        try:
            terms = terms_of(pod)
        except ValueError as err:
            return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"parsing pod: {err}")
        meta = _meta(pod.pod)
        namespace, labels = meta.get("namespace", ""), meta.get("labels") or {}
        existing: Counts = {}
        for node, pods in with_affinity:
            if node.node is None:
                continue
            for _, other in pods:
                for term in other.required_anti:
                    if term.matches(namespace, labels):
                        _add(existing, node, term.topology_key, 1)
        if not existing and not terms.required_affinity and not terms.required_anti:
            return None, Status(Code.SKIP)
        s = PreFilterState(terms, namespace, labels, _matches_all(terms.required_affinity, namespace, labels),
                           {n.name: n for n in nodes}, existing=existing)
        if terms.required_affinity or terms.required_anti:
            self._count_incoming(s, nodes)
        state.write(PRE_FILTER_STATE_KEY, s)
        return None, None

    @staticmethod
    def _count_incoming(s: PreFilterState, nodes: list[NodeInfo]) -> None:
        """Existing pods matching the pod's required terms (getIncomingAffinityAntiAffinityCounts)."""
        affinity, anti = s.terms.required_affinity, s.terms.required_anti
        for node in nodes:
            if node.node is None:
                continue
            for other in node.pods.values():
                meta = _meta(other.pod)
                namespace, labels = meta.get("namespace", ""), meta.get("labels") or {}
                if _matches_all(affinity, namespace, labels):
                    for term in affinity:
                        _add(s.affinity, node, term.topology_key, 1)
                for term in anti:
                    if term.matches(namespace, labels):
                        _add(s.anti, node, term.topology_key, 1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        try:
            s: PreFilterState = state.read(PRE_FILTER_STATE_KEY)
        except KeyError:
            return Status(Code.ERROR, f'reading "{PRE_FILTER_STATE_KEY}" from cycleState: not found')
        counted = s.nodes.get(node.name)
        if counted is None or counted is node:
            return s.check(node)
        # A copy: nominated pods added and/or preemption victims removed.
        removed = [p for key, p in counted.pods.items() if node.pods.get(key) is not p]
        added = [p for key, p in node.pods.items() if counted.pods.get(key) is not p]
        if added and (status := s.adjusted(node, removed, added).check(node)) is not None:
            return status
        return s.adjusted(node, removed, []).check(node) if removed or added else s.check(node)

    # PreScore / Score ------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not nodes:
            return None
        if self._nothing_to_do(pod):
            return Status(Code.SKIP)
        try:
            terms = terms_of(pod)
        except ValueError as err:
            return Status.as_error(ValueError(f"parsing pod: {err}"))
        try:
            all_nodes, with_affinity = state.read(ALL_NODES_KEY)
        except KeyError:  # PreFilter did not run (a profile without it): the nodes at hand
            all_nodes, with_affinity = nodes, self.index.nodes_with_affinity(nodes)
        if terms.preferred_affinity or terms.preferred_anti:
            to_process: Iterable[tuple[NodeInfo, Iterable[tuple[PodInfo, PodTerms | None]]]] = (
                (node, ((p, None) for p in node.pods.values())) for node in all_nodes)
        else:  # only pods with affinity of their own can add anything
            to_process = with_affinity
        scores: dict[str, dict[str, int]] = {}
        meta = _meta(pod.pod)
        namespace, labels = meta.get("namespace", ""), meta.get("labels") or {}
        for node, pods in to_process:
            if node.node is None or not node.labels:
                continue
            for other, other_terms in pods:
                self._process_existing(scores, terms, namespace, labels, other, other_terms, node)
        if not scores:
            return Status(Code.SKIP)
        state.write(PRE_SCORE_STATE_KEY, scores)
        return None

    def _process_existing(self, scores: dict[str, dict[str, int]], terms: PodTerms, namespace: str, labels: dict,
                          other: PodInfo, other_terms: PodTerms | None, node: NodeInfo) -> None:
        """processExistingPod: what `other`, on `node`, adds to its domains."""
        def add(term: AffinityTerm, weight: int, ns: str, lbls: dict) -> None:
            if term.matches(ns, lbls) and (domain := node.labels.get(term.topology_key)) is not None:
                by_domain = scores.setdefault(term.topology_key, {})
                by_domain[domain] = by_domain.get(domain, 0) + weight

        if terms.preferred_affinity or terms.preferred_anti:
            meta = _meta(other.pod)
            other_ns, other_labels = meta.get("namespace", ""), meta.get("labels") or {}
            for weight, term in terms.preferred_affinity:
                add(term, weight, other_ns, other_labels)
            for weight, term in terms.preferred_anti:
                add(term, -weight, other_ns, other_labels)
        if other_terms is None:
            other_terms = _existing_terms(other)
        if other_terms is NO_TERMS:
            return
        if self.hard_pod_affinity_weight > 0:
            for term in other_terms.required_affinity:
                add(term, self.hard_pod_affinity_weight, namespace, labels)
        for weight, term in other_terms.preferred_affinity:
            add(term, weight, namespace, labels)
        for weight, term in other_terms.preferred_anti:
            add(term, -weight, namespace, labels)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status | None]:
        try:
            scores: dict[str, dict[str, int]] = state.read(PRE_SCORE_STATE_KEY)
        except KeyError:
            return 0, Status(Code.ERROR, f'reading "{PRE_SCORE_STATE_KEY}" from cycleState: not found')
        total = 0
        for key, by_domain in scores.items():
            if (domain := node.labels.get(key)) is not None:
                total += by_domain.get(domain, 0)
        return total, None

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status | None:
        if not scores or not state.read(PRE_SCORE_STATE_KEY):
            return None
        low, high = min(s.score for s in scores), max(s.score for s in scores)
        for s in scores:
            s.score = int(MAX_NODE_SCORE * ((s.score - low) / (high - low))) if high > low else 0
        return None
