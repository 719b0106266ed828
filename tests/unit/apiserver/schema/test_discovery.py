"""Discovery documents: what kubectl reads to find resources, short names and categories."""

from __future__ import annotations

import pytest

from services.apiserver.discovery import (
    aggregated_discovery,
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    negotiate_aggregated,
    version_info,
)
from services.apiserver.registry import REGISTRY

KUBECTL_132_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                      "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


def test_api_versions_and_groups() -> None:
    assert api_versions()["versions"] == ["v1"]
    groups = {g["name"]: g for g in api_group_list(REGISTRY)["groups"]}
    assert set(groups) == {"apps", "batch", "discovery.k8s.io", "coordination.k8s.io", "policy",
                           "rbac.authorization.k8s.io", "scheduling.k8s.io"}
    assert groups["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    assert api_group(REGISTRY, "apps")["kind"] == "APIGroup"
    assert api_group(REGISTRY, "storage.k8s.io") is None


def test_core_resource_list() -> None:
    doc = api_resource_list(REGISTRY, "", "v1")
    assert (doc["kind"], doc["groupVersion"]) == ("APIResourceList", "v1")
    by_name = {r["name"]: r for r in doc["resources"]}
    pods = by_name["pods"]
    assert pods["shortNames"] == ["po"] and pods["categories"] == ["all"] and pods["namespaced"]
    assert pods["singularName"] == "pod" and "watch" in pods["verbs"] and "deletecollection" in pods["verbs"]
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["pods/binding"] == {"name": "pods/binding", "singularName": "", "namespaced": True,
                                       "kind": "Binding", "verbs": ["create"]}
    assert by_name["nodes"]["namespaced"] is False
    assert "categories" not in by_name["configmaps"]


def test_apps_resource_list_scale_subresource() -> None:
    by_name = {r["name"]: r for r in api_resource_list(REGISTRY, "apps", "v1")["resources"]}
    assert by_name["deployments/scale"]["group"] == "autoscaling"
    assert by_name["deployments/scale"]["kind"] == "Scale"
    assert by_name["deployments"]["shortNames"] == ["deploy"]
    assert api_resource_list(REGISTRY, "apps", "v2") is None


@pytest.mark.parametrize("accept,expected", [
    (KUBECTL_132_ACCEPT, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
    ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
     "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
    ("application/json", None),
    (None, None),
])
def test_negotiate_aggregated(accept, expected) -> None:
    assert negotiate_aggregated(accept) == expected


def test_aggregated_documents() -> None:
    ctype = negotiate_aggregated(KUBECTL_132_ACCEPT)
    core = aggregated_discovery(REGISTRY, legacy=True, content_type=ctype)
    assert core["apiVersion"] == "apidiscovery.k8s.io/v2"
    (item,) = core["items"]
    assert item["metadata"]["name"] == ""
    pods = next(r for r in item["versions"][0]["resources"] if r["resource"] == "pods")
    assert pods["scope"] == "Namespaced" and pods["shortNames"] == ["po"]
    assert {s["subresource"] for s in pods["subresources"]} >= {"status", "binding"}
    named = aggregated_discovery(REGISTRY, legacy=False, content_type=ctype)
    assert [i["metadata"]["name"] for i in named["items"]] == [
        "apps", "batch", "discovery.k8s.io", "coordination.k8s.io", "policy", "rbac.authorization.k8s.io",
        "scheduling.k8s.io"]
    deploy = next(r for r in named["items"][0]["versions"][0]["resources"] if r["resource"] == "deployments")
    scale = next(s for s in deploy["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def test_version_is_132() -> None:
    info = version_info()
    assert (info["major"], info["minor"]) == ("1", "32")
    assert info["gitVersion"].startswith("v1.32.")
