"""The API server's throughput and watch latency, over HTTPS with a token, on etcd.

Measures pod creates/s and gets/s at concurrency 1, 16 and 64, the time to list 1,000 pods, and
watch delivery latency (p50/p99 from the create request being sent to the event arriving at a
watcher) with 1, 100 and 1,000 concurrent watchers. Raw aetcd `Txn` calls on the same etcd, in the
same run, are the reference. The API server runs as its own process (`python -m services.apiserver`),
as in a cluster. `main(quick)` prints a table and writes bench/results/api.json.
Targets: creates at c=64 >= 0.5x raw aetcd Txn; watch p99 <= 100 ms with 1,000 watchers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aetcd
import aiohttp
import orjson

from bench.common import percentile, print_table, write_results
from bench.store import _free_port, _raw_txn_op, bench_etcd, rate

CONCURRENCY = [1, 16, 64]
WATCHERS = [1, 100, 1000]
CREATE_TARGET = 0.5
WATCH_P99_TARGET_MS = 100.0
REPO = Path(__file__).resolve().parent.parent


def _pod(name: str) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
                         "spec": {"containers": [{"name": "c", "image": "nginx",
                                                  "resources": {"requests": {"cpu": "10m"}}}]}})


@contextlib.contextmanager
def apiserver(etcd_url: str) -> Iterator[tuple[str, str, str]]:
    """An API server process on `etcd_url` under a fresh prefix: (url, token, ca_file)."""
    from services.apiserver import tls

    with tempfile.TemporaryDirectory(prefix="kubemu-bench-api-") as tmp:
        token = secrets.token_hex(16)
        Path(tmp, "tokens.csv").write_text(f'{token},bench,bench,"system:masters"\n')
        cert_dir = Path(tmp, "pki")
        ca_file, _, _ = tls.ensure_serving_cert(cert_dir, tls.serving_hosts("127.0.0.1", "127.96.0.1"))
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.apiserver", "--etcd-servers", etcd_url, "--etcd-prefix",
             f"/bench-api-{uuid.uuid4().hex[:8]}", "--port", str(port), "--cert-dir", str(cert_dir),
             "--token-auth-file", f"{tmp}/tokens.csv", "--log-level", "warning", "--log-format", "json",
             "--etcd-compaction-interval", "0"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/apiserver.log", "wb"))
        try:
            yield f"https://127.0.0.1:{port}", token, str(ca_file)
        finally:
            proc.terminate()
            proc.wait(20)


async def _session(url: str, token: str, ca_file: str) -> aiohttp.ClientSession:
    import ssl

    ctx = ssl.create_default_context(cafile=ca_file)
    session = aiohttp.ClientSession(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                    connector=aiohttp.TCPConnector(ssl=ctx, limit=0),
                                    timeout=aiohttp.ClientTimeout(total=None))
    deadline = time.monotonic() + 30
    while True:
        try:
            async with session.get("/readyz") as resp:
                if resp.status == 200:
                    return session
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the API server did not become ready")
        await asyncio.sleep(0.1)


async def _ensure_namespace(session: aiohttp.ClientSession, name: str) -> None:
    async with session.post("/api/v1/namespaces", data=orjson.dumps({"metadata": {"name": name}}),
                            headers={"Content-Type": "application/json"}) as resp:
        assert resp.status in (201, 409), await resp.text()


async def _post(session: aiohttp.ClientSession, ns: str, name: str) -> None:
    async with session.post(f"/api/v1/namespaces/{ns}/pods", data=_pod(name),
                            headers={"Content-Type": "application/json"}) as resp:
        await resp.read()
        assert resp.status == 201, resp.status


async def bench_creates_gets(session: aiohttp.ClientSession, raw: aetcd.Client, duration: float
                             ) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    for c in CONCURRENCY:
        ns = f"bench-c{c}"
        await _ensure_namespace(session, ns)
        run = uuid.uuid4().hex[:6]
        names: list[str] = []

        async def create(w: int, i: int) -> None:
            name = f"p-{run}-{w}-{i}"
            await _post(session, ns, name)
            names.append(name)

        async def get(w: int, i: int) -> None:
            async with session.get(f"/api/v1/namespaces/{ns}/pods/{names[(w * 7919 + i) % len(names)]}") as resp:
                await resp.read()
                assert resp.status == 200

        creates = await rate(create, c, duration)
        txn = await rate(await _raw_txn_op(raw, c), c, duration)
        gets = await rate(get, c, duration)
        rows[str(c)] = {"creates_per_s": creates, "gets_per_s": gets, "raw_txn_per_s": txn,
                        "creates_vs_raw_txn": creates / txn}
    return rows


async def bench_list(session: aiohttp.ClientSession, count: int, rounds: int) -> dict[str, float]:
    ns = "bench-list"
    await _ensure_namespace(session, ns)
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with sem:
            await _post(session, ns, f"p-{i:05d}")

    await asyncio.gather(*(one(i) for i in range(count)))
    results: dict[str, float] = {"pods": count}
    for label, params in (("list_ms", {}), ("list_paged_500_ms", {"limit": "500"}),
                          ("list_rv0_cache_ms", {"resourceVersion": "0"})):
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            token, total = None, 0
            while True:
                query = {**params, **({"continue": token} if token else {})}
                async with session.get(f"/api/v1/namespaces/{ns}/pods", params=query) as resp:
                    body = orjson.loads(await resp.read())
                total += len(body["items"])
                token = body["metadata"].get("continue")
                if not token:
                    break
            times.append((time.perf_counter() - started) * 1000)
            assert total == count, total
        results[label] = percentile(times, 50)
    return results


async def bench_watch(session: aiohttp.ClientSession, watchers: int, events: int, gap: float) -> dict[str, float]:
    ns = f"bench-watch-{watchers}"
    await _ensure_namespace(session, ns)
    async with session.get(f"/api/v1/namespaces/{ns}/pods") as resp:
        rv = orjson.loads(await resp.read())["metadata"]["resourceVersion"]
    sent: dict[str, float] = {}
    latencies: list[float] = []
    connected = 0
    all_connected = asyncio.Event()
    done = asyncio.Event()
    received = 0

    async def watch() -> None:
        nonlocal connected, received
        params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "600"}
        async with session.get(f"/api/v1/namespaces/{ns}/pods", params=params) as resp:
            connected += 1
            if connected == watchers:
                all_connected.set()
            seen = 0
            async for line in resp.content:
                now = time.perf_counter()
                name = orjson.loads(line)["object"]["metadata"]["name"]
                latencies.append((now - sent[name]) * 1000)
                seen += 1
                received += 1
                if received == watchers * events:
                    done.set()
                if seen == events:
                    return

    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    await asyncio.wait_for(all_connected.wait(), 120)
    await asyncio.sleep(0.5)  # the server registers a watcher after answering its headers
    for i in range(events):
        name = f"w-{i:05d}"
        sent[name] = time.perf_counter()
        await _post(session, ns, name)
        await asyncio.sleep(gap)
    await asyncio.wait_for(done.wait(), 120)
    await asyncio.gather(*tasks)
    return {"watchers": watchers, "events": events, "event_gap_s": gap, "deliveries": len(latencies),
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}


async def run(quick: bool) -> dict[str, Any]:
    duration = 1.0 if quick else 4.0
    with bench_etcd() as etcd_url, apiserver(etcd_url) as (url, token, ca_file):
        session = await _session(url, token, ca_file)
        host, _, port = etcd_url.removeprefix("http://").partition(":")
        raw = aetcd.Client(host=host, port=int(port))
        try:
            # The machine is shared: the load average says how much the numbers can be trusted.
            results: dict[str, Any] = {"etcd": etcd_url, "duration_s": duration,
                                       "load_average_before": os.getloadavg()}
            results["creates_gets"] = await bench_creates_gets(session, raw, duration)
            results["list"] = await bench_list(session, 1000, 3 if quick else 10)
            events = 10 if quick else 50
            # Events 20 ms apart, 100 ms with 1,000 watchers: latency at a steady rate, not a backlog.
            results["watch"] = {str(w): await bench_watch(session, w, events, 0.1 if w >= 1000 else 0.02)
                                for w in WATCHERS}
        finally:
            results["load_average_after"] = os.getloadavg()
            await session.close()
            await raw.close()
    c64 = results["creates_gets"]["64"]["creates_vs_raw_txn"]
    p99 = results["watch"]["1000"]["p99_ms"]
    results["targets"] = {
        "creates_vs_raw_txn_at_c64": {"value": c64, "required": CREATE_TARGET, "met": c64 >= CREATE_TARGET},
        "watch_p99_ms_1000_watchers": {"value": p99, "required": WATCH_P99_TARGET_MS,
                                       "met": p99 <= WATCH_P99_TARGET_MS},
    }
    return results


def report(results: dict[str, Any]) -> None:
    rows = [[c, r["creates_per_s"], r["gets_per_s"], r["raw_txn_per_s"], r["creates_vs_raw_txn"]]
            for c, r in results["creates_gets"].items()]
    print_table("API server: pods over HTTPS on etcd", ["concurrency", "creates/s", "gets/s", "raw Txn/s",
                                                        "create/Txn"], rows)
    lst = results["list"]
    print_table("List 1,000 pods (ms, p50)", ["full", "paged limit=500", "rv=0 (watch cache)"],
                [[lst["list_ms"], lst["list_paged_500_ms"], lst["list_rv0_cache_ms"]]])
    print_table("Watch delivery latency (create sent -> event received)", ["watchers", "deliveries", "p50 ms",
                                                                            "p99 ms"],
                [[w, r["deliveries"], r["p50_ms"], r["p99_ms"]] for w, r in results["watch"].items()])
    print(f"load average before/after: {results['load_average_before']} / {results['load_average_after']}")
    for name, target in results["targets"].items():
        print(f"target {name}: {target['value']:.3f} (required {target['required']}) "
              f"{'met' if target['met'] else 'NOT met'}")


def main(quick: bool = False) -> bool:
    results = asyncio.run(run(quick))
    report(results)
    write_results("api", results)
    return all(t["met"] for t in results["targets"].values())


if __name__ == "__main__":
    sys.exit(0 if main(quick="--quick" in sys.argv) else 1)
