"""Label and field selectors, as Kubernetes parses and matches them.

Guarantees:
- `parse_label_selector` accepts Kubernetes' label selector syntax (`a=b`, `a==b`, `a!=b`,
  `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-separated, all must match) and
  raises `SelectorError` (the API server answers 400 BadRequest) on anything else.
- `!=` and `notin` match objects that lack the key, as in Kubernetes.
- `selector_from_label_selector` turns a LabelSelector object (matchLabels/matchExpressions) into the
  same matcher; None matches nothing, `{}` matches everything (metav1.LabelSelectorAsSelector).
- `parse_field_selector` accepts `a=b`, `a==b`, `a!=b`, comma-separated, with `\\` escapes, and
  `FieldSelector.check_supported` rejects a field the resource does not support with Kubernetes'
  message `field label not supported: <field>`.
- `str()` of a selector is Kubernetes' canonical string (requirements sorted by key).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GT, LT = "exists", "!", "gt", "lt"


class SelectorError(ValueError):
    """A selector string or object that does not parse; `str(err)` is the message for the 400."""


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op, has = self.operator, self.key in labels
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return has and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return not has or labels[self.key] not in self.values
        if op == EXISTS:
            return has
        if op == DOES_NOT_EXIST:
            return not has
        return has and _compare(labels[self.key], self.values[0], op)

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({','.join(sorted(self.values))})"
        symbol = {GT: ">", LT: "<"}.get(op, op)
        return f"{self.key}{symbol}{self.values[0]}"


def _compare(have: str, want: str, op: str) -> bool:
    try:
        a, b = int(have), int(want)
    except ValueError:
        return False
    return a > b if op == GT else a < b


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """All requirements must match. `nothing=True` matches no object (a nil LabelSelector)."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def matches_object(self, obj: Mapping[str, Any]) -> bool:
        return self.matches((obj.get("metadata") or {}).get("labels") or {})

    def empty(self) -> bool:
        return not self.requirements and not self.nothing

    def __str__(self) -> str:
        return ",".join(str(r) for r in sorted(self.requirements, key=lambda r: r.key))


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


# ---- label selector strings -------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(==|!=|=|\(|\)|,|!|>|<|[^\s=!(),<>]+)")


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:  # pragma: no cover - the pattern matches any non-space character
            raise SelectorError(f"unable to parse requirement: unexpected character at {pos}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str | None:
        tok = self.peek()
        self.pos += 1
        return tok

    def parse(self) -> LabelSelector:
        reqs: list[Requirement] = []
        while True:
            reqs.append(self.requirement())
            tok = self.take()
            if tok is None:
                return LabelSelector(tuple(reqs))
            if tok != ",":
                raise SelectorError(f"found '{tok}', expected: ',' or 'end of string'")

    def requirement(self) -> Requirement:
        tok = self.take()
        if tok == "!":
            key = self.identifier("!")
            _check_key(key)
            return Requirement(key, DOES_NOT_EXIST)
        if tok is None or tok in ("==", "!=", "=", "(", ")", ",", ">", "<"):
            raise SelectorError(f"found '{tok or ''}', expected: !, identifier, or 'end of string'")
        key = tok
        _check_key(key)
        nxt = self.peek()
        if nxt is None or nxt == ",":
            return Requirement(key, EXISTS)
        return self.operation(key)

    def identifier(self, after: str) -> str:
        tok = self.take()
        if tok is None or tok in ("==", "!=", "=", "(", ")", ",", "!", ">", "<"):
            raise SelectorError(f"found '{tok or ''}', expected: identifier after '{after}'")
        return tok

    def operation(self, key: str) -> Requirement:
        op = self.take()
        if op in ("=", "==", "!="):
            value = self.single_value()
            return Requirement(key, op, (value,))
        if op in (">", "<"):
            value = self.single_value()
            if not re.fullmatch(r"-?[0-9]+", value):
                raise SelectorError(f"unable to parse requirement: for 'Gt', 'Lt' operators, "
                                    f"the value must be an integer: {value!r}")
            return Requirement(key, GT if op == ">" else LT, (value,))
        if op in ("in", "notin"):
            return Requirement(key, op, self.value_set(op))
        raise SelectorError(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")

    def single_value(self) -> str:
        tok = self.peek()
        if tok is None or tok == ",":
            return ""  # "a=" selects the empty value
        if tok in ("==", "!=", "=", "(", ")", "!", ">", "<"):
            raise SelectorError(f"found '{tok}', expected: identifier")
        self.take()
        _check_value(tok)
        return tok

    def value_set(self, op: str) -> tuple[str, ...]:
        tok = self.take()
        if tok != "(":
            raise SelectorError(f"found '{tok or ''}', expected: '('")
        values: list[str] = []
        while True:
            tok = self.take()
            if tok == ")" and not values:
                raise SelectorError("unable to parse requirement: for 'in', 'notin' operators, "
                                    "values set can't be empty")
            if tok is None or tok in ("(", "=", "==", "!=", "!"):
                raise SelectorError(f"found '{tok or ''}', expected: ',', ')' or identifier")
            if tok in (",", ")"):
                values.append("")  # "(a,,b)" and "(a,)" hold an empty value
                if tok == ")":
                    return tuple(values)
                continue
            _check_value(tok)
            values.append(tok)
            end = self.take()
            if end == ")":
                return tuple(values)
            if end != ",":
                raise SelectorError(f"found '{end or ''}', expected: ',' or ')'")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a labelSelector query parameter; "" or None selects everything."""
    if text is None or not text.strip():
        return EVERYTHING
    return _Parser(text).parse()


# ---- LabelSelector objects ---------------------------------------------------------------------

_EXPR_OPS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def selector_from_label_selector(ls: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None selects nothing, {} everything."""
    if ls is None:
        return NOTHING
    reqs = [Requirement(k, EQUALS, (str(v),)) for k, v in sorted((ls.get("matchLabels") or {}).items())]
    for expr in ls.get("matchExpressions") or []:
        reqs.append(_expression(expr))
    return LabelSelector(tuple(reqs))


def _expression(expr: Mapping[str, Any]) -> Requirement:
    op = _EXPR_OPS.get(expr.get("operator", ""))
    key, values = expr.get("key", ""), tuple(expr.get("values") or ())
    if op is None:
        raise SelectorError(f"{expr.get('operator')!r} is not a valid label selector operator")
    if op in (IN, NOT_IN) and not values:
        raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
    if op in (EXISTS, DOES_NOT_EXIST) and values:
        raise SelectorError("values set must be empty for exists and does not exist")
    return Requirement(key, op, values)


def label_selector_to_string(ls: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: "<none>" for nil/empty, else the canonical string."""
    if not ls or (not ls.get("matchLabels") and not ls.get("matchExpressions")):
        return "<none>"
    return str(selector_from_label_selector(ls))


def selector_string(ls: Mapping[str, Any] | None) -> str:
    """The canonical selector string (Scale.status.selector); "" when it selects everything."""
    return "" if ls is None else str(selector_from_label_selector(ls))


def _check_key(key: str) -> None:
    errors = qualified_name_errors(key)
    if errors:
        raise SelectorError(f'unable to parse requirement: key: Invalid value: "{key}": '
                            f"{'; '.join(errors)}")


def _check_value(value: str) -> None:
    errors = label_value_errors(value)
    if errors:
        raise SelectorError(f'unable to parse requirement: values[0]: Invalid value: "{value}": '
                            f"{'; '.join(errors)}")


# ---- label key / value syntax (shared with validation) -----------------------------------------

LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                   "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                   "'my_value',  or '12345', regex used for validation is "
                   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
QUALIFIED_NAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
                      "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
                      "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
QUALIFIED_NAME_SLASH_MSG = ("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
                            "must start and end with an alphanumeric character (e.g. 'MyName',  or "
                            "'my.name',  or '123-abc', regex used for validation is "
                            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
                            "prefix and '/' (e.g. 'example.com/MyName')")
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                         "'-' or '.', and must start and end with an alphanumeric character (e.g. "
                         "'example.com', regex used for validation is "
                         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def label_value_errors(value: str) -> list[str]:
    """validation.IsValidLabelValue."""
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _LABEL_VALUE.match(value):
        errors.append(LABEL_VALUE_MSG)
    return errors


def qualified_name_errors(name: str) -> list[str]:
    """validation.IsQualifiedName (label and annotation keys)."""
    parts = name.split("/")
    if len(parts) == 1:
        prefix, short = "", parts[0]
    elif len(parts) == 2:
        prefix, short = parts
        if not prefix:
            return ["prefix part must be non-empty"]
    else:
        return [QUALIFIED_NAME_SLASH_MSG]
    errors: list[str] = []
    if not short:
        errors.append("name part must be non-empty")
    elif len(short) > 63:
        errors.append("name part must be no more than 63 characters")
    if short and not _NAME_PART.match(short):
        errors.append(QUALIFIED_NAME_MSG)
    if prefix:
        if len(prefix) > 253:
            errors.append("prefix part must be no more than 253 characters")
        if not _DNS_SUBDOMAIN.match(prefix):
            errors.append("prefix part " + DNS1123_SUBDOMAIN_MSG)
    return errors


# ---- field selectors ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    operator: str  # "=" (also for "==") or "!="
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        have = fields.get(self.field)
        if self.operator == NOT_EQUALS:
            return have != self.value
        return have == self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{_escape(self.value)}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def exact_match(self, field: str) -> str | None:
        """The value `field` must equal, if the selector pins it (`metadata.name=x`)."""
        for req in self.requirements:
            if req.field == field and req.operator == EQUALS:
                return req.value
        return None

    def check_supported(self, supported: Iterable[str]) -> None:
        """Raise SelectorError for the first field the resource cannot select on."""
        allowed = set(supported)
        for req in self.requirements:
            if req.field not in allowed:
                raise SelectorError(f"field label not supported: {req.field}")

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence in {value!r}")
            out.append(value[i + 1])
            i += 2
            continue
        if value[i] in ",=":
            raise SelectorError(f"invalid field selector: unescaped {value[i]!r} in {value!r}")
        out.append(value[i])
        i += 1
    return "".join(out)


def _field_requirement(part: str) -> FieldRequirement:
    for op, norm in (("!=", NOT_EQUALS), ("==", EQUALS), ("=", EQUALS)):
        idx = _find_unescaped(part, op)
        if idx >= 0:
            field, value = part[:idx].strip(), part[idx + len(op):]
            return FieldRequirement(field, norm, _unescape(value))
    raise SelectorError(f"invalid selector: '{part}'; can't understand '{part}'")


def _find_unescaped(text: str, token: str) -> int:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(token, i):
            return i
        i += 1
    return -1


def parse_field_selector(text: str | None) -> FieldSelector:
    """Parse a fieldSelector query parameter; "" or None selects everything."""
    if text is None or not text.strip():
        return FieldSelector()
    return FieldSelector(tuple(_field_requirement(p) for p in _split_unescaped(text, ",")))
