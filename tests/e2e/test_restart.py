"""`make up DETACH=1`, `make down`, and a second `make up` on the same state dir: the same cluster
comes back — its objects are still there and the kubelets run their pods again."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.conftest import ROOT, Cluster, pod_processes, wait_for

pytestmark = pytest.mark.e2e


def launcher(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.launcher", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("store", ["etcd", "embedded"])
def test_second_up_brings_the_same_cluster_back(store: str, tmp_path: Path) -> None:
    if store == "etcd" and shutil.which("etcd") is None:
        if os.environ.get("CI"):
            pytest.fail("no etcd binary on PATH (CI is set: this test must not be skipped)")
        pytest.skip("no etcd binary on PATH")
    api_port = free_port()
    env = {**os.environ, "KUBEMU_STATE_DIR": str(tmp_path / "state"), "KUBEMU_STORE": store,
           "KUBEMU_API_PORT": str(api_port), "KUBEMU_ETCD_PORT": str(free_port()),
           "KUBEMU_ETCD_PEER_PORT": str(free_port()), "KUBEMU_NODES": "2"}
    c = Cluster(tmp_path / "state", None, env, api_port)
    try:
        up = launcher(env, "up", "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "kubemu is up." in up.stdout
        assert launcher(env, "up", "--detach").returncode == 1  # one cluster per state dir
        c.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2")
        first = wait_for("2 Running web pods", lambda: _running(c, 2))

        down = launcher(env, "down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert not listening(api_port)
        assert not pod_processes("web-"), "a node shutdown stops the pods' processes"

        up = launcher(env, "up", "--detach")
        assert up.returncode == 0, up.stdout + up.stderr
        again = wait_for("the same 2 pods Running again", lambda: _running(c, 2), timeout=90)
        assert {p["metadata"]["name"] for p in again} == {p["metadata"]["name"] for p in first}
        assert {p["metadata"]["uid"] for p in again} == {p["metadata"]["uid"] for p in first}
        assert all(pod_processes(p["metadata"]["name"]) for p in again)
    finally:
        launcher(env, "down")
    assert not listening(api_port)
    assert not pod_processes("web-")


def _running(c: Cluster, n: int) -> list[dict] | None:
    pods = c.get_json("pods", "-l", "app=web")["items"]
    ok = [p for p in pods if p["status"].get("phase") == "Running"
          and all(cs.get("ready") for cs in p["status"].get("containerStatuses", []))]
    return ok if len(ok) == n == len(pods) else None
