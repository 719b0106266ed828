"""JSON merge patch, JSON patch, strategic merge patch and simple server-side apply."""

from __future__ import annotations

import copy

import pytest

from services.apiserver.patch import (
    ApplyConflict,
    PatchError,
    leaf_paths,
    path_string,
    record_update,
    apply_patch,
    fields_v1,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
)

MERGE_CASES = [
    # RFC 7386 appendix A (selection)
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("target,patch,expected", MERGE_CASES)
def test_json_merge_patch(target, patch, expected) -> None:
    before = copy.deepcopy(target)
    assert json_merge_patch(target, patch) == expected
    assert target == before


DOC = {"foo": "bar", "list": [1, 2, 3], "obj": {"a/b": 1, "m~n": 2}}

JSON_PATCH_CASES = [
    ([{"op": "add", "path": "/baz", "value": "qux"}], {**DOC, "baz": "qux"}),
    ([{"op": "add", "path": "/list/1", "value": 9}], {**DOC, "list": [1, 9, 2, 3]}),
    ([{"op": "add", "path": "/list/-", "value": 4}], {**DOC, "list": [1, 2, 3, 4]}),
    ([{"op": "remove", "path": "/foo"}], {k: v for k, v in DOC.items() if k != "foo"}),
    ([{"op": "remove", "path": "/list/0"}], {**DOC, "list": [2, 3]}),
    ([{"op": "replace", "path": "/foo", "value": 1}], {**DOC, "foo": 1}),
    ([{"op": "replace", "path": "/list/2", "value": 0}], {**DOC, "list": [1, 2, 0]}),
    ([{"op": "move", "from": "/foo", "path": "/moved"}],
     {"moved": "bar", "list": [1, 2, 3], "obj": DOC["obj"]}),
    ([{"op": "copy", "from": "/list/0", "path": "/first"}], {**DOC, "first": 1}),
    ([{"op": "test", "path": "/foo", "value": "bar"}], DOC),
    ([{"op": "test", "path": "/obj/a~1b", "value": 1}, {"op": "remove", "path": "/obj/m~0n"}],
     {**DOC, "obj": {"a/b": 1}}),
    ([], DOC),
]


@pytest.mark.parametrize("ops,expected", JSON_PATCH_CASES)
def test_json_patch(ops, expected) -> None:
    before = copy.deepcopy(DOC)
    assert json_patch(DOC, ops) == expected
    assert DOC == before


@pytest.mark.parametrize("ops,code,fragment", [
    ([{"op": "test", "path": "/foo", "value": "nope"}], 422, "testing value /foo failed"),
    ([{"op": "remove", "path": "/missing"}], 422, "nonexistent"),
    ([{"op": "replace", "path": "/missing", "value": 1}], 422, "does not exist"),
    ([{"op": "add", "path": "/a/b", "value": 1}], 422, "does not exist"),
    ([{"op": "add", "path": "/list/7", "value": 1}], 422, "out of bounds"),
    ([{"op": "jump", "path": "/foo"}], 400, "unexpected kind"),
    ([{"op": "add", "path": "foo", "value": 1}], 400, "must start with '/'"),
    ([{"op": "add", "path": "/x"}], 400, "missing value"),
    ({"op": "add"}, 400, "must be a list"),
])
def test_json_patch_errors(ops, code, fragment) -> None:
    with pytest.raises(PatchError) as err:
        json_patch(DOC, ops)
    assert err.value.code == code
    assert fragment in str(err.value)


POD = {
    "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a"]},
    "spec": {
        "containers": [
            {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "ports": [{"containerPort": 80, "protocol": "TCP"}]},
            {"name": "side", "image": "busybox", "args": ["x", "y"]},
        ],
        "tolerations": [{"key": "k1", "operator": "Exists"}],
        "volumes": [{"name": "v", "emptyDir": {}}],
    },
}


def containers(obj):
    return [c["name"] for c in obj["spec"]["containers"]]


def test_strategic_merges_containers_by_name() -> None:
    out = strategic_merge_patch(POD, {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}, "Pod")
    assert containers(out) == ["app", "side"]
    assert out["spec"]["containers"][0]["image"] == "nginx:2"
    assert out["spec"]["containers"][0]["env"] == POD["spec"]["containers"][0]["env"]
    assert POD["spec"]["containers"][0]["image"] == "nginx:1"  # input untouched


def test_strategic_new_item_and_element_order() -> None:
    new = {"name": "new", "image": "x"}
    # Without $setElementOrder Kubernetes puts a new item before the server-only items.
    out = strategic_merge_patch(POD, {"spec": {"containers": [new]}}, "Pod")
    assert containers(out) == ["new", "app", "side"]
    # kubectl apply sends $setElementOrder, which decides the order.
    order = [{"name": "app"}, {"name": "side"}, {"name": "new"}]
    out = strategic_merge_patch(POD, {"spec": {"$setElementOrder/containers": order, "containers": [new]}}, "Pod")
    assert containers(out) == ["app", "side", "new"]
    assert "$setElementOrder/containers" not in out["spec"]


def test_strategic_delete_directive_in_list() -> None:
    out = strategic_merge_patch(POD, {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}, "Pod")
    assert containers(out) == ["app"]


def test_strategic_replace_directive_in_list() -> None:
    patch = {"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}}
    assert containers(strategic_merge_patch(POD, patch, "Pod")) == ["only"]


def test_strategic_replace_and_delete_directive_in_map() -> None:
    out = strategic_merge_patch(POD, {"metadata": {"labels": {"$patch": "replace", "new": "1"}}}, "Pod")
    assert out["metadata"]["labels"] == {"new": "1"}
    out = strategic_merge_patch(POD, {"metadata": {"labels": {"$patch": "delete"}}}, "Pod")
    assert "labels" not in out["metadata"]


def test_strategic_nested_env_and_ports() -> None:
    patch = {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                                      "ports": [{"containerPort": 443}]}]}}
    app = strategic_merge_patch(POD, patch, "Pod")["spec"]["containers"][0]
    assert {e["name"]: e["value"] for e in app["env"]} == {"A": "1", "B": "20", "C": "3"}
    assert [p["containerPort"] for p in app["ports"]] == [443, 80]


def test_strategic_atomic_lists_are_replaced() -> None:
    patch = {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}],
                      "containers": [{"name": "side", "args": ["z"]}]}}
    out = strategic_merge_patch(POD, patch, "Pod")
    assert out["spec"]["tolerations"] == [{"key": "k2", "operator": "Exists"}]
    assert out["spec"]["containers"][1]["args"] == ["z"]


def test_strategic_primitive_merge_list_and_delete_from_primitive_list() -> None:
    out = strategic_merge_patch(POD, {"metadata": {"finalizers": ["b"]}}, "Pod")
    assert sorted(out["metadata"]["finalizers"]) == ["a", "b"]
    out = strategic_merge_patch(POD, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, "Pod")
    assert out["metadata"]["finalizers"] == []


def test_strategic_null_deletes_and_retain_keys() -> None:
    out = strategic_merge_patch(POD, {"metadata": {"labels": {"app": None}}}, "Pod")
    assert out["metadata"]["labels"] == {}
    deploy = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic_merge_patch(deploy, patch, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def test_strategic_deployment_template_and_service_ports() -> None:
    deploy = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}}}}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "2"}]}}}}
    out = strategic_merge_patch(deploy, patch, "Deployment")
    assert [c["image"] for c in out["spec"]["template"]["spec"]["containers"]] == ["1", "2"]
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}, "Service")
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]


def test_strategic_conditions_by_type_and_unknown_kind() -> None:
    status = {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]}}
    out = strategic_merge_patch(status, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, "Pod")
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]
    cm = {"data": {"a": "1"}, "list": [1, 2]}
    assert strategic_merge_patch(cm, {"data": {"b": "2"}, "list": [3]}, "ConfigMap") == {"data": {"a": "1", "b": "2"}, "list": [3]}


def test_strategic_errors() -> None:
    with pytest.raises(PatchError, match="does not contain declared merge key"):
        strategic_merge_patch(POD, {"spec": {"containers": [{"image": "x"}]}}, "Pod")
    with pytest.raises(PatchError):
        strategic_merge_patch(POD, ["x"], "Pod")


def test_apply_creates_and_records_managed_fields() -> None:
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}},
               "data": {"x": "1", "y": "2"}}
    obj = apply_patch(None, applied, "ConfigMap", manager="kubectl", api_version="v1", now="T")
    assert obj["data"] == {"x": "1", "y": "2"}
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply"
    assert entry["fieldsV1"]["f:data"] == {".": {}, "f:x": {}, "f:y": {}}
    # Applying again without y removes y (the manager owned it); fields others set stay.
    obj["data"]["z"] = "by-someone-else"
    applied2 = {**applied, "data": {"x": "10"}}
    obj2 = apply_patch(obj, applied2, "ConfigMap", manager="kubectl", api_version="v1", now="T2")
    assert obj2["data"] == {"x": "10", "z": "by-someone-else"}
    assert len(obj2["metadata"]["managedFields"]) == 1


def test_apply_removes_container_no_longer_applied() -> None:
    c = lambda n: {"name": n, "image": "img"}  # noqa: E731
    applied = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"replicas": 2, "template": {"spec": {"containers": [c("a"), c("b")]}}}}
    live = apply_patch(None, applied, "Deployment", manager="m", api_version="apps/v1", now="T")
    applied["spec"]["template"]["spec"]["containers"] = [c("a")]
    out = apply_patch(live, applied, "Deployment", manager="m", api_version="apps/v1", now="T")
    assert [x["name"] for x in out["spec"]["template"]["spec"]["containers"]] == ["a"]
    fields = fields_v1(applied, "Deployment")
    assert 'k:{"name":"a"}' in fields["f:spec"]["f:template"]["f:spec"]["f:containers"]


def test_apply_removes_only_the_managers_fields() -> None:
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"mine": "1"}},
               "data": {"x": "1"}}
    live = apply_patch(None, applied, "ConfigMap", manager="m", api_version="v1", now="T")
    live["metadata"]["labels"]["theirs"] = "2"
    out = apply_patch(live, {**applied, "metadata": {"name": "c"}}, "ConfigMap", manager="m", api_version="v1", now="T")
    assert out["metadata"]["labels"] == {"theirs": "2"}
    out = apply_patch(out, {**applied, "metadata": {"name": "c"}, "data": {}}, "ConfigMap", manager="m",
                      api_version="v1", now="T")
    assert "data" not in out or out["data"] == {}


def _deploy(replicas: int, image: str = "nginx:1") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}


def _managers(obj: dict) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]]


def test_record_update_takes_changed_fields_from_other_managers() -> None:
    live = apply_patch(None, _deploy(2), "Deployment", manager="kubectl", api_version="apps/v1", now="T", force=False)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    scaled = record_update(live, scaled, "Deployment", manager="kubectl-scale", api_version="apps/v1", now="T2")
    assert _managers(scaled) == [("kubectl", "Apply"), ("kubectl-scale", "Update")]
    entries = {e["manager"]: leaf_paths(e["fieldsV1"]) for e in scaled["metadata"]["managedFields"]}
    assert ("f:spec", "f:replicas") in entries["kubectl-scale"]
    assert ("f:spec", "f:replicas") not in entries["kubectl"]
    unchanged = record_update(scaled, copy.deepcopy(scaled), "Deployment", manager="x", api_version="apps/v1", now="T")
    assert _managers(unchanged) == _managers(scaled)


def test_apply_conflict_then_force() -> None:
    live = apply_patch(None, _deploy(2), "Deployment", manager="kubectl", api_version="apps/v1", now="T", force=False)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    scaled = record_update(live, scaled, "Deployment", manager="kubectl-scale", api_version="apps/v1", now="T")
    with pytest.raises(ApplyConflict) as err:
        apply_patch(scaled, _deploy(2), "Deployment", manager="kubectl", api_version="apps/v1", now="T", force=False)
    assert err.value.code == 409
    assert str(err.value) == ('Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: '
                              ".spec.replicas")
    assert err.value.causes() == [{"reason": "FieldManagerConflict", "field": ".spec.replicas",
                                   "message": 'conflict with "kubectl-scale" using apps/v1'}]
    # Same value: no conflict (shared ownership). Force: the applier takes the field over.
    apply_patch(scaled, _deploy(5), "Deployment", manager="kubectl", api_version="apps/v1", now="T", force=False)
    forced = apply_patch(scaled, _deploy(2), "Deployment", manager="kubectl", api_version="apps/v1", now="T", force=True)
    assert forced["spec"]["replicas"] == 2
    assert _managers(forced) == [("kubectl", "Apply")]  # kubectl-scale owned only replicas


def test_conflict_messages_for_several_fields_and_paths() -> None:
    conflict = ApplyConflict([("a", "v1", ".data.x"), ("a", "v1", ".data.y"), ("b", "v1", ".data.z")])
    assert str(conflict) == ('Apply failed with 3 conflicts: conflicts with "a" using v1:\n- .data.x\n- .data.y\n'
                             'conflicts with "b" using v1:\n- .data.z')
    path = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"web"}', "f:image")
    assert path_string(path) == '.spec.template.spec.containers[name="web"].image'


def test_apply_keeps_fields_another_manager_still_owns() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}}
    live = apply_patch(None, cm, "ConfigMap", manager="a", api_version="v1", now="T", force=False)
    live = apply_patch(live, cm, "ConfigMap", manager="b", api_version="v1", now="T", force=False)  # shared
    out = apply_patch(live, {**cm, "data": {}}, "ConfigMap", manager="a", api_version="v1", now="T", force=False)
    assert out["data"] == {"x": "1"}  # b still applies x
