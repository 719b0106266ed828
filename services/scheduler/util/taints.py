"""Taints and tolerations, matched as Kubernetes' v1helper does.

Guarantees: `tolerates(toleration, taint)` is Toleration.ToleratesTaint (an empty key with
`Exists` tolerates every taint; an empty effect matches every effect; operator `Equal`, the
default, compares values). `find_untolerated_taint` returns the first taint, in the node's
order, that passes `effects` and that no toleration tolerates — the taint kube-scheduler names in
its "node(s) had untolerated taint" reason.
"""

from __future__ import annotations

from collections.abc import Iterable

NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE = "NoSchedule", "NoExecute", "PreferNoSchedule"
DO_NOT_SCHEDULE = frozenset({NO_SCHEDULE, NO_EXECUTE})
UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"


def tolerates(toleration: dict, taint: dict) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(taint: dict, tolerations: Iterable[dict]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def find_untolerated_taint(taints: Iterable[dict], tolerations: list[dict], effects: frozenset[str]) -> dict | None:
    for taint in taints:
        if taint.get("effect") in effects and not tolerated(taint, tolerations):
            return taint
    return None
