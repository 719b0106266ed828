"""Label selectors on the client side, as apimachinery's `labels.Parse` and `LabelSelectorAsSelector`.

Guarantees:
- `parse(text)` accepts Kubernetes' selector syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
  `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-separated, all must match; `""` matches
  everything. Anything else raises `ValueError`.
- `!=` and `notin` match objects without the key, as in Kubernetes.
- `from_label_selector(sel)` turns a LabelSelector object (`matchLabels`, `matchExpressions` with
  In/NotIn/Exists/DoesNotExist) into a `Selector`; `None` matches nothing and `{}` everything.
- `selector(x)` accepts what the lister takes: `None` (everything), a string, a `Selector`, a
  LabelSelector object, or a plain `{key: value}` dict (matchLabels).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Labels = Mapping[str, str]
_TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|>|<|!|[^\s(),!=<>]+)")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "in", "notin", "exists", "!", "gt", "lt"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Labels) -> bool:
        has = self.key in labels
        if self.op == "in":
            return has and labels[self.key] in self.values
        if self.op == "notin":
            return not has or labels[self.key] not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        return has and _compare(labels[self.key], next(iter(self.values)), self.op)


def _compare(have: str, want: str, op: str) -> bool:
    try:
        a, b = int(have), int(want)
    except ValueError:
        return False
    return a > b if op == "gt" else a < b


@dataclass(frozen=True, slots=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Labels | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements and not self.nothing


EVERYTHING = Selector()
NOTHING = Selector(nothing=True)


def parse(text: str) -> Selector:
    tokens = [t for t in _TOKEN.findall(text)]
    if "".join(tokens) != re.sub(r"\s+", "", text):
        raise ValueError(f"unable to parse selector {text!r}")
    reqs: list[Requirement] = []
    pos = 0
    while pos < len(tokens):
        req, pos = _requirement(tokens, pos, text)
        reqs.append(req)
        if pos < len(tokens):
            if tokens[pos] != ",":
                raise ValueError(f"unable to parse selector {text!r}: expected ',' at {tokens[pos]!r}")
            pos += 1
            if pos == len(tokens):
                raise ValueError(f"unable to parse selector {text!r}: trailing ','")
    return Selector(tuple(reqs))


def _requirement(tokens: list[str], pos: int, text: str) -> tuple[Requirement, int]:
    if tokens[pos] == "!":
        return Requirement(_key(tokens, pos + 1, text), "!"), pos + 2
    key = _key(tokens, pos, text)
    pos += 1
    if pos == len(tokens) or tokens[pos] == ",":
        return Requirement(key, "exists"), pos
    op = tokens[pos]
    if op in ("=", "=="):
        return Requirement(key, "in", frozenset([_value(tokens, pos + 1)])), pos + 2
    if op == "!=":
        return Requirement(key, "notin", frozenset([_value(tokens, pos + 1)])), pos + 2
    if op in (">", "<"):
        value = _value(tokens, pos + 1)
        if not value.lstrip("-").isdigit():
            raise ValueError(f"unable to parse selector {text!r}: {value!r} is not an integer")
        return Requirement(key, "gt" if op == ">" else "lt", frozenset([value])), pos + 2
    if op in ("in", "notin"):
        values, pos = _set(tokens, pos + 1, text)
        return Requirement(key, op, values), pos
    raise ValueError(f"unable to parse selector {text!r}: unexpected {op!r}")


def _key(tokens: list[str], pos: int, text: str) -> str:
    if pos >= len(tokens) or tokens[pos] in "(),!=<>" or tokens[pos] in ("==", "!="):
        raise ValueError(f"unable to parse selector {text!r}: expected a key")
    return tokens[pos]


def _value(tokens: list[str], pos: int) -> str:
    if pos >= len(tokens) or tokens[pos] == ",":
        return ""  # `a=` selects the empty value, as Kubernetes allows
    return tokens[pos]


def _set(tokens: list[str], pos: int, text: str) -> tuple[frozenset[str], int]:
    if pos >= len(tokens) or tokens[pos] != "(":
        raise ValueError(f"unable to parse selector {text!r}: expected '('")
    values: set[str] = set()
    pos += 1
    while pos < len(tokens) and tokens[pos] != ")":
        if tokens[pos] != ",":
            values.add(tokens[pos])
        pos += 1
    if pos >= len(tokens):
        raise ValueError(f"unable to parse selector {text!r}: expected ')'")
    return frozenset(values), pos + 1


_EXPRESSION_OPS: dict[str, Callable[[dict[str, Any]], Requirement]] = {
    "In": lambda e: Requirement(e["key"], "in", frozenset(e.get("values") or ())),
    "NotIn": lambda e: Requirement(e["key"], "notin", frozenset(e.get("values") or ())),
    "Exists": lambda e: Requirement(e["key"], "exists"),
    "DoesNotExist": lambda e: Requirement(e["key"], "!"),
}


def from_label_selector(sel: Mapping[str, Any] | None) -> Selector:
    """metav1.LabelSelectorAsSelector: None selects nothing, {} everything."""
    if sel is None:
        return NOTHING
    reqs = [Requirement(k, "in", frozenset([v])) for k, v in (sel.get("matchLabels") or {}).items()]
    for expr in sel.get("matchExpressions") or ():
        op = _EXPRESSION_OPS.get(expr.get("operator", ""))
        if op is None:
            raise ValueError(f"{expr.get('operator')!r} is not a valid label selector operator")
        reqs.append(op(expr))
    return Selector(tuple(reqs))


def selector(spec: str | Selector | Mapping[str, Any] | None) -> Selector:
    if spec is None:
        return EVERYTHING
    if isinstance(spec, Selector):
        return spec
    if isinstance(spec, str):
        return parse(spec)
    if spec and set(spec) <= {"matchLabels", "matchExpressions"}:
        return from_label_selector(spec)
    return Selector(tuple(Requirement(k, "in", frozenset([v])) for k, v in spec.items()))


def matches(spec: str | Selector | Mapping[str, Any] | None, labels: Labels | None) -> bool:
    return selector(spec).matches(labels)
