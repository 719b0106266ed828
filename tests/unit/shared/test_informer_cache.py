"""The informer's cache, indexes, lister and label selectors: tables of cases."""

from __future__ import annotations

import pytest

from shared.informer import DeletedFinalStateUnknown, Lister, Store
from shared.informer.selectors import from_label_selector, matches, parse


def pod(name: str, ns: str = "default", node: str = "", rv: str = "1", **labels: str) -> dict:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv, "labels": labels},
            "spec": {"nodeName": node}}


def by_node(obj: dict) -> list[str]:
    return [obj["spec"].get("nodeName", "")]


# (operations, index lookups {(index, value): sorted names}, keys)
STORE = {
    "add indexes": ([("up", pod("a", node="n1")), ("up", pod("b", node="n1")), ("up", pod("c", "kube-system"))],
                    {("nodeName", "n1"): ["a", "b"], ("namespace", "kube-system"): ["c"],
                     ("namespace", "default"): ["a", "b"]},
                    ["default/a", "default/b", "kube-system/c"]),
    "update moves between index values": ([("up", pod("a", node="n1")), ("up", pod("a", node="n2"))],
                                          {("nodeName", "n1"): [], ("nodeName", "n2"): ["a"]}, ["default/a"]),
    "delete unindexes": ([("up", pod("a", node="n1")), ("del", "default/a")],
                         {("nodeName", "n1"): [], ("namespace", "default"): []}, []),
    "delete unknown is harmless": ([("del", "default/x")], {("namespace", "default"): []}, []),
    "replace drops the old world": ([("up", pod("a", node="n1")), ("replace", [pod("b", node="n2")])],
                                    {("nodeName", "n1"): [], ("nodeName", "n2"): ["b"]}, ["default/b"]),
    "cluster-scoped key has no namespace": ([("up", {"metadata": {"name": "node-1"}, "spec": {}})],
                                            {("namespace", ""): ["node-1"]}, ["node-1"]),
}


@pytest.mark.parametrize(("ops", "lookups", "keys"), STORE.values(), ids=STORE.keys())
def test_store(ops, lookups, keys) -> None:
    store = Store()
    store.add_indexer("nodeName", by_node)
    for op, arg in ops:
        {"up": store.upsert, "del": store.delete, "replace": store.replace}[op](arg)
    for (index, value), names in lookups.items():
        assert sorted(o["metadata"]["name"] for o in store.by_index(index, value)) == names
    assert sorted(store.keys()) == keys


def test_indexer_added_late_indexes_existing_items() -> None:
    store = Store()
    store.upsert(pod("a", node="n1"))
    store.add_indexer("nodeName", by_node)
    assert [o["metadata"]["name"] for o in store.by_index("nodeName", "n1")] == ["a"]


def test_unknown_index_is_an_error() -> None:
    with pytest.raises(KeyError):
        Store().by_index("nope", "x")


def test_upsert_returns_the_replaced_object() -> None:
    store = Store()
    first = pod("a", rv="1")
    assert store.upsert(first) is None
    assert store.upsert(pod("a", rv="2")) is first


LISTS = {
    "everything": ({}, ["a", "b", "c", "d"]),
    "one namespace": ({"namespace": "prod"}, ["c", "d"]),
    "selector string": ({"label_selector": "app=web"}, ["a", "c"]),
    "selector dict (matchLabels)": ({"label_selector": {"app": "web", "tier": "fe"}}, ["c"]),
    "LabelSelector object": ({"label_selector": {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["web", "db"]}]}}, ["a", "b", "c"]),
    "namespace and selector": ({"namespace": "default", "label_selector": "app!=web"}, ["b"]),
    "empty selector string": ({"label_selector": ""}, ["a", "b", "c", "d"]),
}


@pytest.mark.parametrize(("kwargs", "names"), LISTS.values(), ids=LISTS.keys())
def test_lister_list(kwargs, names) -> None:
    store = Store()
    for obj in (pod("a", app="web"), pod("b", app="db"), pod("c", "prod", app="web", tier="fe"), pod("d", "prod")):
        store.upsert(obj)
    assert sorted(o["metadata"]["name"] for o in Lister(store).list(**kwargs)) == names


def test_lister_get() -> None:
    store = Store()
    store.upsert(pod("a"))
    store.upsert({"metadata": {"name": "node-1"}})
    lister = Lister(store)
    assert lister.get("a", "default")["metadata"]["name"] == "a"
    assert lister.get("a", "other") is None
    assert lister.get("node-1")["metadata"]["name"] == "node-1"


SELECTORS = {
    "equality": ("app=web", {"app": "web"}, True),
    "double equality": ("app==web", {"app": "db"}, False),
    "inequality matches missing key": ("app!=web", {}, True),
    "inequality": ("app!=web", {"app": "web"}, False),
    "in": ("env in (prod, staging)", {"env": "staging"}, True),
    "in misses missing key": ("env in (prod)", {}, False),
    "notin matches missing key": ("env notin (prod)", {}, True),
    "notin": ("env notin (prod)", {"env": "prod"}, False),
    "exists": ("app", {"app": ""}, True),
    "does not exist": ("!app", {"app": "x"}, False),
    "greater than": ("replicas>2", {"replicas": "3"}, True),
    "less than non-number": ("replicas<2", {"replicas": "x"}, False),
    "all must match": ("app=web,tier=fe", {"app": "web", "tier": "be"}, False),
    "prefixed keys": ("app.kubernetes.io/name=nginx", {"app.kubernetes.io/name": "nginx"}, True),
    "empty value": ("app=", {"app": ""}, True),
    "empty selector": ("", {"x": "y"}, True),
    "spaces": (" app = web , tier in ( fe ) ", {"app": "web", "tier": "fe"}, True),
}


@pytest.mark.parametrize(("text", "labels", "want"), SELECTORS.values(), ids=SELECTORS.keys())
def test_selector_matches(text: str, labels: dict, want: bool) -> None:
    assert parse(text).matches(labels) is want


@pytest.mark.parametrize("bad", ["app=web,", "a b", "a in b", "a in (b", "=x", "a>b", ",", "a==b==c"])
def test_selector_parse_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        parse(bad)


LABEL_SELECTORS = {
    "None selects nothing": (None, {"a": "b"}, False),
    "empty selects everything": ({}, {"a": "b"}, True),
    "matchLabels": ({"matchLabels": {"a": "b"}}, {"a": "b", "c": "d"}, True),
    "NotIn": ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["b"]}]}, {"a": "b"}, False),
    "Exists": ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": "x"}, True),
    "DoesNotExist": ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {}, True),
    "both": ({"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "c", "operator": "In", "values": ["d"]}]},
             {"a": "b", "c": "e"}, False),
}


@pytest.mark.parametrize(("sel", "labels", "want"), LABEL_SELECTORS.values(), ids=LABEL_SELECTORS.keys())
def test_from_label_selector(sel, labels, want) -> None:
    assert from_label_selector(sel).matches(labels) is want


def test_matches_accepts_plain_dicts() -> None:
    assert matches({"app": "web"}, {"app": "web", "x": "y"})
    assert not matches({"app": "web"}, None)
    assert matches(None, None)


def test_tombstone_is_a_value() -> None:
    tomb = DeletedFinalStateUnknown("default/a", pod("a"))
    assert tomb == DeletedFinalStateUnknown("default/a", pod("a"))
