"""The registry describes each built-in resource with Kubernetes' names."""

from __future__ import annotations

import pytest

from services.apiserver.registry import REGISTRY, Cause

NAMES = [
    # (group, version, plural, kind, namespaced, short names, in "all")
    ("", "v1", "namespaces", "Namespace", False, ("ns",), False),
    ("", "v1", "nodes", "Node", False, ("no",), False),
    ("", "v1", "pods", "Pod", True, ("po",), True),
    ("", "v1", "services", "Service", True, ("svc",), True),
    ("", "v1", "endpoints", "Endpoints", True, ("ep",), False),
    ("", "v1", "events", "Event", True, ("ev",), False),
    ("", "v1", "configmaps", "ConfigMap", True, ("cm",), False),
    ("", "v1", "secrets", "Secret", True, (), False),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",), False),
    ("apps", "v1", "deployments", "Deployment", True, ("deploy",), True),
    ("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), True),
    ("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), True),
    ("apps", "v1", "controllerrevisions", "ControllerRevision", True, (), False),
    ("batch", "v1", "jobs", "Job", True, (), True),
    ("batch", "v1", "cronjobs", "CronJob", True, ("cj",), True),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, (), False),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, (), False),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), False),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, (), False),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, (), False),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, (), False),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, (), False),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",), False),
]


@pytest.mark.parametrize("group,version,plural,kind,namespaced,short,in_all", NAMES)
def test_names(group, version, plural, kind, namespaced, short, in_all) -> None:
    res = REGISTRY.get(group, version, plural)
    assert res is not None
    assert (res.kind, res.namespaced, res.short_names) == (kind, namespaced, short)
    assert ("all" in res.categories) is in_all
    assert res.list_kind == kind + "List"
    assert REGISTRY.by_kind(kind, group) is res
    assert REGISTRY.by_api_version_kind(res.api_version, kind) is res


def test_all_resources_listed_once() -> None:
    assert sorted(r.plural for r in REGISTRY.all()) == sorted(n[2] for n in NAMES)


@pytest.mark.parametrize("name,plural", [("po", "pods"), ("Pod", "pods"), ("deploy", "deployments"),
                                         ("deployment", "deployments"), ("leases", "leases"), ("nope", None)])
def test_lookup(name, plural) -> None:
    res = REGISTRY.lookup(name)
    assert (res.plural if res else None) == plural


def test_api_version_and_keys() -> None:
    pods = REGISTRY.get("", "v1", "pods")
    deploy = REGISTRY.get("apps", "v1", "deployments")
    nodes = REGISTRY.get("", "v1", "nodes")
    assert (pods.api_version, deploy.api_version) == ("v1", "apps/v1")
    assert pods.key("web", "default") == "/registry/pods/default/web"
    assert nodes.key("n1") == "/registry/minions/n1"


def test_subresources() -> None:
    pods = REGISTRY.get("", "v1", "pods")
    entries = {s.name: s for s in pods.subresource_entries()}
    assert entries["status"].verbs == ("get", "patch", "update")
    assert entries["binding"].kind == "Binding" and entries["binding"].verbs == ("create",)
    scale = {s.name: s for s in REGISTRY.get("apps", "v1", "deployments").subresource_entries()}["scale"]
    assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")
    assert pods.has_status and not REGISTRY.get("", "v1", "configmaps").has_status


FIELD_CASES = [
    ("pods", {"metadata": {"name": "a", "namespace": "ns"}, "spec": {"nodeName": "n1"},
              "status": {"phase": "Running"}},
     {"metadata.name": "a", "metadata.namespace": "ns", "spec.nodeName": "n1", "status.phase": "Running",
      "spec.hostNetwork": "false"}),
    ("pods", {"metadata": {"name": "a", "namespace": "ns"}}, {"spec.nodeName": "", "status.podIP": ""}),
    ("events", {"metadata": {"name": "e"}, "involvedObject": {"name": "x", "uid": "u"}, "type": "Normal",
                "source": {"component": "kubelet"}},
     {"involvedObject.name": "x", "involvedObject.uid": "u", "type": "Normal", "source": "kubelet"}),
    ("nodes", {"metadata": {"name": "n"}, "spec": {"unschedulable": True}},
     {"metadata.name": "n", "spec.unschedulable": "true"}),
    ("secrets", {"metadata": {"name": "s"}, "type": "Opaque"}, {"type": "Opaque"}),
    ("namespaces", {"metadata": {"name": "d"}, "status": {"phase": "Active"}}, {"status.phase": "Active"}),
]


@pytest.mark.parametrize("plural,obj,expected", FIELD_CASES)
def test_field_labels(plural, obj, expected) -> None:
    res = REGISTRY.lookup(plural)
    labels = res.field_labels(obj)
    assert {k: labels[k] for k in expected} == expected
    assert set(labels) == res.field_label_names()


def test_cluster_scoped_has_no_namespace_field() -> None:
    assert "metadata.namespace" not in REGISTRY.lookup("nodes").field_label_names()
    assert "metadata.namespace" in REGISTRY.lookup("configmaps").field_label_names()


def test_cause_shape() -> None:
    cause = Cause("FieldValueRequired", "Required value", "spec.containers")
    assert cause.to_dict() == {"reason": "FieldValueRequired", "message": "Required value",
                               "field": "spec.containers"}
    assert cause.error_text() == "spec.containers: Required value"
