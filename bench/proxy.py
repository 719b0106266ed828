"""Benchmark: HTTP through a Service ClusterIP (kubemu's userspace proxier) vs straight to the backend.

One run, same machine, same client: 64 concurrent keep-alive HTTP/1.1 connections hammer
1) the backend directly and 2) the ClusterIP that forwards to it, first with small responses
(requests/s) and then with 1 MiB responses (MB/s). Rounds alternate between the two targets so
that load from other processes on a shared machine falls on both alike. The ratio proxied/direct is the figure of merit
(target >= 0.5x).

Three processes, so the proxy gets its own interpreter as kube-proxy does: the backend (a raw
asyncio HTTP/1.1 server), the proxy (services.proxy's Proxier core, driven directly with a
Service and an EndpointSlice dict: no API server, to keep the benchmark self-contained and about
the data path), and the client (this process).

Reading the numbers: a userspace proxy adds two socket reads and two writes per exchange, and on
loopback a write also pays for delivering the bytes to the receiver; measured in the proxy process
about two thirds of its CPU per small request is kernel time and large transfers cost two extra
copies, so on a 2-core machine shared by client, backend and proxy the ratio sits near 0.5x and
moves with whatever else the machine runs. The "server CPU/s" column shows how much CPU the
answering process actually got.

`python -m bench proxy [--quick]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.common import percentile, print_table, write_results

REPO = Path(__file__).resolve().parents[1]
CLIENTS = 64
SMALL = 1024  # bytes of body per response in the requests/s run
LARGE = 1024 * 1024  # bytes of body per response in the MB/s run


# --- the backend process ---------------------------------------------------------------------

class _BackendProtocol(asyncio.Protocol):
    responses: dict[bytes, bytes] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            request, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            path = request.split(b" ", 2)[1]
            self.transport.write(self.responses.get(path) or self.responses[b"/small"])


def _response(size: int) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % size + (
        b"x" * size)


async def serve_backend(ip: str) -> None:
    _BackendProtocol.responses = {b"/small": _response(SMALL), b"/large": _response(LARGE)}
    server = await asyncio.get_running_loop().create_server(_BackendProtocol, ip, 0, backlog=1024)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


# --- the proxy process -----------------------------------------------------------------------

async def serve_proxy(cluster_ip: str, port: int, backend_ip: str, backend_port: int) -> None:
    from services.proxy.proxier import Proxier
    from shared.logging import configure_logging

    configure_logging("kube-proxy", "console", "warning")  # stderr; stdout is the ready line

    service = {"metadata": {"name": "bench", "namespace": "default"},
               "spec": {"type": "ClusterIP", "clusterIP": cluster_ip,
                        "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}}
    slice_ = {"metadata": {"name": "bench-x", "namespace": "default",
                           "labels": {"kubernetes.io/service-name": "bench"}},
              "addressType": "IPv4", "ports": [{"name": "http", "port": backend_port, "protocol": "TCP"}],
              "endpoints": [{"addresses": [backend_ip], "conditions": {"ready": True}}]}
    proxier = Proxier(node_addresses=[])
    result = await proxier.sync([service], [slice_])
    if result.bind_errors:
        raise SystemExit("proxy could not listen")
    print("ready", flush=True)
    await asyncio.Event().wait()


# --- the client (this process) ---------------------------------------------------------------

class _ClientProtocol(asyncio.Protocol):
    """Sends one GET, waits for the whole (fixed-size) response, records its latency, repeats."""

    def __init__(self, request: bytes, response_size: int, run: _Run) -> None:
        self.request, self.size, self.run = request, response_size, run
        self.received = 0
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send()

    def _send(self) -> None:
        self.sent_at = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.received < self.size:
            return
        self.received -= self.size  # never more than one response in flight, so this is 0
        now = time.perf_counter()
        self.run.record(now - self.sent_at, self.size, now)
        if not self.run.stopped:
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.run.stopped:
            self.run.errors += 1


class _Run:
    def __init__(self, warmup_until: float, stop_at: float) -> None:
        self.warmup_until, self.stop_at = warmup_until, stop_at
        self.requests = 0
        self.bytes = 0
        self.errors = 0
        self.latencies: list[float] = []
        self.stopped = False

    def record(self, latency: float, size: int, now: float) -> None:
        if now >= self.stop_at:
            self.stopped = True
        elif now >= self.warmup_until:
            self.requests += 1
            self.bytes += size
            self.latencies.append(latency)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc), to compare cost per byte under load."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _round(ip: str, port: int, request: bytes, size: int, seconds: float, server_pid: int
                 ) -> tuple[_Run, float]:
    """One timed round on fresh keep-alive connections; returns the run and the server's CPU seconds."""
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    warmup = min(0.5, seconds / 4)
    run = _Run(start + warmup, start + warmup + seconds)
    conns = await asyncio.gather(*(loop.create_connection(lambda: _ClientProtocol(request, size, run), ip, port)
                                   for _ in range(CLIENTS)))
    await asyncio.sleep(max(0.0, run.warmup_until - time.perf_counter()))
    cpu_before = cpu_seconds(server_pid)
    await asyncio.sleep(max(0.0, run.stop_at - time.perf_counter()))
    cpu = cpu_seconds(server_pid) - cpu_before
    run.stopped = True
    for transport, _ in conns:
        transport.close()
    return run, cpu


async def measure_pair(targets: dict[str, tuple[str, int, int]], path: str, body: int, seconds: float,
                       rounds: int) -> dict[str, dict]:
    """Alternate short rounds between the targets, so load from elsewhere on the machine hits both alike."""
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    size = len(_response(body))
    totals = {name: {"requests": 0, "bytes": 0, "errors": 0, "cpu": 0.0, "latencies": []} for name in targets}
    for ip, port, _ in targets.values():
        await _check_response(ip, port, request, size)
    for _ in range(rounds):
        for name, (ip, port, pid) in targets.items():
            run, cpu = await _round(ip, port, request, size, seconds / rounds, pid)
            t = totals[name]
            t["requests"] += run.requests
            t["bytes"] += run.bytes
            t["errors"] += run.errors
            t["cpu"] += cpu
            t["latencies"] += run.latencies
    return {name: {"requests_per_s": t["requests"] / seconds, "mb_per_s": t["bytes"] / seconds / 1e6,
                   # CPU seconds per second used by the process answering on this address
                   "server_cpu_per_s": t["cpu"] / seconds,
                   "p50_ms": percentile(t["latencies"], 50) * 1000, "p99_ms": percentile(t["latencies"], 99) * 1000,
                   "requests": t["requests"], "errors": t["errors"]}
            for name, t in totals.items()}


async def _check_response(ip: str, port: int, request: bytes, size: int) -> None:
    """One request read the slow, careful way: the path really answers HTTP with the expected size."""
    reader, writer = await asyncio.open_connection(ip, port)
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
    assert len(head) + length == size
    writer.close()


# --- orchestration ---------------------------------------------------------------------------

def _spawn(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.proxy", *args], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    line = proc.stdout.readline().strip()  # type: ignore[union-attr]
    if not line.startswith("ready"):
        proc.kill()
        raise RuntimeError(f"{args[0]} failed to start: {line!r}")
    return proc, line


def _free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


async def _bench(quick: bool) -> dict:
    seconds, rounds = (2.0, 2) if quick else (8.0, 4)
    backend_ip = f"127.244.{random.randint(200, 250)}.{random.randint(2, 250)}"
    cluster_ip = f"127.96.{random.randint(200, 250)}.{random.randint(2, 250)}"
    backend, line = _spawn("--serve-backend", backend_ip)
    procs = [backend]
    try:
        backend_port = int(line.split()[1])
        port = _free_port(cluster_ip)
        procs.append(_spawn("--serve-proxy", cluster_ip, str(port), backend_ip, str(backend_port))[0])
        targets = {"direct": (backend_ip, backend_port, backend.pid), "cluster_ip": (cluster_ip, port, procs[1].pid)}
        results = {label: await measure_pair(targets, path, body, seconds, rounds)
                   for label, path, body in (("small", "/small", SMALL), ("1MiB", "/large", LARGE))}
        return {"seconds": seconds, "rounds": rounds, "clients": CLIENTS, "results": results}
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def main(quick: bool = False) -> bool:
    report = asyncio.run(_bench(quick))
    rows = []
    ratios = {}
    for label, pair in report["results"].items():
        direct, proxied = pair["direct"], pair["cluster_ip"]
        metric = "requests_per_s" if label == "small" else "mb_per_s"
        ratios[label] = proxied[metric] / direct[metric] if direct[metric] else 0.0
        for path, r in (("direct", direct), ("ClusterIP", proxied)):
            rows.append([f"{label} {path}", r["requests_per_s"], r["mb_per_s"], r["p50_ms"], r["p99_ms"],
                         r["server_cpu_per_s"], r["errors"]])
    print_table(f"proxy: {CLIENTS} keep-alive clients, {report['seconds']:.0f} s per target in {report['rounds']} "
                "alternating rounds (proxier core, no API server)",
                ["run", "req/s", "MB/s", "p50 ms", "p99 ms", "server CPU/s", "errors"], rows)
    print("(server CPU/s: CPU seconds per second used by the process answering: the backend for direct, "
          "the proxy for ClusterIP)")
    print(f"\nClusterIP/direct: requests/s {ratios['small']:.2f}x (small responses), "
          f"MB/s {ratios['1MiB']:.2f}x (1 MiB responses); target >= 0.5x")
    write_results("proxy", {**report, "ratio_requests_per_s": ratios["small"], "ratio_mb_per_s": ratios["1MiB"],
                            "target_ratio": 0.5, "cpus": os.cpu_count(),
                            "note": "proxy process runs the services.proxy Proxier core with a static Service "
                                    "and EndpointSlice (no API server)"})
    errors = sum(r["errors"] for pair in report["results"].values() for r in pair.values())
    return errors == 0


def _cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy")
    parser.add_argument("--serve-backend", metavar="IP")
    parser.add_argument("--serve-proxy", nargs=4, metavar=("CLUSTER_IP", "PORT", "BACKEND_IP", "BACKEND_PORT"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.serve_backend:
        asyncio.run(serve_backend(args.serve_backend))
    elif args.serve_proxy:
        cip, port, bip, bport = args.serve_proxy
        from shared.service import use_uvloop

        use_uvloop()  # as `python -m services.proxy` runs
        asyncio.run(serve_proxy(cip, int(port), bip, int(bport)))
    else:
        sys.exit(0 if main(quick=args.quick) else 1)


if __name__ == "__main__":
    _cli()
