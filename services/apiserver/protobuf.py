"""Kubernetes' protobuf wire format, decoded into the JSON shapes, for the kinds kubectl sends so.

`kubectl create namespace|configmap|secret|serviceaccount|service|deployment|job|cronjob|pdb|priorityclass|
role|clusterrole|rolebinding|clusterrolebinding` send their object as
`application/vnd.kubernetes.protobuf` (the `k8s\\x00` magic, then a `runtime.Unknown` envelope
with typeMeta and the raw message). Guarantees: `decode(data)` returns the object as a dict, the way
Go's JSON encoding of it would read (empty strings, false and zero non-pointer fields omitted),
for Namespace, ConfigMap, Secret, ServiceAccount, Service, Deployment, ReplicaSet, Job, CronJob,
PodDisruptionBudget, PriorityClass, the RBAC kinds, Pod and
SelfSubjectAccessReview (`kubectl auth can-i`); fields
this table does not model are dropped. Anything malformed or of another kind raises `ProtobufError`.
Field numbers are those of k8s.io/api's generated.proto.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


# A field: (json name, type, repeated). Types: "s" string, "b" bool, "i" int (omitted when 0),
# "p" int kept when 0 (Go pointers and required ints), "y" bytes (base64), "map" map<string,string>,
# "bmap" map<string,bytes>, "qmap" map<string,Quantity>, "time", "ios" IntOrString, or a message name.
Field = tuple[str, str, bool]

_S = lambda name: (name, "s", False)  # noqa: E731
_REP_S = lambda name: (name, "s", True)  # noqa: E731

MESSAGES: dict[str, dict[int, Field]] = {
    "ObjectMeta": {1: _S("name"), 2: _S("generateName"), 3: _S("namespace"), 5: _S("uid"),
                   6: _S("resourceVersion"), 7: ("generation", "i", False), 8: ("creationTimestamp", "time", False),
                   9: ("deletionTimestamp", "time", False), 10: ("deletionGracePeriodSeconds", "p", False),
                   11: ("labels", "map", False), 12: ("annotations", "map", False),
                   13: ("ownerReferences", "OwnerReference", True), 14: _REP_S("finalizers")},
    "OwnerReference": {1: _S("kind"), 3: _S("name"), 4: _S("uid"), 5: _S("apiVersion"),
                       6: ("controller", "b", False), 7: ("blockOwnerDeletion", "b", False)},
    "Namespace": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "NamespaceSpec", False)},
    "NamespaceSpec": {1: _REP_S("finalizers")},
    "ConfigMap": {1: ("metadata", "ObjectMeta", False), 2: ("data", "map", False), 3: ("binaryData", "bmap", False),
                  4: ("immutable", "b", False)},
    "Secret": {1: ("metadata", "ObjectMeta", False), 2: ("data", "bmap", False), 3: _S("type"),
               4: ("stringData", "map", False), 5: ("immutable", "b", False)},
    "ServiceAccount": {1: ("metadata", "ObjectMeta", False), 2: ("secrets", "ObjectReference", True),
                       3: ("imagePullSecrets", "LocalObjectReference", True),
                       4: ("automountServiceAccountToken", "b", False)},
    "ObjectReference": {1: _S("kind"), 2: _S("namespace"), 3: _S("name"), 4: _S("uid"), 5: _S("apiVersion"),
                        6: _S("resourceVersion"), 7: _S("fieldPath")},
    "LocalObjectReference": {1: _S("name")},
    "Service": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "ServiceSpec", False)},
    "ServiceSpec": {1: ("ports", "ServicePort", True), 2: ("selector", "map", False), 3: _S("clusterIP"),
                    4: _S("type"), 5: _REP_S("externalIPs"), 7: _S("sessionAffinity"), 8: _S("loadBalancerIP"),
                    9: _REP_S("loadBalancerSourceRanges"), 10: _S("externalName"),
                    11: _S("externalTrafficPolicy"), 12: ("healthCheckNodePort", "i", False),
                    13: ("publishNotReadyAddresses", "b", False), 17: _S("ipFamilyPolicy"),
                    18: _REP_S("clusterIPs"), 19: _REP_S("ipFamilies"), 22: _S("internalTrafficPolicy")},
    "ServicePort": {1: _S("name"), 2: _S("protocol"), 3: ("port", "p", False), 4: ("targetPort", "ios", False),
                    5: ("nodePort", "i", False), 6: _S("appProtocol")},
    "Deployment": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "DeploymentSpec", False)},
    "DeploymentSpec": {1: ("replicas", "p", False), 2: ("selector", "LabelSelector", False),
                       3: ("template", "PodTemplateSpec", False), 4: ("strategy", "DeploymentStrategy", False),
                       5: ("minReadySeconds", "i", False), 6: ("revisionHistoryLimit", "p", False),
                       7: ("paused", "b", False), 9: ("progressDeadlineSeconds", "p", False)},
    "DeploymentStrategy": {1: _S("type"), 2: ("rollingUpdate", "RollingUpdateDeployment", False)},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "ios", False), 2: ("maxSurge", "ios", False)},
    "ReplicaSet": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "ReplicaSetSpec", False)},
    "ReplicaSetSpec": {1: ("replicas", "p", False), 2: ("selector", "LabelSelector", False),
                       3: ("template", "PodTemplateSpec", False), 4: ("minReadySeconds", "i", False)},
    "Job": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "JobSpec", False)},
    "JobSpec": {1: ("parallelism", "p", False), 2: ("completions", "p", False),
                3: ("activeDeadlineSeconds", "p", False), 4: ("selector", "LabelSelector", False),
                5: ("manualSelector", "b", False), 6: ("template", "PodTemplateSpec", False),
                7: ("backoffLimit", "p", False), 8: ("ttlSecondsAfterFinished", "p", False),
                9: _S("completionMode"), 10: ("suspend", "b", False), 14: _S("podReplacementPolicy")},
    "CronJob": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "CronJobSpec", False)},
    "CronJobSpec": {1: _S("schedule"), 2: ("startingDeadlineSeconds", "p", False), 3: _S("concurrencyPolicy"),
                    4: ("suspend", "b", False), 5: ("jobTemplate", "JobTemplateSpec", False),
                    6: ("successfulJobsHistoryLimit", "p", False), 7: ("failedJobsHistoryLimit", "p", False),
                    8: _S("timeZone")},
    "JobTemplateSpec": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "JobSpec", False)},
    "PodDisruptionBudget": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodDisruptionBudgetSpec", False)},
    "PodDisruptionBudgetSpec": {1: ("minAvailable", "ios", False), 2: ("selector", "LabelSelector", False),
                                3: ("maxUnavailable", "ios", False), 4: _S("unhealthyPodEvictionPolicy")},
    "PriorityClass": {1: ("metadata", "ObjectMeta", False), 2: ("value", "p", False), 3: ("globalDefault", "b", False),
                      4: _S("description"), 5: _S("preemptionPolicy")},
    "Role": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "ClusterRole": {1: ("metadata", "ObjectMeta", False), 2: ("rules", "PolicyRule", True)},
    "PolicyRule": {1: _REP_S("verbs"), 2: _REP_S("apiGroups"), 3: _REP_S("resources"), 4: _REP_S("resourceNames"),
                   5: _REP_S("nonResourceURLs")},
    "RoleBinding": {1: ("metadata", "ObjectMeta", False), 2: ("subjects", "Subject", True),
                    3: ("roleRef", "RoleRef", False)},
    "ClusterRoleBinding": {1: ("metadata", "ObjectMeta", False), 2: ("subjects", "Subject", True),
                           3: ("roleRef", "RoleRef", False)},
    "Subject": {1: _S("kind"), 2: _S("apiGroup"), 3: _S("name"), 4: _S("namespace")},
    "RoleRef": {1: _S("apiGroup"), 2: _S("kind"), 3: _S("name")},
    "LabelSelector": {1: ("matchLabels", "map", False), 2: ("matchExpressions", "LabelSelectorRequirement", True)},
    "LabelSelectorRequirement": {1: _S("key"), 2: _S("operator"), 3: _REP_S("values")},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "Pod": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "PodSpec", False)},
    "PodSpec": {2: ("containers", "Container", True), 3: _S("restartPolicy"),
                4: ("terminationGracePeriodSeconds", "p", False), 5: ("activeDeadlineSeconds", "p", False),
                6: _S("dnsPolicy"), 7: ("nodeSelector", "map", False), 8: _S("serviceAccountName"),
                9: _S("serviceAccount"), 10: _S("nodeName"), 11: ("hostNetwork", "b", False),
                15: ("imagePullSecrets", "LocalObjectReference", True), 16: _S("hostname"), 17: _S("subdomain"),
                19: _S("schedulerName"), 20: ("initContainers", "Container", True),
                22: ("tolerations", "Toleration", True), 24: _S("priorityClassName")},
    "Container": {1: _S("name"), 2: _S("image"), 3: _REP_S("command"), 4: _REP_S("args"), 5: _S("workingDir"),
                  6: ("ports", "ContainerPort", True), 7: ("env", "EnvVar", True),
                  8: ("resources", "ResourceRequirements", False), 9: ("volumeMounts", "VolumeMount", True),
                  13: _S("terminationMessagePath"), 14: _S("imagePullPolicy"), 16: ("stdin", "b", False),
                  17: ("stdinOnce", "b", False), 18: ("tty", "b", False), 20: _S("terminationMessagePolicy")},
    "ContainerPort": {1: _S("name"), 2: ("hostPort", "i", False), 3: ("containerPort", "p", False),
                      4: _S("protocol"), 5: _S("hostIP")},
    "EnvVar": {1: _S("name"), 2: _S("value")},
    "ResourceRequirements": {1: ("limits", "qmap", False), 2: ("requests", "qmap", False)},
    "VolumeMount": {1: _S("name"), 2: ("readOnly", "b", False), 3: _S("mountPath"), 4: _S("subPath")},
    "Toleration": {1: _S("key"), 2: _S("operator"), 3: _S("value"), 4: _S("effect"),
                   5: ("tolerationSeconds", "p", False)},
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "SelfSubjectAccessReviewSpec", False)},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", False),
                                    2: ("nonResourceAttributes", "NonResourceAttributes", False)},
    "ResourceAttributes": {1: _S("namespace"), 2: _S("verb"), 3: _S("group"), 4: _S("version"), 5: _S("resource"),
                           6: _S("subresource"), 7: _S("name")},
    "NonResourceAttributes": {1: _S("path"), 2: _S("verb")},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta", False), 2: ("spec", "SelfSubjectRulesReviewSpec", False)},
    "SelfSubjectRulesReviewSpec": {1: _S("namespace")},
}
KINDS = ("Namespace", "ConfigMap", "Secret", "ServiceAccount", "Service", "Deployment", "ReplicaSet", "Job", "CronJob",
         "PodDisruptionBudget", "PriorityClass", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "Pod",
         "SelfSubjectAccessReview", "SelfSubjectRulesReview")


def decode(data: bytes) -> dict[str, Any]:
    """A protobuf-encoded object (with the `k8s\\x00` magic) as its JSON dict."""
    if not data.startswith(MAGIC):
        raise ProtobufError("the protobuf body does not start with the k8s magic number")
    envelope = _fields(data[len(MAGIC):])
    type_meta = _fields(_one(envelope, 1, b""))
    api_version = _one(type_meta, 1, b"").decode(errors="replace")
    kind = _one(type_meta, 2, b"").decode(errors="replace")
    if kind not in KINDS:
        raise ProtobufError(f"protobuf bodies of kind {kind!r} are not supported; send JSON or YAML")
    obj = _message(_one(envelope, 2, b""), kind)
    return {"apiVersion": api_version, "kind": kind, **obj}


def _varint(data: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ProtobufError("truncated varint")
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) in order; value is an int (varint) or bytes."""
    out: list[tuple[int, int, Any]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise ProtobufError("truncated field")
            value, i = data[i:i + size], i + size
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _one(fields: list[tuple[int, int, Any]], number: int, default: Any) -> Any:
    return next((v for n, _, v in fields if n == number), default)


def _message(data: bytes, name: str) -> dict[str, Any]:
    table = MESSAGES[name]
    obj: dict[str, Any] = {}
    for number, wire, raw in _fields(data):
        spec = table.get(number)
        if spec is None:
            continue
        key, typ, repeated = spec
        value = _value(raw, wire, typ)
        if repeated:
            if value is not None or typ == "s":
                obj.setdefault(key, []).append(value if value is not None else "")
        elif typ in ("map", "bmap", "qmap"):
            if value:
                obj.setdefault(key, {}).update(value)
        elif value is not None:
            obj[key] = value
    return obj


def _value(raw: Any, wire: int, typ: str) -> Any:
    if typ in ("i", "p", "b"):
        if wire != 0:
            raise ProtobufError("expected a varint")
        number = raw - (1 << 64) if raw >= 1 << 63 else raw
        if typ == "b":
            return True if number else None
        return number if (number or typ == "p") else None
    if wire != 2:
        raise ProtobufError("expected a length-delimited field")
    if typ == "s":
        text = raw.decode(errors="replace")
        return text or None
    if typ == "y":
        return base64.b64encode(raw).decode()
    if typ in ("map", "bmap", "qmap"):
        entry = _fields(raw)
        k = _one(entry, 1, b"").decode(errors="replace")
        v = _one(entry, 2, b"")
        if typ == "bmap":
            return {k: base64.b64encode(v).decode()}
        if typ == "qmap":
            return {k: _one(_fields(v), 1, b"").decode(errors="replace")}
        return {k: v.decode(errors="replace")}
    if typ == "time":
        fields = _fields(raw)
        seconds = _one(fields, 1, 0)
        if not seconds:
            return None
        return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if typ == "ios":
        fields = _fields(raw)
        if _one(fields, 1, 0) == 1:
            return _one(fields, 3, b"").decode(errors="replace")
        return _one(fields, 2, 0)
    value = _message(raw, typ)
    return value or None
