"""docker-compose.yml is valid, and every service's command really works with the compose settings.

No Docker engine runs here, so the file is checked twice: by `docker-compose config -q` (Debian's
docker-compose; CI installs it), and by starting each compose service's own command locally, in
depends_on order, with the compose environment — the in-container paths mapped to a temporary dir
and etcd's image replaced by the local etcd binary — until every healthcheck passes and kubectl
sees both nodes Ready.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import ROOT, wait_for

COMPOSE = ROOT / "docker-compose.yml"
STATE = "/var/lib/kubemu"


def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is not on PATH (CI is set: this test must not be skipped)")
        pytest.skip(f"{binary} is not on PATH")


def test_compose_file_is_valid() -> None:
    _need("docker-compose")
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _order(services: dict) -> list[str]:
    done: list[str] = []

    def visit(name: str) -> None:
        if name not in done:
            for dep in services[name].get("depends_on", {}):
                visit(dep)
            done.append(name)
    for name in services:
        visit(name)
    return done


def test_every_compose_command_runs_locally(tmp_path: Path) -> None:
    _need("etcd")
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    local = lambda s: s.replace(STATE, str(tmp_path / "state")).replace("/etcd-data", str(tmp_path / "etcd"))  # noqa: E731
    procs: list[tuple[str, subprocess.Popen]] = []
    try:
        for name in _order(services):
            svc = services[name]
            if "command" not in svc:
                continue  # `net`: the pause container only holds the network namespace
            argv = [local(a) for a in svc["command"]]
            if argv[0] == "python":
                argv[0] = sys.executable
            env = {**os.environ, **{k: local(str(v)) for k, v in svc.get("environment", {}).items()}}
            out = (tmp_path / f"{name}.log").open("wb")
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            procs.append((name, proc))
            dependents_wait_for_exit = any(
                d.get(name, {}).get("condition") == "service_completed_successfully"
                for d in (s.get("depends_on", {}) for s in services.values()) if isinstance(d, dict)
            )
            if dependents_wait_for_exit:
                assert proc.wait(60) == 0, (tmp_path / f"{name}.log").read_text()
            elif "healthcheck" in svc:
                check = [local(a) for a in svc["healthcheck"]["test"][1:]]
                if check[0] == "python":
                    check[0] = sys.executable
                if check[0] == "etcdctl" and shutil.which("etcdctl") is None:
                    # the etcd image has etcdctl; here ask the same endpoint's /health directly
                    endpoint = next(a.split("=", 1)[1] for a in check if a.startswith("--endpoints="))
                    check = [sys.executable, "-c", f"import urllib.request; urllib.request.urlopen('{endpoint}/health', timeout=2)"]
                wait_for(f"{name}'s healthcheck", lambda: _healthy(name, proc, check, tmp_path), timeout=60)
        kubeconfig = tmp_path / "state" / "kubeconfig"
        nodes = wait_for("both nodes Ready through kubectl", lambda: _ready_nodes(kubeconfig, tmp_path), timeout=60)
        assert nodes == ["node-1", "node-2"]
    finally:
        for _, proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        for root in (tmp_path / "state" / "kubelet").glob("*"):
            subprocess.run([sys.executable, "-m", "services.kubelet", "shutdown-node", "--root-dir", str(root)], cwd=ROOT)


def _healthy(name: str, proc: subprocess.Popen, check: list[str], tmp_path: Path) -> bool:
    if proc.poll() is not None:
        log = (tmp_path / f"{name}.log").read_text()[-3000:]
        pytest.fail(f"{name} exited with {proc.returncode} before it was healthy:\n{log}")
    return subprocess.run(check, capture_output=True).returncode == 0


def _ready_nodes(kubeconfig: Path, tmp_path: Path) -> list[str] | None:
    out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache"),
                          "get", "nodes", "-o", "json"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    ready = sorted(n["metadata"]["name"] for n in json.loads(out.stdout)["items"]
                   if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", [])))
    return ready if len(ready) == 2 else None
