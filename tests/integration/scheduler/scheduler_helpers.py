"""Helpers for the scheduler's integration tests: objects, polling, and schedulers in and out of process."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.helpers import eventually as _eventually

REPO = Path(__file__).resolve().parents[3]


def node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: str = "110", labels: dict | None = None,
         taints: list | None = None) -> dict:
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": taints} if taints else {},
            "status": {"capacity": dict(allocatable), "allocatable": allocatable,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, *, cpu: str | None = None, memory: str | None = None, namespace: str = "default",
        **spec: Any) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: dict = {"name": "app", "image": "nginx"}
    if requests:
        container["resources"] = {"requests": requests}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [container], **spec}}


# this suite polls faster and gives up sooner than the shared default
eventually = functools.partial(_eventually, timeout=20.0, interval=0.05)


async def pods_by_name(client: Any, namespace: str = "default") -> dict[str, dict]:
    from shared.resources import PODS

    return {p["metadata"]["name"]: p for p in (await client.list(PODS, namespace=namespace))["items"]}


async def events_for(client: Any, name: str, namespace: str = "default") -> list[dict]:
    from shared.resources import EVENTS

    items = (await client.list(EVENTS, namespace=namespace))["items"]
    return [e for e in items if (e.get("involvedObject") or e.get("regarding") or {}).get("name") == name]


class SchedulerProcess:
    """`python -m services.scheduler` against an API server, with short leader-election timings."""

    def __init__(self, tmp: Path, kubeconfig: Path, name: str, *extra: str) -> None:
        self.port = free_port()
        self.log_path = tmp / f"{name}.log"
        self.args = [sys.executable, "-m", "services.scheduler", "--kubeconfig", str(kubeconfig),
                     "--secure-port", str(self.port), "--log-format", "json",
                     "--leader-elect-lease-duration", "2", "--leader-elect-renew-deadline", "1.5",
                     "--leader-elect-retry-period", "0.25", *extra]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBEMU_")}
        self.proc = subprocess.Popen(self.args, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                     stderr=self.log_path.open("ab"))

    def metric(self, name: str, labels: str = "") -> float | None:
        """A sample from /metrics, e.g. metric("leader_election_master_status", 'name="kube-scheduler"')."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as resp:
                text = resp.read().decode()
        except OSError:
            return None
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.split()[-1])
        return None

    def is_leader(self) -> bool:
        return self.metric("leader_election_master_status", 'name="kube-scheduler"') == 1.0

    def scheduled(self) -> float:
        return self.metric("scheduler_schedule_attempts_total",
                           'profile="default-scheduler",result="scheduled"') or 0.0

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
