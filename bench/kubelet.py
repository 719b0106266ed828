"""Kubelet benchmark: pod startup latency, create -> Running (as a watch sees it), p50/p99.

Each case runs a fresh API server and `python -m services.kubelet` processes (the shapes they run
in for real); pods are created with `spec.nodeName` set (no scheduler), and a watch records when
each pod's `status.phase` is first Running. Latency = that moment - the moment its create was sent.
- process: 100 nginx pods on 2 process-runtime nodes (real processes, each listening on its pod
  IP). "paced" creates them at a steady rate, as Kubernetes' density test creates its latency
  pods (the SLO case: p99 <= 5 s, kubemu's target p99 <= 1 s); "burst" creates all at once
  (64 in flight), so every pod queues behind the others' process starts on the same 2 cores.
- hollow: 1,000 pods on 100 hollow nodes (fake runtime, one kubelet process), burst and paced.
The store is the test etcd when KUBEMU_TEST_ETCD is set, else the embedded SQLite store.
In burst mode the API server's write rate sets the pace: each pod is a create, a status PATCH and
four Events (Pulling, Pulled, Created, Started) written while the other pods' creates arrive.
BENCH_KUBELET_LOG_LEVEL=info keeps the kubelets' lifecycle lines (in the case's temporary dir).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.common import percentile, print_table, write_results

REPO = Path(__file__).resolve().parents[1]
IN_FLIGHT = 64
TARGET_P99_SECONDS = 1.0


@dataclass
class Case:
    name: str
    runtime: str  # process | hollow
    nodes: int
    pods: int
    rate: float | None  # pods created per second; None = all at once


FULL_CASES = [
    Case("process paced", "process", 2, 100, 10.0),
    Case("process burst", "process", 2, 100, None),
    Case("hollow paced", "hollow", 100, 1000, 100.0),
    Case("hollow burst", "hollow", 100, 1000, None),
]
QUICK_CASES = [Case("process paced", "process", 2, 20, 10.0), Case("hollow burst", "hollow", 10, 100, None)]


def _pod(name: str, node: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


class Cluster:
    """An API server and kubelets, as subprocesses, for one case."""

    def __init__(self, tmp: Path, case: Case) -> None:
        from tests.fixtures.apiserver import make_apiserver_process

        etcd = os.environ.get("KUBEMU_TEST_ETCD")
        self.store = "etcd" if etcd else "embedded"
        self.tmp, self.case = tmp, case
        self.api = make_apiserver_process(tmp / "apiserver", etcd_servers=etcd,
                                          etcd_prefix=f"/kubemu-bench-{uuid.uuid4().hex[:8]}",
                                          extra_args=["--log-level", "warning"])
        self.kubelets: list[tuple[subprocess.Popen, str]] = []
        self.roots: list[Path] = []
        self.net = random.randint(200, 239)
        self.node_names: list[str] = []

    def start(self) -> None:
        self.api.start()
        if self.case.runtime == "process":
            for i in range(1, self.case.nodes + 1):
                self._kubelet(f"bench-node-{i}", f"127.{self.net}.{i}.1",
                              ["--pod-cidr", f"127.{self.net}.{i}.0/24"])
                self.node_names.append(f"bench-node-{i}")
        else:
            self._kubelet("hollow", f"127.{self.net}.0.1",
                          ["--hollow-nodes", str(self.case.nodes), "--hollow-node-prefix", "hollow-node",
                           "--pod-cidr", f"127.{self.net}.0.0/16", "--max-pods", "110"])
            self.node_names = [f"hollow-node-{i}" for i in range(self.case.nodes)]

    def _kubelet(self, name: str, ip: str, extra: list[str]) -> None:
        from tests.conftest import free_port

        port = free_port(ip)
        root = self.tmp / "kubelet" / name
        self.roots.append(root)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBEMU_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.kubelet", "--kubeconfig", str(self.api.handle.kubeconfig),
             "--node-name", name, "--node-ip", ip, "--port", str(port), "--root-dir", str(root),
             "--log-format", "json", "--log-level", os.environ.get("BENCH_KUBELET_LOG_LEVEL", "warning"), "--cpu", "32", "--memory", "64Gi", *extra],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=(self.tmp / f"{name}.log").open("wb"))
        self.kubelets.append((proc, f"http://{ip}:{port}/readyz"))

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for proc, url in self.kubelets:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"kubelet exited with {proc.returncode}; see {self.tmp}")
                try:
                    with urllib.request.urlopen(url, timeout=1) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"kubelet not ready in {timeout}s ({url})")
                time.sleep(0.1)

    def stop(self) -> None:
        for proc, _ in self.kubelets:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for root in self.roots:
            if (root / "containers").exists():
                subprocess.run([sys.executable, "-m", "services.kubelet", "shutdown-node", "--root-dir", str(root),
                                "--grace-period", "1"], cwd=REPO, stdout=subprocess.DEVNULL, check=False)
        self.api.stop()


async def _watch_running(client, resource_version: str, total: int, running: dict[str, float],
                         done: asyncio.Event) -> None:
    from shared.resources import PODS

    while len(running) < total:
        async for event in client.watch(PODS, "default", resource_version=resource_version):
            obj = event["object"]
            resource_version = obj["metadata"].get("resourceVersion", resource_version)
            if event["type"] in ("ADDED", "MODIFIED") and (obj.get("status") or {}).get("phase") == "Running":
                running.setdefault(obj["metadata"]["name"], time.perf_counter())
                if len(running) >= total:
                    break
    done.set()


async def _create(client, pods: list[dict], rate: float | None, sent: dict[str, float]) -> None:
    from shared.resources import PODS

    semaphore = asyncio.Semaphore(IN_FLIGHT)
    start = time.perf_counter()

    async def one(i: int, pod: dict) -> None:
        if rate:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        async with semaphore:
            sent[pod["metadata"]["name"]] = time.perf_counter()
            await client.create(PODS, pod)

    await asyncio.gather(*(one(i, p) for i, p in enumerate(pods)))


async def _measure(cluster: Cluster) -> dict:
    from shared.client import ApiClient
    from shared.resources import PODS

    case = cluster.case
    client = ApiClient.from_kubeconfig(cluster.api.handle.kubeconfig)
    try:
        rv = (await client.list(PODS, "default"))["metadata"]["resourceVersion"]
        pods = [_pod(f"p-{i}", cluster.node_names[i % len(cluster.node_names)]) for i in range(case.pods)]
        sent: dict[str, float] = {}
        running: dict[str, float] = {}
        done = asyncio.Event()
        watcher = asyncio.create_task(_watch_running(client, rv, case.pods, running, done))
        t0 = time.perf_counter()
        await _create(client, pods, case.rate, sent)
        try:
            await asyncio.wait_for(done.wait(), 120 + case.pods * 0.1)
        finally:
            watcher.cancel()
        elapsed = time.perf_counter() - t0
    finally:
        await client.close()
    latencies = [running[n] - sent[n] for n in sent if n in running]
    return {"case": case.name, "runtime": case.runtime, "nodes": case.nodes, "pods": case.pods,
            "rate_per_second": case.rate, "store": cluster.store, "running": len(latencies),
            "p50_seconds": percentile(latencies, 50), "p90_seconds": percentile(latencies, 90),
            "p99_seconds": percentile(latencies, 99), "max_seconds": max(latencies) if latencies else None,
            "all_running_after_seconds": elapsed}


def run_case(case: Case) -> dict:
    with tempfile.TemporaryDirectory(prefix="kubemu-bench-kubelet-") as tmp:
        cluster = Cluster(Path(tmp), case)
        try:
            cluster.start()
            cluster.wait_ready()
            return asyncio.run(_measure(cluster))
        finally:
            cluster.stop()


def main(quick: bool = False) -> bool:
    results = []
    for case in QUICK_CASES if quick else FULL_CASES:
        print(f"kubelet: {case.name}: {case.pods} pods on {case.nodes} {case.runtime} nodes ...", flush=True)
        results.append(run_case(case))
    print_table(
        "Pod startup latency (create -> Running seen by a watch)",
        ["case", "nodes", "pods", "rate/s", "p50 s", "p90 s", "p99 s", "max s", "all Running after s"],
        [[r["case"], r["nodes"], r["pods"], r["rate_per_second"] or "burst", r["p50_seconds"], r["p90_seconds"],
          r["p99_seconds"], r["max_seconds"], r["all_running_after_seconds"]] for r in results],
    )
    paced = next((r for r in results if r["runtime"] == "process" and r["rate_per_second"]), None)
    ok = all(r["running"] == r["pods"] for r in results)
    if paced is not None:
        print(f"\nprocess runtime, paced: p99 {paced['p99_seconds']:.3f} s (target <= {TARGET_P99_SECONDS} s)")
    if not quick:
        write_results("kubelet", {"target_p99_seconds_process": TARGET_P99_SECONDS, "cases": results})
    return ok


if __name__ == "__main__":
    sys.exit(0 if main(quick="--quick" in sys.argv) else 1)
