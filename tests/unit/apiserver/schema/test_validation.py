"""Validation: Kubernetes' causes (reason, field, message) for invalid objects, per kind."""

from __future__ import annotations

import copy

import pytest

from services.apiserver.registry import REGISTRY
from services.apiserver.validation import (
    DNS1035_LABEL_MSG,
    DNS1123_LABEL_MSG,
    invalid_message,
    invalid_status,
    validate,
)
from services.apiserver.selectors import DNS1123_SUBDOMAIN_MSG, LABEL_VALUE_MSG


def pod(**spec_overrides) -> dict:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    obj["spec"].update(spec_overrides)
    return obj


def deployment(selector=None, labels=None, **spec) -> dict:
    obj = {"metadata": {"name": "web", "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": "web"}} if selector is None else selector,
                    "template": {"metadata": {"labels": {"app": "web"} if labels is None else labels},
                                 "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}}
    obj["spec"].update(spec)
    return obj


def service(**spec) -> dict:
    obj = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}}
    obj["spec"].update(spec)
    return obj


def causes_of(plural: str, obj: dict, old: dict | None = None) -> list[tuple[str, str, str]]:
    res = REGISTRY.lookup(plural)
    obj = res.default(copy.deepcopy(obj))
    if old is not None:
        old = res.default(copy.deepcopy(old))
    return [(c.reason, c.field, c.message) for c in validate(res, obj, old)]


VALID = [
    ("pods", pod()),
    ("pods", pod(volumes=[{"name": "data", "emptyDir": {}}],
                 containers=[{"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/d"}],
                              "ports": [{"name": "http", "containerPort": 80}], "env": [{"name": "A_B.c-d", "value": "1"}],
                              "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                            "limits": {"cpu": "1", "example.com/gpu": "1", "hugepages-2Mi": "2Mi"}},
                              "livenessProbe": {"httpGet": {"port": "http"}}}])),
    ("deployments", deployment()),
    ("replicasets", deployment()),
    ("services", service()),
    ("pods", pod(containers=[{"name": "a", "image": "x", "ports": [{"containerPort": 80, "name": "http"}]},
                             {"name": "b", "image": "x", "ports": [{"containerPort": 81, "name": "http"}]}])),
    ("services", service(clusterIP="None", ports=[])),
    ("services", service(type="ExternalName", externalName="example.com", ports=[])),
    ("namespaces", {"metadata": {"name": "team-a"}}),
    ("nodes", {"metadata": {"name": "node-1.example"}, "spec": {"podCIDR": "127.244.1.0/24"}}),
    ("configmaps", {"metadata": {"name": "c", "namespace": "d"}, "data": {"app.conf": "x", "KEY_1": "y"}}),
    ("leases", {"metadata": {"name": "kube-scheduler", "namespace": "kube-system"}, "spec": {"leaseDurationSeconds": 15}}),
    ("events", {"metadata": {"name": "web.1", "namespace": "default"}, "involvedObject": {"namespace": "default"}}),
    ("pods", {**pod(), "metadata": {"generateName": "web-", "name": "web-abcde", "namespace": "default",
                                    "labels": {"app.kubernetes.io/name": "web", "empty": ""}}}),
]


@pytest.mark.parametrize("plural,obj", VALID)
def test_valid_objects(plural, obj) -> None:
    assert causes_of(plural, obj) == []


INVALID = [
    # (case, plural, obj, expected (reason, field, message) among the causes)
    ("no name", "pods", {**pod(), "metadata": {"namespace": "default"}},
     ("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")),
    ("bad name", "pods", {**pod(), "metadata": {"name": "Web", "namespace": "default"}},
     ("FieldValueInvalid", "metadata.name", f'Invalid value: "Web": {DNS1123_SUBDOMAIN_MSG}')),
    ("long name", "pods", {**pod(), "metadata": {"name": "a" * 254, "namespace": "default"}},
     ("FieldValueInvalid", "metadata.name", f'Invalid value: "{"a" * 254}": must be no more than 253 characters')),
    ("namespace label", "namespaces", {"metadata": {"name": "a.b"}},
     ("FieldValueInvalid", "metadata.name", f'Invalid value: "a.b": {DNS1123_LABEL_MSG}')),
    ("service 1035", "services", {**service(), "metadata": {"name": "1web", "namespace": "default"}},
     ("FieldValueInvalid", "metadata.name", f'Invalid value: "1web": {DNS1035_LABEL_MSG}')),
    ("bad generateName", "pods", {**pod(), "metadata": {"generateName": "Web-", "name": "web-x", "namespace": "d"}},
     ("FieldValueInvalid", "metadata.generateName", f'Invalid value: "Web-": {DNS1123_SUBDOMAIN_MSG}')),
    ("cluster scoped with namespace", "nodes", {"metadata": {"name": "n", "namespace": "x"}},
     ("FieldValueForbidden", "metadata.namespace", "Forbidden: not allowed on this type")),
    ("missing namespace", "pods", {**pod(), "metadata": {"name": "x"}},
     ("FieldValueRequired", "metadata.namespace", "Required value")),
    ("bad label value", "pods", {**pod(), "metadata": {"name": "x", "namespace": "d", "labels": {"app": "a b"}}},
     ("FieldValueInvalid", "metadata.labels", f'Invalid value: "a b": {LABEL_VALUE_MSG}')),
    ("bad label key", "pods", {**pod(), "metadata": {"name": "x", "namespace": "d", "labels": {"-a": "b"}}},
     ("FieldValueInvalid", "metadata.labels", 'Invalid value: "-a": name part must consist of alphanumeric characters, '
      "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
      "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")),
    ("no containers", "pods", pod(containers=[]), ("FieldValueRequired", "spec.containers", "Required value")),
    ("no image", "pods", pod(containers=[{"name": "app"}]),
     ("FieldValueRequired", "spec.containers[0].image", "Required value")),
    ("no container name", "pods", pod(containers=[{"image": "nginx"}]),
     ("FieldValueRequired", "spec.containers[0].name", "Required value")),
    ("bad container name", "pods", pod(containers=[{"name": "App", "image": "x"}]),
     ("FieldValueInvalid", "spec.containers[0].name", f'Invalid value: "App": {DNS1123_LABEL_MSG}')),
    ("duplicate container", "pods", pod(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]),
     ("FieldValueDuplicate", "spec.containers[1].name", 'Duplicate value: "a"')),
    ("init and app same name", "pods", pod(initContainers=[{"name": "app", "image": "x"}]),
     ("FieldValueDuplicate", "spec.containers[0].name", 'Duplicate value: "app"')),
    ("port range", "pods", pod(containers=[{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]),
     ("FieldValueInvalid", "spec.containers[0].ports[0].containerPort",
      "Invalid value: 70000: must be between 1 and 65535, inclusive")),
    ("port required", "pods", pod(containers=[{"name": "a", "image": "x", "ports": [{"name": "http"}]}]),
     ("FieldValueRequired", "spec.containers[0].ports[0].containerPort", "Required value")),
    ("port protocol", "pods", pod(containers=[{"name": "a", "image": "x", "ports": [{"containerPort": 80, "protocol": "tcp"}]}]),
     ("FieldValueNotSupported", "spec.containers[0].ports[0].protocol",
      'Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"')),
    ("duplicate port name", "pods", pod(containers=[{"name": "a", "image": "x", "ports": [
        {"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]}]),
     ("FieldValueDuplicate", "spec.containers[0].ports[1].name", 'Duplicate value: "http"')),
    ("port name", "pods", pod(containers=[{"name": "a", "image": "x", "ports": [{"containerPort": 80, "name": "HTTP"}]}]),
     ("FieldValueInvalid", "spec.containers[0].ports[0].name",
      'Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)')),
    ("bad quantity", "pods", pod(containers=[{"name": "a", "image": "x", "resources": {"requests": {"cpu": "lots"}}}]),
     ("FieldValueInvalid", "spec.containers[0].resources.requests[cpu]",
      "Invalid value: \"lots\": quantities must match the regular expression "
      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")),
    ("resource name", "pods", pod(containers=[{"name": "a", "image": "x", "resources": {"limits": {"gpu": "1"}}}]),
     ("FieldValueInvalid", "spec.containers[0].resources.limits[gpu]",
      'Invalid value: "gpu": must be a standard resource type or fully qualified')),
    ("request over limit", "pods", pod(containers=[{"name": "a", "image": "x", "resources": {
        "requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]),
     ("FieldValueInvalid", "spec.containers[0].resources.requests",
      'Invalid value: "2": must be less than or equal to cpu limit of 1')),
    ("env name", "pods", pod(containers=[{"name": "a", "image": "x", "env": [{"name": "1A"}]}]),
     ("FieldValueInvalid", "spec.containers[0].env[0].name", "Invalid value: \"1A\": a valid environment variable name "
      "must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. "
      "'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')")),
    ("restart policy", "pods", pod(restartPolicy="Sometimes"),
     ("FieldValueNotSupported", "spec.restartPolicy",
      'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"')),
    ("image pull policy", "pods", pod(containers=[{"name": "a", "image": "x", "imagePullPolicy": "Maybe"}]),
     ("FieldValueNotSupported", "spec.containers[0].imagePullPolicy",
      'Unsupported value: "Maybe": supported values: "Always", "IfNotPresent", "Never"')),
    ("probe without handler", "pods", pod(containers=[{"name": "a", "image": "x", "livenessProbe": {"periodSeconds": 1}}]),
     ("FieldValueRequired", "spec.containers[0].livenessProbe", "Required value: must specify a handler type")),
    ("mount unknown volume", "pods", pod(containers=[{"name": "a", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]),
     ("FieldValueNotFound", "spec.containers[0].volumeMounts[0].name", 'Not found: "v"')),
    ("duplicate volume", "pods", pod(volumes=[{"name": "v"}, {"name": "v"}]),
     ("FieldValueDuplicate", "spec.volumes[1].name", 'Duplicate value: "v"')),
    ("toleration operator", "pods", pod(tolerations=[{"key": "k", "operator": "Exists", "value": "v"}]),
     ("FieldValueInvalid", "spec.tolerations[0].operator",
      "Invalid value: \"v\": value must be empty when `operator` is 'Exists'")),
    ("active deadline", "pods", pod(activeDeadlineSeconds=0),
     ("FieldValueInvalid", "spec.activeDeadlineSeconds", "Invalid value: 0: must be between 1 and 2147483647, inclusive")),
    ("selector mismatch", "deployments", deployment(labels={"app": "other"}),
     ("FieldValueInvalid", "spec.template.metadata.labels",
      'Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`')),
    ("no selector", "deployments", {**deployment(), "spec": {**deployment()["spec"], "selector": None}},
     ("FieldValueRequired", "spec.selector", "Required value")),
    ("empty selector", "deployments", deployment(selector={}),
     ("FieldValueInvalid", "spec.selector", "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment")),
    ("negative replicas", "deployments", deployment(replicas=-1),
     ("FieldValueInvalid", "spec.replicas", "Invalid value: -1: must be greater than or equal to 0")),
    ("template restart policy", "deployments",
     {**deployment(), "spec": {**deployment()["spec"], "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
         "restartPolicy": "Never", "containers": [{"name": "a", "image": "x"}]}}}},
     ("FieldValueNotSupported", "spec.template.spec.restartPolicy", 'Unsupported value: "Never": supported values: "Always"')),
    ("template image", "deployments",
     {**deployment(), "spec": {**deployment()["spec"], "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
         "containers": [{"name": "a"}]}}}},
     ("FieldValueRequired", "spec.template.spec.containers[0].image", "Required value")),
    ("strategy", "deployments", deployment(strategy={"type": "Rolling"}),
     ("FieldValueNotSupported", "spec.strategy.type", 'Unsupported value: "Rolling": supported values: "Recreate", "RollingUpdate"')),
    ("surge and unavailable zero", "deployments",
     deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}),
     ("FieldValueInvalid", "spec.strategy.rollingUpdate.maxUnavailable", 'Invalid value: "0%": may not be 0 when `maxSurge` is 0')),
    ("rs selector mismatch", "replicasets", deployment(labels={"x": "y"}),
     ("FieldValueInvalid", "spec.template.metadata.labels",
      'Invalid value: map[string]string{"x":"y"}: `selector` does not match template `labels`')),
    ("service ports required", "services", service(ports=[]), ("FieldValueRequired", "spec.ports", "Required value")),
    ("service port range", "services", service(ports=[{"port": 0}]),
     ("FieldValueInvalid", "spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive")),
    ("service port names", "services", service(ports=[{"port": 80}, {"port": 81, "name": "b"}]),
     ("FieldValueRequired", "spec.ports[0].name", "Required value")),
    ("service duplicate names", "services", service(ports=[{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]),
     ("FieldValueDuplicate", "spec.ports[1].name", 'Duplicate value: "a"')),
    ("service type", "services", service(type="Magic"),
     ("FieldValueNotSupported", "spec.type",
      'Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')),
    ("service cluster ip", "services", service(clusterIP="abc"),
     ("FieldValueInvalid", "spec.clusterIPs[0]", 'Invalid value: "abc": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')),
    ("nodePort on ClusterIP", "services", service(ports=[{"port": 80, "nodePort": 30001}]),
     ("FieldValueForbidden", "spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'")),
    ("externalName required", "services", service(type="ExternalName", ports=[]),
     ("FieldValueRequired", "spec.externalName", "Required value")),
    ("configmap key", "configmaps", {"metadata": {"name": "c", "namespace": "d"}, "data": {"a b": "x"}},
     ("FieldValueInvalid", "data[a b]", "Invalid value: \"a b\": a valid config key must consist of alphanumeric "
      "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
      "'[-._a-zA-Z0-9]+')")),
    ("lease duration", "leases", {"metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0}},
     ("FieldValueInvalid", "spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0")),
    ("taint effect", "nodes", {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "Bad"}]}},
     ("FieldValueNotSupported", "spec.taints[0].effect",
      'Unsupported value: "Bad": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"')),
    ("event namespace", "events", {"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}},
     ("FieldValueInvalid", "involvedObject.namespace", 'Invalid value: "b": does not match event.namespace')),
]


@pytest.mark.parametrize("plural,obj,expected", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_objects(plural, obj, expected) -> None:
    assert expected in causes_of(plural, obj)


UPDATES = [
    # (case, plural, old, new, expected cause or None when the update is valid)
    # The live container's imagePullPolicy (Always, for "nginx") stays; a changed default would be a spec change.
    ("pod image change", "pods", pod(), pod(containers=[{"name": "app", "image": "nginx:2", "imagePullPolicy": "Always"}]),
     None),
    ("pod labels change", "pods", pod(), {**pod(), "metadata": {"name": "web", "namespace": "default", "labels": {"a": "b"}}}, None),
    ("pod add toleration", "pods", pod(), pod(tolerations=[{"key": "k", "operator": "Exists"}]), None),
    ("pod deadline", "pods", pod(), pod(activeDeadlineSeconds=30), None),
    ("pod empty lists", "pods", pod(), pod(volumes=[], nodeSelector={}, hostNetwork=False, nodeName=""), None),
    ("pod env change", "pods", pod(), pod(containers=[{"name": "app", "image": "nginx", "env": [{"name": "A", "value": "1"}]}]),
     ("FieldValueForbidden", "spec",
      "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
      "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
      "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")),
    ("pod nodeName change", "pods", pod(), pod(nodeName="n1"), ("FieldValueForbidden", "spec", None)),
    ("pod add container", "pods", pod(), pod(containers=[{"name": "app", "image": "nginx"}, {"name": "b", "image": "x"}]),
     ("FieldValueForbidden", "spec", None)),
    ("name immutable", "pods", pod(), {**pod(), "metadata": {"name": "other", "namespace": "default"}},
     ("FieldValueInvalid", "metadata.name", 'Invalid value: "other": field is immutable')),
    ("deployment replicas", "deployments", deployment(), deployment(replicas=5), None),
    ("deployment selector spelled differently", "deployments", deployment(),
     deployment(selector={"matchLabels": {"app": "web"}, "matchExpressions": []}), None),
    ("deployment selector", "deployments", deployment(),
     deployment(selector={"matchLabels": {"app": "web", "v": "2"}}, labels={"app": "web", "v": "2"}),
     ("FieldValueInvalid", "spec.selector", 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", '
      '"v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable')),
    ("service cluster ip", "services", service(clusterIP="127.96.0.10", clusterIPs=["127.96.0.10"]),
     service(clusterIP="127.96.0.11", clusterIPs=["127.96.0.11"]),
     ("FieldValueInvalid", "spec.clusterIPs[0]", 'Invalid value: []string{"127.96.0.11"}: may not change once set')),
    ("service ports", "services", service(clusterIP="127.96.0.10"), service(clusterIP="127.96.0.10", ports=[{"port": 81}]), None),
    ("immutable configmap", "configmaps", {"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}, "immutable": True},
     {"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "2"}, "immutable": True},
     ("FieldValueForbidden", "data", "Forbidden: field is immutable when `immutable` is set")),
    ("secret type", "secrets", {"metadata": {"name": "s", "namespace": "d"}},
     {"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls"},
     ("FieldValueInvalid", "type", 'Invalid value: "kubernetes.io/tls": field is immutable')),
]


@pytest.mark.parametrize("plural,old,new,expected", [c[1:] for c in UPDATES], ids=[c[0] for c in UPDATES])
def test_updates(plural, old, new, expected) -> None:
    causes = causes_of(plural, new, old)
    if expected is None:
        assert causes == []
    elif expected[2] is None:
        assert expected[:2] in [c[:2] for c in causes]
    else:
        assert expected in causes


def test_invalid_status_and_message() -> None:
    pods = REGISTRY.lookup("pods")
    obj = pods.default(pod(containers=[{"name": "app"}]))
    causes = validate(pods, obj)
    status = invalid_status(pods, "web", causes)
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["message"] == 'Pod "web" is invalid: spec.containers[0].image: Required value'
    assert status["details"] == {"name": "web", "group": "", "kind": "Pod", "causes": [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"}]}
    deploy = REGISTRY.lookup("deployments")
    two = validate(deploy, deploy.default(deployment(labels={"x": "y"}, replicas=-1)))
    message = invalid_message(deploy, "web", two)
    assert message.startswith('Deployment.apps "web" is invalid: [spec.replicas: Invalid value: -1: ')
    assert message.endswith("]")


STATUS_CASES = [
    # (case, plural, status, old status, expected cause or None)
    ("pod running", "pods", {"phase": "Running", "podIP": "127.244.1.2", "podIPs": [{"ip": "127.244.1.2"}],
                             "conditions": [{"type": "Ready", "status": "True"}]}, {"phase": "Pending"}, None),
    ("pod phase", "pods", {"phase": "Sleeping"}, {},
     ("FieldValueNotSupported", "status.phase",
      'Unsupported value: "Sleeping": supported values: "Failed", "Pending", "Running", "Succeeded", "Unknown"')),
    ("pod terminal", "pods", {"phase": "Running"}, {"phase": "Succeeded"},
     ("FieldValueForbidden", "status.phase", "Forbidden: cannot transition from terminal phase Succeeded to Running")),
    ("pod ip", "pods", {"podIP": "x"}, {},
     ("FieldValueInvalid", "status.podIP", 'Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')),
    ("condition status", "pods", {"conditions": [{"type": "Ready", "status": "yes"}]}, {},
     ("FieldValueNotSupported", "status.conditions[0].status",
      'Unsupported value: "yes": supported values: "False", "True", "Unknown"')),
    ("deployment ready > replicas", "deployments", {"replicas": 1, "readyReplicas": 2, "availableReplicas": 1}, {},
     ("FieldValueInvalid", "status.readyReplicas", "Invalid value: 2: cannot be greater than status.replicas")),
    ("deployment negative", "deployments", {"replicas": -1}, {},
     ("FieldValueInvalid", "status.replicas", "Invalid value: -1: must be greater than or equal to 0")),
    ("rs available > ready", "replicasets", {"replicas": 3, "readyReplicas": 1, "availableReplicas": 2}, {},
     ("FieldValueInvalid", "status.availableReplicas", "Invalid value: 2: cannot be greater than readyReplicas")),
    ("node capacity", "nodes", {"capacity": {"cpu": "lots"}}, {},
     ("FieldValueInvalid", "status.capacity[cpu]", "Invalid value: \"lots\": quantities must match the regular "
      "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")),
    ("node ok", "nodes", {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                          "addresses": [{"type": "InternalIP", "address": "127.0.1.1"}]}, {}, None),
]


@pytest.mark.parametrize("plural,status,old_status,expected", [c[1:] for c in STATUS_CASES],
                         ids=[c[0] for c in STATUS_CASES])
def test_status_updates(plural, status, old_status, expected) -> None:
    res = REGISTRY.lookup(plural)
    meta = {"name": "x", "namespace": "d"} if res.namespaced else {"name": "x"}
    causes = [(c.reason, c.field, c.message) for c in
              res.validate_status({"metadata": meta, "status": status}, {"metadata": meta, "status": old_status})]
    assert causes == [] if expected is None else expected in causes
