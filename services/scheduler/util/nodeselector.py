"""Matching nodes against a pod's nodeSelector and node affinity, as component-helpers' nodeaffinity.

Guarantees:
- `matches_node_selector_terms(terms, node)`: the terms are ORed; within a term, matchExpressions
  (on labels) and matchFields (only `metadata.name`) are ANDed; a term with neither matches no
  node; a term with an invalid requirement (unknown operator, Gt/Lt without exactly one integer,
  a field other than metadata.name) does not match, and the other terms still decide.
- Operators In, NotIn, Exists, DoesNotExist, Gt, Lt; NotIn and DoesNotExist match a node without
  the label; Gt/Lt compare the label's value as an integer.
"""

from __future__ import annotations

OBJECT_NAME_FIELD = "metadata.name"


class InvalidRequirement(ValueError):
    pass


def _as_int(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError) as exc:
        raise InvalidRequirement(f"{text!r} is not an integer") from exc


def _compare(operator: str, present: bool, value: str | None, values: list[str]) -> bool:
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt"):
        if len(values) != 1:
            raise InvalidRequirement(f"{operator} needs exactly one value, got {values}")
        bound = _as_int(values[0])
        if not present:
            return False
        try:
            actual = int(value)
        except (TypeError, ValueError):
            return False
        return actual > bound if operator == "Gt" else actual < bound
    raise InvalidRequirement(f"unknown operator {operator!r}")


def match_expression(expr: dict, labels: dict) -> bool:
    key = expr.get("key", "")
    return _compare(expr.get("operator", ""), key in labels, labels.get(key), expr.get("values") or [])


def match_field(expr: dict, node_name: str) -> bool:
    if expr.get("key") != OBJECT_NAME_FIELD:
        raise InvalidRequirement(f"unsupported field {expr.get('key')!r}")
    operator = expr.get("operator", "")
    if operator not in ("In", "NotIn"):
        raise InvalidRequirement(f"operator {operator!r} is not supported for fields")
    values = expr.get("values") or []
    if len(values) != 1:
        raise InvalidRequirement("a metadata.name field requirement needs exactly one value")
    return _compare(operator, True, node_name, values)


def match_term(term: dict, labels: dict, node_name: str) -> bool:
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False
    try:
        return all(match_expression(e, labels) for e in expressions) and all(
            match_field(f, node_name) for f in fields)
    except InvalidRequirement:
        return False


def matches_node_selector_terms(terms: list[dict], labels: dict, node_name: str) -> bool:
    return any(match_term(term, labels, node_name) for term in terms)


def matches_node_selector(selector: dict, labels: dict) -> bool:
    """`spec.nodeSelector`: every key present with exactly that value."""
    return all(labels.get(k) == v for k, v in selector.items())
