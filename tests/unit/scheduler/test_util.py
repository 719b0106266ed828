"""Quantities, pod requests, taint matching and node-selector matching, as tables of cases."""

from __future__ import annotations

import pytest

from services.scheduler.util import quantity
from services.scheduler.util.nodeselector import match_term, matches_node_selector, matches_node_selector_terms
from services.scheduler.util.resources import non_zero_requests, pod_requests
from services.scheduler.util.taints import DO_NOT_SCHEDULE, find_untolerated_taint, tolerates

from .builders import make_pod, taint


@pytest.mark.parametrize(("text", "milli", "whole"), [
    ("100m", 100, 1), ("1", 1000, 1), ("2.5", 2500, 3), ("0.0001", 1, 1), ("1Ki", 1024000, 1024),
    ("1Mi", 1048576000, 1048576), ("1G", 10**12, 10**9), ("1e3", 10**6, 1000), ("1500m", 1500, 2), (3, 3000, 3),
])
def test_quantity(text, milli, whole):
    assert quantity.milli_value(text) == milli
    assert quantity.value(text) == whole


@pytest.mark.parametrize("bad", ["", "abc", "1Qi", "--1", "1.2.3"])
def test_quantity_rejects_malformed(bad):
    with pytest.raises(ValueError):
        quantity.parse(bad)


def _container(name, cpu=None, memory=None, restart_policy=None):
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    c = {"name": name, "resources": {"requests": requests}}
    if restart_policy:
        c["restartPolicy"] = restart_policy
    return c


@pytest.mark.parametrize(("containers", "init", "overhead", "cpu", "memory"), [
    ([_container("a", "100m", "1Mi"), _container("b", "200m", "2Mi")], [], None, 300, 3 * 2**20),
    # an init container bigger than the sum of the app containers sets the request
    ([_container("a", "100m", "1Mi")], [_container("i", "1", "1Mi")], None, 1000, 2**20),
    # the largest init container counts, not their sum
    ([_container("a", "100m")], [_container("i1", "500m"), _container("i2", "700m")], None, 700, 0),
    # a sidecar (restartPolicy Always) adds to the app containers and to later init containers
    ([_container("a", "100m")], [_container("s", "200m", restart_policy="Always"), _container("i", "250m")],
     None, 450, 0),
    ([_container("a", "100m")], [], {"cpu": "50m", "memory": "10Mi"}, 150, 10 * 2**20),
])
def test_pod_requests(containers, init, overhead, cpu, memory):
    pod = make_pod(containers=containers, initContainers=init)
    if overhead:
        pod["spec"]["overhead"] = overhead
    requests = pod_requests(pod)
    assert (requests.milli_cpu, requests.memory) == (cpu, memory)


def test_non_zero_requests_default_missing_cpu_and_memory_per_container():
    pod = make_pod(containers=[_container("a"), _container("b", cpu="1")])
    requests = non_zero_requests(pod)
    assert requests.milli_cpu == 100 + 1000
    assert requests.memory == 2 * 200 * 2**20
    assert pod_requests(pod).memory == 0


@pytest.mark.parametrize(("toleration", "the_taint", "expected"), [
    ({"key": "a", "operator": "Equal", "value": "x", "effect": "NoSchedule"}, taint("a", "x"), True),
    ({"key": "a", "value": "x"}, taint("a", "x"), True),  # operator defaults to Equal, empty effect matches all
    ({"key": "a", "value": "y"}, taint("a", "x"), False),
    ({"key": "a", "operator": "Exists"}, taint("a", "x"), True),
    ({"operator": "Exists"}, taint("anything", "x", "NoExecute"), True),
    ({"key": "a", "operator": "Exists", "effect": "NoExecute"}, taint("a", "x", "NoSchedule"), False),
    ({"key": "b", "operator": "Exists"}, taint("a"), False),
    ({"key": "a", "operator": "Gt", "value": "1"}, taint("a", "2"), False),
    ({"key": "a"}, taint("a"), True),  # Equal with both values empty
])
def test_tolerates(toleration, the_taint, expected):
    assert tolerates(toleration, the_taint) is expected


def test_find_untolerated_taint_returns_first_in_node_order_and_ignores_prefer():
    taints = [taint("soft", effect="PreferNoSchedule"), taint("a", "1"), taint("b", "2", "NoExecute")]
    assert find_untolerated_taint(taints, [], DO_NOT_SCHEDULE) == taint("a", "1")
    tolerate_a = [{"key": "a", "operator": "Exists"}]
    assert find_untolerated_taint(taints, tolerate_a, DO_NOT_SCHEDULE) == taint("b", "2", "NoExecute")
    assert find_untolerated_taint(taints, [{"operator": "Exists"}], DO_NOT_SCHEDULE) is None


LABELS = {"zone": "a", "gpu": "true", "cores": "8"}


@pytest.mark.parametrize(("expr", "expected"), [
    ({"key": "zone", "operator": "In", "values": ["a", "b"]}, True),
    ({"key": "zone", "operator": "In", "values": ["b"]}, False),
    ({"key": "missing", "operator": "In", "values": ["a"]}, False),
    ({"key": "zone", "operator": "NotIn", "values": ["b"]}, True),
    ({"key": "missing", "operator": "NotIn", "values": ["b"]}, True),
    ({"key": "gpu", "operator": "Exists"}, True),
    ({"key": "missing", "operator": "Exists"}, False),
    ({"key": "missing", "operator": "DoesNotExist"}, True),
    ({"key": "gpu", "operator": "DoesNotExist"}, False),
    ({"key": "cores", "operator": "Gt", "values": ["4"]}, True),
    ({"key": "cores", "operator": "Gt", "values": ["8"]}, False),
    ({"key": "cores", "operator": "Lt", "values": ["10"]}, True),
    ({"key": "zone", "operator": "Gt", "values": ["1"]}, False),  # label not an integer
    ({"key": "cores", "operator": "Gt", "values": ["x"]}, False),  # invalid requirement
    ({"key": "cores", "operator": "Gt", "values": ["1", "2"]}, False),
    ({"key": "zone", "operator": "Bogus", "values": ["a"]}, False),
])
def test_match_expression_in_a_term(expr, expected):
    assert match_term({"matchExpressions": [expr]}, LABELS, "node-1") is expected


@pytest.mark.parametrize(("terms", "expected"), [
    ([], False),
    ([{}], False),  # an empty term matches nothing
    ([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}], True),
    ([{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["node-1"]}]}], False),
    ([{"matchFields": [{"key": "metadata.uid", "operator": "In", "values": ["node-1"]}]}], False),
    # ANDed within a term
    ([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}],
       "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["other"]}]}], False),
    # ORed across terms, and an invalid term does not spoil a valid one
    ([{"matchExpressions": [{"key": "zone", "operator": "Bogus"}]},
      {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}], True),
])
def test_matches_node_selector_terms(terms, expected):
    assert matches_node_selector_terms(terms, LABELS, "node-1") is expected


def test_node_selector_needs_every_label():
    assert matches_node_selector({"zone": "a", "gpu": "true"}, LABELS)
    assert not matches_node_selector({"zone": "a", "gpu": "false"}, LABELS)
    assert matches_node_selector({}, LABELS)
