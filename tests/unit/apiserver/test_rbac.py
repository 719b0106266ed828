"""The RBAC authorizer's matching, the authorization modes, and kube-apiserver's Forbidden messages."""

from __future__ import annotations

import pytest

from services.apiserver.rbac import Attributes, RbacAuthorizer, allowed, bootstrap_policy, forbidden, rule_allows


def res(verb: str, resource: str, *, group: str = "", sub: str = "", ns: str = "default", name: str = "",
        user: str = "bob", groups: tuple[str, ...] = ("system:authenticated",)) -> Attributes:
    return Attributes(user, groups, verb, True, group, resource, sub, ns, name)


def path(verb: str, url: str, *, user: str = "bob") -> Attributes:
    return Attributes(user, ("system:authenticated",), verb, False, path=url)


@pytest.mark.parametrize("rule,attrs,expected", [
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("list", "pods"), False),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, res("delete", "deployments", group="apps"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods", group="apps"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods", sub="log"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, res("get", "pods", sub="log"), True),
    ({"verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res("update", "deployments", group="apps", sub="scale"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     res("get", "configmaps", name="a"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     res("get", "configmaps", name="b"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     res("list", "configmaps"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}, path("get", "/apis/apps/v1"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/version"]}, path("get", "/versions"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/metrics"]}, res("get", "pods"), False),
])
def test_rule_matching(rule, attrs, expected) -> None:
    assert rule_allows(rule, attrs) is expected


def authorizer(**objects: dict) -> RbacAuthorizer:
    store = {plural: objects.get(plural, {}) for plural in ("roles", "rolebindings", "clusterroles",
                                                           "clusterrolebindings")}
    return RbacAuthorizer(lambda plural: store[plural],
                          lambda plural, name, ns: f"{plural}/{ns}/{name}" if ns else f"{plural}/{name}")


READER = {"rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]}


def binding(ns: str, kind: str, role: str, *subjects: dict) -> dict:
    return {"metadata": {"name": "b", "namespace": ns}, "roleRef": {"kind": kind, "name": role},
            "subjects": list(subjects)}


def test_role_bindings_grant_in_their_namespace_only() -> None:
    rbac = authorizer(roles={"roles/dev/reader": READER},
                      rolebindings={"rb": binding("dev", "Role", "reader", {"kind": "User", "name": "bob"})})
    assert rbac.allowed(res("list", "pods", ns="dev"))
    assert not rbac.allowed(res("list", "pods", ns="prod"))
    assert not rbac.allowed(res("list", "pods", ns=""))  # all namespaces: a cluster-scope question
    assert not rbac.allowed(res("list", "pods", ns="dev", user="alice"))


def test_subjects_users_groups_and_service_accounts() -> None:
    rbac = authorizer(clusterroles={"clusterroles/reader": READER},
                      rolebindings={"rb": binding("dev", "ClusterRole", "reader",
                                                  {"kind": "Group", "name": "devs"},
                                                  {"kind": "ServiceAccount", "name": "ci"})})
    assert rbac.allowed(res("get", "pods", ns="dev", user="carol", groups=("devs",)))
    assert rbac.allowed(res("get", "pods", ns="dev", user="system:serviceaccount:dev:ci"))
    assert not rbac.allowed(res("get", "pods", ns="dev", user="system:serviceaccount:other:ci"))


def test_modes_and_masters() -> None:
    rbac = authorizer()
    attrs = res("delete", "nodes", ns="")
    assert not allowed("RBAC", attrs, rbac)
    assert allowed("AlwaysAllow", attrs, rbac) and not allowed("AlwaysDeny", attrs, rbac)
    assert allowed("RBAC,AlwaysAllow", attrs, rbac)
    assert allowed("AlwaysDeny", res("delete", "nodes", ns="", groups=("system:masters",)), rbac)


def test_forbidden_messages() -> None:
    listed = forbidden(res("list", "pods"))
    assert (listed.code, listed.reason) == (403, "Forbidden")
    assert listed.message == 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the ' \
                             'namespace "default"'
    one = forbidden(res("get", "deployments", group="apps", sub="scale", ns="", name="web"))
    assert one.message == 'deployments.apps "web" is forbidden: User "bob" cannot get resource "deployments/scale" ' \
                          'in API group "apps" at the cluster scope'
    assert forbidden(path("get", "/metrics")).message == 'forbidden: User "bob" cannot get path "/metrics"'


def test_bootstrap_policy_binds_the_components() -> None:
    roles, bindings = bootstrap_policy()
    by_role = {b["roleRef"]["name"]: b["subjects"] for b in bindings}
    assert {r["metadata"]["name"] for r in roles} >= set(by_role)
    assert by_role["cluster-admin"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                         "name": "system:masters"}]
    rules = {r["metadata"]["name"]: r["rules"] for r in roles}
    scheduler = Attributes("system:kube-scheduler", (), "create", True, "", "pods", "binding", "default", "p")
    assert any(rule_allows(r, scheduler) for r in rules["system:kube-scheduler"])
    assert not any(rule_allows(r, res("create", "pods")) for r in rules["system:kube-scheduler"])
    assert not any(rule_allows(r, res("get", "secrets")) for r in rules["view"])
