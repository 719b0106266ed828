"""Authorization: kube-apiserver's --authorization-mode, with the RBAC authorizer
(k8s plugin/pkg/auth/authorizer/rbac) and its bootstrap policy, smaller.

Guarantees:
- `Attributes` are what kube-apiserver's authorizers see: the user and groups, the verb, and for
  a resource request its API group, resource, subresource, namespace and name; otherwise the
  path. `AlwaysAllow` allows everything (kube-apiserver's default mode), `AlwaysDeny` nothing.
- `RBAC` allows a request when a rule allows it: the rules of every ClusterRoleBinding whose
  subjects name the user (User), one of its groups (Group) or its service account
  (ServiceAccount: user `system:serviceaccount:<ns>:<name>`), and in the request's namespace the
  rules of every RoleBinding that names them. A rule matches on verbs (`*` any), apiGroups and
  resources (`*`, `pods/log` for a subresource, `*/log` for any resource's), resourceNames (empty:
  any), or for non-resource requests nonResourceURLs (`*` any, a trailing `*` a prefix). Members of
  `system:masters` are allowed at once, as kube-apiserver's privileged group.
- A denied request is 403 Forbidden with kube-apiserver's message: `pods is forbidden: User "bob"
  cannot list resource "pods" in API group "" in the namespace "default"`, or `forbidden: User
  "bob" cannot get path "/metrics"`.
- `bootstrap_policy()` lists the ClusterRoles and ClusterRoleBindings kube-apiserver creates at
  start (a subset: cluster-admin, admin, edit, view, the discovery/basic-user/public-info-viewer
  roles every user gets, and the roles of kubemu's components). The component roles are
  kube-apiserver's where kubemu's components do the same things; where kubemu differs it says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import errors

Obj = dict[str, Any]
RBAC_GROUP = "rbac.authorization.k8s.io"
MASTERS = "system:masters"
MODES = ("AlwaysAllow", "AlwaysDeny", "RBAC")


@dataclass(frozen=True, slots=True)
class Attributes:
    user: str
    groups: tuple[str, ...]
    verb: str
    resource_request: bool
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


def forbidden(attrs: Attributes) -> errors.ApiStatusError:
    """responsewriters.Forbidden with forbiddenMessage."""
    if not attrs.resource_request:
        return errors.ApiStatusError(403, "Forbidden", f'forbidden: User "{attrs.user}" cannot {attrs.verb} path '
                                                       f'"{attrs.path}"', {})
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    why = f'User "{attrs.user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {where}'
    return errors.forbidden(attrs.resource, attrs.api_group, attrs.name, why)


# ---- matching ------------------------------------------------------------------------------------

def _applies(subject: Obj, attrs: Attributes, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == attrs.user
    if kind == "Group":
        return name in attrs.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return attrs.user == f"system:serviceaccount:{namespace}:{name}"
    return False


def _has(values: Iterable[str] | None, value: str) -> bool:
    values = values or ()
    return "*" in values or value in values


def rule_allows(rule: Obj, attrs: Attributes) -> bool:
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return any(url == "*" or url == attrs.path or (url.endswith("*") and attrs.path.startswith(url[:-1]))
                   for url in rule.get("nonResourceURLs") or ())
    if not _has(rule.get("apiGroups"), attrs.api_group):
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    resources = rule.get("resources") or ()
    if not ("*" in resources or combined in resources
            or (attrs.subresource and f"*/{attrs.subresource}" in resources)):
        return False
    names = rule.get("resourceNames") or ()
    return not names or attrs.name in names


class RbacAuthorizer:
    """Reads Roles, ClusterRoles and their bindings through `lookup(plural)`: every object of
    that kind, keyed by the store key (the API server hands it its watch caches)."""

    def __init__(self, lookup: Callable[[str], dict[str, Obj]], key: Callable[[str, str, str | None], str]) -> None:
        self._lookup, self._key = lookup, key

    def _role_rules(self, ref: Obj, namespace: str | None) -> list[Obj]:
        kind, name = ref.get("kind"), ref.get("name") or ""
        if kind == "ClusterRole":
            role = self._lookup("clusterroles").get(self._key("clusterroles", name, None))
        elif kind == "Role" and namespace:
            role = self._lookup("roles").get(self._key("roles", name, namespace))
        else:
            role = None
        return (role or {}).get("rules") or []

    def allowed(self, attrs: Attributes) -> bool:
        for binding in self._lookup("clusterrolebindings").values():
            if any(_applies(s, attrs, "") for s in binding.get("subjects") or ()):
                if any(rule_allows(r, attrs) for r in self._role_rules(binding.get("roleRef") or {}, None)):
                    return True
        if not attrs.namespace:
            return False
        for binding in self._lookup("rolebindings").values():
            namespace = (binding.get("metadata") or {}).get("namespace") or ""
            if namespace != attrs.namespace:
                continue
            if any(_applies(s, attrs, namespace) for s in binding.get("subjects") or ()):
                if any(rule_allows(r, attrs) for r in self._role_rules(binding.get("roleRef") or {}, namespace)):
                    return True
        return False


    def rules_for(self, user: str, groups: tuple[str, ...], namespace: str) -> list[Obj]:
        """RulesFor: every rule the user's cluster bindings grant, and its role bindings' in `namespace`."""
        who = Attributes(user, groups, "", True, namespace=namespace)
        rules: list[Obj] = []
        for binding in self._lookup("clusterrolebindings").values():
            if any(_applies(s, who, "") for s in binding.get("subjects") or ()):
                rules += self._role_rules(binding.get("roleRef") or {}, None)
        for binding in self._lookup("rolebindings").values():
            bound_ns = (binding.get("metadata") or {}).get("namespace") or ""
            if namespace and bound_ns == namespace and any(_applies(s, who, bound_ns)
                                                           for s in binding.get("subjects") or ()):
                rules += self._role_rules(binding.get("roleRef") or {}, bound_ns)
        return rules


def rules_review(mode: str, user: str, groups: tuple[str, ...], namespace: str,
                 rbac: RbacAuthorizer | None) -> Obj:
    """SelfSubjectRulesReview's status: the union of what each configured authorizer grants."""
    resource_rules: list[Obj] = []
    non_resource: list[Obj] = []
    for one in mode.split(","):
        if one == "AlwaysAllow":
            resource_rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
            non_resource.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
        elif one == "RBAC" and rbac is not None:
            for rule in rbac.rules_for(user, groups, namespace):
                if rule.get("nonResourceURLs"):
                    non_resource.append({"verbs": rule.get("verbs") or [], "nonResourceURLs": rule["nonResourceURLs"]})
                else:
                    resource_rules.append({k: rule[k] for k in ("verbs", "apiGroups", "resources", "resourceNames")
                                           if rule.get(k)})
    return {"resourceRules": resource_rules, "nonResourceRules": non_resource, "incomplete": False}


def allowed(mode: str, attrs: Attributes, rbac: RbacAuthorizer | None) -> bool:
    """The union of the configured authorizers (`--authorization-mode`, comma-separated)."""
    if MASTERS in attrs.groups:
        return True
    for one in mode.split(","):
        if one == "AlwaysAllow":
            return True
        if one == "RBAC" and rbac is not None and rbac.allowed(attrs):
            return True
    return False


# ---- the bootstrap policy ------------------------------------------------------------------------

def _rule(verbs: str, groups: str = "", resources: str = "", *, names: str = "") -> Obj:
    rule: Obj = {"verbs": verbs.split(), "apiGroups": groups.split(",") if groups else [""],
                 "resources": resources.split()}
    if names:
        rule["resourceNames"] = names.split()
    return rule


def _urls(verbs: str, urls: str) -> Obj:
    return {"verbs": verbs.split(), "nonResourceURLs": urls.split()}


READ = "get list watch"
WRITE = "create delete deletecollection patch update"
_WORKLOADS = "pods pods/attach pods/exec pods/portforward pods/proxy pods/eviction pods/ephemeralcontainers"
_APPS = "deployments deployments/scale replicasets replicasets/scale daemonsets statefulsets"

_ROLES: dict[str, list[Obj]] = {
    "cluster-admin": [_rule("*", "*", "*"), _urls("*", "*")],
    # admin/edit/view are aggregated in Kubernetes; kubemu writes the union for the kinds it serves.
    "admin": [_rule(READ + " " + WRITE, "", _WORKLOADS + " pods/log pods/status services endpoints "
                                            "configmaps secrets serviceaccounts persistentvolumeclaims events"),
              _rule(READ + " " + WRITE, "apps", _APPS + " controllerrevisions"),
              _rule(READ + " " + WRITE, "batch", "jobs cronjobs"),
              _rule(READ + " " + WRITE, "policy", "poddisruptionbudgets"),
              _rule(READ + " " + WRITE, "discovery.k8s.io", "endpointslices"),
              _rule(READ + " " + WRITE, "coordination.k8s.io", "leases"),
              _rule(READ + " " + WRITE, RBAC_GROUP, "roles rolebindings"),
              _rule(READ, "", "namespaces")],
    "edit": [_rule(READ + " " + WRITE, "", _WORKLOADS + " pods/log services endpoints configmaps secrets "
                                           "serviceaccounts persistentvolumeclaims events"),
             _rule(READ + " " + WRITE, "apps", _APPS),
             _rule(READ + " " + WRITE, "batch", "jobs cronjobs"),
             _rule(READ + " " + WRITE, "policy", "poddisruptionbudgets"),
             _rule(READ, "discovery.k8s.io", "endpointslices"),
             _rule(READ, "", "namespaces")],
    "view": [_rule(READ, "", "pods pods/log pods/status services endpoints configmaps serviceaccounts "
                             "persistentvolumeclaims events namespaces"),
             _rule(READ, "apps", _APPS + " controllerrevisions"),
             _rule(READ, "batch", "jobs cronjobs"),
             _rule(READ, "policy", "poddisruptionbudgets"),
             _rule(READ, "discovery.k8s.io", "endpointslices")],
    "system:discovery": [_urls("get", "/api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz "
                                      "/version /version/")],
    "system:public-info-viewer": [_urls("get", "/healthz /livez /readyz /version /version/")],
    "system:basic-user": [_rule("create", "authorization.k8s.io", "selfsubjectaccessreviews selfsubjectrulesreviews"),
                          _rule("create", "authentication.k8s.io", "selfsubjectreviews")],
    "system:kube-scheduler": [
        _rule("create patch update", ",events.k8s.io", "events"),
        _rule("create", "coordination.k8s.io", "leases"),
        _rule("get update", "coordination.k8s.io", "leases", names="kube-scheduler"),
        _rule("delete get list watch", "", "nodes"),
        _rule("delete get list watch", "", "pods"),
        _rule("create", "", "bindings pods/binding"),
        _rule("patch update", "", "pods/status"),
        _rule(READ, "", "replicationcontrollers services namespaces"),
        _rule(READ, "apps,extensions", "replicasets"),
        _rule(READ, "apps", "statefulsets"),
        _rule(READ, "policy", "poddisruptionbudgets"),
        _rule(READ, "", "persistentvolumeclaims persistentvolumes"),
        _rule("create", "authentication.k8s.io", "tokenreviews"),
        _rule("create", "authorization.k8s.io", "subjectaccessreviews"),
        _rule(READ, "storage.k8s.io", "csinodes csidrivers csistoragecapacities storageclasses"),
        _rule(READ, "scheduling.k8s.io", "priorityclasses"),
    ],
    "system:node-proxier": [
        _rule("list watch", "", "services endpoints"),
        _rule("get list watch", "", "nodes"),
        _rule("create patch update", ",events.k8s.io", "events"),
        _rule("list watch", "discovery.k8s.io", "endpointslices"),
    ],
    # Kubernetes authorizes kubelets with the Node authorizer (each node only its own objects) plus
    # this role; kubemu has no Node authorizer, so the role is bound to the system:nodes group.
    "system:node": [
        _rule("create", "authentication.k8s.io", "tokenreviews"),
        _rule("create", "authorization.k8s.io", "subjectaccessreviews localsubjectaccessreviews"),
        _rule(READ, "", "services"),
        _rule("create get list watch", "", "nodes"),
        _rule("patch update", "", "nodes/status"),
        _rule("patch update", "", "nodes"),
        _rule("create patch update", ",events.k8s.io", "events"),
        _rule(READ, "", "pods"),
        _rule("create delete", "", "pods"),
        _rule("patch update", "", "pods/status"),
        _rule("create", "", "pods/eviction"),
        _rule("get list watch", "", "configmaps secrets"),
        _rule("get", "", "persistentvolumeclaims persistentvolumes endpoints"),
        _rule("create delete get patch update", "coordination.k8s.io", "leases"),
        _rule("create", "", "serviceaccounts/token"),
        _rule(READ, "node.k8s.io", "runtimeclasses"),
        _rule(READ, "storage.k8s.io", "csidrivers csinodes volumeattachments"),
    ],
    # kube-controller-manager runs each controller with its own service account
    # (--use-service-account-credentials) and the system:controller:<name> roles; kubemu's runs
    # them all with one identity, so this role is their union for the kinds kubemu serves.
    "system:kube-controller-manager": [
        _rule("create patch update", ",events.k8s.io", "events"),
        _rule("create", "coordination.k8s.io", "leases"),
        _rule("get update", "coordination.k8s.io", "leases", names="kube-controller-manager"),
        _rule(READ + " " + WRITE, "", "pods pods/status pods/eviction endpoints services serviceaccounts "
                                      "configmaps secrets nodes nodes/status namespaces namespaces/finalize "
                                      "namespaces/status"),
        _rule(READ + " " + WRITE, "apps", "deployments deployments/status deployments/scale replicasets "
                                          "replicasets/status replicasets/scale daemonsets daemonsets/status "
                                          "controllerrevisions"),
        _rule(READ + " " + WRITE, "batch", "jobs jobs/status cronjobs cronjobs/status"),
        _rule(READ + " " + WRITE, "policy", "poddisruptionbudgets poddisruptionbudgets/status"),
        _rule(READ + " " + WRITE, "discovery.k8s.io", "endpointslices"),
        _rule(READ + " " + WRITE, "coordination.k8s.io", "leases"),
        _rule("get list watch", "*", "*"),  # the garbage collector and namespace controller read every kind
        _rule("delete deletecollection", "*", "*"),  # ... and delete what has no owner or namespace left
        _rule("get update", "*", "*/scale"),
    ],
}

_BINDINGS: dict[str, tuple[str, list[Obj]]] = {
    "cluster-admin": ("cluster-admin", [{"kind": "Group", "name": MASTERS}]),
    "system:discovery": ("system:discovery", [{"kind": "Group", "name": "system:authenticated"}]),
    "system:basic-user": ("system:basic-user", [{"kind": "Group", "name": "system:authenticated"}]),
    "system:public-info-viewer": ("system:public-info-viewer", [{"kind": "Group", "name": "system:authenticated"},
                                                                {"kind": "Group", "name": "system:unauthenticated"}]),
    "system:kube-scheduler": ("system:kube-scheduler", [{"kind": "User", "name": "system:kube-scheduler"}]),
    "system:kube-controller-manager": ("system:kube-controller-manager",
                                       [{"kind": "User", "name": "system:kube-controller-manager"}]),
    "system:node-proxier": ("system:node-proxier", [{"kind": "User", "name": "system:kube-proxy"}]),
    "system:node": ("system:node", [{"kind": "Group", "name": "system:nodes"}]),
}

_BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}


def bootstrap_policy() -> tuple[list[Obj], list[Obj]]:
    """(ClusterRoles, ClusterRoleBindings) to create at start when absent."""
    roles = [{"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole",
              "metadata": {"name": name, "labels": dict(_BOOTSTRAP_LABELS), "annotations": dict(_AUTOUPDATE)},
              "rules": rules} for name, rules in _ROLES.items()]
    bindings = [{"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding",
                 "metadata": {"name": name, "labels": dict(_BOOTSTRAP_LABELS), "annotations": dict(_AUTOUPDATE)},
                 "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
                 "subjects": [{"apiGroup": RBAC_GROUP, **s} for s in subjects]}
                for name, (role, subjects) in _BINDINGS.items()]
    return roles, bindings
