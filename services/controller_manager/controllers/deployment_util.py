"""Deployment arithmetic (k8s pkg/controller/deployment/util), as pure functions over dicts.

Guarantees: the same numbers as Kubernetes for surge/unavailable fenceposts (surge rounds up,
unavailable rounds down, both zero → unavailable 1), new-RS sizing, proportional scaling,
revisions and the deployment conditions with their reasons and messages.

One documented difference: the pod-template-hash is fnv32a over the template's canonical JSON
(sorted keys), not over Go's spew dump of the struct, so the hash has Kubernetes' shape
("7c5ddbdf54": fnv32a, then SafeEncodeString) but not a real cluster's value for the same YAML.
"""

from __future__ import annotations

import copy
import math
import struct
from collections.abc import Mapping
from datetime import datetime

import orjson

from services.controller_manager.objects import format_time, get_condition, meta, parse_time

HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
_SKIP_COPY = {LAST_APPLIED_ANNOTATION, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION,
              DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION}

# Reasons (deployment/util/deployment_util.go)
NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
RS_UPDATED_REASON = "ReplicaSetUpdated"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"
MIN_AVAILABLE_REASON = "MinimumReplicasAvailable"
MIN_UNAVAILABLE_REASON = "MinimumReplicasUnavailable"

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
MAX_INT32 = 2**31 - 1


# --- hashing ---

def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """k8s.io/apimachinery/pkg/util/rand.SafeEncodeString: no vowels, no confusable characters."""
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in s.encode())


def compute_hash(template: Mapping, collision_count: int | None) -> str:
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\x00" * 4
    return safe_encode(str(fnv32a(data)))


def template_without_hash(template: Mapping) -> dict:
    out = copy.deepcopy(dict(template))
    labels = (out.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(HASH_LABEL, None)
        if not labels:
            out["metadata"].pop("labels")
    return out


def equal_ignore_hash(a: Mapping, b: Mapping) -> bool:
    return _normalize(template_without_hash(a)) == _normalize(template_without_hash(b))


def _normalize(value: object) -> object:
    """Drop empty maps/lists/None so `labels: {}` equals no labels (Go's omitempty)."""
    if isinstance(value, dict):
        out = {k: _normalize(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


# --- spec accessors with Kubernetes' defaults ---

def replicas_of(obj: Mapping) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_int(obj: Mapping | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


def strategy_type(d: Mapping) -> str:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate"


def is_rolling_update(d: Mapping) -> bool:
    return strategy_type(d) == "RollingUpdate"


def _rolling_params(d: Mapping) -> tuple[object, object]:
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    return ru.get("maxSurge", "25%"), ru.get("maxUnavailable", "25%")


def scaled_value(value: object, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        return int(text)
    scaled = int(text[:-1]) * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def resolve_fenceposts(max_surge: object, max_unavailable: object, desired: int) -> tuple[int, int]:
    surge = scaled_value(max_surge if max_surge is not None else 0, desired, True)
    unavailable = scaled_value(max_unavailable if max_unavailable is not None else 0, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # rounding down may make both zero; surge might not work (quota), so allow 1
    return surge, unavailable


def max_surge(d: Mapping) -> int:
    if not is_rolling_update(d):
        return 0
    surge, _ = resolve_fenceposts(*_rolling_params(d), replicas_of(d))
    return surge


def max_unavailable(d: Mapping) -> int:
    desired = replicas_of(d)
    if not is_rolling_update(d) or desired == 0:
        return 0
    _, unavailable = resolve_fenceposts(*_rolling_params(d), desired)
    return min(unavailable, desired)


def revision_history_limit(d: Mapping) -> int | None:
    value = (d.get("spec") or {}).get("revisionHistoryLimit", 10)
    return None if value is None else int(value)


def progress_deadline(d: Mapping) -> int | None:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds", 600)
    return None if value is None or value == MAX_INT32 else int(value)


# --- replica set sets ---

def _created(rs: Mapping) -> tuple[str, str]:
    return (meta(rs).get("creationTimestamp") or "", meta(rs).get("name", ""))


def sort_by_creation(rss: list[dict], *, reverse: bool = False) -> list[dict]:
    return sorted(rss, key=_created, reverse=reverse)


def annotation(obj: Mapping, key: str) -> str:
    return (meta(obj).get("annotations") or {}).get(key, "")


def revision_of(rs: Mapping) -> int:
    try:
        return int((meta(rs).get("annotations") or {}).get(REVISION_ANNOTATION, 0))
    except ValueError:
        return 0


def sort_by_revision(rss: list[dict]) -> list[dict]:
    return sorted(rss, key=lambda rs: (revision_of(rs), _created(rs)))


def sort_by_size(rss: list[dict], *, newer_first: bool) -> list[dict]:
    """ReplicaSetsBySizeNewer / BySizeOlder: larger first; ties newer (or older) first."""
    def key(rs: dict) -> tuple:
        created = parse_time(meta(rs).get("creationTimestamp"))
        stamp = created.timestamp() if created else 0.0
        return (-replicas_of(rs), -stamp if newer_first else stamp, meta(rs).get("name", ""))
    return sorted(rss, key=key)


def active(rss: list[dict | None]) -> list[dict]:
    return [rs for rs in rss if rs is not None and replicas_of(rs) > 0]


def replica_count(rss: list[dict | None]) -> int:
    return sum(replicas_of(rs) for rs in rss if rs is not None)


def actual_count(rss: list[dict | None]) -> int:
    return sum(status_int(rs, "replicas") for rs in rss if rs is not None)


def ready_count(rss: list[dict | None]) -> int:
    return sum(status_int(rs, "readyReplicas") for rs in rss if rs is not None)


def available_count(rss: list[dict | None]) -> int:
    return sum(status_int(rs, "availableReplicas") for rs in rss if rs is not None)


def find_new_rs(d: Mapping, rss: list[dict]) -> dict | None:
    template = (d.get("spec") or {}).get("template") or {}
    for rs in sort_by_creation(rss):
        if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template):
            return rs  # the oldest on a (theoretical) tie, as Kubernetes
    return None


def find_old_rss(new_rs: dict | None, rss: list[dict]) -> tuple[list[dict], list[dict]]:
    """(old RSs with pods, all old RSs)."""
    all_old = [rs for rs in rss if new_rs is None or meta(rs).get("uid") != meta(new_rs).get("uid")]
    return [rs for rs in all_old if replicas_of(rs) != 0], all_old


def find_active_or_latest(new_rs: dict | None, old_rss: list[dict]) -> dict | None:
    if new_rs is None and not old_rss:
        return None
    old_sorted = sort_by_creation(old_rss, reverse=True)
    actives = active(old_sorted + [new_rs])
    if len(actives) == 0:
        return new_rs if new_rs is not None else old_sorted[0]
    if len(actives) == 1:
        return actives[0]
    return None


def max_revision(rss: list[dict]) -> int:
    return max((revision_of(rs) for rs in rss), default=0)


def is_saturated(d: Mapping, rs: dict | None) -> bool:
    if rs is None:
        return False
    try:
        desired = int((meta(rs).get("annotations") or {})[DESIRED_REPLICAS_ANNOTATION])
    except (KeyError, ValueError):
        return False
    want = replicas_of(d)
    return replicas_of(rs) == want and desired == want and status_int(rs, "availableReplicas") == want


def new_rs_new_replicas(d: Mapping, all_rss: list[dict | None], new_rs: dict) -> int:
    if strategy_type(d) == "Recreate":
        return replicas_of(d)
    surge = scaled_value(_rolling_params(d)[0], replicas_of(d), True)
    current = replica_count(all_rss)
    max_total = replicas_of(d) + surge
    if current >= max_total:
        return replicas_of(new_rs)
    scale_up = min(max_total - current, replicas_of(d) - replicas_of(new_rs))
    return replicas_of(new_rs) + scale_up


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def rs_fraction(rs: dict, d: Mapping) -> int:
    if replicas_of(d) == 0:
        return -replicas_of(rs)
    deployment_max = replicas_of(d) + max_surge(d)
    try:
        before = int((meta(rs).get("annotations") or {})[MAX_REPLICAS_ANNOTATION])
    except (KeyError, ValueError):
        before = 0
    if before == 0:
        before = status_int(d, "replicas")
        if before == 0:
            return 0
    return _round_half_away(replicas_of(rs) * deployment_max / before) - replicas_of(rs)


def rs_proportion(rs: dict | None, d: Mapping, to_add: int, added: int) -> int:
    if rs is None or replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction, allowed = rs_fraction(rs, d), to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# --- annotations ---

def set_replicas_annotations(rs: dict, desired: int, max_replicas: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS_ANNOTATION, str(desired)), (MAX_REPLICAS_ANNOTATION, str(max_replicas))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Mapping, desired: int, max_replicas: int) -> bool:
    annotations = meta(rs).get("annotations") or {}
    return annotations.get(DESIRED_REPLICAS_ANNOTATION) != str(desired) or \
        annotations.get(MAX_REPLICAS_ANNOTATION) != str(max_replicas)


def copy_deployment_annotations(d: Mapping, rs: dict) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in (meta(d).get("annotations") or {}).items():
        if key in _SKIP_COPY or annotations.get(key) == value:
            continue
        annotations[key] = value
        changed = True
    return changed


def set_new_rs_annotations(d: Mapping, rs: dict, new_revision: str, *, exists: bool,
                           limit_chars: int = MAX_REV_HISTORY_LENGTH_IN_CHARS) -> bool:
    """SetNewReplicaSetAnnotations: copy annotations, raise the revision, keep revision history."""
    changed = copy_deployment_annotations(d, rs)
    annotations = rs["metadata"].setdefault("annotations", {})
    old_revision = annotations.get(REVISION_ANNOTATION)
    try:
        old_int = int(old_revision) if old_revision else 0
    except ValueError:
        return False
    new_int = int(new_revision)
    if old_int < new_int:
        annotations[REVISION_ANNOTATION] = new_revision
        changed = True
        if old_revision is not None:
            _append_revision_history(annotations, old_revision, limit_chars)
    if not exists and set_replicas_annotations(rs, replicas_of(d), replicas_of(d) + max_surge(d)):
        changed = True
    return changed


def _append_revision_history(annotations: dict, old_revision: str, limit_chars: int) -> None:
    history = annotations.get(REVISION_HISTORY_ANNOTATION, "")
    if not history:
        annotations[REVISION_HISTORY_ANNOTATION] = old_revision
        return
    olds = history.split(",")
    total, start = len(history) + len(old_revision) + 1, 0
    while total > limit_chars and start < len(olds):
        total -= len(olds[start]) + 1
        start += 1
    if total <= limit_chars:
        annotations[REVISION_HISTORY_ANNOTATION] = ",".join(olds[start:] + [old_revision])


# --- conditions and status ---

def new_condition(ctype: str, status: str, reason: str, message: str, now: datetime) -> dict:
    stamp = format_time(now)
    return {"type": ctype, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def set_condition(status: dict, cond: dict) -> None:
    """SetDeploymentCondition: no-op for the same status and reason; keeps lastTransitionTime."""
    current = get_condition(status.get("conditions"), cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = dict(cond, lastTransitionTime=current.get("lastTransitionTime"))
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: dict, ctype: str) -> None:
    if status.get("conditions"):
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != ctype]


def calculate_status(all_rss: list[dict | None], new_rs: dict | None, d: Mapping, now: datetime) -> dict:
    available, total = available_count(all_rss), replica_count(all_rss)
    status: dict = {
        "observedGeneration": meta(d).get("generation", 0),
        "replicas": actual_count(all_rss),
        "updatedReplicas": actual_count([new_rs]),
        "readyReplicas": ready_count(all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
    }
    old = d.get("status") or {}
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    status["conditions"] = [dict(c) for c in old.get("conditions") or []]
    if available >= replicas_of(d) - max_unavailable(d):
        set_condition(status, new_condition("Available", "True", MIN_AVAILABLE_REASON,
                                            "Deployment has minimum availability.", now))
    else:
        set_condition(status, new_condition("Available", "False", MIN_UNAVAILABLE_REASON,
                                            "Deployment does not have minimum availability.", now))
    return status


def status_equal(a: Mapping | None, b: Mapping | None) -> bool:
    """Deep equality of two DeploymentStatus dicts, reading absent numbers as 0 (omitempty)."""
    return _normalize_status(a) == _normalize_status(b)


def _normalize_status(s: Mapping | None) -> dict:
    s = dict(s or {})
    return {k: v for k, v in s.items() if v not in (0, None, [])}


def to_wire(status: dict) -> dict:
    """DeploymentStatus as Go serializes it: zero numbers and empty lists omitted."""
    return {k: v for k, v in status.items() if v not in (0, None, []) or k == "observedGeneration"}


def deployment_complete(d: Mapping, status: Mapping) -> bool:
    want = replicas_of(d)
    return (status.get("updatedReplicas") or 0) == want and (status.get("replicas") or 0) == want and \
        (status.get("availableReplicas") or 0) == want and \
        (status.get("observedGeneration") or 0) >= meta(d).get("generation", 0)


def deployment_progressing(d: Mapping, new: Mapping) -> bool:
    old = d.get("status") or {}

    def g(s: Mapping, f: str) -> int:
        return int(s.get(f) or 0)

    old_old = g(old, "replicas") - g(old, "updatedReplicas")
    new_old = g(new, "replicas") - g(new, "updatedReplicas")
    return g(new, "updatedReplicas") > g(old, "updatedReplicas") or new_old < old_old or \
        g(new, "readyReplicas") > g(old, "readyReplicas") or g(new, "availableReplicas") > g(old, "availableReplicas")


def deployment_timed_out(d: Mapping, status: Mapping, now: datetime) -> bool:
    deadline = progress_deadline(d)
    cond = get_condition(status.get("conditions"), "Progressing")
    if deadline is None or cond is None or cond.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if cond.get("reason") == TIMED_OUT_REASON:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    return since is not None and (now - since).total_seconds() > deadline
