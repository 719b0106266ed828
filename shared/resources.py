"""The API resources kubemu serves, as `ResourceRef` constants the client and informers take.

Guarantees:
- One constant per built-in resource of the API server, with Kubernetes' group, version, plural,
  kind and scope (the same table `kubectl api-resources` prints).
- `ResourceRef.api_version` is the `apiVersion` objects of that kind carry (`v1`, `apps/v1`).
- `ResourceRef.path(namespace, name, subresource)` is the REST path of a collection or an object;
  a namespace given for a cluster-scoped resource is ignored, as `kubectl` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class ResourceRef:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`pods`, `deployments.apps` — how Kubernetes names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def base_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        parts = [self.base_path()]
        if self.namespaced and namespace:
            parts += ["namespaces", quote(namespace, safe="")]
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)

    def __str__(self) -> str:
        return self.group_resource


NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", False)
NODES = ResourceRef("", "v1", "nodes", "Node", False)
PODS = ResourceRef("", "v1", "pods", "Pod", True)
SERVICES = ResourceRef("", "v1", "services", "Service", True)
ENDPOINTS = ResourceRef("", "v1", "endpoints", "Endpoints", True)
EVENTS = ResourceRef("", "v1", "events", "Event", True)
CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap", True)
SECRETS = ResourceRef("", "v1", "secrets", "Secret", True)
SERVICEACCOUNTS = ResourceRef("", "v1", "serviceaccounts", "ServiceAccount", True)
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment", True)
REPLICASETS = ResourceRef("apps", "v1", "replicasets", "ReplicaSet", True)
DAEMONSETS = ResourceRef("apps", "v1", "daemonsets", "DaemonSet", True)
CONTROLLERREVISIONS = ResourceRef("apps", "v1", "controllerrevisions", "ControllerRevision", True)
ENDPOINTSLICES = ResourceRef("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True)
LEASES = ResourceRef("coordination.k8s.io", "v1", "leases", "Lease", True)
PODDISRUPTIONBUDGETS = ResourceRef("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True)
ROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "roles", "Role", True)
ROLEBINDINGS = ResourceRef("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True)
CLUSTERROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False)
CLUSTERROLEBINDINGS = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False)
PRIORITYCLASSES = ResourceRef("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False)
JOBS = ResourceRef("batch", "v1", "jobs", "Job", True)
CRONJOBS = ResourceRef("batch", "v1", "cronjobs", "CronJob", True)

ALL: tuple[ResourceRef, ...] = (
    NAMESPACES, NODES, PODS, SERVICES, ENDPOINTS, EVENTS, CONFIGMAPS, SECRETS, SERVICEACCOUNTS,
    DEPLOYMENTS, REPLICASETS, DAEMONSETS, CONTROLLERREVISIONS, JOBS, CRONJOBS, ENDPOINTSLICES, LEASES,
    PODDISRUPTIONBUDGETS, ROLES, ROLEBINDINGS, CLUSTERROLES, CLUSTERROLEBINDINGS, PRIORITYCLASSES,
)

_BY_KIND = {(r.api_version, r.kind): r for r in ALL}


def for_kind(api_version: str, kind: str) -> ResourceRef | None:
    """The built-in resource of objects with this `apiVersion` and `kind`, if any."""
    return _BY_KIND.get((api_version, kind))
