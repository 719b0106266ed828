"""A whole kubemu cluster for end-to-end tests, started exactly as `make up` starts it.

The launcher (`python -m services.launcher up`) runs in its own state dir on free ports, once with
real etcd and once with the embedded store. Tests drive it with the real `kubectl` and `curl`.
Timings a user would wait minutes for (node monitor grace period, eviction) are shortened through
the components' environment variables, the same knobs a user has.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120


@dataclass
class Cluster:
    state_dir: Path
    proc: subprocess.Popen | None  # None: started detached (`up --detach`)
    env: dict[str, str]
    api_port: int

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    def kubectl(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        cmd = ["kubectl", "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.state_dir / "kubectl-cache"), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr}{result.stdout}")
        return result.stdout

    def get_json(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def pid(self, component: str) -> int:
        return int((self.state_dir / "pids" / f"{component}.pid").read_text())

    def log(self, component: str) -> list[dict]:
        lines = (self.state_dir / "logs" / f"{component}.log").read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


def wait_for(what: str, probe: Callable[[], object], timeout: float = 60, interval: float = 0.5):
    """Poll `probe` until it returns something truthy; fail with `what` (and the last value) after `timeout`."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (AssertionError, subprocess.SubprocessError, OSError, ValueError, KeyError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


def pod_processes(pod_name_prefix: str) -> list[int]:
    """PIDs whose environment says they are a container of a pod named `<prefix>...` (HOSTNAME=pod name)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(e.startswith(b"HOSTNAME=" + pod_name_prefix.encode()) for e in environ) and any(
            e.startswith(b"POD_IP=") for e in environ
        ):
            pids.append(int(entry.name))
    return pids


def _stores() -> list[str]:
    return ["etcd", "embedded"]


@pytest.fixture(scope="module", params=_stores())
def cluster(request, tmp_path_factory) -> Iterator[Cluster]:
    store = request.param
    if store == "etcd" and shutil.which("etcd") is None:
        if os.environ.get("CI"):
            pytest.fail("no etcd binary on PATH (CI is set: this test must not be skipped)")
        pytest.skip("no etcd binary on PATH")
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is not on PATH")
    state_dir = tmp_path_factory.mktemp(f"kubemu-{store}")
    api_port = free_port()
    env = {
        **os.environ,
        "KUBEMU_STATE_DIR": str(state_dir),
        "KUBEMU_STORE": store,
        "KUBEMU_API_PORT": str(api_port),
        "KUBEMU_ETCD_PORT": str(free_port()),
        "KUBEMU_ETCD_PEER_PORT": str(free_port()),
        "KUBEMU_NODES": "2",
        # what a user would wait minutes for, shortened:
        # (the grace period must stay well above the kubelets' Lease renew interval, 40 s vs 10 s by default)
        "KUBEMU_NODE_MONITOR_GRACE_PERIOD": "6",
        "KUBEMU_NODE_LEASE_RENEW_INTERVAL": "1",
        "KUBEMU_NODE_MONITOR_PERIOD": "1",
    }
    log_path = state_dir / "launcher.out"
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "services.launcher", "up"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    c = Cluster(state_dir, proc, env, api_port)
    try:
        wait_for("the launcher to report the cluster ready", lambda: (state_dir / "ready").exists() or proc.poll() is not None,
                 timeout=START_TIMEOUT, interval=0.3)
        if proc.poll() is not None:
            raise AssertionError(f"launcher exited {proc.returncode}:\n{log_path.read_text()[-5000:]}")
        yield c
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        leftovers = pod_processes("nginx")
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        assert proc.returncode == 0, f"launcher exited {proc.returncode}:\n{log_path.read_text()[-5000:]}"
        assert not leftovers, f"pod processes left running after the launcher stopped: {leftovers}"
