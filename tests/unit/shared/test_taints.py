"""shared.taints.tolerates: v1.Toleration.ToleratesTaint."""

from __future__ import annotations

import pytest

from shared.taints import tolerates

TAINT = {"key": "node.kubernetes.io/unreachable", "value": "x", "effect": "NoExecute"}


@pytest.mark.parametrize("toleration,expected", [
    ({"operator": "Exists"}, True),                                              # empty key + Exists: everything
    ({"key": "node.kubernetes.io/unreachable", "operator": "Exists"}, True),
    ({"key": "node.kubernetes.io/unreachable", "value": "x"}, True),             # Equal is the default
    ({"key": "node.kubernetes.io/unreachable", "value": "y"}, False),
    ({"key": "node.kubernetes.io/unreachable", "value": "x", "effect": "NoSchedule"}, False),
    ({"key": "other", "operator": "Exists"}, False),
    ({"key": "node.kubernetes.io/unreachable", "operator": "Lt", "value": "x"}, False),
])
def test_tolerates(toleration, expected):
    assert tolerates(toleration, TAINT) is expected


def test_missing_values_are_equal():
    assert tolerates({"key": "k", "operator": "Equal"}, {"key": "k", "effect": "NoSchedule"}) is True
