"""Label and field selectors: parsing, matching, canonical strings, errors."""

from __future__ import annotations

import pytest

from services.apiserver.selectors import (
    SelectorError,
    label_selector_to_string,
    parse_field_selector,
    parse_label_selector,
    qualified_name_errors,
    selector_from_label_selector,
    selector_string,
)

LABELS = {"app": "web", "tier": "front", "n": "5"}

LABEL_CASES = [
    # (selector, matches LABELS)
    ("", True),
    ("app=web", True),
    ("app==web", True),
    ("app=db", False),
    ("app!=db", True),
    ("missing!=x", True),
    ("app!=web", False),
    ("app in (web,db)", True),
    ("app in (db)", False),
    ("app notin (db)", True),
    ("missing notin (db)", True),
    ("app notin (web, db)", False),
    ("app", True),
    ("missing", False),
    ("!missing", True),
    ("!app", False),
    ("app=web,tier=front", True),
    ("app=web,tier=back", False),
    ("app=web, tier in (front)", True),
    ("n>4", True),
    ("n<4", False),
    ("missing=", False),
    ("example.com/role!=x", True),
]


@pytest.mark.parametrize("text,expected", LABEL_CASES)
def test_label_selector_matches(text, expected) -> None:
    assert parse_label_selector(text).matches(LABELS) is expected


def test_empty_value_selects_empty_label() -> None:
    assert parse_label_selector("a=").matches({"a": ""})
    assert parse_label_selector("a in (,x)").matches({"a": ""})


@pytest.mark.parametrize("text,fragment", [
    ("app in db", "expected: '('"),
    ("app in ()", "values set can't be empty"),
    ("app=(x)", "expected: identifier"),
    ("=web", "expected: !, identifier"),
    ("app=web tier=front", "expected: ',' or 'end of string'"),
    ("a b", "expected: in, notin"),
    ("app=a b", "expected: ',' or 'end of string'"),
    ("-bad-=x", "name part must consist of"),
    ("app=bad$value", "a valid label must be an empty string"),
    ("n>x", "must be an integer"),
    ("app in (a", "expected: ',' or ')'"),
])
def test_label_selector_errors(text, fragment) -> None:
    with pytest.raises(SelectorError) as err:
        parse_label_selector(text)
    assert fragment in str(err.value)


@pytest.mark.parametrize("text,canonical", [
    ("tier=front,app=web", "app=web,tier=front"),
    ("b in (y,x),!a", "!a,b in (x,y)"),
    ("a", "a"),
    ("a==b", "a==b"),
])
def test_label_selector_string(text, canonical) -> None:
    assert str(parse_label_selector(text)) == canonical


LS_CASES = [
    # (LabelSelector object, labels, matches)
    (None, LABELS, False),
    ({}, LABELS, True),
    ({"matchLabels": {"app": "web"}}, LABELS, True),
    ({"matchLabels": {"app": "db"}}, LABELS, False),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}, LABELS, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}, LABELS, False),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, LABELS, True),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, LABELS, False),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "x", "operator": "Exists"}]}, LABELS, False),
]


@pytest.mark.parametrize("ls,labels,expected", LS_CASES)
def test_label_selector_objects(ls, labels, expected) -> None:
    assert selector_from_label_selector(ls).matches(labels) is expected


def test_label_selector_object_strings() -> None:
    ls = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["b", "a"]}]}
    assert selector_string(ls) == "app=web,env notin (a,b)"
    assert label_selector_to_string(ls) == "app=web,env notin (a,b)"
    assert label_selector_to_string({}) == "<none>"
    assert selector_string({}) == ""


@pytest.mark.parametrize("ls", [
    {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
    {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
    {"matchExpressions": [{"key": "a", "operator": "Maybe"}]},
])
def test_label_selector_object_errors(ls) -> None:
    with pytest.raises(SelectorError):
        selector_from_label_selector(ls)


FIELDS = {"metadata.name": "web", "metadata.namespace": "default", "spec.nodeName": "", "status.phase": "Running"}

FIELD_CASES = [
    ("", True),
    ("metadata.name=web", True),
    ("metadata.name==web", True),
    ("metadata.name=db", False),
    ("metadata.name!=db", True),
    ("spec.nodeName=", True),
    ("spec.nodeName!=", False),
    ("metadata.name=web,status.phase=Running", True),
    ("metadata.name=web,status.phase!=Running", False),
]


@pytest.mark.parametrize("text,expected", FIELD_CASES)
def test_field_selector_matches(text, expected) -> None:
    assert parse_field_selector(text).matches(FIELDS) is expected


def test_field_selector_escapes_and_exact_match() -> None:
    sel = parse_field_selector(r"metadata.name=a\,b,spec.nodeName!=n1")
    assert sel.exact_match("metadata.name") == "a,b"
    assert sel.exact_match("spec.nodeName") is None
    assert str(sel) == r"metadata.name=a\,b,spec.nodeName!=n1"


def test_field_selector_errors() -> None:
    with pytest.raises(SelectorError, match="can't understand 'metadata.name'"):
        parse_field_selector("metadata.name")
    sel = parse_field_selector("spec.foo=x")
    with pytest.raises(SelectorError) as err:
        sel.check_supported({"metadata.name"})
    assert str(err.value) == "field label not supported: spec.foo"
    parse_field_selector("metadata.name=x").check_supported({"metadata.name"})


@pytest.mark.parametrize("key,ok", [("app", True), ("example.com/app", True), ("a/b/c", False),
                                    ("/app", False), ("Example.com/app", False), ("x" * 64, False), ("a_b.c-d", True)])
def test_qualified_names(key, ok) -> None:
    assert (qualified_name_errors(key) == []) is ok
