"""Label selector matching, with Kubernetes' semantics.

Guarantees:
- `LabelSelector` dicts (`matchLabels` + `matchExpressions` with In/NotIn/Exists/DoesNotExist):
  `None` selects nothing, `{}` selects everything (metav1.LabelSelectorAsSelector).
- Service selectors (a plain map): an empty or missing map selects nothing (a Service without a
  selector has no managed endpoints).
"""

from __future__ import annotations

from collections.abc import Mapping


def _expression_matches(expr: Mapping, labels: Mapping[str, str]) -> bool:
    key, op = expr.get("key", ""), expr.get("operator", "")
    values = expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # an unknown operator is invalid; an invalid selector selects nothing


def selector_matches(selector: Mapping | None, labels: Mapping[str, str] | None) -> bool:
    """True if `labels` satisfy the LabelSelector `selector`."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression_matches(e, labels) for e in selector.get("matchExpressions") or [])


def selector_is_empty(selector: Mapping | None) -> bool:
    return not selector or (not selector.get("matchLabels") and not selector.get("matchExpressions"))


def map_selector_matches(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """A Service-style selector: every key=value present; empty selects nothing."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())
