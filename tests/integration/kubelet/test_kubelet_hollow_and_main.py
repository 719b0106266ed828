"""Hollow nodes (fake runtime, many nodes in one process) and `python -m services.kubelet` as a process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.request

from shared.resources import LEASES, NODES, PODS
from tests.conftest import free_port
from tests.fixtures.apiserver import REPO
from tests.integration.kubelet.conftest import (
    condition,
    container_status,
    pod_manifest,
    random_network,
    wait_pod,
    wait_until,
)


async def test_hollow_nodes_each_register_and_run_their_pods(start_kubelet, api) -> None:
    k = await start_kubelet(hollow_nodes=3, hollow_node_prefix="hollow-t", pod_cidr="127.246.0.0/16")
    names = [f"hollow-t-{i}" for i in range(3)]
    for name in names:
        node = await api.get(NODES, name)
        assert condition({"status": node["status"]}, "Ready") == "True"
        await wait_until(lambda n=name: _has_lease(api, n), timeout=5, what=f"lease of {name}")
    for i, name in enumerate(names):
        await api.create(PODS, pod_manifest(f"h{i}", name, {"name": "c", "image": "anything:1"}))
    pods = [await wait_pod(api, f"h{i}", lambda p: condition(p, "Ready") == "True", what="Ready") for i in range(3)]
    cidrs = {p["status"]["podIP"].rsplit(".", 1)[0] for p in pods}
    assert len(cidrs) == 3  # each hollow node its own /24
    assert all(container_status(p)["containerID"].startswith("kubemu://") for p in pods)
    await api.delete(PODS, "h0", "default")
    await wait_until(lambda: _gone(api, "h0"), timeout=10, what="h0 deleted by its kubelet")
    assert len(k.app[_key()]) == 3


def _key():
    from services.kubelet.app import KUBELETS

    return KUBELETS


async def _has_lease(api, name: str) -> bool:
    from shared.client import NotFound

    try:
        return (await api.get(LEASES, name, "kube-node-lease"))["spec"]["holderIdentity"] == name
    except NotFound:
        return False


async def _gone(api, name: str) -> bool:
    from shared.client import NotFound

    try:
        await api.get(PODS, name, "default")
    except NotFound:
        return True
    return False


async def test_python_m_services_kubelet_runs_and_shutdown_node_stops_its_containers(apiserver, api, tmp_path) -> None:
    node_ip, cidr = random_network()
    port = free_port(node_ip)
    root = tmp_path / "root"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBEMU_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.kubelet", "--kubeconfig", str(apiserver.kubeconfig), "--node-name",
         "proc-node", "--node-ip", node_ip, "--port", str(port), "--pod-cidr", cidr, "--root-dir", str(root),
         "--log-format", "json", "--node-lease-renew-interval", "500ms"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "kubelet.log").open("wb"))
    try:
        await wait_until(lambda: _healthy(f"http://{node_ip}:{port}/readyz"), timeout=20, what="kubelet ready")
        await api.create(PODS, pod_manifest("sleeper", "proc-node",
                                            {"name": "c", "image": "busybox", "command": ["sleep", "300"]}))
        pod = await wait_pod(api, "sleeper", lambda p: p["status"].get("phase") == "Running", what="Running")
        assert pod["status"]["hostIP"] == node_ip
    finally:
        proc.terminate()
        proc.wait(15)
    log = (tmp_path / "kubelet.log").read_text()
    assert '"event":"container.started"' in log and '"key":"default/sleeper"' in log
    out = subprocess.run([sys.executable, "-m", "services.kubelet", "shutdown-node", "--root-dir", str(root),
                          "--grace-period", "1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "stopped container c" in out.stdout


async def _healthy(url: str) -> bool:
    def get() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    return await asyncio.to_thread(get)
