"""NodeAffinity: `spec.nodeSelector` and required node affinity filter nodes; preferred node
affinity scores them.

Guarantees: a pod with neither nodeSelector nor required affinity skips the filter (PreFilter
returns Skip). Required terms whose matchFields pin `metadata.name` with In narrow the nodes
already at PreFilter (the union over terms of each term's intersection); terms that pin
disjoint names reject the pod ("pod affinity terms conflict"). A node that fails gets
kube-scheduler's reason "node(s) didn't match Pod's node affinity/selector". The score is the
sum of the weights of the preferred terms a node matches, normalized to [0, 100].
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
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    ScorePlugin,
    Status,
    default_normalize_score,
)
from services.scheduler.util.nodeselector import (
    OBJECT_NAME_FIELD,
    match_term,
    matches_node_selector,
    matches_node_selector_terms,
)

ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
PRE_FILTER_STATE_KEY = "PreFilterNodeAffinity"
PRE_SCORE_STATE_KEY = "PreScoreNodeAffinity"


def _node_affinity(pod: PodInfo) -> dict:
    return (pod.spec.get("affinity") or {}).get("nodeAffinity") or {}


def _required_terms(pod: PodInfo) -> list[dict] | None:
    required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
    return None if required is None else (required.get("nodeSelectorTerms") or [])


def _pinned_names(terms: list[dict]) -> set[str] | None:
    """Node names the required terms allow through matchFields metadata.name In; None: any."""
    names: set[str] = set()
    for term in terms:
        term_names: set[str] | None = None
        for field in term.get("matchFields") or []:
            if field.get("key") == OBJECT_NAME_FIELD and field.get("operator") == "In":
                values = set(field.get("values") or [])
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None  # this term does not pin names, and terms are ORed
        names |= term_names
    return names


class NodeAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = "NodeAffinity"
    default_normalize_reverse = False  # normalize_score below, applied by the framework on integers

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_LABEL)]

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        terms, selector = _required_terms(pod), pod.spec.get("nodeSelector")
        if terms is None and selector is None:
            return None, Status(Code.SKIP)
        state.write(PRE_FILTER_STATE_KEY, (selector or {}, terms))
        if not terms:
            return None, None
        names = _pinned_names(terms)
        if names is not None and not names:
            return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_CONFLICT)
        return (PreFilterResult(names) if names else None), None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        try:
            selector, terms = state.read(PRE_FILTER_STATE_KEY)
        except KeyError:  # PreFilter did not run (a profile without it): compute here
            selector, terms = pod.spec.get("nodeSelector") or {}, _required_terms(pod)
        if selector and not matches_node_selector(selector, node.labels):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_POD)
        if terms is not None and not matches_node_selector_terms(terms, node.labels, node.name):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_POD)
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        preferred = [t for t in _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []
                     if t.get("weight")]
        if not preferred:
            return Status(Code.SKIP)
        state.write(PRE_SCORE_STATE_KEY, preferred)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status | None]:
        preferred = state.read(PRE_SCORE_STATE_KEY)
        total = sum(t["weight"] for t in preferred if match_term(t.get("preference") or {}, node.labels, node.name))
        return total, None

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status | None:
        default_normalize_score(MAX_NODE_SCORE, False, scores)
        return None
