"""kube-proxy with the real EndpointSlice controller: Pods become endpoints, readiness steers traffic.

The controller-manager runs as its own process (`--controllers endpointslice`), as in a cluster;
the Pods are written by the test with the status a kubelet would report, and their IPs are real
HTTP servers.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.resources import NODES, PODS, SERVICES

from tests.conftest import free_port
from tests.fixtures.apiserver import REPO
from tests.integration.proxy.conftest import eventually, refused
from tests.unit.proxy.helpers import Backend, http_get


@pytest.fixture
def controller_manager(apiserver, tmp_path: Path) -> Iterator[subprocess.Popen]:
    log = (tmp_path / "controller-manager.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.controller_manager", "--kubeconfig", str(apiserver.kubeconfig),
         "--controllers", "endpointslice", "--leader-elect", "false", "--secure-port", str(free_port()),
         "--bind-address", "127.0.0.1", "--log-format", "json"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    yield proc
    proc.terminate()
    proc.wait(15)


@pytest.fixture
async def pod_backends():
    port = free_port()
    started = [await Backend("a", port=port).start(), await Backend("b", port=port).start()]
    yield started
    for b in started:
        await b.stop()


def _pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
                                                             "labels": {"app": "web"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "nginx"}]}}


async def _set_status(api_client, name: str, ip: str, ready: bool) -> None:
    pod = await api_client.get(PODS, name, namespace="default")
    status = "True" if ready else "False"
    pod["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "127.0.1.1",
                     "conditions": [{"type": "Ready", "status": status}, {"type": "ContainersReady", "status": status}]}
    await api_client.update(PODS, pod, namespace="default", subresource="status")


async def test_pods_become_endpoints_and_readiness_steers_traffic(
        proxy, controller_manager, api_client, pod_backends: list[Backend]) -> None:
    await api_client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}})
    port = free_port()
    svc = await api_client.create(SERVICES, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"},
                 "ports": [{"name": "http", "port": port, "targetPort": pod_backends[0].port}]}}, namespace="default")
    ip = svc["spec"]["clusterIP"]
    for b in pod_backends:
        await api_client.create(PODS, _pod(f"web-{b.name}"), namespace="default")
        await _set_status(api_client, f"web-{b.name}", b.ip, ready=True)

    async def both() -> bool:
        return {await http_get(ip, port) for _ in range(4)} == {"a", "b"}

    await eventually(both, timeout=20, what="both pods to serve the ClusterIP")

    await _set_status(api_client, "web-a", pod_backends[0].ip, ready=False)

    async def only_b() -> bool:
        return {await http_get(ip, port) for _ in range(4)} == {"b"}

    await eventually(only_b, timeout=20, what="the unready pod to stop getting traffic")

    for b in pod_backends:
        await api_client.delete(PODS, f"web-{b.name}", namespace="default", grace_period_seconds=0)
    await eventually(lambda: refused(ip, port), timeout=20, what="no endpoints: refused")
