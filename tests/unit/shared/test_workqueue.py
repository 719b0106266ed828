"""The workqueue keeps client-go's promises: tables of operation scripts, then concurrency."""

from __future__ import annotations

import asyncio
import random

import pytest
from prometheus_client import REGISTRY

from shared.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    RateLimitingQueue,
    ShutDown,
    WorkQueue,
)

# Each script is a list of operations on one queue; ("get", k) asserts the key handed out.
# ("len", n) asserts the depth; ("getblocks",) asserts get() would wait.
SCRIPTS = {
    "fifo": [("add", "a"), ("add", "b"), ("add", "c"), ("get", "a"), ("get", "b"), ("get", "c")],
    "waiting key added once": [("add", "a"), ("add", "b"), ("add", "a"), ("len", 2),
                               ("get", "a"), ("get", "b"), ("getblocks",)],
    "re-add keeps first position": [("add", "a"), ("add", "b"), ("add", "a"), ("get", "a"), ("get", "b")],
    "added while processing waits for done": [("add", "a"), ("get", "a"), ("add", "a"), ("len", 0),
                                              ("getblocks",), ("done", "a"), ("len", 1), ("get", "a")],
    "added twice while processing queued once": [("add", "a"), ("get", "a"), ("add", "a"), ("add", "a"),
                                                 ("done", "a"), ("len", 1), ("get", "a"), ("done", "a"),
                                                 ("len", 0)],
    "done without re-add does not requeue": [("add", "a"), ("get", "a"), ("done", "a"), ("len", 0),
                                             ("getblocks",)],
    "done of unknown key is harmless": [("done", "x"), ("len", 0), ("add", "a"), ("get", "a")],
    "other keys flow while one is processing": [("add", "a"), ("get", "a"), ("add", "b"), ("add", "a"),
                                                ("get", "b"), ("done", "a"), ("get", "a")],
    "shutdown hands out queued keys then raises": [("add", "a"), ("add", "b"), ("shutdown",),
                                                   ("get", "a"), ("get", "b"), ("get", ShutDown)],
    "add after shutdown is ignored": [("shutdown",), ("add", "a"), ("len", 0), ("get", ShutDown)],
    "dirty key requeued on done after shutdown": [("add", "a"), ("get", "a"), ("add", "a"),
                                                  ("shutdown",), ("done", "a"), ("get", "a"),
                                                  ("done", "a"), ("get", ShutDown)],
    "tuples are keys too": [("add", ("ns", "a")), ("add", ("ns", "a")), ("get", ("ns", "a")),
                            ("len", 0)],
}


async def _blocks(q: WorkQueue) -> bool:
    try:
        await asyncio.wait_for(q.get(), 0.02)
    except TimeoutError:
        return True
    return False


@pytest.mark.parametrize("script", SCRIPTS.values(), ids=SCRIPTS.keys())
async def test_queue_script(script: list[tuple]) -> None:
    q = WorkQueue(name="test-script")
    for op, *args in script:
        if op == "add":
            q.add(args[0])
        elif op == "done":
            q.done(args[0])
        elif op == "shutdown":
            q.shutdown()
        elif op == "len":
            assert len(q) == args[0]
        elif op == "getblocks":
            assert await _blocks(q)
        elif op == "get" and args[0] is ShutDown:
            with pytest.raises(ShutDown):
                await asyncio.wait_for(q.get(), 1)
        elif op == "get":
            assert await asyncio.wait_for(q.get(), 1) == args[0]


async def test_get_waits_for_add() -> None:
    q = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add("a")
    assert await asyncio.wait_for(getter, 1) == "a"


async def test_shutdown_wakes_every_waiting_getter() -> None:
    q = WorkQueue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.shutdown()
    results = await asyncio.wait_for(asyncio.gather(*getters, return_exceptions=True), 1)
    assert all(isinstance(r, ShutDown) for r in results)


async def test_cancelled_getter_does_not_swallow_a_key() -> None:
    q = WorkQueue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("a")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs: `second` must get the key
    assert await asyncio.wait_for(second, 1) == "a"


async def test_shutdown_with_drain_waits_for_done() -> None:
    q = WorkQueue()
    q.add("a")
    key = await q.get()
    drain = asyncio.create_task(q.shutdown_with_drain())
    await asyncio.sleep(0.01)
    assert not drain.done()
    q.done(key)
    await asyncio.wait_for(drain, 1)


async def test_shutdown_with_drain_returns_at_once_when_idle() -> None:
    q = WorkQueue()
    await asyncio.wait_for(q.shutdown_with_drain(), 1)
    assert q.shutting_down


# (delays per add_after call in order, expected order keys come out)
DELAYS = {
    "zero delay adds now": ([("a", 0)], ["a"]),
    "negative delay adds now": ([("a", -1)], ["a"]),
    "shorter delay first": ([("a", 0.06), ("b", 0.02)], ["b", "a"]),
    "earlier time wins for one key": ([("a", 0.5), ("b", 0.04), ("a", 0.01)], ["a", "b"]),
    "later time does not postpone": ([("a", 0.01), ("a", 5)], ["a"]),
}


@pytest.mark.parametrize(("adds", "order"), DELAYS.values(), ids=DELAYS.keys())
async def test_add_after(adds: list[tuple[str, float]], order: list[str]) -> None:
    q = RateLimitingQueue(name="test-delay")
    for key, delay in adds:
        q.add_after(key, delay)
    got = [await asyncio.wait_for(q.get(), 2) for _ in order]
    assert got == order
    assert await _blocks(q)
    assert q.waiting == 0


async def test_add_after_not_before_its_time() -> None:
    q = RateLimitingQueue(name="test-delay")
    loop = asyncio.get_running_loop()
    start = loop.time()
    q.add_after("a", 0.05)
    assert len(q) == 0 and q.waiting == 1
    await asyncio.wait_for(q.get(), 2)
    assert loop.time() - start >= 0.05


async def test_shutdown_drops_delayed_keys() -> None:
    q = RateLimitingQueue(name="test-delay")
    q.add_after("a", 0.01)
    q.shutdown()
    await asyncio.sleep(0.03)
    with pytest.raises(ShutDown):
        await q.get()


BACKOFF = {
    "client-go defaults": (0.005, 1000.0, 6, [0.005, 0.01, 0.02, 0.04, 0.08, 0.16]),
    "capped at max": (1.0, 5.0, 5, [1.0, 2.0, 4.0, 5.0, 5.0]),
    "custom base": (0.1, 1000.0, 3, [0.1, 0.2, 0.4]),
}


@pytest.mark.parametrize(("base", "cap", "n", "want"), BACKOFF.values(), ids=BACKOFF.keys())
def test_exponential_backoff(base: float, cap: float, n: int, want: list[float]) -> None:
    limiter = ItemExponentialFailureRateLimiter(base, cap)
    assert [limiter.when("k") for _ in range(n)] == pytest.approx(want)
    assert limiter.num_requeues("k") == n
    assert limiter.when("other") == pytest.approx(base), "backoff is per key"
    limiter.forget("k")
    assert limiter.num_requeues("k") == 0
    assert limiter.when("k") == pytest.approx(base)


def test_backoff_does_not_overflow() -> None:
    limiter = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    assert [limiter.when("k") for _ in range(2000)][-1] == 1000.0


def test_bucket_allows_burst_then_paces() -> None:
    bucket = BucketRateLimiter(qps=10, burst=3)
    delays = [bucket.when("k") for _ in range(5)]
    assert delays[:3] == [0.0, 0.0, 0.0]
    assert delays[3] == pytest.approx(0.1, abs=0.02)
    assert delays[4] == pytest.approx(0.2, abs=0.02)


async def test_add_rate_limited_backs_off_and_forget_resets() -> None:
    q = RateLimitingQueue(name="test-rl", base_delay=0.01, max_delay=1.0)
    for _ in range(3):
        q.add_rate_limited("k")
    assert q.num_requeues("k") == 3
    assert await asyncio.wait_for(q.get(), 1) == "k"
    q.done("k")
    q.forget("k")
    assert q.num_requeues("k") == 0
    assert q.when("k") == pytest.approx(0.01)


async def test_add_rate_limited_after_shutdown_is_ignored() -> None:
    q = RateLimitingQueue(name="test-rl")
    q.shutdown()
    q.add_rate_limited("k")
    assert q.num_requeues("k") == 0


def _sample(metric: str, name: str) -> float:
    return REGISTRY.get_sample_value(metric, {"name": name}) or 0.0


async def test_metrics_by_name() -> None:
    name = f"test-metrics-{random.random()}"
    q = RateLimitingQueue(name=name)
    q.add("a")
    q.add("b")
    q.add("a")
    assert _sample("workqueue_depth", name) == 2
    assert _sample("workqueue_adds_total", name) == 2
    key = await q.get()
    q.done(key)
    q.add_rate_limited("c")
    assert _sample("workqueue_depth", name) == 1
    assert _sample("workqueue_retries_total", name) == 1
    assert _sample("workqueue_queue_duration_seconds_count", name) == 1
    assert _sample("workqueue_work_duration_seconds_count", name) == 1
    RateLimitingQueue(name=name)  # a second queue of the same name registers nothing new


# --- concurrency: many workers, keys added all the time -----------------------------------------

CONCURRENCY = {
    "4 workers, 20 keys": (4, 20, 400),
    "16 workers, 3 keys": (16, 3, 300),
    "2 workers, 100 keys": (2, 100, 1000),
}


@pytest.mark.parametrize(("workers", "nkeys", "adds"), CONCURRENCY.values(), ids=CONCURRENCY.keys())
async def test_never_two_workers_on_one_key(workers: int, nkeys: int, adds: int) -> None:
    q = WorkQueue(name="test-concurrency")
    rng = random.Random(workers * nkeys)
    active: set[str] = set()
    processed_after: dict[str, int] = {}
    last_add: dict[str, int] = {}
    overlap = []

    async def worker() -> None:
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            if key in active:
                overlap.append(key)
            active.add(key)
            seen = adds_done[0]
            await asyncio.sleep(rng.random() * 0.002)
            active.discard(key)
            processed_after[key] = seen
            q.done(key)

    adds_done = [0]
    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    for i in range(adds):
        key = f"k{rng.randrange(nkeys)}"
        q.add(key)
        adds_done[0] = i + 1
        last_add[key] = i + 1
        if rng.random() < 0.3:
            await asyncio.sleep(0)
    await asyncio.wait_for(q.shutdown_with_drain(), 10)
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert overlap == []
    # Every key was processed by a sync that started after its last add: no change was lost.
    assert {k: processed_after[k] >= n for k, n in last_add.items()} == {k: True for k in last_add}


async def test_in_flight_metrics_while_processing() -> None:
    name = f"test-inflight-{random.random()}"
    q = WorkQueue(name=name)
    q.add("a")
    await q.get()
    await asyncio.sleep(0.02)
    assert _sample("workqueue_longest_running_processor_seconds", name) >= 0.02
    assert _sample("workqueue_unfinished_work_seconds", name) >= 0.02
    q.done("a")
    assert _sample("workqueue_longest_running_processor_seconds", name) == 0
