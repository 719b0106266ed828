"""apps/v1 DaemonSets and ControllerRevisions in the API server: defaults, validation (create,
update, status) and `kubectl get` cells."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from services.apiserver.defaults import apply_defaults, prepare_for_create, prepare_for_update
from services.apiserver.registry import REGISTRY
from services.apiserver.tables import to_table
from services.apiserver.validation import validate, validate_status

DAEMONSETS = REGISTRY.get("apps", "v1", "daemonsets")
REVISIONS = REGISTRY.get("apps", "v1", "controllerrevisions")
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def daemonset(**spec) -> dict:
    obj = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": "agent"}},
                    "template": {"metadata": {"labels": {"app": "agent"}},
                                 "spec": {"containers": [{"name": "agent", "image": "busybox"}]}}, **spec}}
    return obj


def created(obj: dict, res=DAEMONSETS) -> dict:
    obj["metadata"]["uid"] = "u-1"
    prepare_for_create(res, obj)
    apply_defaults(res, obj)
    return obj


def messages(causes) -> list[str]:
    return [c.error_text() for c in causes]


def test_defaults() -> None:
    obj = created(daemonset(status={"numberReady": 2}))
    assert obj["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                             "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert obj["spec"]["revisionHistoryLimit"] == 10
    assert obj["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert obj["status"] == {}
    assert validate(DAEMONSETS, obj) == []
    on_delete = created(daemonset(updateStrategy={"type": "OnDelete"}))
    assert on_delete["spec"]["updateStrategy"] == {"type": "OnDelete"}


@pytest.mark.parametrize("rolling,expected", [
    ({"maxUnavailable": "25%", "maxSurge": 0}, []),
    ({"maxUnavailable": 0, "maxSurge": 1}, []),
    ({"maxUnavailable": 1, "maxSurge": 1},
     ["spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"]),
    ({"maxUnavailable": 0, "maxSurge": "0%"},
     ["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]),
    ({"maxUnavailable": "120%", "maxSurge": 0},
     ['spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%']),
])
def test_rolling_update_wants_exactly_one_non_zero(rolling, expected) -> None:
    obj = created(daemonset(updateStrategy={"type": "RollingUpdate", "rollingUpdate": rolling}))
    assert messages(validate(DAEMONSETS, obj)) == expected


def test_spec_rules() -> None:
    obj = created(daemonset(updateStrategy={"type": "Sometimes"}, minReadySeconds=-1))
    obj["spec"]["template"]["spec"].update(restartPolicy="Never", activeDeadlineSeconds=10)
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    found = messages(validate(DAEMONSETS, obj))
    assert found == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
        '`selector` does not match template `labels`',
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        "spec.template.spec.activeDeadlineSeconds: Invalid value: 10: activeDeadlineSeconds in DaemonSet is not "
        "Supported",
        "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
        'spec.updateStrategy.type: Unsupported value: "Sometimes": supported values: "OnDelete", "RollingUpdate"',
    ]


def test_selector_is_immutable_and_the_template_is_not() -> None:
    old = created(daemonset())
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "alpine"
    prepare_for_update(DAEMONSETS, new, old)
    assert validate(DAEMONSETS, new, old) == [] and new["metadata"]["generation"] == 2
    moved = copy.deepcopy(old)
    moved["spec"]["selector"] = {"matchLabels": {"app": "agent", "tier": "x"}}
    moved["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    assert messages(validate(DAEMONSETS, moved, old)) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"agent", "tier":"x"}, '
        'MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable']


def test_status_counts_are_not_negative() -> None:
    obj = created(daemonset())
    obj["status"] = {"numberReady": -1, "desiredNumberScheduled": 2}
    assert messages(validate_status(DAEMONSETS, obj, obj)) == [
        "status.numberReady: Invalid value: -1: must be greater than or equal to 0"]


def revision(data=None, number=1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": "agent-5d8f9c7b6", "namespace": "default",
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent",
                                              "uid": "u-1", "controller": True}]},
            "data": data if data is not None else {"spec": {"template": {"$patch": "replace"}}}, "revision": number}


def test_controller_revision_data_is_immutable_and_revision_not_negative() -> None:
    old = created(revision(), REVISIONS)
    assert validate(REVISIONS, old) == []
    renumbered = copy.deepcopy(old)
    renumbered["revision"] = 3
    assert validate(REVISIONS, renumbered, old) == []
    changed = copy.deepcopy(old)
    changed["data"] = {"spec": {}}
    assert messages(validate(REVISIONS, changed, old)) == [
        "data: Invalid value: runtime.RawExtension{...}: field is immutable"]
    assert messages(validate(REVISIONS, created(revision(number=-1), REVISIONS))) == [
        "revision: Invalid value: -1: must be greater than or equal to 0"]


def test_rows() -> None:
    ds = created(daemonset())
    ds["metadata"]["creationTimestamp"] = (NOW - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a", "disk": "ssd"}
    ds["status"] = {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                    "updatedNumberScheduled": 2, "numberAvailable": 1}
    table = to_table(DAEMONSETS, [ds], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age",
        "Containers", "Images", "Selector"]
    assert table["rows"][0]["cells"] == ["agent", 2, 2, 1, 2, 1, "disk=ssd,zone=a", "3m", "agent", "busybox",
                                         "app=agent"]
    rev = created(revision(number=2), REVISIONS)
    rev["metadata"]["creationTimestamp"] = ds["metadata"]["creationTimestamp"]
    orphan = copy.deepcopy(rev)
    orphan["metadata"].update(name="lonely", ownerReferences=[])
    rows = [r["cells"] for r in to_table(REVISIONS, [rev, orphan], now=NOW)["rows"]]
    assert rows == [["agent-5d8f9c7b6", "daemonset.apps/agent", 2, "3m"], ["lonely", "<none>", 2, "3m"]]


def test_template_generation_annotation() -> None:
    from services.apiserver.defaults import TEMPLATE_GENERATION, daemonset_template_generation

    old = created(daemonset())
    assert old["metadata"]["annotations"] == {TEMPLATE_GENERATION: "1"}
    same = copy.deepcopy(old)
    same["metadata"]["annotations"][TEMPLATE_GENERATION] = "7"  # a client may not set it
    daemonset_template_generation(same, old)
    assert same["metadata"]["annotations"][TEMPLATE_GENERATION] == "1"
    changed = copy.deepcopy(old)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "alpine"
    daemonset_template_generation(changed, old)
    assert changed["metadata"]["annotations"][TEMPLATE_GENERATION] == "2"
