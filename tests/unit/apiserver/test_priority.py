"""PriorityClasses: the Priority admission plugin and PriorityClass validation."""

from __future__ import annotations

import pytest

from services.apiserver import errors
from services.apiserver.priority import admit_class, admit_pod, check_delete, system_class
from services.apiserver.registry import REGISTRY
from services.apiserver.validation import validate

PRIORITY_CLASSES = REGISTRY.get("scheduling.k8s.io", "v1", "priorityclasses")


def pclass(name: str, value: int, *, default: bool = False, policy: str = "PreemptLowerPriority") -> dict:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, "globalDefault": default, "preemptionPolicy": policy}


def pod(**spec) -> dict:
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c"}], **spec}}


CLASSES = [system_class("system-node-critical"), system_class("system-cluster-critical"), pclass("high", 1000),
           pclass("batch", 10, policy="Never")]


@pytest.mark.parametrize("spec, classes, expected", [
    ({}, CLASSES, {"priority": 0, "preemptionPolicy": "PreemptLowerPriority"}),
    ({"priorityClassName": "high"}, CLASSES,
     {"priorityClassName": "high", "priority": 1000, "preemptionPolicy": "PreemptLowerPriority"}),
    ({"priorityClassName": "batch"}, CLASSES, {"priority": 10, "preemptionPolicy": "Never"}),
    ({"priorityClassName": "system-node-critical"}, CLASSES, {"priority": 2000001000}),
    ({"priorityClassName": "high", "priority": 1000}, CLASSES, {"priority": 1000}),  # the same value may be sent
    ({}, [*CLASSES, pclass("everyone", 7, default=True)], {"priorityClassName": "everyone", "priority": 7}),
])
def test_pod_priority_comes_from_its_class_or_the_global_default(spec, classes, expected) -> None:
    obj = pod(**spec)
    admit_pod(obj, classes)
    assert {k: obj["spec"].get(k) for k in expected} == expected


@pytest.mark.parametrize("spec, message", [
    ({"priorityClassName": "nope"}, 'pods "p" is forbidden: no PriorityClass with name nope was found'),
    ({"priority": 5}, 'pods "p" is forbidden: the integer value of priority (5) must not be provided in pod spec; '
                      "priority admission controller computed 0 from the given PriorityClass name"),
    ({"priorityClassName": "batch", "preemptionPolicy": "PreemptLowerPriority"},
     'pods "p" is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in '
     "pod spec; priority admission controller computed Never from the given PriorityClass name"),
])
def test_pod_with_an_unknown_class_or_its_own_priority_is_forbidden(spec, message) -> None:
    with pytest.raises(errors.ApiStatusError) as err:
        admit_pod(pod(**spec), CLASSES)
    assert (err.value.code, err.value.message) == (403, message)


def test_only_one_global_default_and_system_classes_stay() -> None:
    admit_class(pclass("first", 1, default=True), CLASSES)
    admit_class(pclass("first", 1, default=True), [*CLASSES, pclass("first", 1, default=True)])  # its own update
    with pytest.raises(errors.ApiStatusError) as err:
        admit_class(pclass("second", 2, default=True), [*CLASSES, pclass("first", 1, default=True)])
    assert err.value.code == 403
    assert "PriorityClass first is already marked as default. Only one default can exist" in err.value.message
    with pytest.raises(errors.ApiStatusError) as err:
        check_delete("system-node-critical")
    assert err.value.message == ('priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: '
                                 "this is a system priority class and cannot be deleted")
    check_delete("high")


@pytest.mark.parametrize("obj, old, causes", [
    (pclass("high", 1000), None, []),
    (system_class("system-cluster-critical"), None, []),
    (pclass("huge", 1_000_000_001), None, [("value", "Forbidden: maximum allowed value of a user defined "
                                                     "priority is 1000000000")]),
    (pclass("system-mine", 5), None, [("metadata.name", "Forbidden: priority class names with 'system-' prefix are "
                                                        "reserved for system use only. error: system-mine is not a "
                                                        "known system priority class")]),
    (pclass("system-node-critical", 5), None, [("metadata.name", "Forbidden: priority class names with 'system-' "
                                                                 "prefix are reserved for system use only. error: "
                                                                 "value of system-node-critical PriorityClass must be "
                                                                 "2000001000")]),
    (pclass("odd", 1, policy="Sometimes"), None,
     [("preemptionPolicy", 'Unsupported value: "Sometimes": supported values: "Never", "PreemptLowerPriority"')]),
    (pclass("high", 1001), pclass("high", 1000), [("value", "Forbidden: may not be changed in an update.")]),
])
def test_priority_class_validation(obj, old, causes) -> None:
    got = [(c.field, c.message) for c in validate(PRIORITY_CLASSES, obj, old)]
    assert got == causes
