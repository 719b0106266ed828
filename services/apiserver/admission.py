"""Admission, as kube-apiserver's built-in plugins do it, for the objects kubemu serves.

Guarantees:
- NamespaceLifecycle: a namespaced object can only be created in a namespace that exists (404
  `namespaces "x" not found`) and is not Terminating (403 `unable to create new content in namespace
  x because it is being terminated`); default, kube-system, kube-public and kube-node-lease may not
  be deleted.
- DefaultTolerationSeconds: a pod without them gets NoExecute tolerations for
  `node.kubernetes.io/not-ready` and `node.kubernetes.io/unreachable` for 300 s.
- Prepare-for-create, per kind (what kube-apiserver's strategies do): pods start `Pending`,
  namespaces `Active` with the `kubernetes` finalizer, deployments/replicasets/services start with
  an empty status.
"""

from __future__ import annotations

from typing import Any

from services.apiserver import errors
from services.apiserver.registry import Resource

Obj = dict[str, Any]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
DEFAULT_TOLERATION_SECONDS = 300
_TAINT_KEYS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def check_namespace(res: Resource, name: str, namespace_obj: Obj | None, namespace: str) -> None:
    """NamespaceLifecycle for a create of `name` in `namespace` (`namespace_obj` None: missing)."""
    if namespace_obj is None:
        raise errors.not_found("namespaces", "", namespace)
    meta = namespace_obj.get("metadata") or {}
    phase = (namespace_obj.get("status") or {}).get("phase")
    if meta.get("deletionTimestamp") or phase == "Terminating":
        raise errors.forbidden(
            res.plural, res.group, name,
            f"unable to create new content in namespace {namespace} because it is being terminated",
            [{"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being terminated",
              "field": "metadata.namespace"}])


def check_namespace_delete(name: str) -> None:
    if name in SYSTEM_NAMESPACES:
        raise errors.forbidden("namespaces", "", name, "this namespace may not be deleted")


def default_tolerations(pod: Obj) -> None:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return  # validation reports it
    tolerations = spec.get("tolerations")
    if not isinstance(tolerations, list):
        tolerations = []
    for key in _TAINT_KEYS:
        if not any(_tolerates_no_execute(t, key) for t in tolerations if isinstance(t, dict)):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})
    spec["tolerations"] = tolerations


def _tolerates_no_execute(toleration: Obj, key: str) -> bool:
    if toleration.get("effect") not in (None, "", "NoExecute"):
        return False
    return toleration.get("key") == key or (not toleration.get("key") and toleration.get("operator") == "Exists")


def prepare_for_create(res: Resource, obj: Obj) -> None:
    kind = res.kind
    if kind == "Pod":
        status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
        obj["status"] = {"phase": "Pending", **({"qosClass": status["qosClass"]} if "qosClass" in status else {})}
    elif kind == "Namespace":
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            obj["spec"] = spec = {}
        finalizers = spec.get("finalizers") if isinstance(spec.get("finalizers"), list) else []
        if "kubernetes" not in finalizers:
            finalizers = [*finalizers, "kubernetes"]
        spec["finalizers"] = finalizers
        obj["status"] = {"phase": "Active"}
    elif kind in ("Deployment", "ReplicaSet", "Service"):
        obj["status"] = {"loadBalancer": {}} if kind == "Service" else {}
