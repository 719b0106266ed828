"""DaemonSet helpers (k8s pkg/controller/daemon/util and the pure parts of daemon_controller.go).

Guarantees, as Kubernetes 1.32:
- `node_should_run(node, ds)` is NodeShouldRunDaemonPod: (shouldRun, shouldContinueRunning). The
  template's nodeSelector and required node affinity must match the node; its NoSchedule and
  NoExecute taints must be tolerated by the template's tolerations plus the daemon ones, or a pod
  already there keeps running only if every NoExecute taint is tolerated. `spec.unschedulable`
  alone does not matter: the node lifecycle's unschedulable taint is tolerated.
- `add_daemon_tolerations` is AddOrUpdateDaemonPodTolerations (a toleration with the same key,
  operator, value and effect is replaced, e.g. one with tolerationSeconds on not-ready).
- `replace_node_name_affinity` is ReplaceDaemonSetPodNodeNameNodeAffinity: the required node
  affinity becomes the single term `matchFields metadata.name In [node]`; the template's own
  required terms are dropped (the controller already checked them against the node), preferred
  terms are kept.
- `get_patch(ds)` is history.go's getPatch: what a ControllerRevision stores and kubectl rollout
  undo applies, `{"spec": {"template": {..., "$patch": "replace"}}}`.
- `FailedPodsBackoff` is client-go's flowcontrol.Backoff as kube-controller-manager makes it for
  failed daemon pods: 1 s, doubling per node up to 15 min, forgotten after twice that.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

from services.controller_manager.objects import meta, parse_time
from shared.taints import NO_EXECUTE, NO_SCHEDULE, tolerates

HASH_LABEL = "controller-revision-hash"           # apps.DefaultDaemonSetUniqueLabelKey
TEMPLATE_GENERATION_LABEL = "pod-template-generation"  # extensions.DaemonSetTemplateGenerationKey
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
OBJECT_NAME_FIELD = "metadata.name"

_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", NO_EXECUTE),
    ("node.kubernetes.io/unreachable", NO_EXECUTE),
    ("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/unschedulable", NO_SCHEDULE),
)
_NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", NO_SCHEDULE)


# --- pod template ---

def _same_toleration(a: Mapping, b: Mapping) -> bool:
    """v1.Toleration.MatchToleration: key, operator, value and effect all equal."""
    return all((a.get(f) or "") == (b.get(f) or "") for f in ("key", "operator", "value", "effect"))


def _add_or_update_toleration(spec: dict, toleration: dict) -> None:
    """v1helper.AddOrUpdateTolerationInPodSpec."""
    current = spec.get("tolerations") or []
    out, updated = [], False
    for existing in current:
        if _same_toleration(toleration, existing):
            if existing == toleration:
                return
            out.append(dict(toleration))
            updated = True
        else:
            out.append(existing)
    if not updated:
        out.append(dict(toleration))
    spec["tolerations"] = out


def add_daemon_tolerations(spec: dict) -> None:
    """AddOrUpdateDaemonPodTolerations, in place on a copied pod spec."""
    wanted = list(_DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(_NETWORK_UNAVAILABLE)
    for key, effect in wanted:
        _add_or_update_toleration(spec, {"key": key, "operator": "Exists", "effect": effect})


def template_generation(ds: Mapping) -> int | None:
    """GetTemplateGeneration: the DaemonSet's deprecated template generation annotation (kubemu
    falls back to metadata.generation when the API server did not set it)."""
    value = (meta(ds).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)
    if value is None:
        return meta(ds).get("generation")
    try:
        return int(value)
    except ValueError:
        return None


def create_pod_template(template: Mapping, generation: int | None, hash_: str) -> dict:
    """CreatePodTemplate: a copy with the daemon tolerations and the generation and hash labels."""
    out = copy.deepcopy(dict(template))
    out.setdefault("spec", {})
    add_daemon_tolerations(out["spec"])
    labels = out.setdefault("metadata", {}).setdefault("labels", {})
    if generation is not None:
        labels[TEMPLATE_GENERATION_LABEL] = str(generation)
    if hash_:
        labels[HASH_LABEL] = hash_
    return out


def replace_node_name_affinity(affinity: Mapping | None, node_name: str) -> dict:
    """ReplaceDaemonSetPodNodeNameNodeAffinity (returns a new affinity)."""
    term = {"matchFields": [{"key": OBJECT_NAME_FIELD, "operator": "In", "values": [node_name]}]}
    out = copy.deepcopy(dict(affinity or {}))
    node_affinity = out.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    return out


def target_node_name(pod: Mapping) -> str | None:
    """GetTargetNodeName: spec.nodeName, or for a pending pod the node its matchFields name."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for expr in term.get("matchFields") or []:
            if expr.get("key") == OBJECT_NAME_FIELD and expr.get("operator") == "In":
                values = expr.get("values") or []
                return values[0] if len(values) == 1 else None
    return None


# --- does this node want a daemon pod? ---

def _match_expression(expr: Mapping, labels: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    present, value = key in labels, labels.get(key)
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and len(values) == 1 and present:
        try:
            actual, bound = int(value), int(values[0])
        except (TypeError, ValueError):
            return False
        return actual > bound if op == "Gt" else actual < bound
    return False


def _match_field(expr: Mapping, node_name: str) -> bool:
    values = expr.get("values") or []
    if expr.get("key") != OBJECT_NAME_FIELD or len(values) != 1:
        return False
    if expr.get("operator") == "In":
        return node_name == values[0]
    return expr.get("operator") == "NotIn" and node_name != values[0]


def _match_term(term: Mapping, labels: Mapping[str, str], node_name: str) -> bool:
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False
    return all(_match_expression(e, labels) for e in expressions) and all(_match_field(f, node_name) for f in fields)


def matches_required_node_affinity(pod_spec: Mapping, node: Mapping) -> bool:
    """nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): nodeSelector AND the required terms (ORed)."""
    labels = meta(node).get("labels") or {}
    if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return True
    return any(_match_term(t, labels, meta(node).get("name", "")) for t in required.get("nodeSelectorTerms") or [])


def _untolerated(taints: list[dict], tolerations: list[dict], effects: tuple[str, ...]) -> bool:
    return any(t.get("effect") in effects and not any(tolerates(tol, t) for tol in tolerations) for t in taints)


def node_should_run(node: Mapping, ds: Mapping) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod → (shouldRun, shouldContinueRunning)."""
    spec = copy.deepcopy(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    node_name = meta(node).get("name", "")
    if spec.get("nodeName") and spec["nodeName"] != node_name:
        return False, False
    add_daemon_tolerations(spec)
    if not matches_required_node_affinity(spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tolerations = spec.get("tolerations") or []
    if _untolerated(taints, tolerations, (NO_SCHEDULE, NO_EXECUTE)):
        return False, not _untolerated(taints, tolerations, (NO_EXECUTE,))
    return True, True


# --- pods ---

def by_creation_and_phase(pod: Mapping) -> tuple:
    """podByCreationTimestampAndPhase: scheduled first, then oldest, then by name."""
    created = parse_time(meta(pod).get("creationTimestamp"))
    return (not (pod.get("spec") or {}).get("nodeName"), created.timestamp() if created else 0.0,
            meta(pod).get("name", ""))


def is_pod_updated(pod: Mapping, hash_: str, generation: int | None) -> bool:
    """IsPodUpdated: the pod carries the current hash, or the current template generation."""
    labels = meta(pod).get("labels") or {}
    template_matches = generation is not None and labels.get(TEMPLATE_GENERATION_LABEL) == str(generation)
    return bool(hash_) and labels.get(HASH_LABEL) == hash_ or template_matches


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    percent = int(str(value).rstrip("%"))
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def max_unavailable(ds: Mapping, desired: int) -> int:
    """UnavailableCount (RollingUpdate only), with updatedDesiredNodeCounts' fallback to 1 when
    neither surge nor unavailability is allowed."""
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    unavailable = scaled_value(rolling.get("maxUnavailable", 1), desired, round_up=True)
    surge = scaled_value(rolling.get("maxSurge", 0), desired, round_up=True)
    if desired > 0 and unavailable == 0 and surge == 0:
        return 1
    return unavailable


# --- history ---

def get_patch(ds: Mapping) -> dict:
    """getPatch: the template, to be applied as a strategic merge patch that replaces it."""
    template = copy.deepcopy(((ds.get("spec") or {}).get("template")) or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


class FailedPodsBackoff:
    """flowcontrol.Backoff(1 s, 15 min) keyed "<ds uid>/<observedGeneration>/<node>"."""

    def __init__(self, initial: float = 1.0, maximum: float = 900.0) -> None:
        self.initial, self.maximum = initial, maximum
        self._entries: dict[str, tuple[float, float]] = {}  # key → (delay, last update)

    def get(self, key: str) -> float:
        return self._entries.get(key, (0.0, 0.0))[0]

    def in_backoff_since_update(self, key: str, now: float) -> bool:
        entry = self._entries.get(key)
        return entry is not None and now - entry[1] < entry[0]

    def next(self, key: str, now: float) -> None:
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > 2 * self.maximum:
            delay = self.initial
        else:
            delay = min(entry[0] * 2, self.maximum)
        self._entries[key] = (delay, now)
        self._gc(now)

    def _gc(self, now: float) -> None:
        for key in [k for k, (_, at) in self._entries.items() if now - at > 2 * self.maximum]:
            del self._entries[key]
