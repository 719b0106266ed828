"""--authorization-mode RBAC: the bootstrap policy, 403s with kube-apiserver's messages, Roles and
RoleBindings made with the real kubectl granting exactly what they say, `kubectl auth can-i`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.fixtures.apiserver import ApiServerHandle, write_kubeconfig

BOB = "bob-token-0123456789abcdef"


@pytest.fixture
def rbac_server(apiserver_factory) -> ApiServerHandle:
    return apiserver_factory(authorization_mode="RBAC", extra_tokens=f'{BOB},bob,bob-uid,""')


def kubectl(server: ApiServerHandle, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def as_bob(rbac_server: ApiServerHandle, tmp_path: Path):
    config = tmp_path / "bob.kubeconfig"
    write_kubeconfig(config, rbac_server.url, rbac_server.ca_file, BOB)
    return lambda *args: kubectl(rbac_server, config, *args)


@pytest.fixture
def as_admin(rbac_server: ApiServerHandle):
    return lambda *args: kubectl(rbac_server, rbac_server.kubeconfig, *args)


pytestmark = pytest.mark.skipif(subprocess.run(["which", "kubectl"], capture_output=True).returncode != 0,
                                reason="kubectl is not installed")


def test_a_user_without_bindings_may_discover_but_not_read(as_bob) -> None:
    denied = as_bob("get", "pods")
    assert denied.returncode == 1
    assert denied.stderr.strip() == 'Error from server (Forbidden): pods is forbidden: User "bob" cannot list ' \
                                    'resource "pods" in API group "" in the namespace "default"'
    nodes = as_bob("get", "nodes")
    assert 'nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope' \
        in nodes.stderr
    metrics = as_bob("get", "--raw", "/metrics")
    assert metrics.stderr.strip() == 'Error from server (Forbidden): forbidden: User "bob" cannot get path "/metrics"'
    assert as_bob("api-resources").returncode == 0  # system:discovery is every authenticated user's
    assert as_bob("auth", "can-i", "list", "pods").stdout.strip() == "no"


def test_a_role_and_binding_grant_what_they_say(as_admin, as_bob) -> None:
    roles = as_admin("get", "clusterroles", "-o", "name").stdout.split()
    assert {"clusterrole.rbac.authorization.k8s.io/cluster-admin", "clusterrole.rbac.authorization.k8s.io/view",
            "clusterrole.rbac.authorization.k8s.io/system:kube-scheduler"} <= set(roles)
    assert as_admin("run", "web", "--image=nginx").returncode == 0
    made = as_admin("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods")
    assert made.stdout.strip() == "role.rbac.authorization.k8s.io/pod-reader created", made.stderr
    bound = as_admin("create", "rolebinding", "bob-reads", "--role=pod-reader", "--user=bob")
    assert bound.stdout.strip() == "rolebinding.rbac.authorization.k8s.io/bob-reads created", bound.stderr
    table = [line.split() for line in as_admin("get", "rolebindings", "-o", "wide").stdout.strip().splitlines()]
    assert table[0][:3] == ["NAME", "ROLE", "AGE"] and table[1][:2] == ["bob-reads", "Role/pod-reader"]
    assert "bob" in table[1]

    def can_list() -> bool:
        return as_bob("get", "pods", "-o", "name").stdout.strip() == "pod/web"
    import time
    deadline = time.monotonic() + 5  # the bindings reach the authorizer through the watch cache
    while not can_list() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert can_list()
    assert as_bob("auth", "can-i", "list", "pods").stdout.strip() == "yes"
    assert as_bob("auth", "can-i", "delete", "pods").stdout.strip() == "no"
    deleted = as_bob("delete", "pod", "web")
    assert 'pods "web" is forbidden: User "bob" cannot delete resource "pods" in API group "" in the namespace ' \
           '"default"' in deleted.stderr
    other = as_bob("get", "pods", "-n", "kube-system")
    assert 'in the namespace "kube-system"' in other.stderr
    changed = as_admin("patch", "rolebinding", "bob-reads", "--type=merge", "-p",
                       '{"roleRef": {"name": "other"}}')
    assert changed.returncode == 1
    assert 'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", ' \
           'Name:"pod-reader"}: cannot change roleRef' in changed.stderr


def test_cluster_role_binding_to_view(as_admin, as_bob) -> None:
    assert as_admin("create", "clusterrolebinding", "bob-views", "--clusterrole=view", "--user=bob").returncode == 0
    import time
    deadline = time.monotonic() + 5
    while as_bob("get", "deployments", "-A").returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert as_bob("get", "deployments", "-A").returncode == 0
    assert as_bob("get", "secrets").returncode == 1  # view does not read secrets
    assert yaml.safe_load(as_admin("get", "clusterrolebinding", "bob-views", "-o", "yaml").stdout)["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}


def test_impersonation(as_admin, as_bob) -> None:
    # cluster-admin may impersonate; kubectl --as sends Impersonate-User
    denied = as_admin("get", "secrets", "--as=system:kube-proxy")
    assert 'secrets is forbidden: User "system:kube-proxy" cannot list resource "secrets" in API group "" in ' \
           'the namespace "default"' in denied.stderr
    assert as_admin("auth", "can-i", "list", "endpointslices.discovery.k8s.io", "--as=system:kube-proxy"
                    ).stdout.strip() == "yes"
    assert as_admin("auth", "can-i", "create", "pods", "--subresource=binding", "--as=system:kube-scheduler"
                    ).stdout.strip() == "yes"
    assert as_admin("auth", "can-i", "create", "pods", "--as=system:kube-scheduler").stdout.strip() == "no"
    grouped = as_admin("get", "nodes", "--as=someone", "--as-group=system:masters")
    assert grouped.returncode == 0, grouped.stderr
    refused = as_bob("get", "pods", "--as=admin")
    assert 'users "admin" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the ' \
           'cluster scope' in refused.stderr


def test_can_i_list_shows_the_rules(as_admin, as_bob) -> None:
    as_admin("create", "role", "cm-reader", "--verb=get,list", "--resource=configmaps")
    as_admin("create", "rolebinding", "bob-cm", "--role=cm-reader", "--user=bob")
    import time
    deadline = time.monotonic() + 5
    while "configmaps" not in as_bob("auth", "can-i", "--list").stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    rows = [line.split() for line in as_bob("auth", "can-i", "--list").stdout.strip().splitlines()]
    assert rows[0][:4] == ["Resources", "Non-Resource", "URLs", "Resource"]
    assert ["configmaps", "[]", "[]", "[get", "list]"] in rows
    assert any(r[0] == "selfsubjectaccessreviews.authorization.k8s.io" for r in rows)
    assert ["[/version]", "[]", "[get]"] in rows  # a non-resource rule: the Resources column is empty
    assert "configmaps" not in as_bob("auth", "can-i", "--list", "-n", "kube-system").stdout
    admin_rows = [line.split() for line in as_admin("auth", "can-i", "--list").stdout.splitlines()]
    assert ["*.*", "[]", "[]", "[*]"] in admin_rows  # cluster-admin, bound to system:masters


async def test_groups_without_a_user_are_a_bad_request(rbac_server: ApiServerHandle) -> None:
    import aiohttp
    import ssl

    ctx = ssl.create_default_context(cafile=str(rbac_server.ca_file))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{rbac_server.url}/api/v1/pods", ssl=ctx,
                               headers={"Authorization": f"Bearer {rbac_server.token}",
                                        "Impersonate-Group": "system:masters"}) as resp:
            status = await resp.json()
    assert resp.status == 400 and status["reason"] == "BadRequest"
