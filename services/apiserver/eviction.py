"""The pods/eviction subresource (k8s pkg/registry/core/pod/storage/eviction.go): a delete that
asks the pod's PodDisruptionBudget first.

Guarantees, for `evict(api, pods, namespace, name, delete_options)`:
- A pod that is Succeeded, Failed or Pending, or already being deleted, is deleted without looking
  at budgets (canIgnorePDB), as is a pod no budget selects.
- More than one budget selecting the pod is 500 "This pod has more than one
  PodDisruptionBudget, which the eviction subresource does not support." (as kube-apiserver).
- A budget the disruption controller has not yet processed (status.observedGeneration <
  metadata.generation) or with status.disruptionsAllowed 0 makes the eviction 429 TooManyRequests,
  "Cannot evict pod as it would violate the pod's disruption budget.", with a DisruptionBudget
  cause saying why; nothing is written and the pod stays.
- Otherwise the budget's status is updated first (CAS, retried on conflict): disruptionsAllowed
  one less and status.disruptedPods[pod] = now, so the controller does not count the pod while it
  goes; then the pod gets the DisruptionTarget condition (reason EvictionByEvictionAPI) and is
  deleted with the request's DeleteOptions.
- A not-Ready pod is let go without spending the budget when the budget's policy is AlwaysAllow,
  or (IfHealthyBudget, the default) when currentHealthy already reaches desiredHealthy > 0.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .requestinfo import RequestInfo
from .selectors import SelectorError, selector_from_label_selector
from .handlers import now_rfc3339

Obj = dict[str, Any]

TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."


def _budget_error(message: str, retry_after: int) -> errors.ApiStatusError:
    err = errors.too_many_requests(TOO_MANY, retry_after)
    err.details = {**(err.details or {}), "causes": [{"reason": "DisruptionBudget", "message": message}]}
    return err


def _is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _selects(pdb: Obj, pod: Obj) -> bool:
    """policy/v1: a nil selector selects nothing, `{}` every pod in the namespace."""
    try:
        selector = selector_from_label_selector((pdb.get("spec") or {}).get("selector"))
    except SelectorError:
        return False
    return selector.matches((pod.get("metadata") or {}).get("labels") or {})


async def evict(api: Any, pods: Any, namespace: str, name: str, delete_options: Obj) -> None:
    pod, _ = await api.get_object(pods, name, namespace)
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed", "Pending") or pod["metadata"].get("deletionTimestamp"):
        await api.delete(RequestInfo("delete", pods, namespace, name), delete_options)
        return
    budgets_res = api.registry.get("policy", "v1", "poddisruptionbudgets")
    budgets, _, _ = await api.list_objects(budgets_res, namespace, {})
    budgets = [b for b in budgets if _selects(b, pod)]
    if len(budgets) > 1:
        raise errors.internal("This pod has more than one PodDisruptionBudget, which the eviction subresource "
                              "does not support.")
    if budgets and not _unhealthy_may_go(budgets[0], pod):
        await _spend(api, budgets_res, budgets[0], name)
    await _mark_disruption_target(api, pods, namespace, name)
    await api.delete(RequestInfo("delete", pods, namespace, name), delete_options)


def _unhealthy_may_go(pdb: Obj, pod: Obj) -> bool:
    if _is_ready(pod):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    status = pdb.get("status") or {}
    return status.get("currentHealthy", 0) >= status.get("desiredHealthy", 0) > 0


async def _spend(api: Any, budgets_res: Any, pdb: Obj, pod_name: str) -> None:
    """checkAndDecrement, as a read-modify-write of the budget's status."""
    name = pdb["metadata"]["name"]

    def mutate(current: Obj) -> Obj:
        status = current.setdefault("status", {})
        if status.get("observedGeneration", 0) < current["metadata"].get("generation", 1):
            raise _budget_error(f"The disruption budget {name} is still being processed by the server.", 10)
        allowed = status.get("disruptionsAllowed", 0)
        if allowed < 0:
            raise errors.forbidden("poddisruptionbudget", "policy", name, "pdb disruptions allowed is negative")
        if allowed == 0:
            raise _budget_error(f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy pods "
                                f"and has {status.get('currentHealthy', 0)} currently", 0)
        status["disruptionsAllowed"] = allowed - 1
        if allowed - 1 == 0:
            _insufficient(status)
        status.setdefault("disruptedPods", {})[pod_name] = now_rfc3339()
        return current

    await api.update(RequestInfo("update", budgets_res, pdb["metadata"]["namespace"], name, subresource="status"),
                     mutate, status_too=True)


def _insufficient(status: Obj) -> None:
    """UpdateDisruptionAllowedCondition for a budget that just ran out."""
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionAllowed"]
    conditions.append({"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods", "message": "",
                       "observedGeneration": status.get("observedGeneration", 0),
                       "lastTransitionTime": now_rfc3339()})
    status["conditions"] = conditions


async def _mark_disruption_target(api: Any, pods: Any, namespace: str, name: str) -> None:
    """The DisruptionTarget condition the eviction handler adds before deleting (1.26+)."""
    def mutate(pod: Obj) -> Obj:
        status = pod.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conditions.append({"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                           "message": "Eviction API: evicting", "lastProbeTime": None,
                           "lastTransitionTime": now_rfc3339()})
        status["conditions"] = conditions
        return pod

    try:
        await api.update(RequestInfo("update", pods, namespace, name, subresource="status"), mutate,
                         status_too=True, validate=False)
    except errors.ApiStatusError as err:
        if err.code != 404:
            raise
