"""What a request asks for: parsed from its path and method, as kube-apiserver's RequestInfo.

Guarantees: `/api/v1/...` and `/apis/<group>/<version>/...` paths resolve to a registered
resource, namespace, name and subresource and a Kubernetes verb (get, list, watch, create, update,
patch, delete, deletecollection); unknown paths raise 404 `the server could not find the requested
resource`, and methods a path does not take raise 405.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.apiserver import errors
from services.apiserver.registry import Registry, Resource

NAMESPACE_SUBRESOURCES = ("status", "finalize")
# Served here though discovery does not list them (as kube-apiserver does for namespaces/finalize).
EXTRA_SUBRESOURCES = {("namespaces", "finalize"), ("pods", "exec"), ("pods", "attach")}


@dataclass
class RequestInfo:
    verb: str
    resource: Resource
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None

    @property
    def key(self) -> str:
        """`ns/name` (or `name`), for logs."""
        if self.name is None:
            return self.namespace or ""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def is_discovery_path(parts: list[str]) -> bool:
    """/api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>."""
    if parts[:1] == ["api"]:
        return len(parts) <= 2
    return parts[:1] == ["apis"] and len(parts) <= 3


def parse(registry: Registry, method: str, parts: list[str], watch_param: bool) -> RequestInfo:
    """Resolve a resource path (`parts` split on '/', starting with 'api' or 'apis')."""
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        group, version, rest = parts[1], parts[2], parts[3:]
    if rest[:1] == ["watch"]:
        watch_param, rest = True, rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3 or any(not p for p in rest):
        raise errors.path_not_found()
    res = registry.get(group, version, rest[0])
    if res is None:
        raise errors.path_not_found()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if namespace is not None and not res.namespaced:
        raise errors.path_not_found()
    if namespace is None and res.namespaced and name is not None:
        raise errors.path_not_found()
    if sub is not None and sub not in res.subresources and (res.plural, sub) not in EXTRA_SUBRESOURCES:
        raise errors.path_not_found()
    verb = _verb(method, name, sub, watch_param, namespace is None and res.namespaced)
    return RequestInfo(verb, res, namespace, name, sub)


def _verb(method: str, name: str | None, sub: str | None, watch: bool, all_namespaces: bool) -> str:
    if method in ("GET", "HEAD"):
        if watch:
            return "watch"
        return "get" if name else "list"
    if all_namespaces:  # /api/v1/pods: only reading across namespaces
        raise errors.method_not_allowed()
    if method == "POST":
        if name is None:
            return "create"
        if sub in ("binding", "eviction", "exec", "attach"):
            return "create"
        raise errors.method_not_allowed()
    if name is None:
        if method == "DELETE":
            return "deletecollection"
        raise errors.method_not_allowed()
    verbs = {"PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    if method not in verbs or (sub is not None and method == "DELETE"):
        raise errors.method_not_allowed()
    return verbs[method]
