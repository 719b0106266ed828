"""The table of API resources the API server serves, one `Resource` entry per resource.

Guarantees:
- Every built-in resource (core/v1 namespaces, nodes, pods, services, endpoints, events, configmaps,
  secrets, serviceaccounts; apps/v1 deployments, replicasets, daemonsets, controllerrevisions;
  batch/v1 jobs, cronjobs; discovery.k8s.io/v1 endpointslices; coordination.k8s.io/v1 leases;
  policy/v1 poddisruptionbudgets; rbac.authorization.k8s.io/v1 roles, rolebindings, clusterroles,
  clusterrolebindings; scheduling.k8s.io/v1 priorityclasses) is described here with Kubernetes' names: group, version,
  kind, plural, singular, short names, categories, subresources, scope.
- `Resource` is pure data plus pure hooks: `default(obj)` fills in Kubernetes' defaults in place,
  `validate(obj, old)` returns `Cause`s (empty means valid) for the main resource and
  `validate_status(obj, old)` for `/status` writes, `field_labels(obj)` gives the values field
  selectors match against. `storage_resource` is where Kubernetes keeps the resource in etcd
  (`minions` for nodes, `services/specs`, `services/endpoints`). Nothing here does I/O.
- `Registry` answers lookups by (group, version, plural), by kind, and by any name kubectl may use
  (plural, singular, short name).

The hooks call `defaults.py` and `validation.py`; those import `Cause` from here, so they are
imported lazily to keep the import graph acyclic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Cause:
    """One field error, as Kubernetes' `StatusCause` (in `Status.details.causes`).

    `reason` is one of Kubernetes' field error types: FieldValueRequired, FieldValueInvalid,
    FieldValueNotSupported, FieldValueDuplicate, FieldValueForbidden, FieldValueTooLong,
    FieldValueTypeInvalid, FieldValueNotFound.
    """

    reason: str
    message: str
    field: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def error_text(self) -> str:
        """The text Kubernetes puts in the Status message for this cause: `field: message`."""
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    """Where a resource keeps what the `scale` subresource (autoscaling/v1 Scale) shows."""

    spec_replicas: tuple[str, ...] = ("spec", "replicas")
    status_replicas: tuple[str, ...] = ("status", "replicas")
    selector: tuple[str, ...] = ("spec", "selector")  # a LabelSelector, shown as a string


@dataclass(frozen=True, slots=True)
class Subresource:
    """One subresource as discovery lists it (`pods/status`)."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""  # set when the subresource's kind lives in another group (Scale, Eviction)
    version: str = ""


RESOURCE_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

_SUBRESOURCE_VERBS: dict[str, tuple[str, ...]] = {
    "status": ("get", "patch", "update"),
    "scale": ("get", "patch", "update"),
    "binding": ("create",),
    "log": ("get",),
    "eviction": ("create",),
    "ephemeralcontainers": ("get", "patch", "update"),
}


def _path_get(obj: Obj, *path: str, default: Any = "") -> Any:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return default
        cur = cur[key]
    return default if cur is None else cur


def _str(value: Any) -> str:
    """Field selector values are Go's formatting of the value: bools lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _meta_labels(obj: Obj, namespaced: bool) -> dict[str, str]:
    labels = {"metadata.name": _str(_path_get(obj, "metadata", "name"))}
    if namespaced:
        labels["metadata.namespace"] = _str(_path_get(obj, "metadata", "namespace"))
    return labels


def _pod_fields(obj: Obj) -> dict[str, str]:
    # pkg/registry/core/pod/strategy.go PodToSelectableFields
    return {
        "spec.nodeName": _str(_path_get(obj, "spec", "nodeName")),
        "spec.restartPolicy": _str(_path_get(obj, "spec", "restartPolicy")),
        "spec.schedulerName": _str(_path_get(obj, "spec", "schedulerName")),
        "spec.serviceAccountName": _str(_path_get(obj, "spec", "serviceAccountName")),
        "spec.hostNetwork": _str(bool(_path_get(obj, "spec", "hostNetwork", default=False))),
        "status.phase": _str(_path_get(obj, "status", "phase")),
        "status.podIP": _str(_path_get(obj, "status", "podIP")),
        "status.nominatedNodeName": _str(_path_get(obj, "status", "nominatedNodeName")),
    }


def _event_fields(obj: Obj) -> dict[str, str]:
    # pkg/registry/core/event/strategy.go ToSelectableFields
    inv = lambda key: _str(_path_get(obj, "involvedObject", key))  # noqa: E731
    return {
        "involvedObject.kind": inv("kind"),
        "involvedObject.namespace": inv("namespace"),
        "involvedObject.name": inv("name"),
        "involvedObject.uid": inv("uid"),
        "involvedObject.apiVersion": inv("apiVersion"),
        "involvedObject.resourceVersion": inv("resourceVersion"),
        "involvedObject.fieldPath": inv("fieldPath"),
        "reason": _str(_path_get(obj, "reason")),
        "reportingComponent": _str(_path_get(obj, "reportingComponent")),
        "source": _str(_path_get(obj, "source", "component")),
        "type": _str(_path_get(obj, "type")),
    }


def _secret_fields(obj: Obj) -> dict[str, str]:
    return {"type": _str(_path_get(obj, "type"))}


def _node_fields(obj: Obj) -> dict[str, str]:
    return {"spec.unschedulable": _str(bool(_path_get(obj, "spec", "unschedulable", default=False)))}


def _namespace_fields(obj: Obj) -> dict[str, str]:
    return {"status.phase": _str(_path_get(obj, "status", "phase"))}


def _replicaset_fields(obj: Obj) -> dict[str, str]:
    return {"status.replicas": _str(_path_get(obj, "status", "replicas", default=0))}


@dataclass(frozen=True)
class Resource:
    """One API resource: its names, scope, subresources and pure hooks."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # Where Kubernetes keeps it in etcd, after /registry/ (e.g. "minions" for nodes).
    storage_resource: str = ""
    allow_create_on_update: bool = False
    scale: ScaleSpec | None = None
    extra_field_labels: Callable[[Obj], dict[str, str]] | None = field(default=None, repr=False)

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> tuple[str, str]:
        return (self.group, self.version)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def storage_prefix(self) -> str:
        """`/registry/<storage_resource>/`; append `<namespace>/<name>` (or `<name>`)."""
        return f"/registry/{self.storage_resource or self.plural}/"

    def key(self, name: str, namespace: str | None = None) -> str:
        if self.namespaced:
            return f"{self.storage_prefix}{namespace}/{name}"
        return f"{self.storage_prefix}{name}"

    def verbs(self) -> tuple[str, ...]:
        return RESOURCE_VERBS

    def subresource_entries(self) -> tuple[Subresource, ...]:
        return tuple(_subresource(self, name) for name in self.subresources)

    def default(self, obj: Obj) -> Obj:
        """Fill in Kubernetes' defaults in place (and return `obj`)."""
        from . import defaults

        return defaults.apply_defaults(self, obj)

    def validate(self, obj: Obj, old: Obj | None = None) -> list[Cause]:
        """Validate a create (`old` None) or an update of the main resource; [] means valid."""
        from . import validation

        return validation.validate(self, obj, old)

    def validate_status(self, obj: Obj, old: Obj | None = None) -> list[Cause]:
        """Validate a write to the `status` subresource; [] means valid."""
        from . import validation

        return validation.validate_status(self, obj, old)

    def field_labels(self, obj: Obj) -> dict[str, str]:
        """The fields a fieldSelector may name, with their values in `obj`."""
        labels = _meta_labels(obj, self.namespaced)
        if self.extra_field_labels is not None:
            labels.update(self.extra_field_labels(obj))
        return labels

    def field_label_names(self) -> frozenset[str]:
        """The field selector labels this resource supports (others: 400 'field label not supported')."""
        return frozenset(self.field_labels({}))


def _subresource(res: Resource, name: str) -> Subresource:
    verbs = _SUBRESOURCE_VERBS.get(name, ("get",))
    if name == "scale":
        return Subresource(name, "Scale", verbs, group="autoscaling", version="v1")
    if name == "eviction":
        return Subresource(name, "Eviction", verbs, group="policy", version="v1")
    if name == "binding":
        return Subresource(name, "Binding", verbs)
    return Subresource(name, res.kind, verbs)


class Registry:
    """Lookups over a fixed set of resources."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self._all = tuple(resources)
        self._by_gvr = {(r.group, r.version, r.plural): r for r in self._all}
        self._by_kind = {(r.group, r.kind): r for r in self._all}

    def all(self) -> tuple[Resource, ...]:
        return self._all

    def get(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, kind: str, group: str | None = None) -> Resource | None:
        """The resource of `kind`; `group` None means any group (the first match)."""
        if group is not None:
            return self._by_kind.get((group, kind))
        return next((r for r in self._all if r.kind == kind), None)

    def by_api_version_kind(self, api_version: str, kind: str) -> Resource | None:
        group, _, version = api_version.rpartition("/")
        res = self._by_kind.get((group, kind))
        return res if res is not None and res.version == version else None

    def lookup(self, name: str) -> Resource | None:
        """A resource by plural, singular, short name or kind, case-insensitive ("po", "Pod")."""
        name = name.lower()
        for res in self._all:
            names = {res.plural, res.singular, res.kind.lower(), *res.short_names}
            if name in names:
                return res
        return None

    def group_versions(self) -> list[tuple[str, str]]:
        """Every (group, version) served, core ("", "v1") first, in registration order."""
        seen: list[tuple[str, str]] = []
        for res in self._all:
            if res.group_version not in seen:
                seen.append(res.group_version)
        return seen

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self._all if r.group == group and r.version == version]


_REPLICAS_SCALE = ScaleSpec()

BUILTIN_RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",),
             subresources=("status",), extra_field_labels=_namespace_fields),
    Resource("", "v1", "Node", "nodes", "node", False, ("no",),
             subresources=("status",), storage_resource="minions", extra_field_labels=_node_fields),
    Resource("", "v1", "Pod", "pods", "pod", True, ("po",), ("all",),
             subresources=("status", "binding", "log", "eviction", "ephemeralcontainers"),
             extra_field_labels=_pod_fields),
    Resource("", "v1", "Service", "services", "service", True, ("svc",), ("all",),
             subresources=("status",), storage_resource="services/specs"),
    Resource("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",),
             storage_resource="services/endpoints", allow_create_on_update=True),
    Resource("", "v1", "Event", "events", "event", True, ("ev",),
             allow_create_on_update=True, extra_field_labels=_event_fields),
    Resource("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",)),
    Resource("", "v1", "Secret", "secrets", "secret", True, extra_field_labels=_secret_fields),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",)),
    Resource("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("all",),
             subresources=("status", "scale"), scale=_REPLICAS_SCALE),
    Resource("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",), ("all",),
             subresources=("status", "scale"), scale=_REPLICAS_SCALE,
             extra_field_labels=_replicaset_fields),
    Resource("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ("ds",), ("all",),
             subresources=("status",)),
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", True),
    Resource("batch", "v1", "Job", "jobs", "job", True, (), ("all",), subresources=("status",)),
    Resource("batch", "v1", "CronJob", "cronjobs", "cronjob", True, ("cj",), ("all",), subresources=("status",)),
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", "lease", True,
             allow_create_on_update=True),
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", True, ("pdb",),
             subresources=("status",)),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding",
             False),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", False),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", True),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", True),
    Resource("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", False, ("pc",)),
)

REGISTRY = Registry(BUILTIN_RESOURCES)


def default_registry() -> Registry:
    return REGISTRY
