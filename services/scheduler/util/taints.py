"""Taints and tolerations, matched as Kubernetes' v1helper does.

Guarantees: `tolerates(toleration, taint)` is Toleration.ToleratesTaint (shared.taints: an empty
key with `Exists` tolerates every taint; an empty effect matches every effect; operator `Equal`,
the default, compares values). `find_untolerated_taint` returns the first taint, in the node's
order, that passes `effects` and that no toleration tolerates — the taint kube-scheduler names in
its "node(s) had untolerated taint" reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.taints import NO_EXECUTE, NO_SCHEDULE, PREFER_NO_SCHEDULE, tolerates

__all__ = ["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE", "DO_NOT_SCHEDULE", "UNSCHEDULABLE_TAINT_KEY",
           "tolerates", "tolerated", "find_untolerated_taint"]

DO_NOT_SCHEDULE = frozenset({NO_SCHEDULE, NO_EXECUTE})
UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"


def tolerated(taint: dict, tolerations: Iterable[dict]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def find_untolerated_taint(taints: Iterable[dict], tolerations: list[dict], effects: frozenset[str]) -> dict | None:
    for taint in taints:
        if taint.get("effect") in effects and not tolerated(taint, tolerations):
            return taint
    return None
