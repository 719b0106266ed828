"""Defaulting and create/update preparation, per kind."""

from __future__ import annotations

import copy

import pytest

from services.apiserver.defaults import (
    image_pull_policy,
    pod_qos_class,
    prepare_for_create,
    prepare_for_status_update,
    prepare_for_update,
)
from services.apiserver.registry import REGISTRY


def defaulted(plural: str, obj: dict) -> dict:
    return REGISTRY.lookup(plural).default(copy.deepcopy(obj))


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("registry:5000/app", "Always"), ("registry:5000/app:v1", "IfNotPresent"),
    ("nginx@sha256:abc", "IfNotPresent"),
])
def test_image_pull_policy(image, policy) -> None:
    assert image_pull_policy(image) == policy


def test_pod_defaults() -> None:
    pod = defaulted("pods", {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}],
         "readinessProbe": {"httpGet": {"port": 80}}, "resources": {"limits": {"cpu": "1"}}}]}})
    spec = pod["spec"]
    assert (pod["apiVersion"], pod["kind"]) == ("v1", "Pod")
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["enableServiceLinks"] is True
    assert "priority" not in spec  # the Priority admission plugin sets it, not defaulting
    assert spec["serviceAccountName"] == "default"
    assert {t["key"] for t in spec["tolerations"]} == {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePath"] == "/dev/termination-log" and c["terminationMessagePolicy"] == "File"
    assert c["ports"][0]["protocol"] == "TCP"
    assert c["readinessProbe"]["periodSeconds"] == 10 and c["readinessProbe"]["httpGet"]["path"] == "/"
    assert c["resources"]["requests"] == {"cpu": "1"}


def test_defaults_do_not_overwrite() -> None:
    pod = defaulted("pods", {"metadata": {"name": "p"}, "spec": {
        "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
        "containers": [{"name": "a", "image": "nginx", "imagePullPolicy": "Never"}]}})
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 0
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_deployment_defaults_include_template() -> None:
    d = defaulted("deployments", {"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [
        {"name": "a", "image": "nginx:1"}]}}}})
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    tspec = spec["template"]["spec"]
    assert tspec["restartPolicy"] == "Always" and tspec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert "serviceAccountName" not in tspec  # admission defaults apply to pods, not templates
    recreate = defaulted("deployments", {"spec": {"strategy": {"type": "Recreate"}}})
    assert recreate["spec"]["strategy"] == {"type": "Recreate"}
    assert defaulted("replicasets", {"spec": {}})["spec"]["replicas"] == 1


def test_service_defaults() -> None:
    svc = defaulted("services", {"spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}})
    spec = svc["spec"]
    assert (spec["type"], spec["sessionAffinity"]) == ("ClusterIP", "None")
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80},
                             {"port": 443, "protocol": "TCP", "targetPort": "https"}]
    assert defaulted("services", {"spec": {"type": "NodePort"}})["spec"]["externalTrafficPolicy"] == "Cluster"


def test_namespace_secret_defaults() -> None:
    ns = defaulted("namespaces", {"metadata": {"name": "n"}})
    assert ns["spec"] == {"finalizers": ["kubernetes"]} and ns["status"] == {"phase": "Active"}
    secret = defaulted("secrets", {"metadata": {"name": "s"}, "stringData": {"a": "hi"}, "data": {"b": "eA=="}})
    assert secret["type"] == "Opaque" and "stringData" not in secret
    assert secret["data"] == {"b": "eA==", "a": "aGk="}


@pytest.mark.parametrize("containers,qos", [
    ([{"name": "a"}], "BestEffort"),
    ([{"resources": {"requests": {"cpu": "100m"}}}], "Burstable"),
    ([{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}}], "Guaranteed"),
    ([{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}}], "Burstable"),
    ([{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, {"name": "b"}], "Burstable"),
])
def test_qos(containers, qos) -> None:
    assert pod_qos_class({"spec": {"containers": containers}}) == qos


def test_prepare_for_create_and_update() -> None:
    pods, deploy = REGISTRY.lookup("pods"), REGISTRY.lookup("deployments")
    pod = prepare_for_create(pods, {"metadata": {}, "spec": {"containers": [{}]}, "status": {"phase": "Running"}})
    assert pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"} and pod["metadata"]["generation"] == 1
    old = {"metadata": {"generation": 3, "labels": {"a": "1"}}, "spec": {"replicas": 1}, "status": {"replicas": 1}}
    same = prepare_for_update(deploy, {"metadata": {"generation": 3, "labels": {"a": "2"}}, "spec": {"replicas": 1},
                                       "status": {"replicas": 9}}, old)
    assert same["metadata"]["generation"] == 3 and same["status"] == {"replicas": 1}
    empty = prepare_for_update(deploy, {"metadata": {"generation": 3}, "spec": {"replicas": 1, "paused": None,
                                                                                 "template": {}}}, old)
    assert empty["metadata"]["generation"] == 3
    bumped = prepare_for_update(deploy, {"metadata": {}, "spec": {"replicas": 2}}, old)
    assert bumped["metadata"]["generation"] == 4 and bumped["status"] == {"replicas": 1}
    status = prepare_for_status_update(deploy, {"metadata": {"labels": {"a": "1"}, "resourceVersion": "7"},
                                                "spec": {"replicas": 5}, "status": {"replicas": 2}}, old)
    assert status["spec"] == {"replicas": 1} and status["status"] == {"replicas": 2}
    assert status["metadata"]["generation"] == 3 and status["metadata"]["resourceVersion"] == "7"


@pytest.mark.parametrize("tolerations,added", [
    ([], 2),
    ([{"operator": "Exists"}], 0),
    ([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}], 1),
    ([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}], 2),
])
def test_default_toleration_seconds(tolerations, added) -> None:
    pod = defaulted("pods", {"spec": {"containers": [{"name": "a", "image": "x"}], "tolerations": tolerations}})
    assert len(pod["spec"]["tolerations"]) == len(tolerations) + added


def test_small_defaults() -> None:
    node = defaulted("nodes", {"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4", "pods": "110"}}})
    assert node["status"]["allocatable"] == {"cpu": "4", "pods": "110"}
    svc = defaulted("services", {"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 1}]}})
    assert svc["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    assert svc["spec"]["allocateLoadBalancerNodePorts"] is True
    pod = defaulted("pods", {"spec": {"hostNetwork": True, "containers": [{"name": "a", "image": "x",
                                                                          "ports": [{"containerPort": 8080}]}]}})
    assert pod["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080
