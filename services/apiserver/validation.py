"""Kubernetes' validation per kind, with Kubernetes' field paths, reasons and messages.

Guarantees:
- `validate(resource, obj, old)` returns the `Cause`s kube-apiserver would report (an empty list
  means valid) for a create (`old` None) or an update of the main resource. Causes carry the
  field path (`spec.containers[0].image`), the StatusCause reason (`FieldValueRequired`...) and
  the message body Kubernetes gives (`Required value`, `Invalid value: "Web": a lowercase RFC 1123
  label must consist of ...`).
- Covered: object names (DNS-1123 subdomain, DNS-1123 label for namespaces, DNS-1035 label for
  services), generateName, labels and annotations, pod specs (containers, names, images, ports,
  env, resources quantities and requests <= limits, probes, volumes, policies, tolerations),
  deployment/replicaset/daemonset selectors matching template labels, strategies (a daemonset's
  rolling update: exactly one of maxUnavailable and maxSurge non-zero), controllerrevisions,
  poddisruptionbudgets (one of minAvailable/maxUnavailable), RBAC roles (rules) and bindings (roleRef,
  immutable; subjects), jobs (generated selector
  and labels, counts, restartPolicy OnFailure/Never, completionMode), cronjobs (schedule, timeZone,
  concurrencyPolicy, the job template), services (ports,
  types, clusterIP, externalName), configmap/secret keys, immutability on update (pod spec apart
  from images, activeDeadlineSeconds and added tolerations; service clusterIP; apps/v1
  selectors; a job's selector, completions, completionMode and template; namespace/name/uid;
  immutable configmaps and secrets; secret type).
- `validate_status(resource, obj, old)` checks writes to `/status`: pod phase (and no way back from
  Succeeded/Failed), IPs, conditions; deployment/replicaset replica counts (non-negative, ready <=
  replicas, available <= ready); job counts and uncounted pod uids; node capacity quantities;
  namespace phase.
- `invalid_status(resource, name, causes)` is the 422 Status Kubernetes answers with:
  `Pod "x" is invalid: spec.containers[0].image: Required value` (several causes in `[...]`).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from typing import Any

from .priority import HIGHEST_USER_DEFINABLE_PRIORITY, PREEMPTION_POLICIES, SYSTEM_PREFIX, is_known_system_class
from .quantity import QuantityError, parse_quantity
from .registry import Cause, Resource
from .selectors import (
    DNS1123_SUBDOMAIN_MSG,
    SelectorError,
    label_value_errors,
    qualified_name_errors,
    selector_from_label_selector,
)

Obj = dict[str, Any]

# ---- field errors (k8s.io/apimachinery/pkg/util/validation/field) -------------------------------

_OMIT = object()


def go_value(value: Any) -> str:
    """How Go's field.Error prints a bad value: strings %q, numbers and bools plain, maps/lists %#v."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        if all(isinstance(v, str) for v in value.values()):
            inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
            return f"map[string]string{{{inner}}}"
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(json.dumps(v) for v in value) + "}"
    if value is None:
        return "null"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _body(kind: str, value: Any, detail: str) -> str:
    text = kind if value is _OMIT else f"{kind}: {go_value(value)}"
    return f"{text}: {detail}" if detail else text


def required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", f"Required value: {detail}" if detail else "Required value", path)


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", _body("Invalid value", value, detail), path)


def not_supported(path: str, value: Any, supported: Iterable[str], *, ordered: bool = False) -> Cause:
    """field.NotSupported; most validators pass a sorted set, a few a list in their own order."""
    quoted = ", ".join(json.dumps(s) for s in (supported if ordered else sorted(supported)))
    return Cause("FieldValueNotSupported", _body("Unsupported value", value, f"supported values: {quoted}"), path)


def duplicate(path: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", _body("Duplicate value", value, ""), path)


def forbidden(path: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", f"Forbidden: {detail}", path)


def not_found(path: str, value: Any) -> Cause:
    return Cause("FieldValueNotFound", _body("Not found", value, ""), path)


def too_long(path: str, limit: int) -> Cause:
    return Cause("FieldValueTooLong", f"Too long: must have at most {limit} bytes", path)


def qualified_kind(resource: Resource) -> str:
    """schema.GroupKind.String(): "Pod", "Deployment.apps"."""
    return f"{resource.kind}.{resource.group}" if resource.group else resource.kind


def invalid_message(resource: Resource, name: str, causes: list[Cause]) -> str:
    """errors.NewInvalid's message (duplicate messages collapse, as utilerrors.Aggregate does)."""
    texts: list[str] = []
    for cause in causes:
        if cause.error_text() not in texts:
            texts.append(cause.error_text())
    head = f"{qualified_kind(resource)} {json.dumps(name)} is invalid"
    if not texts:
        return head
    return f"{head}: {texts[0]}" if len(texts) == 1 else f"{head}: [{', '.join(texts)}]"


def invalid_status(resource: Resource, name: str, causes: list[Cause]) -> Obj:
    """The 422 Invalid Status object for `causes`."""
    return {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": invalid_message(resource, name, causes), "reason": "Invalid",
        "details": {"name": name, "group": resource.group, "kind": resource.kind,
                    "causes": [c.to_dict() for c in causes]},
        "code": 422,
    }


# ---- names --------------------------------------------------------------------------------------

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                     "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
                     "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                     "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                     "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def dns1123_subdomain_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 253:
        errors.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.match(value):
        errors.append(DNS1123_SUBDOMAIN_MSG)
    return errors


def dns1123_label_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _DNS1123_LABEL.match(value):
        errors.append(DNS1123_LABEL_MSG)
    return errors


def dns1035_label_errors(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _DNS1035_LABEL.match(value):
        errors.append(DNS1035_LABEL_MSG)
    return errors


def path_segment_name_errors(name: str) -> list[str]:
    """path.IsValidPathSegmentName (ValidateRBACName): anything that can be one URL path segment."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


_NAME_RULES = {"Namespace": dns1123_label_errors, "Service": dns1035_label_errors,
               **{kind: path_segment_name_errors for kind in ("Role", "ClusterRole", "RoleBinding",
                                                              "ClusterRoleBinding")}}


def name_errors(resource: Resource, name: str, *, prefix: bool = False) -> list[str]:
    """The kind's ValidateNameFunc; `prefix` masks a trailing '-' as generateName validation does."""
    if prefix and name.endswith("-"):
        name = name[:-1] + "a"
    return _NAME_RULES.get(resource.kind, dns1123_subdomain_errors)(name)


_IANA_SVC_NAME = re.compile(r"^[-a-z0-9]+$")


def iana_svc_name_errors(port: str) -> list[str]:
    errors = []
    if len(port) > 15:
        errors.append("must be no more than 15 characters")
    if not _IANA_SVC_NAME.match(port):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in port:
        errors.append("must not contain consecutive hyphens")
    if not re.search(r"[a-z]", port):
        errors.append("must contain at least one letter (a-z)")
    if port.startswith("-") or port.endswith("-"):
        errors.append("must not begin or end with a hyphen")
    return errors


# ---- metadata -----------------------------------------------------------------------------------

TOTAL_ANNOTATION_SIZE = 256 * 1024


def validate_labels(labels: Any, path: str) -> list[Cause]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [invalid(path, labels, "must be a map of strings")]
    causes = []
    for key, value in labels.items():
        causes += [invalid(path, key, msg) for msg in qualified_name_errors(key)]
        if not isinstance(value, str):
            causes.append(invalid(path, value, "must be a string"))
        else:
            causes += [invalid(path, value, msg) for msg in label_value_errors(value)]
    return causes


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [invalid(path, annotations, "must be a map of strings")]
    causes = []
    size = 0
    for key, value in annotations.items():
        causes += [invalid(path, key, msg) for msg in qualified_name_errors(key.lower())]
        size += len(key) + len(str(value))
    if size > TOTAL_ANNOTATION_SIZE:
        causes.append(too_long(path, TOTAL_ANNOTATION_SIZE))
    return causes


def _validate_owner_references(refs: Any, path: str) -> list[Cause]:
    causes = []
    controllers = 0
    for i, ref in enumerate(refs or []):
        p = f"{path}[{i}]"
        for key in ("apiVersion", "kind", "name", "uid"):
            if not (ref or {}).get(key):
                causes.append(invalid(f"{p}.{key}", "", f"{key} must not be empty") if key != "uid"
                              else invalid(f"{p}.uid", "", "uid must not be empty"))
        controllers += 1 if (ref or {}).get("controller") else 0
    if controllers > 1:
        causes.append(invalid(path, refs, "Only one reference can have Controller set to true."))
    return causes


def validate_object_meta(resource: Resource, meta: Any) -> list[Cause]:
    if not isinstance(meta, dict):
        return [required("metadata")]
    causes: list[Cause] = []
    name, generate = meta.get("name") or "", meta.get("generateName") or ""
    if generate:
        causes += [invalid("metadata.generateName", generate, m) for m in name_errors(resource, generate, prefix=True)]
    if not name:
        causes.append(required("metadata.name", "name or generateName is required"))
    else:
        causes += [invalid("metadata.name", name, m) for m in name_errors(resource, name)]
    namespace = meta.get("namespace") or ""
    if resource.namespaced:
        if not namespace:
            causes.append(required("metadata.namespace"))
        else:
            causes += [invalid("metadata.namespace", namespace, m) for m in dns1123_label_errors(namespace)]
    elif namespace:
        causes.append(forbidden("metadata.namespace", "not allowed on this type"))
    causes += validate_labels(meta.get("labels"), "metadata.labels")
    causes += validate_annotations(meta.get("annotations"), "metadata.annotations")
    causes += _validate_owner_references(meta.get("ownerReferences"), "metadata.ownerReferences")
    for i, finalizer in enumerate(meta.get("finalizers") or []):
        causes += [invalid(f"metadata.finalizers[{i}]", finalizer, m) for m in qualified_name_errors(str(finalizer))]
    return causes


def _validate_meta_update(meta: Obj, old_meta: Obj) -> list[Cause]:
    causes = []
    # creationTimestamp is not checked: the server copies it from the old object (rest.BeforeUpdate).
    for key in ("name", "namespace", "uid"):
        if key in old_meta and old_meta.get(key) != meta.get(key) and (key != "uid" or meta.get("uid")):
            causes.append(invalid(f"metadata.{key}", meta.get(key, ""), "field is immutable"))
    return causes


# ---- helpers ------------------------------------------------------------------------------------


def semantic(value: Any) -> Any:
    """`value` with null, empty lists, empty maps, "" and false removed at every level, so two
    spellings of the same object compare equal: apiequality.Semantic.DeepEqual treats nil and empty
    alike, and Go's non-pointer "" and false are the same as absent. (0 is kept: replicas: 0 matters.)"""
    if isinstance(value, dict):
        cleaned = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not False and v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


def _dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _port_range(path: str, port: Any) -> list[Cause]:
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        return [invalid(path, port, "must be between 1 and 65535, inclusive")]
    return []


def _int_or_name_port(path: str, port: Any) -> list[Cause]:
    if isinstance(port, str) and not port.isdigit():
        return [invalid(path, port, m) for m in iana_svc_name_errors(port)]
    return _port_range(path, int(port) if isinstance(port, str) else port)


def _enum(path: str, value: Any, allowed: tuple[str, ...], *, required_: bool = False) -> list[Cause]:
    if value is None or value == "":
        return [required(path)] if required_ else []
    return [] if value in allowed else [not_supported(path, value, allowed)]


def _non_negative(path: str, value: Any) -> list[Cause]:
    if value is None:
        return []
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


PROTOCOLS = ("SCTP", "TCP", "UDP")

# ---- pods ---------------------------------------------------------------------------------------

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
ENV_NAME_MSG = ("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or "
                "'.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', "
                "regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')")
_STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage", "storage")


def _is_resource_name(name: str) -> bool:
    """A standard container resource or a fully qualified extended one (`example.com/gpu`)."""
    return name in _STANDARD_RESOURCES or name.startswith("hugepages-") or (
        "/" in name and not qualified_name_errors(name))


def _validate_resources(resources: Any, path: str) -> list[Cause]:
    if not isinstance(resources, dict):
        return []
    causes: list[Cause] = []
    parsed: dict[str, dict[str, Any]] = {}
    for kind in ("limits", "requests"):
        parsed[kind] = {}
        for name, value in (resources.get(kind) or {}).items():
            p = f"{path}.{kind}[{name}]"
            if not _is_resource_name(name):
                causes.append(invalid(p, name, "must be a standard resource type or fully qualified"))
                continue
            try:
                quantity = parse_quantity(value if isinstance(value, str) else str(value))
            except QuantityError as err:
                causes.append(invalid(p, value, str(err)))
                continue
            if quantity.value < 0:
                causes.append(invalid(p, value, "must be greater than or equal to 0"))
            parsed[kind][name] = quantity
    for name, request in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and request.value > limit.value:
            causes.append(invalid(f"{path}.requests", str(request),
                                  f"must be less than or equal to {name} limit of {limit}"))
    return causes


def _validate_ports(ports: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    port_names: set[str] = set()  # unique within a container, as validateContainerPorts checks
    for i, port in enumerate(ports or []):
        p = f"{path}[{i}]"
        if not isinstance(port, dict):
            causes.append(invalid(p, port, "must be an object"))
            continue
        if port.get("name"):
            causes += [invalid(f"{p}.name", port["name"], m) for m in iana_svc_name_errors(port["name"])]
            if port["name"] in port_names:
                causes.append(duplicate(f"{p}.name", port["name"]))
            port_names.add(port["name"])
        if not port.get("containerPort"):
            causes.append(required(f"{p}.containerPort"))
        else:
            causes += _port_range(f"{p}.containerPort", port["containerPort"])
        if port.get("hostPort"):
            causes += _port_range(f"{p}.hostPort", port["hostPort"])
        causes += _enum(f"{p}.protocol", port.get("protocol"), PROTOCOLS, required_=True)
    return causes


def _validate_env(env: Any, path: str) -> list[Cause]:
    causes = []
    for i, var in enumerate(env or []):
        p = f"{path}[{i}]"
        name = (var or {}).get("name") or ""
        if not name:
            causes.append(required(f"{p}.name"))
        elif not _ENV_NAME.match(name):
            causes.append(invalid(f"{p}.name", name, ENV_NAME_MSG))
        if (var or {}).get("value") and (var or {}).get("valueFrom"):
            causes.append(invalid(f"{p}.valueFrom", "", "may not be specified when `value` is not empty"))
    return causes


_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def _validate_probe(probe: Any, path: str) -> list[Cause]:
    if not isinstance(probe, dict):
        return []
    handlers = [h for h in _HANDLERS if probe.get(h) is not None]
    if not handlers:
        return [required(path, "must specify a handler type")]
    if len(handlers) > 1:
        return [forbidden(f"{path}.{handlers[1]}", "may not specify more than 1 handler type")]
    causes: list[Cause] = []
    for key in ("httpGet", "tcpSocket"):
        if isinstance(probe.get(key), dict):
            causes += _int_or_name_port(f"{path}.{key}.port", probe[key].get("port"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        causes += _non_negative(f"{path}.{key}", probe.get(key))
    return causes


def _validate_container(c: Any, path: str, volumes: set[str], *,
                        is_init: bool) -> list[Cause]:
    if not isinstance(c, dict):
        return [invalid(path, c, "must be an object")]
    causes: list[Cause] = []
    name = c.get("name") or ""
    if not name:
        causes.append(required(f"{path}.name"))
    else:
        causes += [invalid(f"{path}.name", name, m) for m in dns1123_label_errors(name)]
    if not c.get("image"):
        causes.append(required(f"{path}.image"))
    causes += _validate_ports(c.get("ports"), f"{path}.ports")
    causes += _validate_env(c.get("env"), f"{path}.env")
    causes += _validate_resources(c.get("resources"), f"{path}.resources")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        causes += _validate_probe(c.get(probe), f"{path}.{probe}")
    causes += _enum(f"{path}.imagePullPolicy", c.get("imagePullPolicy"), ("Always", "IfNotPresent", "Never"),
                    required_=True)
    causes += _enum(f"{path}.terminationMessagePolicy", c.get("terminationMessagePolicy"),
                    ("FallbackToLogsOnError", "File"), required_=True)
    if c.get("restartPolicy") is not None:
        if not is_init:
            causes.append(forbidden(f"{path}.restartPolicy", "may not be set for non-init containers"))
        else:
            causes += _enum(f"{path}.restartPolicy", c["restartPolicy"], ("Always",))
    for i, mount in enumerate(c.get("volumeMounts") or []):
        p = f"{path}.volumeMounts[{i}]"
        if not (mount or {}).get("name"):
            causes.append(required(f"{p}.name"))
        elif mount["name"] not in volumes:
            causes.append(not_found(f"{p}.name", mount["name"]))
        if not (mount or {}).get("mountPath"):
            causes.append(required(f"{p}.mountPath"))
    return causes


def _validate_volumes(volumes: Any, path: str) -> tuple[list[Cause], set[str]]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, vol in enumerate(volumes or []):
        name = (vol or {}).get("name") or ""
        if not name:
            causes.append(required(f"{path}[{i}].name"))
            continue
        causes += [invalid(f"{path}[{i}].name", name, m) for m in dns1123_label_errors(name)]
        if name in names:
            causes.append(duplicate(f"{path}[{i}].name", name))
        names.add(name)
    return causes, names


def _validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    causes = []
    for i, tol in enumerate(tolerations or []):
        p = f"{path}[{i}]"
        tol = tol or {}
        operator = tol.get("operator") or "Equal"
        if operator not in ("Equal", "Exists"):
            causes.append(not_supported(f"{p}.operator", operator, ("Equal", "Exists")))
        if operator == "Exists" and tol.get("value"):
            causes.append(invalid(f"{p}.operator", tol["value"],
                                  "value must be empty when `operator` is 'Exists'"))
        if not tol.get("key") and operator != "Exists":
            causes.append(invalid(f"{p}.operator", operator,
                                  "operator must be Exists when `key` is empty, which means \"match all values "
                                  "and all keys\""))
        if tol.get("key"):
            causes += [invalid(f"{p}.key", tol["key"], m) for m in qualified_name_errors(tol["key"])]
        causes += _enum(f"{p}.effect", tol.get("effect"), ("NoExecute", "NoSchedule", "PreferNoSchedule"))
        if tol.get("tolerationSeconds") is not None and tol.get("effect") != "NoExecute":
            causes.append(invalid(f"{p}.effect", tol.get("effect", ""),
                                  "effect must be 'NoExecute' when `tolerationSeconds` is set"))
    return causes


# The EphemeralContainerCommon fields an ephemeral container may set (allowedEphemeralContainerFields).
_EPHEMERAL_ALLOWED = frozenset({"name", "image", "command", "args", "workingDir", "envFrom", "env", "volumeMounts",
                                "volumeDevices", "terminationMessagePath", "terminationMessagePolicy",
                                "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty",
                                "targetContainerName"})


def _validate_ephemeral_containers(spec: Obj, path: str) -> list[Cause]:
    """validateEphemeralContainers: each as a container, names unique across every kind of
    container, a target that is a regular or init container, and no ports, probes, lifecycle or
    resources ("cannot be set for an Ephemeral Container")."""
    _, volumes = _validate_volumes(spec.get("volumes"), f"{path}.volumes")
    others = {c.get("name") for key in ("containers", "initContainers") for c in spec.get(key) or []
              if isinstance(c, dict)}
    seen = set(others)
    causes: list[Cause] = []
    for i, c in enumerate(spec.get("ephemeralContainers") or []):
        p = f"{path}.ephemeralContainers[{i}]"
        causes += _validate_container(c, p, volumes, is_init=False)
        if not isinstance(c, dict):
            continue
        name = c.get("name")
        if name and name in seen:
            causes.append(duplicate(f"{p}.name", name))
        seen.add(name)
        target = c.get("targetContainerName")
        if target and target not in others:
            causes.append(Cause("FieldValueNotFound", _body("Not found", target, ""), f"{p}.targetContainerName"))
        for field_name, value in c.items():
            if field_name not in _EPHEMERAL_ALLOWED and value not in (None, "", [], {}, False, 0):
                causes.append(forbidden(f"{p}.{field_name}", "cannot be set for an Ephemeral Container"))
    return causes


def validate_ephemeral_containers_update(new: Obj, old: Obj) -> list[Cause]:
    """ValidatePodEphemeralContainersUpdate: the new list is valid, and every existing ephemeral
    container is still there, unchanged."""
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    causes = _validate_ephemeral_containers(spec, "spec")
    by_name = {c.get("name"): c for c in spec.get("ephemeralContainers") or [] if isinstance(c, dict)}
    for existing in old_spec.get("ephemeralContainers") or []:
        name = existing.get("name")
        if name not in by_name:
            causes.append(forbidden("spec.ephemeralContainers", f'existing ephemeral containers "{name}" may not be '
                                                                 "removed"))
        elif semantic(by_name[name]) != semantic(existing):
            causes.append(forbidden("spec.ephemeralContainers", f'existing ephemeral containers "{name}" may not be '
                                                                 "changed"))
    return causes


def validate_pod_spec(spec: Any, path: str) -> list[Cause]:
    if not isinstance(spec, dict):
        return [required(path)]
    causes, volumes = _validate_volumes(spec.get("volumes"), f"{path}.volumes")
    containers = spec.get("containers") or []
    if not containers:
        causes.append(required(f"{path}.containers"))
    seen: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            p = f"{path}.{key}[{i}]"
            causes += _validate_container(c, p, volumes, is_init=key == "initContainers")
            name = (c or {}).get("name") if isinstance(c, dict) else None
            if name and name in seen:
                causes.append(duplicate(f"{p}.name", name))
            if name:
                seen.add(name)
    causes += _enum(f"{path}.restartPolicy", spec.get("restartPolicy"), ("Always", "Never", "OnFailure"),
                    required_=True)
    causes += _enum(f"{path}.dnsPolicy", spec.get("dnsPolicy"),
                    ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"), required_=True)
    causes += _non_negative(f"{path}.terminationGracePeriodSeconds", spec.get("terminationGracePeriodSeconds"))
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and (not isinstance(ads, int) or not 1 <= ads <= 2147483647):
        causes.append(invalid(f"{path}.activeDeadlineSeconds", ads, "must be between 1 and 2147483647, inclusive"))
    causes += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    causes += _validate_tolerations(spec.get("tolerations"), f"{path}.tolerations")
    if spec.get("nodeName"):
        causes += [invalid(f"{path}.nodeName", spec["nodeName"], m) for m in dns1123_subdomain_errors(spec["nodeName"])]
    if spec.get("serviceAccountName"):
        causes += [invalid(f"{path}.serviceAccountName", spec["serviceAccountName"], m)
                   for m in dns1123_subdomain_errors(spec["serviceAccountName"])]
    return causes


_POD_UPDATE_MSG = ("pod updates may not change fields other than `spec.containers[*].image`,"
                   "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                   "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                   "was previously negative)")


def _validate_pod_update(new: Obj, old: Obj) -> list[Cause]:
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    causes: list[Cause] = []
    old_tolerations = old_spec.get("tolerations") or []
    new_tolerations = new_spec.get("tolerations") or []
    if any(t not in new_tolerations for t in old_tolerations):
        causes.append(forbidden("spec.tolerations", "existing toleration can not be modified except its "
                                                    "tolerationSeconds"))
    # Overlay what may change onto the old spec; anything else that differs is forbidden.
    mutable = dict(old_spec)
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        if key in new_spec:
            mutable[key] = new_spec[key]
        else:
            mutable.pop(key, None)
    for key in ("containers", "initContainers"):
        old_list, new_list = old_spec.get(key) or [], new_spec.get(key) or []
        if len(old_list) == len(new_list):
            merged = [dict(o, image=n.get("image")) if isinstance(o, dict) and isinstance(n, dict) else o
                      for o, n in zip(old_list, new_list)]
            if key in old_spec:
                mutable[key] = merged
    if semantic(mutable) != semantic(new_spec):
        causes.append(forbidden("spec", _POD_UPDATE_MSG))
    return causes


def _validate_pod(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_pod_spec(obj.get("spec"), "spec")
    if old is not None:
        causes += _validate_pod_update(obj, old)
    elif isinstance(obj.get("spec"), dict) and obj["spec"].get("ephemeralContainers"):
        causes.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    return causes


# ---- deployments / replicasets ------------------------------------------------------------------


def go_label_selector(selector: Any) -> str:
    """%#v of a metav1.LabelSelector, as Kubernetes prints it in `field is immutable` errors."""
    selector = selector or {}
    labels = selector.get("matchLabels")
    ml = go_value(labels) if labels else "map[string]string(nil)"
    exprs = selector.get("matchExpressions")
    if exprs:
        items = ", ".join(
            f'v1.LabelSelectorRequirement{{Key:{json.dumps(e.get("key", ""))}, '
            f'Operator:{json.dumps(e.get("operator", ""))}, Values:'
            f'{go_value(e.get("values")) if e.get("values") else "[]string(nil)"}}}' for e in exprs)
        me = f"[]v1.LabelSelectorRequirement{{{items}}}"
    else:
        me = "[]v1.LabelSelectorRequirement(nil)"
    return f"v1.LabelSelector{{MatchLabels:{ml}, MatchExpressions:{me}}}"


def _invalid_raw(path: str, raw: str, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {raw}: {detail}", path)


def _validate_selector_and_template(spec: Obj, kind: str, *, template_required: bool,
                                    restart_policies: tuple[str, ...] = ("Always",),
                                    selector_required: bool = True) -> list[Cause]:
    causes: list[Cause] = []
    selector = spec.get("selector")
    template = spec.get("template")
    if selector is None:
        if selector_required:
            causes.append(required("spec.selector"))
    elif not selector.get("matchLabels") and not selector.get("matchExpressions"):
        causes.append(_invalid_raw("spec.selector", go_label_selector(selector), f"empty selector is invalid for {kind}"))
    else:
        causes += validate_labels(selector.get("matchLabels"), "spec.selector.matchLabels")
    if template is None:
        if template_required:
            causes.append(required("spec.template"))
        return causes
    labels = _dig(template, "metadata", "labels") or {}
    causes += validate_labels(labels, "spec.template.metadata.labels")
    if selector is not None and (selector.get("matchLabels") or selector.get("matchExpressions")):
        try:
            matches = selector_from_label_selector(selector).matches(labels)
        except SelectorError as err:
            causes.append(invalid("spec.selector", "", str(err)))
            matches = True
        if not matches:
            raw = go_value(labels) if labels else "map[string]string(nil)"
            causes.append(_invalid_raw("spec.template.metadata.labels", raw,
                                       "`selector` does not match template `labels`"))
    causes += validate_pod_spec(template.get("spec"), "spec.template.spec")
    restart = _dig(template, "spec", "restartPolicy")
    if restart_policies == ("Always",):
        if restart not in (None, "Always"):
            causes.append(not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
    elif restart in (None, "", "Always"):  # the pod defaults filled in Always: the job message says so
        causes.append(required("spec.template.spec.restartPolicy",
                               "valid values: " + ", ".join(f'"{p}"' for p in restart_policies)))
    elif restart not in restart_policies:
        causes.append(not_supported("spec.template.spec.restartPolicy", restart, restart_policies, ordered=True))
    return causes


def _percent_or_int(path: str, value: Any) -> tuple[list[Cause], bool]:
    """(causes, is_zero) for an IntOrString like maxSurge."""
    if isinstance(value, str):
        match = re.fullmatch(r"([0-9]+)%", value)
        if not match:
            return [invalid(path, value, "a valid percent string must be a numeric string followed by an ending "
                                         "'%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")], False
        if int(match.group(1)) > 100:
            return [invalid(path, value, "must not be greater than 100%")], False
        return [], int(match.group(1)) == 0
    if not isinstance(value, int) or value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")], False
    return [], value == 0


def _validate_strategy(strategy: Any) -> list[Cause]:
    if not isinstance(strategy, dict):
        return []
    causes = _enum("spec.strategy.type", strategy.get("type"), ("Recreate", "RollingUpdate"), required_=True)
    rolling = strategy.get("rollingUpdate")
    if strategy.get("type") == "Recreate" and rolling is not None:
        causes.append(forbidden("spec.strategy.rollingUpdate",
                                "may not be specified when strategy `type` is 'Recreate'"))
    if strategy.get("type") == "RollingUpdate" and isinstance(rolling, dict):
        surge_causes, surge_zero = _percent_or_int("spec.strategy.rollingUpdate.maxSurge", rolling.get("maxSurge", 0))
        un_causes, un_zero = _percent_or_int("spec.strategy.rollingUpdate.maxUnavailable",
                                             rolling.get("maxUnavailable", 0))
        causes += surge_causes + un_causes
        if surge_zero and un_zero and not surge_causes and not un_causes:
            causes.append(invalid("spec.strategy.rollingUpdate.maxUnavailable", rolling.get("maxUnavailable", 0),
                                  "may not be 0 when `maxSurge` is 0"))
    return causes


def _validate_deployment(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = _non_negative("spec.replicas", spec.get("replicas"))
    causes += _validate_selector_and_template(spec, "deployment", template_required=True)
    causes += _validate_strategy(spec.get("strategy"))
    causes += _non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    causes += _non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        causes += _non_negative("spec.progressDeadlineSeconds", pds)
        if isinstance(pds, int) and pds <= (spec.get("minReadySeconds") or 0):
            causes.append(invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    causes += _selector_immutable(obj, old)
    return causes


def _validate_replicaset(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = _non_negative("spec.replicas", spec.get("replicas"))
    causes += _validate_selector_and_template(spec, "replicaset", template_required=False)
    causes += _non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    causes += _selector_immutable(obj, old)
    return causes




# ---- jobs (batch/v1) ------------------------------------------------------------------------------

_JOB_LABELS = (("batch.kubernetes.io/controller-uid", "uid"), ("batch.kubernetes.io/job-name", "name"),
               ("controller-uid", "uid"), ("job-name", "name"))


def _has_label(labels: Obj, key: str, expected: str) -> list[Cause]:
    """ValidateHasLabel on spec.template.metadata."""
    path = f"spec.template.metadata.labels[{key}]"
    if key not in labels:
        return [required(path, f"must be '{expected}'")]
    if labels[key] != expected:
        return [invalid(path, labels[key], f"must be '{expected}'")]
    return []


def _validate_generated_selector(obj: Obj, spec: Obj) -> list[Cause]:
    """ValidateGeneratedSelector: unless spec.manualSelector, the template carries the generated
    labels and the selector selects this Job's uid."""
    selector = spec.get("selector")
    if spec.get("manualSelector") is True or not isinstance(selector, dict):
        return []
    meta = obj.get("metadata") or {}
    labels = _dig(spec, "template", "metadata", "labels") or {}
    causes: list[Cause] = []
    for key, field in _JOB_LABELS:
        causes += _has_label(labels, key, str(meta.get(field, "")))
    expected = {key: str(meta.get(field, "")) for key, field in _JOB_LABELS}
    try:
        generated = selector_from_label_selector(selector).matches(expected)
    except SelectorError:
        generated = True  # reported by the selector's own validation
    if not generated:
        causes.append(_invalid_raw("spec.selector", go_label_selector(selector), "`selector` not auto-generated"))
    return causes


def _validate_job(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = _validate_generated_selector(obj, spec) + _job_spec_causes(spec, selector_required=True)
    if old is not None:
        causes += _job_immutable(spec, old)
    return causes


def _job_spec_causes(spec: Obj, *, selector_required: bool) -> list[Cause]:
    """validateJobSpec (+ the selector checks of ValidateJobSpec when `selector_required`), with
    paths under `spec.`."""
    causes: list[Cause] = []
    for field in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        causes += _non_negative(f"spec.{field}", spec.get(field))
    mode = spec.get("completionMode")
    if mode is not None:
        causes += _enum("spec.completionMode", mode, ("NonIndexed", "Indexed"))
        if mode == "Indexed" and spec.get("completions") is None:
            causes.append(required("spec.completions", "when completion mode is Indexed"))
    causes += _enum("spec.podReplacementPolicy", spec.get("podReplacementPolicy"), ("TerminatingOrFailed", "Failed"))
    causes += _validate_selector_and_template(spec, "job", template_required=True,
                                              restart_policies=("OnFailure", "Never"),
                                              selector_required=selector_required)
    return causes


# The schedule descriptors robfig/cron's ParseStandard accepts besides five fields.
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def cron_schedule_error(schedule: str) -> str | None:
    """Why a CronJob schedule does not parse (cron.ParseStandard's message where kubemu knows it)."""
    from croniter import croniter

    fields = schedule.split()
    if schedule.startswith("@every "):
        from shared.durations import parse_go_duration

        try:
            parse_go_duration(schedule[len("@every "):])
        except ValueError as exc:
            return f"failed to parse duration {schedule}: {exc}"
        return None
    if schedule.startswith("@"):
        if schedule.strip() in _CRON_DESCRIPTORS:
            return None
        return f"unrecognized descriptor: {schedule}"
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    if not croniter.is_valid(schedule):
        try:
            croniter(schedule)
        except Exception as exc:  # croniter's own errors: CroniterBadCronError and friends
            return str(exc)
        return "unparseable schedule"
    return None


def _time_zone_error(zone: str) -> str | None:
    import zoneinfo

    if not zone:
        return "timeZone must be nil or non-empty string"
    if zone.lower() == "local":
        return "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {zone}"
    return None


def _validate_cronjob(obj: Obj, old: Obj | None) -> list[Cause]:
    """validateCronJobSpec: schedule (five fields or a descriptor, no TZ), timeZone, concurrency
    policy, history limits, and the job template as a Job's spec (no selector needed)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes: list[Cause] = []
    name = _dig(obj, "metadata", "name") or ""
    if old is None and len(name) > 52:  # the controller appends "-<minutes>" to name its Jobs
        causes.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    schedule = spec.get("schedule")
    if not schedule:
        causes.append(required("spec.schedule"))
    elif isinstance(schedule, str):
        if "TZ" in schedule:
            causes.append(invalid("spec.schedule", schedule,
                                  "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
        elif (error := cron_schedule_error(schedule)) is not None:
            causes.append(invalid("spec.schedule", schedule, error))
    causes += _non_negative("spec.startingDeadlineSeconds", spec.get("startingDeadlineSeconds"))
    zone = spec.get("timeZone")
    if isinstance(zone, str) and (old is None or zone != _dig(old, "spec", "timeZone")):
        if (error := _time_zone_error(zone)) is not None:
            causes.append(invalid("spec.timeZone", zone, error))
    causes += _enum("spec.concurrencyPolicy", spec.get("concurrencyPolicy"), ("Allow", "Forbid", "Replace"),
                    required_=True)
    for field in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        causes += _non_negative(f"spec.{field}", spec.get(field))
    job_template = spec.get("jobTemplate")
    if not isinstance(job_template, dict) or not isinstance(job_template.get("spec"), dict):
        return causes + [required("spec.jobTemplate.spec.template")]
    causes += validate_labels(_dig(job_template, "metadata", "labels"), "spec.jobTemplate.metadata.labels")
    job_spec = job_template["spec"]
    if job_spec.get("manualSelector") is True:
        causes.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false"), ordered=True))
    causes += [Cause(c.reason, c.message, "spec.jobTemplate." + c.field)
               for c in _job_spec_causes(job_spec, selector_required=False)]
    return causes


def _job_immutable(spec: Obj, old: Obj) -> list[Cause]:
    """ValidateJobSpecUpdate: completions, selector, completionMode and the template are fixed once
    created; a Job created suspended that never started may still change its pods' scheduling
    directives (nodeSelector, node affinity, tolerations) and template labels and annotations."""
    old_spec = old.get("spec") or {}
    causes: list[Cause] = []
    for field in ("completions", "completionMode"):
        if spec.get(field) != old_spec.get(field):
            causes.append(invalid(f"spec.{field}", spec.get(field), "field is immutable"))
    causes += _selector_immutable({"spec": spec}, old)
    template, old_template = spec.get("template") or {}, old_spec.get("template") or {}
    if old_spec.get("suspend") and not _dig(old, "status", "startTime"):
        template, old_template = _without_scheduling_directives(template), _without_scheduling_directives(old_template)
    if semantic(template) != semantic(old_template):
        causes.append(_invalid_raw("spec.template", "core.PodTemplateSpec{...}", "field is immutable"))
    return causes


def _without_scheduling_directives(template: Obj) -> Obj:
    meta = {k: v for k, v in (template.get("metadata") or {}).items() if k not in ("labels", "annotations")}
    pod_spec = {k: v for k, v in (template.get("spec") or {}).items() if k not in ("nodeSelector", "tolerations")}
    affinity = {k: v for k, v in (pod_spec.pop("affinity", None) or {}).items() if k != "nodeAffinity"}
    if affinity:
        pod_spec["affinity"] = affinity
    return {**template, "metadata": meta, "spec": pod_spec}


# ---- daemonsets and controllerrevisions ---------------------------------------------------------


def _validate_daemonset(obj: Obj, old: Obj | None) -> list[Cause]:
    """ValidateDaemonSetSpec (+ the immutable selector of ValidateDaemonSetUpdate)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = _validate_selector_and_template(spec, "daemonset", template_required=True)
    if _dig(spec, "template", "spec", "activeDeadlineSeconds") is not None:
        causes.append(invalid("spec.template.spec.activeDeadlineSeconds",
                              _dig(spec, "template", "spec", "activeDeadlineSeconds"),
                              "activeDeadlineSeconds in DaemonSet is not Supported"))
    causes += _non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    causes += _non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    strategy = spec.get("updateStrategy")
    if isinstance(strategy, dict):
        causes += _enum("spec.updateStrategy.type", strategy.get("type"), ("OnDelete", "RollingUpdate"),
                        required_=True)
        rolling = strategy.get("rollingUpdate")
        if strategy.get("type") == "RollingUpdate" and isinstance(rolling, dict):
            causes += _rolling_update_daemonset(rolling)
    causes += _selector_immutable(obj, old)
    return causes


def _rolling_update_daemonset(rolling: Obj) -> list[Cause]:
    """ValidateRollingUpdateDaemonSet: ints or percents up to 100%, exactly one of them non-zero."""
    path = "spec.updateStrategy.rollingUpdate"
    unavailable_causes, unavailable_zero = _percent_or_int(f"{path}.maxUnavailable", rolling.get("maxUnavailable", 0))
    surge_causes, surge_zero = _percent_or_int(f"{path}.maxSurge", rolling.get("maxSurge", 0))
    causes = unavailable_causes + surge_causes
    if causes:
        return causes
    if not unavailable_zero and not surge_zero:
        causes.append(invalid(f"{path}.maxSurge", rolling.get("maxSurge"),
                              "may not be set when maxUnavailable is non-zero"))
    elif unavailable_zero and surge_zero:
        causes.append(required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return causes


def _validate_controller_revision(obj: Obj, old: Obj | None) -> list[Cause]:
    """ValidateControllerRevision(Update): revision not negative, data fixed once written."""
    causes = _non_negative("revision", obj.get("revision"))
    if old is not None and semantic(obj.get("data")) != semantic(old.get("data")):
        causes.append(_invalid_raw("data", "runtime.RawExtension{...}", "field is immutable"))
    return causes


# ---- poddisruptionbudgets ------------------------------------------------------------------------


def _validate_pdb(obj: Obj, old: Obj | None) -> list[Cause]:
    """ValidatePodDisruptionBudgetSpec: at most one of minAvailable/maxUnavailable, each a
    non-negative int or a percent up to 100%; a valid selector; a known unhealthyPodEvictionPolicy."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    causes: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(_invalid_raw("spec", "policy.PodDisruptionBudgetSpec{...}",
                                   "minAvailable and maxUnavailable cannot be both set"))
    for field in ("minAvailable", "maxUnavailable"):
        if spec.get(field) is not None:
            causes += _percent_or_int(f"spec.{field}", spec[field])[0]
    selector = spec.get("selector")
    if isinstance(selector, dict):
        causes += validate_labels(selector.get("matchLabels"), "spec.selector.matchLabels")
        try:
            selector_from_label_selector(selector)
        except SelectorError as err:
            causes.append(invalid("spec.selector", "", str(err)))
    causes += _enum("spec.unhealthyPodEvictionPolicy", spec.get("unhealthyPodEvictionPolicy"),
                    ("AlwaysAllow", "IfHealthyBudget"))
    return causes


def _validate_pdb_status(obj: Obj, old: Obj | None) -> list[Cause]:
    status = obj.get("status") or {}
    causes = _replica_counts(status, ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"))
    return causes + _validate_conditions(status.get("conditions"), "status.conditions")


# ---- rbac.authorization.k8s.io ---------------------------------------------------------------------

def _validate_rules(obj: Obj, *, namespaced: bool) -> list[Cause]:
    """ValidatePolicyRule for each rule: verbs; a resource rule names apiGroups and resources; a
    namespaced Role may not name non-resource URLs."""
    causes: list[Cause] = []
    for i, rule in enumerate(obj.get("rules") or []):
        path = f"rules[{i}]"
        if not isinstance(rule, dict):
            causes.append(invalid(path, rule, "must be an object"))
            continue
        if not rule.get("verbs"):
            causes.append(required(f"{path}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                causes.append(invalid(f"{path}.nonResourceURLs", urls, "namespaced rules cannot apply to "
                                                                       "non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources"):
                causes.append(invalid(f"{path}.nonResourceURLs", urls, "rules cannot apply to both regular "
                                                                       "resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            causes.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            causes.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    return causes


def _validate_binding(obj: Obj, old: Obj | None, *, namespaced: bool) -> list[Cause]:
    """ValidateRoleBinding / ValidateClusterRoleBinding (+ the immutable roleRef of the updates)."""
    ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
    causes: list[Cause] = []
    if ref.get("apiGroup") != "rbac.authorization.k8s.io":
        causes.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), ("rbac.authorization.k8s.io",)))
    kinds = ("ClusterRole", "Role") if namespaced else ("ClusterRole",)
    if ref.get("kind") not in kinds:
        causes.append(not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        causes.append(required("roleRef.name"))
    for i, subject in enumerate(obj.get("subjects") or []):
        path = f"subjects[{i}]"
        subject = subject if isinstance(subject, dict) else {}
        kind = subject.get("kind")
        if not subject.get("name"):
            causes.append(required(f"{path}.name"))
        if kind == "ServiceAccount":
            if subject.get("apiGroup"):
                causes.append(not_supported(f"{path}.apiGroup", subject["apiGroup"], ("",)))
            if not namespaced and not subject.get("namespace"):
                causes.append(required(f"{path}.namespace"))
        elif kind in ("User", "Group"):
            if subject.get("apiGroup") != "rbac.authorization.k8s.io":
                causes.append(not_supported(f"{path}.apiGroup", subject.get("apiGroup", ""),
                                            ("rbac.authorization.k8s.io",)))
        else:
            causes.append(not_supported(f"{path}.kind", kind or "", ("ServiceAccount", "User", "Group"),
                                        ordered=True))
    if old is not None and semantic(old.get("roleRef")) != semantic(obj.get("roleRef")):
        old_ref = old.get("roleRef") or {}
        raw = (f'rbac.RoleRef{{APIGroup:{json.dumps(old_ref.get("apiGroup", ""))}, '
               f'Kind:{json.dumps(old_ref.get("kind", ""))}, Name:{json.dumps(old_ref.get("name", ""))}}}')
        causes.append(_invalid_raw("roleRef", raw, "cannot change roleRef"))
    return causes


def _selector_immutable(obj: Obj, old: Obj | None) -> list[Cause]:
    if old is None:
        return []
    new_sel, old_sel = _dig(obj, "spec", "selector"), _dig(old, "spec", "selector")
    if semantic(new_sel) != semantic(old_sel):
        return [_invalid_raw("spec.selector", go_label_selector(new_sel), "field is immutable")]
    return []


# ---- services -----------------------------------------------------------------------------------

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _validate_service_ports(spec: Obj, svc_type: str) -> list[Cause]:
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    causes: list[Cause] = []
    if not ports and svc_type != "ExternalName" and not headless:
        causes.append(required("spec.ports"))
    names: set[str] = set()
    seen: set[tuple] = set()
    for i, port in enumerate(ports):
        p = f"spec.ports[{i}]"
        port = port or {}
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            causes.append(required(f"{p}.name"))
        elif name:
            causes += [invalid(f"{p}.name", name, m) for m in dns1123_label_errors(name)]
            if name in names:
                causes.append(duplicate(f"{p}.name", name))
            names.add(name)
        causes += _port_range(f"{p}.port", port.get("port"))
        causes += _enum(f"{p}.protocol", port.get("protocol"), PROTOCOLS, required_=True)
        if port.get("targetPort") not in (None, 0, ""):
            causes += _int_or_name_port(f"{p}.targetPort", port["targetPort"])
        if port.get("nodePort"):
            if svc_type == "ClusterIP":
                causes.append(forbidden(f"{p}.nodePort", "may not be used when `type` is 'ClusterIP'"))
            else:
                causes += _port_range(f"{p}.nodePort", port["nodePort"])
        key = (port.get("port"), port.get("protocol"))
        if key in seen:
            causes.append(duplicate(p, f"{port.get('port')}/{port.get('protocol')}"))
        seen.add(key)
    return causes


def _validate_service(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    svc_type = spec.get("type") or "ClusterIP"
    causes = _enum("spec.type", spec.get("type"), SERVICE_TYPES, required_=True)
    causes += _enum("spec.sessionAffinity", spec.get("sessionAffinity"), ("ClientIP", "None"), required_=True)
    causes += _validate_service_ports(spec, svc_type)
    causes += validate_labels(spec.get("selector"), "spec.selector")
    cluster_ip = spec.get("clusterIP")
    if cluster_ip not in (None, "", "None") and not _is_ip(cluster_ip):
        causes.append(invalid("spec.clusterIPs[0]", cluster_ip, IP_MSG))
    if svc_type == "ExternalName":
        if not spec.get("externalName"):
            causes.append(required("spec.externalName"))
        else:
            causes += [invalid("spec.externalName", spec["externalName"], m)
                       for m in dns1123_subdomain_errors(spec["externalName"].rstrip("."))]
    for i, ip in enumerate(spec.get("externalIPs") or []):
        if not _is_ip(str(ip)):
            causes.append(invalid(f"spec.externalIPs[{i}]", ip, IP_MSG))
    if old is not None:
        causes += _validate_service_update(spec, old.get("spec") or {})
    return causes


def _validate_service_update(spec: Obj, old_spec: Obj) -> list[Cause]:
    old_ip, new_ip = old_spec.get("clusterIP"), spec.get("clusterIP")
    if old_ip and new_ip and old_ip != new_ip and "ExternalName" not in (spec.get("type"), old_spec.get("type")):
        ips = spec.get("clusterIPs") or [new_ip]
        return [_invalid_raw("spec.clusterIPs[0]", go_value(ips), "may not change once set")]
    return []


# ---- other kinds --------------------------------------------------------------------------------

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
CONFIG_KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
                  "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")


def _config_key_errors(key: str) -> list[str]:
    errors = []
    if len(key) > 253:
        errors.append("must be no more than 253 characters")
    if not _CONFIG_KEY.match(key):
        errors.append(CONFIG_KEY_MSG)
    if key in (".", ".."):
        errors.append(f"must not be '{key}'")
    elif key.startswith(".."):
        errors.append("must not start with '..'")
    return errors


def _validate_data_keys(obj: Obj, fields: tuple[str, ...]) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for field in fields:
        data = obj.get(field)
        if data is None:
            continue
        if not isinstance(data, dict):
            causes.append(invalid(field, data, "must be a map of strings"))
            continue
        for key in data:
            causes += [invalid(f"{field}[{key}]", key, m) for m in _config_key_errors(key)]
            if key in seen:
                causes.append(invalid(f"{field}[{key}]", key, "duplicate of key present in data"))
            seen.add(key)
    return causes


def _immutable_data(obj: Obj, old: Obj | None, fields: tuple[str, ...]) -> list[Cause]:
    if old is None or not old.get("immutable"):
        return []
    causes = []
    for field in fields:
        if (obj.get(field) or {}) != (old.get(field) or {}):
            causes.append(forbidden(field, "field is immutable when `immutable` is set"))
    if not obj.get("immutable"):
        causes.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    return causes


def _validate_configmap(obj: Obj, old: Obj | None) -> list[Cause]:
    return _validate_data_keys(obj, ("data", "binaryData")) + _immutable_data(obj, old, ("data", "binaryData"))


def _validate_secret(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _validate_data_keys(obj, ("data",))
    causes += _immutable_data(obj, old, ("data",))
    if old is not None and old.get("type") != obj.get("type"):
        causes.append(invalid("type", obj.get("type", ""), "field is immutable"))
    return causes


def _validate_namespace(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = []
    for i, finalizer in enumerate(_dig(obj, "spec", "finalizers") or []):
        if "/" not in finalizer and finalizer not in ("kubernetes", "orphan", "foregroundDeletion"):
            causes.append(invalid(f"spec.finalizers[{i}]", finalizer,
                                  "name is neither a standard finalizer name nor is it fully qualified"))
    return causes


def _validate_node(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = []
    for i, taint in enumerate(_dig(obj, "spec", "taints") or []):
        p = f"spec.taints[{i}]"
        if not (taint or {}).get("key"):
            causes.append(required(f"{p}.key"))
        causes += _enum(f"{p}.effect", (taint or {}).get("effect"), ("NoExecute", "NoSchedule", "PreferNoSchedule"),
                        required_=True)
    cidr = _dig(obj, "spec", "podCIDR")
    if cidr:
        try:
            ipaddress.ip_network(cidr)
        except ValueError:
            causes.append(invalid("spec.podCIDR", cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
    return causes


def _validate_event(obj: Obj, old: Obj | None) -> list[Cause]:
    inv_ns = _dig(obj, "involvedObject", "namespace")
    ns = _dig(obj, "metadata", "namespace")
    if inv_ns and ns and inv_ns != ns:
        return [invalid("involvedObject.namespace", inv_ns, "does not match event.namespace")]
    return []


def _validate_lease(obj: Obj, old: Obj | None) -> list[Cause]:
    duration = _dig(obj, "spec", "leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        return [invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")]
    return []


def _validate_priority_class(obj: Obj, old: Obj | None) -> list[Cause]:
    """ValidatePriorityClass(Update): `system-` names are the system classes only, user values at most
    1e9, preemptionPolicy Never or PreemptLowerPriority; value and preemptionPolicy immutable."""
    causes: list[Cause] = []
    name, value = _dig(obj, "metadata", "name") or "", obj.get("value", 0)
    if not isinstance(value, int) or isinstance(value, bool) or not -2**31 <= value < 2**31:
        causes.append(invalid("value", value, "must be a 32-bit integer"))
    elif name.startswith(SYSTEM_PREFIX):
        if why := is_known_system_class(name, value, obj.get("globalDefault")):
            causes.append(forbidden("metadata.name", f"priority class names with '{SYSTEM_PREFIX}' prefix are "
                                    f"reserved for system use only. error: {why}"))
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        causes.append(forbidden("value", f"maximum allowed value of a user defined priority is "
                                         f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
    causes += _enum("preemptionPolicy", obj.get("preemptionPolicy"), PREEMPTION_POLICIES)
    if old is not None:
        if obj.get("value", 0) != old.get("value", 0):
            causes.append(forbidden("value", "may not be changed in an update."))
        if obj.get("preemptionPolicy") != old.get("preemptionPolicy"):
            causes.append(invalid("preemptionPolicy", obj.get("preemptionPolicy"), "field is immutable"))
    return causes


def _validate_endpoints(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = []
    for i, subset in enumerate(obj.get("subsets") or []):
        for j, addr in enumerate((subset or {}).get("addresses") or []):
            if not _is_ip(str((addr or {}).get("ip", ""))):
                causes.append(invalid(f"subsets[{i}].addresses[{j}].ip", (addr or {}).get("ip", ""), IP_MSG))
        for j, port in enumerate((subset or {}).get("ports") or []):
            causes += _port_range(f"subsets[{i}].ports[{j}].port", (port or {}).get("port"))
            causes += _enum(f"subsets[{i}].ports[{j}].protocol", (port or {}).get("protocol"), PROTOCOLS)
    return causes


def _validate_endpointslice(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _enum("addressType", obj.get("addressType"), ("FQDN", "IPv4", "IPv6"), required_=True)
    for i, ep in enumerate(obj.get("endpoints") or []):
        if not (ep or {}).get("addresses"):
            causes.append(required(f"endpoints[{i}].addresses"))
    if old is not None and old.get("addressType") != obj.get("addressType"):
        causes.append(invalid("addressType", obj.get("addressType", ""), "field is immutable"))
    return causes


# ---- status (the /status subresource) -----------------------------------------------------------

POD_PHASES = ("Failed", "Pending", "Running", "Succeeded", "Unknown")


def _validate_conditions(conditions: Any, path: str) -> list[Cause]:
    causes = []
    for i, cond in enumerate(conditions or []):
        p = f"{path}[{i}]"
        if not (cond or {}).get("type"):
            causes.append(required(f"{p}.type"))
        causes += _enum(f"{p}.status", (cond or {}).get("status"), ("False", "True", "Unknown"), required_=True)
    return causes


def _validate_ips(status: Obj, single: str, plural: str) -> list[Cause]:
    causes = []
    if status.get(single) and not _is_ip(str(status[single])):
        causes.append(invalid(f"status.{single}", status[single], IP_MSG))
    for i, entry in enumerate(status.get(plural) or []):
        ip = (entry or {}).get("ip", "")
        if not _is_ip(str(ip)):
            causes.append(invalid(f"status.{plural}[{i}].ip", ip, IP_MSG))
    return causes


def _validate_pod_status(obj: Obj, old: Obj | None) -> list[Cause]:
    status = obj.get("status") or {}
    causes = _enum("status.phase", status.get("phase"), POD_PHASES)
    old_phase = (old or {}).get("status", {}).get("phase")
    if old_phase in ("Succeeded", "Failed") and status.get("phase") != old_phase:
        causes.append(forbidden("status.phase", f"cannot transition from terminal phase {old_phase} to "
                                                f"{status.get('phase')}"))
    causes += _validate_conditions(status.get("conditions"), "status.conditions")
    causes += _validate_ips(status, "podIP", "podIPs") + _validate_ips(status, "hostIP", "hostIPs")
    if status.get("nominatedNodeName"):
        causes += [invalid("status.nominatedNodeName", status["nominatedNodeName"], m)
                   for m in dns1123_subdomain_errors(status["nominatedNodeName"])]
    return causes


def _replica_counts(status: Obj, fields: tuple[str, ...]) -> list[Cause]:
    causes = []
    for field in fields:
        causes += _non_negative(f"status.{field}", status.get(field))
    return causes


def _not_greater(status: Obj, field: str, other: str, label: str) -> list[Cause]:
    value, limit = status.get(field) or 0, status.get(other) or 0
    if isinstance(value, int) and isinstance(limit, int) and value > limit:
        return [invalid(f"status.{field}", value, f"cannot be greater than {label}")]
    return []


def _validate_deployment_status(obj: Obj, old: Obj | None) -> list[Cause]:
    status = obj.get("status") or {}
    causes = _replica_counts(status, ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                                      "availableReplicas", "unavailableReplicas", "collisionCount"))
    causes += _not_greater(status, "updatedReplicas", "replicas", "status.replicas")
    causes += _not_greater(status, "readyReplicas", "replicas", "status.replicas")
    causes += _not_greater(status, "availableReplicas", "replicas", "status.replicas")
    causes += _not_greater(status, "availableReplicas", "readyReplicas", "readyReplicas")
    return causes + _validate_conditions(status.get("conditions"), "status.conditions")


def _validate_replicaset_status(obj: Obj, old: Obj | None) -> list[Cause]:
    status = obj.get("status") or {}
    causes = _replica_counts(status, ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
                                      "observedGeneration"))
    causes += _not_greater(status, "fullyLabeledReplicas", "replicas", "status.replicas")
    causes += _not_greater(status, "readyReplicas", "replicas", "status.replicas")
    causes += _not_greater(status, "availableReplicas", "replicas", "status.replicas")
    causes += _not_greater(status, "availableReplicas", "readyReplicas", "readyReplicas")
    return causes + _validate_conditions(status.get("conditions"), "status.conditions")


def _validate_daemonset_status(obj: Obj, old: Obj | None) -> list[Cause]:
    """ValidateDaemonSetStatusUpdate: every count not negative."""
    status = obj.get("status") or {}
    return _replica_counts(status, ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                                    "numberReady", "observedGeneration", "updatedNumberScheduled", "numberAvailable",
                                    "numberUnavailable", "collisionCount"))


def _validate_job_status(obj: Obj, old: Obj | None) -> list[Cause]:
    """validateJobStatus: counts not negative; uncounted pod uids not empty and not repeated."""
    status = obj.get("status") or {}
    causes = _replica_counts(status, ("active", "succeeded", "failed", "ready", "terminating"))
    seen: set[str] = set()
    for kind in ("succeeded", "failed"):
        for i, uid in enumerate(_dig(status, "uncountedTerminatedPods", kind) or []):
            path = f"status.uncountedTerminatedPods.{kind}[{i}]"
            if not uid:
                causes.append(invalid(path, uid, "must not be empty"))
            elif uid in seen:
                causes.append(duplicate(path, uid))
            seen.add(uid)
    return causes + _validate_conditions(status.get("conditions"), "status.conditions")


def _validate_node_status(obj: Obj, old: Obj | None) -> list[Cause]:
    status = obj.get("status") or {}
    causes = _validate_conditions(status.get("conditions"), "status.conditions")
    for i, addr in enumerate(status.get("addresses") or []):
        if not (addr or {}).get("type"):
            causes.append(required(f"status.addresses[{i}].type"))
    for kind in ("capacity", "allocatable"):
        for name, value in (status.get(kind) or {}).items():
            try:
                parse_quantity(str(value))
            except QuantityError as err:
                causes.append(invalid(f"status.{kind}[{name}]", value, str(err)))
    return causes


_STATUS_VALIDATORS = {
    ("", "Pod"): _validate_pod_status,
    ("apps", "Deployment"): _validate_deployment_status,
    ("apps", "ReplicaSet"): _validate_replicaset_status,
    ("apps", "DaemonSet"): _validate_daemonset_status,
    ("policy", "PodDisruptionBudget"): _validate_pdb_status,
    ("batch", "Job"): _validate_job_status,
    ("", "Node"): _validate_node_status,
    ("", "Namespace"): lambda obj, old: _enum("status.phase", (obj.get("status") or {}).get("phase"),
                                               ("Active", "Terminating")),
}


def validate_status(resource: Resource, obj: Obj, old: Obj | None) -> list[Cause]:
    """Causes for a `/status` write (metadata immutability plus the kind's status rules)."""
    if not isinstance(obj, dict):
        return [invalid("", obj, "must be an object")]
    causes: list[Cause] = []
    if old is not None and isinstance(obj.get("metadata"), dict):
        causes += _validate_meta_update(obj["metadata"], old.get("metadata") or {})
    validator = _STATUS_VALIDATORS.get((resource.group, resource.kind))
    if validator is not None:
        causes += validator(obj, old)
    return causes


_VALIDATORS = {
    ("", "Pod"): _validate_pod,
    ("apps", "Deployment"): _validate_deployment,
    ("apps", "ReplicaSet"): _validate_replicaset,
    ("apps", "DaemonSet"): _validate_daemonset,
    ("apps", "ControllerRevision"): _validate_controller_revision,
    ("batch", "Job"): _validate_job,
    ("batch", "CronJob"): _validate_cronjob,
    ("", "Service"): _validate_service,
    ("", "ConfigMap"): _validate_configmap,
    ("", "Secret"): _validate_secret,
    ("", "Namespace"): _validate_namespace,
    ("", "Node"): _validate_node,
    ("", "Event"): _validate_event,
    ("", "Endpoints"): _validate_endpoints,
    ("discovery.k8s.io", "EndpointSlice"): _validate_endpointslice,
    ("coordination.k8s.io", "Lease"): _validate_lease,
    ("scheduling.k8s.io", "PriorityClass"): _validate_priority_class,
    ("policy", "PodDisruptionBudget"): _validate_pdb,
    ("rbac.authorization.k8s.io", "Role"): lambda obj, old: _validate_rules(obj, namespaced=True),
    ("rbac.authorization.k8s.io", "ClusterRole"): lambda obj, old: _validate_rules(obj, namespaced=False),
    ("rbac.authorization.k8s.io", "RoleBinding"): lambda obj, old: _validate_binding(obj, old, namespaced=True),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): lambda obj, old: _validate_binding(obj, old,
                                                                                           namespaced=False),
}


def validate(resource: Resource, obj: Obj, old: Obj | None = None) -> list[Cause]:
    """All causes for a create (`old` None) or main-resource update of `obj`; [] when valid."""
    if not isinstance(obj, dict):
        return [invalid("", obj, "must be an object")]
    causes = validate_object_meta(resource, obj.get("metadata"))
    if old is not None and isinstance(obj.get("metadata"), dict):
        causes += _validate_meta_update(obj["metadata"], old.get("metadata") or {})
    validator = _VALIDATORS.get((resource.group, resource.kind))
    if validator is not None:
        causes += validator(obj, old)
    return causes
