"""PriorityClasses and the Priority admission plugin (kube-apiserver's plugin/pkg/admission/priority).

Guarantees:
- The two system classes exist from the start (bootstrapped like kube-apiserver's
  scheduling/rest post-start hook): `system-node-critical` (2000001000) and
  `system-cluster-critical` (2000000000); they may not be deleted.
- A pod create gets `spec.priority` (and `spec.preemptionPolicy`) from its `priorityClassName`;
  without one, from the class marked `globalDefault` (whose name it then carries), else 0 and
  PreemptLowerPriority. An unknown class is 403 `no PriorityClass with name X was found`; a
  `priority` or `preemptionPolicy` in the pod that differs from the computed one is 403 with
  kube-apiserver's message.
- At most one class is `globalDefault: true` (a second is 403).
"""

from __future__ import annotations

from typing import Any

from services.apiserver import errors

Obj = dict[str, Any]

SYSTEM_PREFIX = "system-"
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
DEFAULT_PREEMPTION_POLICY = "PreemptLowerPriority"
PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")
SYSTEM_CLASSES: dict[str, tuple[int, str]] = {
    "system-node-critical": (2_000_001_000,
                             "Used for system critical pods that must not be moved from their current node."),
    "system-cluster-critical": (2_000_000_000,
                                "Used for system critical pods that must run in the cluster, but can be moved "
                                "to another node if necessary."),
}


def system_class(name: str) -> Obj:
    value, description = SYSTEM_CLASSES[name]
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, "description": description, "preemptionPolicy": DEFAULT_PREEMPTION_POLICY}


def is_known_system_class(name: str, value: Any, global_default: Any) -> str:
    """"" when (name, value) is one of the system classes, else why not (IsKnownSystemPriorityClass)."""
    if name not in SYSTEM_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_CLASSES[name][0]:
        return f"value of {name} PriorityClass must be {SYSTEM_CLASSES[name][0]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return ""


def admit_pod(pod: Obj, classes: list[Obj]) -> None:
    """Set the pod's priority from its class, or raise 403 as the Priority admission plugin does."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return  # validation reports it
    name = (pod.get("metadata") or {}).get("name", "")
    class_name = spec.get("priorityClassName") or ""
    if class_name:
        pc = next((c for c in classes if c["metadata"]["name"] == class_name), None)
        if pc is None:
            raise errors.forbidden("pods", "", name, f"no PriorityClass with name {class_name} was found")
    else:
        pc = next((c for c in classes if c.get("globalDefault")), None)
    priority = pc.get("value", 0) if pc is not None else 0
    policy = (pc or {}).get("preemptionPolicy") or DEFAULT_PREEMPTION_POLICY
    if spec.get("priority") is not None and spec["priority"] != priority:
        raise errors.forbidden("pods", "", name, f"the integer value of priority ({spec['priority']}) must not be "
                               f"provided in pod spec; priority admission controller computed {priority} from the "
                               "given PriorityClass name")
    if spec.get("preemptionPolicy") is not None and spec["preemptionPolicy"] != policy:
        raise errors.forbidden("pods", "", name, f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) "
                               f"must not be provided in pod spec; priority admission controller computed {policy} "
                               "from the given PriorityClass name")
    if pc is not None:
        spec["priorityClassName"] = pc["metadata"]["name"]
    spec["priority"] = priority
    spec["preemptionPolicy"] = policy


def admit_class(pc: Obj, classes: list[Obj]) -> None:
    """Only one globalDefault class (the plugin's check on PriorityClass create and update)."""
    if not pc.get("globalDefault"):
        return
    name = (pc.get("metadata") or {}).get("name", "")
    other = next((c for c in classes if c.get("globalDefault") and c["metadata"]["name"] != name), None)
    if other is not None:
        raise errors.forbidden("priorityclasses", "scheduling.k8s.io", name,
                               f"PriorityClass {other['metadata']['name']} is already marked as default. "
                               "Only one default can exist")


def check_delete(name: str) -> None:
    if name in SYSTEM_CLASSES:
        raise errors.forbidden("priorityclasses", "scheduling.k8s.io", name,
                               "this is a system priority class and cannot be deleted")
