"""OpenAPI v3 documents and strict field validation."""

from __future__ import annotations

import pytest

from services.apiserver.openapi import (
    openapi_v3_document,
    openapi_v3_root,
    parse_openapi_v3_path,
    schema_name,
    strict_decoding_message,
    unknown_field_warnings,
    unknown_fields,
)
from services.apiserver.registry import REGISTRY


def test_root_lists_every_group_version() -> None:
    root = openapi_v3_root(REGISTRY)
    assert set(root["paths"]) == {"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/discovery.k8s.io/v1",
                                  "apis/coordination.k8s.io/v1", "apis/policy/v1", "apis/rbac.authorization.k8s.io/v1",
                                  "apis/scheduling.k8s.io/v1"}
    assert root["paths"]["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")


@pytest.mark.parametrize("path,gv", [
    ("/openapi/v3/api/v1", ("", "v1")),
    ("/openapi/v3/apis/apps/v1", ("apps", "v1")),
    ("/openapi/v3/apis/apps", None),
    ("/openapi/v2", None),
])
def test_parse_path(path, gv) -> None:
    assert parse_openapi_v3_path(path) == gv


def test_every_kind_has_gvk_schema_and_patch_with_field_validation() -> None:
    for group, version in REGISTRY.group_versions():
        doc = openapi_v3_document(REGISTRY, group, version)
        schemas = doc["components"]["schemas"]
        for res in REGISTRY.in_group_version(group, version):
            schema = schemas[schema_name(res)]
            assert schema["x-kubernetes-group-version-kind"] == [{"group": group, "version": version, "kind": res.kind}]
            patches = [op["patch"] for op in doc["paths"].values()
                       if "patch" in op and op["patch"]["x-kubernetes-group-version-kind"]["kind"] == res.kind]
            assert len(patches) == 1
            assert "fieldValidation" in [p["name"] for p in patches[0]["parameters"]]
        # every $ref resolves inside the document
        text = str(doc)
        for name in schemas:
            assert name in text
        for ref in _refs(doc):
            assert ref.removeprefix("#/components/schemas/") in schemas


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_pod_spec_schema_is_modeled() -> None:
    schemas = openapi_v3_document(REGISTRY, "", "v1")["components"]["schemas"]
    spec = schemas["io.k8s.api.core.v1.PodSpec"]
    assert spec["properties"]["containers"]["type"] == "array"
    assert spec["properties"]["containers"]["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert spec["required"] == ["containers"]
    assert spec["properties"]["affinity"]["x-kubernetes-preserve-unknown-fields"] is True
    assert openapi_v3_document(REGISTRY, "storage.k8s.io", "v1") is None


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "labels": {"any-key": "v"}},
       "spec": {"containers": [{"name": "a", "image": "nginx", "resources": {"limits": {"cpu": "1"}},
                                "ports": [{"containerPort": 80}], "livenessProbe": {"httpGet": {"port": 80}}}],
                "volumes": [{"name": "v", "emptyDir": {}}], "affinity": {"whatever": {"deep": 1}}}}

UNKNOWN_CASES = [
    ("pods", POD, []),
    ("pods", {**POD, "spec": {**POD["spec"], "containers": [{"name": "a", "imagee": "x"}]}}, ["spec.containers[0].imagee"]),
    ("pods", {**POD, "metadata": {"name": "x", "labelz": {}}, "extra": 1}, ["metadata.labelz", "extra"]),
    ("pods", {**POD, "spec": {**POD["spec"], "containers": [{"name": "a", "livenessProbe": {"httpGet": {"prot": 1}}}]}},
     ["spec.containers[0].livenessProbe.httpGet.prot"]),
    ("deployments", {"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "imag": "x"}]}},
                              "strategy": {"rollingUpdate": {"maxSurge": "25%"}}}},
     ["spec.template.spec.containers[0].imag"]),
    ("services", {"spec": {"ports": [{"port": 80, "targetport": 8080}], "type": "ClusterIP"}},
     ["spec.ports[0].targetport"]),
    ("configmaps", {"data": {"a": "b"}, "dta": {}}, ["dta"]),
    ("nodes", {"status": {"anything": 1}}, []),
    ("pods", {"status": {"phase": "Running", "observedGeneration": 2}}, []),
    ("deployments", {"status": {"replicas": 1, "newerField": 1}}, []),
]


@pytest.mark.parametrize("plural,obj,expected", UNKNOWN_CASES)
def test_unknown_fields(plural, obj, expected) -> None:
    assert unknown_fields(REGISTRY.lookup(plural), obj) == expected


def test_strict_messages() -> None:
    pods = REGISTRY.lookup("pods")
    assert strict_decoding_message(pods, ["spec.foo", "bar"]) == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.foo", unknown field "bar"')
    assert unknown_field_warnings(["spec.foo"]) == ['unknown field "spec.foo"']


def test_patch_extensions_match_server_merge_keys() -> None:
    """kubectl apply builds its strategic merge patch from these; without them it replaces lists."""
    schemas = openapi_v3_document(REGISTRY, "apps", "v1")["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert (containers["x-kubernetes-patch-strategy"], containers["x-kubernetes-patch-merge-key"]) == ("merge", "name")
    ports = schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"
    assert schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]["x-kubernetes-patch-strategy"] == "retainKeys"
    assert "x-kubernetes-patch-strategy" not in schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["tolerations"]
    svc = openapi_v3_document(REGISTRY, "", "v1")["components"]["schemas"]["io.k8s.api.core.v1.ServiceSpec"]
    assert svc["properties"]["ports"]["x-kubernetes-patch-merge-key"] == "port"


def test_unknown_fields_ignores_patch_directives() -> None:
    patch = {"metadata": {"$setElementOrder/finalizers": ["a"], "$deleteFromPrimitiveList/finalizers": ["b"]},
             "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}],
                                            "containers": [{"name": "b", "$patch": "delete"}, {"name": "a", "imgae": "x"}]}}}}
    assert unknown_fields(REGISTRY.lookup("deployments"), patch) == ["spec.template.spec.containers[1].imgae"]


def test_enums_for_explain() -> None:
    schemas = openapi_v3_document(REGISTRY, "", "v1")["components"]["schemas"]
    assert schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["restartPolicy"]["enum"] == ["Always", "Never", "OnFailure"]
    assert schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["type"]["enum"][0] == "ClusterIP"
