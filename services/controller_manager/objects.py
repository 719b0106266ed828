"""Helpers over API objects (plain dicts), after apimachinery's meta helpers and k8s podutil.

Guarantees: nothing here mutates its arguments; times are UTC and formatted like Kubernetes'
`metav1.Time` (RFC 3339, seconds, `Z`); parsing also takes MicroTime (microseconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

TERMINAL_PHASES = ("Succeeded", "Failed")


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(obj: Mapping) -> Mapping:
    return obj.get("metadata") or {}


def name_of(obj: Mapping) -> str:
    return meta(obj).get("name", "")


def namespace_of(obj: Mapping) -> str:
    return meta(obj).get("namespace", "")


def uid_of(obj: Mapping) -> str:
    return meta(obj).get("uid", "")


def key_of(obj: Mapping) -> str:
    ns = namespace_of(obj)
    return f"{ns}/{name_of(obj)}" if ns else name_of(obj)


def split_key(key: str) -> tuple[str, str]:
    """`"ns/name"` → `("ns", "name")`; a cluster-scoped `"name"` → `("", "name")`."""
    ns, _, name = key.rpartition("/")
    return ns, name


def is_being_deleted(obj: Mapping) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def labels_of(obj: Mapping) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def controller_ref(obj: Mapping) -> Mapping | None:
    """The ownerReference with `controller: true` (metav1.GetControllerOf)."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def new_controller_ref(owner: Mapping, *, api_version: str, kind: str) -> dict:
    """metav1.NewControllerRef: controller and blockOwnerDeletion both true."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def resolve_controller_ref(lister: Any, namespace: str, ref: Mapping | None, *, kind: str) -> dict | None:
    """The cached object a controller ownerReference `ref` points to (each k8s controller's
    resolveControllerRef): None unless `ref` is of `kind` and the object still has the ref's UID."""
    if not ref or ref.get("kind") != kind:
        return None
    obj = lister.get(ref.get("name", ""), namespace)
    return obj if obj is not None and uid_of(obj) == ref.get("uid") else None


def get_condition(conditions: list | None, ctype: str) -> dict | None:
    for cond in conditions or []:
        if cond.get("type") == ctype:
            return cond
    return None


def pod_ready_condition(pod: Mapping) -> dict | None:
    return get_condition((pod.get("status") or {}).get("conditions"), "Ready")


def is_pod_ready(pod: Mapping) -> bool:
    cond = pod_ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def is_pod_available(pod: Mapping, min_ready_seconds: int, now: datetime) -> bool:
    """podutil.IsPodAvailable: ready, and ready for at least minReadySeconds."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = parse_time(pod_ready_condition(pod).get("lastTransitionTime"))
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def is_pod_active(pod: Mapping) -> bool:
    """controller.IsPodActive: not terminal and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in TERMINAL_PHASES and not is_being_deleted(pod)


def pod_phase(pod: Mapping) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


NODE_NAME_INDEX = "nodeName"


def pod_node_name(pod: Mapping) -> list[str]:
    """Index function: pods by `spec.nodeName` (unscheduled pods under "")."""
    return [(pod.get("spec") or {}).get("nodeName") or ""]


def unwrap_tombstone(obj: object) -> dict | None:
    """The last known object of a delete event (a `DeletedFinalStateUnknown` carries it in `.obj`)."""
    if isinstance(obj, dict):
        return obj
    inner = getattr(obj, "obj", None)
    return inner if isinstance(inner, dict) else None


def status_cause(err: BaseException, cause_type: str) -> bool:
    """apierrors.HasStatusCause: the error's Status has a cause of `cause_type`."""
    status = getattr(err, "status", None) or {}
    causes = ((status.get("details") or {}).get("causes") or []) if isinstance(status, dict) else []
    return any(c.get("type") == cause_type for c in causes) or cause_type in str(err)
