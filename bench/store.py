"""Storage backends' throughput: creates, CAS updates, range reads and watch events per second, at
concurrency 1, 16 and 64, for the etcd and the embedded (SQLite) backend, with raw aetcd `Put` and
`Txn` calls on the same etcd in the same run as the reference.

What each number is (ops/s, `c` tasks calling back to back):
- creates: new keys; CAS updates: each task updates its own key with the revision its last write
  returned (every update wins); range reads: `get` of one key; list100: a 100-key prefix.
- watch events: `c` watches replaying the same 2,000 writes from their start revision, events/s
  delivered in total.
- etcd only: creates and CAS updates run in alternating rounds with a raw aetcd `Put` and a raw
  `Txn` (the same compare-mod_revision/put/else-range the backend sends), so both meet the same
  etcd under the same machine load; `CAS/Txn` and `create/Put` are the ratios.

`main(quick)` prints a table and writes bench/results/store.json. It starts its own etcd (the `etcd`
binary on PATH, free loopback ports, a temporary data dir) unless KUBEMU_BENCH_ETCD names one.
Target: the etcd backend's CAS updates at c=64 >= 0.9x the raw aetcd Txn.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aetcd
from aetcd import rpc

from bench.common import print_table, write_results
from services.apiserver.storage.etcd import EtcdBackend, parse_servers
from services.apiserver.storage.sqlite import SqliteBackend

CONCURRENCY = [1, 16, 64]
VALUE = b'{"kind":"Pod","apiVersion":"v1","metadata":{}}'.ljust(512, b" ")  # a small pod's JSON
TARGET_RATIO = 0.9

Op = Callable[[int, int], Awaitable[Any]]  # (worker, sequence number) -> one operation


async def rate(op: Op, concurrency: int, duration: float) -> float:
    """Operations per second with `concurrency` workers each calling `op` back to back."""
    done = 0
    deadline = time.perf_counter() + duration

    async def worker(w: int) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < deadline:
            await op(w, i)
            i += 1
        done += i

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return done / (time.perf_counter() - start)


# ---- one backend -----------------------------------------------------------------------------------

async def bench_backend(db: Any, concurrency: int, duration: float, events: int,
                        raw: aetcd.Client | None = None) -> dict[str, float]:
    """creates/s, CAS updates/s, range reads/s, list100/s and watch events/s of one backend at one
    concurrency. With `raw` (a plain aetcd client on the same etcd), creates and CAS updates are
    measured in alternating rounds with a raw Put and a raw Txn, and the reference numbers added."""
    run = f"/bench/{uuid.uuid4().hex[:8]}"
    create = _create_op(db, f"{run}/create")
    cas = await _cas_op(db, f"{run}/cas", concurrency)
    row: dict[str, float] = {}
    if raw is None:
        row["creates_per_s"] = await rate(create, concurrency, duration)
        row["cas_updates_per_s"] = await rate(cas, concurrency, duration)
    else:
        row["creates_per_s"], row["raw_put_per_s"] = await paired(
            create, await _raw_put_op(raw), concurrency, duration)
        row["cas_updates_per_s"], row["raw_txn_per_s"] = await paired(
            cas, await _raw_txn_op(raw, concurrency), concurrency, duration)
        row["cas_vs_raw_txn"] = row["cas_updates_per_s"] / row["raw_txn_per_s"]
        row["create_vs_raw_put"] = row["creates_per_s"] / row["raw_put_per_s"]
    row["range_reads_per_s"] = await rate(await _get_op(db, f"{run}/get", concurrency), concurrency, duration)
    row["list100_per_s"] = await rate(await _list_op(db, f"{run}/list/"), concurrency, duration)
    row["watch_events_per_s"] = await _watch_rate(db, f"{run}/watch/", concurrency, events)
    return row


async def paired(a: Op, b: Op, concurrency: int, duration: float, rounds: int = 10) -> tuple[float, float]:
    """(a ops/s, b ops/s), each run for `duration` in total, in alternating rounds so both meet the
    same etcd (its state and the machine's load drift during a run)."""
    rate_a = rate_b = 0.0
    for _ in range(rounds):
        rate_a += await rate(a, concurrency, duration / rounds) / rounds
        rate_b += await rate(b, concurrency, duration / rounds) / rounds
    return rate_a, rate_b


def _create_op(db: Any, prefix: str) -> Op:
    counter = iter(range(1 << 62))
    return lambda w, i: db.create(f"{prefix}/{next(counter)}", VALUE)


async def _cas_op(db: Any, prefix: str, concurrency: int) -> Op:
    """Each worker updates its own key with the revision its last write returned (no lost races)."""
    revisions = [await db.create(f"{prefix}/{w}", VALUE) for w in range(concurrency)]

    async def op(w: int, i: int) -> None:
        result = await db.update(f"{prefix}/{w}", VALUE, revisions[w])
        assert result.ok
        revisions[w] = result.revision

    return op


async def _get_op(db: Any, prefix: str, concurrency: int) -> Op:
    for w in range(concurrency):
        await db.create(f"{prefix}/{w}", VALUE)
    return lambda w, i: db.get(f"{prefix}/{w}")


async def _list_op(db: Any, prefix: str) -> Op:
    await asyncio.gather(*(db.create(f"{prefix}{i:03d}", VALUE) for i in range(100)))
    return lambda w, i: db.list(prefix)


async def _watch_rate(db: Any, prefix: str, watchers: int, events: int) -> float:
    """Events/s delivered in total to `watchers` watches replaying `events` writes from their start."""
    start = await db.current_revision() + 1
    for chunk in range(0, events, 200):
        await asyncio.gather(*(db.create(f"{prefix}{i}", VALUE) for i in range(chunk, min(events, chunk + 200))))

    async def consume() -> None:
        seen = 0
        async for _ in db.watch(prefix, start):
            seen += 1
            if seen == events:
                return

    began = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(consume() for _ in range(watchers))), 120)
    return watchers * events / (time.perf_counter() - began)


# ---- raw aetcd reference -----------------------------------------------------------------------------

async def _raw_put_op(client: aetcd.Client) -> Op:
    await client.connect()
    kv, run, counter = client.kvstub, f"/bench-raw/{uuid.uuid4().hex[:8]}", iter(range(1 << 62))
    return lambda w, i: kv.Put(rpc.PutRequest(key=f"{run}/put/{next(counter)}".encode(), value=VALUE))


async def _raw_txn_op(client: aetcd.Client, concurrency: int) -> Op:
    """The Txn the etcd backend's update sends (compare mod_revision, put, read the key on failure),
    as a raw aetcd call without the backend around it."""
    await client.connect()
    kv, run = client.kvstub, f"/bench-raw/{uuid.uuid4().hex[:8]}"
    keys = [f"{run}/txn/{w}".encode() for w in range(concurrency)]
    revisions = [(await kv.Put(rpc.PutRequest(key=k, value=VALUE))).header.revision for k in keys]

    async def txn(w: int, i: int) -> None:
        resp = await kv.Txn(rpc.TxnRequest(
            compare=[rpc.Compare(result=rpc.Compare.EQUAL, target=rpc.Compare.MOD, key=keys[w],
                                 mod_revision=revisions[w])],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=keys[w], value=VALUE))],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=keys[w]))],
        ))
        assert resp.succeeded
        revisions[w] = resp.header.revision

    return txn


# ---- etcd for the run ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def bench_etcd() -> Iterator[str]:
    """KUBEMU_BENCH_ETCD, or an etcd of our own on free loopback ports in a temporary dir."""
    if os.environ.get("KUBEMU_BENCH_ETCD"):
        yield os.environ["KUBEMU_BENCH_ETCD"]
        return
    if shutil.which("etcd") is None:
        raise RuntimeError("no etcd binary on PATH (or set KUBEMU_BENCH_ETCD)")
    with tempfile.TemporaryDirectory(prefix="kubemu-bench-etcd-") as tmp:
        url, peer = f"http://127.0.0.1:{_free_port()}", f"http://127.0.0.1:{_free_port()}"
        proc = subprocess.Popen(
            ["etcd", "--name", "bench", "--data-dir", f"{tmp}/data", "--listen-client-urls", url,
             "--advertise-client-urls", url, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"bench={peer}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_healthy(url, proc)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)


def _wait_healthy(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{url}/health", timeout=1)
            return
        if proc.poll() is not None:
            raise RuntimeError(f"etcd exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError("etcd did not become healthy in 15 s")


# ---- the run -------------------------------------------------------------------------------------------

async def run(quick: bool) -> dict[str, Any]:
    duration, events = (0.3, 200) if quick else (2.0, 2000)
    results: dict[str, Any] = {
        "concurrency": CONCURRENCY, "duration_s": duration, "value_bytes": len(VALUE),
        "watch_events_per_watcher": events, "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),  # the machine is shared: context for the numbers
        "etcd": "KUBEMU_BENCH_ETCD" if os.environ.get("KUBEMU_BENCH_ETCD") else "own (started by the bench)",
        "backends": {},
    }
    with bench_etcd() as endpoint, tempfile.TemporaryDirectory(prefix="kubemu-bench-sqlite-") as tmp:
        host, port = parse_servers(endpoint)
        etcd, raw = EtcdBackend(endpoint), aetcd.Client(host=host, port=port)
        sqlite = SqliteBackend(Path(tmp))
        try:
            for c in CONCURRENCY:
                results["backends"].setdefault("etcd", {})[str(c)] = await bench_backend(etcd, c, duration, events, raw)
                results["backends"].setdefault("sqlite", {})[str(c)] = await bench_backend(sqlite, c, duration, events)
        finally:
            await asyncio.gather(etcd.close(), raw.close(), sqlite.close())
    results["etcd_version"] = _etcd_version()
    c64 = results["backends"]["etcd"]["64"]["cas_vs_raw_txn"]
    results["target"] = {"etcd_cas_vs_raw_txn_at_c64": c64, "required": TARGET_RATIO, "met": c64 >= TARGET_RATIO}
    return results


def _etcd_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["etcd", "--version"], capture_output=True, text=True, timeout=5).stdout
        return out.splitlines()[0].split(":", 1)[1].strip()
    return "unknown"


def report(results: dict[str, Any]) -> None:
    columns = ["backend", "c", "creates/s", "CAS updates/s", "range reads/s", "list100/s", "watch events/s",
               "raw Put/s", "raw Txn/s", "CAS/Txn", "create/Put"]
    rows = []
    for name, by_c in results["backends"].items():
        for c, r in by_c.items():
            rows.append([name, int(c), r["creates_per_s"], r["cas_updates_per_s"], r["range_reads_per_s"],
                         r["list100_per_s"], r["watch_events_per_s"], r.get("raw_put_per_s", "-"),
                         r.get("raw_txn_per_s", "-"), r.get("cas_vs_raw_txn", "-"), r.get("create_vs_raw_put", "-")])
    print_table("storage backends (ops/s; raw = aetcd stubs on the same etcd)", columns, rows)
    t = results["target"]
    print(f"\ntarget: etcd CAS updates at c=64 = {t['etcd_cas_vs_raw_txn_at_c64']:.2f}x raw Txn "
          f"(required >= {t['required']}): {'met' if t['met'] else 'NOT met'}")


def main(quick: bool = False) -> bool:
    results = asyncio.run(run(quick))
    report(results)
    write_results("store", results)
    return results["target"]["met"]
