"""Taint and toleration matching of Kubernetes' core/v1 API (k8s.io/api/core/v1 toleration.go).

Guarantees: `tolerates(toleration, taint)` is `Toleration.ToleratesTaint`: an empty effect
matches every effect; an empty key with operator `Exists` tolerates every taint; operator
`Equal` (the default) compares values, a missing value counting as ""; any other operator
tolerates nothing. The effect constants are core/v1's `TaintEffect` values.
"""

from __future__ import annotations

NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE = "NoSchedule", "NoExecute", "PreferNoSchedule"


def tolerates(toleration: dict, taint: dict) -> bool:
    """Whether `toleration` tolerates `taint` (v1.Toleration.ToleratesTaint)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")
