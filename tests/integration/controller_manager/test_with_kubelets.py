"""The whole control plane's loop with real processes: kube-scheduler and two kubelets (fake runtime).

A Deployment behind a Service runs on both nodes; its EndpointSlice lists the kubelets' pod IPs;
one kubelet is killed (SIGKILL: no goodbye), the node lifecycle controller marks its node Unknown
and taints it, the taint-eviction controller evicts its pods once their (short) toleration runs out,
and the scheduler puts the replacements on the surviving node.
"""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import subprocess
import sys

import pytest

from shared.resources import DEPLOYMENTS, ENDPOINTSLICES, NAMESPACES, NODES, PODS, SERVICES

from tests.conftest import free_port
from tests.fixtures.apiserver import REPO
from tests.integration.controller_manager.conftest import eventually
from tests.integration.controller_manager.test_deployment_rollout import (
    active_pods,
    deployment,
    is_ready,
    rolled_out,
    watch_bounds,
)
from tests.integration.controller_manager.test_nodes_and_services import SHORT_TOLERATIONS

if importlib.util.find_spec("services.kubelet.__main__") is None:  # pragma: no cover - until the kubelet lands
    pytest.skip("services.kubelet has no __main__ yet", allow_module_level=True)


def start(args: list[str], log_path) -> subprocess.Popen:
    log = log_path.open("wb")
    return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture
def processes(apiserver, tmp_path):
    procs: dict[str, subprocess.Popen] = {}
    kubeconfig = str(apiserver.kubeconfig)
    procs["scheduler"] = start(["services.scheduler", "--kubeconfig", kubeconfig, "--secure-port", str(free_port()),
                                "--leader-elect", "false", "--log-format", "json"], tmp_path / "scheduler.log")
    for i in (1, 2):
        ip = f"127.0.1.{i}"
        procs[f"node-{i}"] = start([
            "services.kubelet", "--kubeconfig", kubeconfig, "--node-name", f"node-{i}", "--node-ip", ip,
            "--port", str(free_port(ip)), "--runtime", "fake", "--root-dir", str(tmp_path / f"kubelet-{i}"),
            "--node-lease-renew-interval", "0.5s", "--node-status-update-frequency", "1s",
            "--log-format", "json"], tmp_path / f"kubelet-{i}.log")
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in procs.values():
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_service_endpoints_and_failover_with_real_kubelets(api_client, controller_manager, processes, tmp_path):
    await controller_manager(node_monitor_grace_period=3.0)

    async def nodes_ready():
        items = (await api_client.list(NODES))["items"]
        ready = [n for n in items if any(c["type"] == "Ready" and c["status"] == "True"
                                         for c in (n.get("status") or {}).get("conditions") or [])]
        return len(ready) == 2 and all(n["spec"].get("podCIDR") for n in items)

    await eventually(nodes_ready, timeout=60, what="two Ready kubelets with pod CIDRs")
    spec = deployment("web", 4)
    spec["spec"]["template"]["spec"]["tolerations"] = SHORT_TOLERATIONS
    spec["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 80}]
    await api_client.create(DEPLOYMENTS, spec)
    await api_client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                       "spec": {"selector": {"app": "web"},
                                                "ports": [{"port": 80, "targetPort": "http"}]}}, namespace="default")
    await eventually(lambda: rolled_out(api_client, "web", "nginx:1.25", 4), timeout=60, what="4 pods running")

    async def four_endpoints():
        slices = (await api_client.list(ENDPOINTSLICES, namespace="default",
                                        label_selector="kubernetes.io/service-name=web"))["items"]
        addresses = {a for s in slices for e in s.get("endpoints") or [] if e["conditions"]["ready"]
                     for a in e["addresses"]}
        return addresses if len(addresses) == 4 else None

    addresses = await eventually(four_endpoints, what="4 ready endpoints")
    assert all(a.startswith("127.244.") for a in addresses)

    victim = (await active_pods(api_client, "web"))[0]["spec"]["nodeName"]
    survivor = "node-2" if victim == "node-1" else "node-1"
    processes[victim].send_signal(signal.SIGKILL)

    async def moved():
        pods = await active_pods(api_client, "web")
        return len(pods) == 4 and all(p["spec"].get("nodeName") == survivor and is_ready(p) for p in pods)

    await eventually(moved, timeout=60, what=f"pods recreated on {survivor}")
    await eventually(four_endpoints, what="the Service's endpoints all on the survivor again")


async def test_rolling_update_within_bounds_with_real_kubelets(api_client, controller_manager, processes):
    await controller_manager()
    await api_client.create(DEPLOYMENTS, deployment("roll", 10))
    await eventually(lambda: rolled_out(api_client, "roll", "nginx:1.25"), timeout=60, what="10 pods running")
    stop, samples = asyncio.Event(), []
    sampler = asyncio.create_task(watch_bounds(api_client, "roll", stop, samples))
    await api_client.patch(DEPLOYMENTS, "roll", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.26"}]}}}}, namespace="default", patch_type="strategic")
    await eventually(lambda: rolled_out(api_client, "roll", "nginx:1.26"), timeout=60, what="rollout to 1.26")
    stop.set()
    await sampler
    assert max(total for total, _ in samples) <= 13
    assert min(ready for _, ready in samples) >= 8


async def test_namespace_with_running_pods_is_deleted(api_client, controller_manager, processes):
    await controller_manager()
    await api_client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    spec = deployment("cart", 3)
    spec["metadata"]["namespace"] = "shop"
    await api_client.create(DEPLOYMENTS, spec, namespace="shop")

    async def running():
        pods = (await api_client.list(PODS, namespace="shop"))["items"]
        return len(pods) == 3 and all(is_ready(p) for p in pods)

    await eventually(running, timeout=60, what="3 pods running in shop")
    await api_client.delete(NAMESPACES, "shop")

    async def gone():
        return "shop" not in {n["metadata"]["name"] for n in (await api_client.list(NAMESPACES))["items"]}

    await eventually(gone, timeout=60, what="namespace shop gone (its pods stopped by the kubelets first)")
    assert (await api_client.list(PODS, namespace="shop"))["items"] == []
