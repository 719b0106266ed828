"""client-go's workqueue for asyncio: the queue every controller puts `ns/name` keys on.

Guarantees (the same as k8s.io/client-go/util/workqueue):
- A key waits in the queue at most once: adding a key that is already waiting does nothing
  (the `dirty` set).
- A key is never handed to two workers at once: a key added while a worker holds it (between
  `get` and `done`) is not queued then, but is queued again when `done` is called (the
  `processing` set). So a change seen during a sync is never lost, and syncs of one key never
  overlap.
- Keys come out in the order they were first added (FIFO).
- `add_after(key, seconds)` adds the key once the delay has passed; a key already waiting for a
  later time is moved to the earlier one (a heap and a single timer, as the delaying queue).
- `add_rate_limited(key)` is `add_after(key, backoff)` with per-key exponential backoff:
  `base_delay * 2**failures`, capped at `max_delay` (5 ms doubling to 1000 s by default), combined
  (the larger wins) with an overall token bucket (10 qps, burst 100) as client-go's
  `DefaultControllerRateLimiter`. `forget(key)` resets the key's failures; `num_requeues(key)`
  tells them.
- After `shutdown()` adds are ignored, delayed keys are dropped, and `get` keeps handing out the
  keys already queued, then raises `ShutDown`. `shutdown_with_drain()` also waits until every key
  handed out has been `done`.
- Prometheus metrics, labelled by the queue's `name`: `workqueue_depth`, `workqueue_adds_total`,
  `workqueue_queue_duration_seconds`, `workqueue_work_duration_seconds`,
  `workqueue_retries_total`, and, computed when scraped, `workqueue_unfinished_work_seconds` and
  `workqueue_longest_running_processor_seconds` (registered once per process in
  prometheus-client's default registry; queues sharing a name share series).

All methods must be called from the event loop's thread; only `get` and `shutdown_with_drain` wait.
A queue may be created before the event loop runs.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
import weakref
from collections import deque
from collections.abc import Hashable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

# client-go's buckets: 10 ns to 10 s, by powers of ten.
_BUCKETS = tuple(1e-8 * 10**i for i in range(10))

DEPTH = Gauge("workqueue_depth", "Current depth of workqueue", ["name"])
ADDS = Counter("workqueue_adds", "Total number of adds handled by workqueue", ["name"])
QUEUE_DURATION = Histogram(
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested.",
    ["name"], buckets=_BUCKETS,
)
WORK_DURATION = Histogram(
    "workqueue_work_duration_seconds",
    "How long in seconds processing an item from workqueue takes.",
    ["name"], buckets=_BUCKETS,
)
RETRIES = Counter("workqueue_retries", "Total number of retries handled by workqueue", ["name"])

_LIVE_QUEUES: weakref.WeakSet[WorkQueue] = weakref.WeakSet()


class _InFlightCollector:
    """client-go's two in-flight gauges, computed when scraped from the queues alive now."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        unfinished = GaugeMetricFamily(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been observed by "
            "work_duration. Large values indicate stuck threads.", labels=["name"])
        longest = GaugeMetricFamily(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.", labels=["name"])
        now = time.monotonic()
        totals: dict[str, tuple[float, float]] = {}
        for queue in list(_LIVE_QUEUES):
            ages = [now - t for t in list(queue._started_at.values())]
            total, oldest = totals.get(queue.name, (0.0, 0.0))
            totals[queue.name] = (total + sum(ages), max([oldest, *ages]))
        for name, (total, oldest) in totals.items():
            unfinished.add_metric([name], total)
            longest.add_metric([name], oldest)
        yield unfinished
        yield longest


REGISTRY.register(_InFlightCollector())


class ShutDown(Exception):
    """`get` on a queue that is shut down and has no more keys to hand out."""


class WorkQueue:
    """The basic queue: dirty/processing sets, FIFO, shutdown (client-go's `Type`)."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drained: list[asyncio.Future[None]] = []
        self._shutting_down = False
        self._added_at: dict[Hashable, float] = {}
        self._started_at: dict[Hashable, float] = {}
        self._m_depth = DEPTH.labels(name)
        self._m_adds = ADDS.labels(name)
        self._m_queue = QUEUE_DURATION.labels(name)
        self._m_work = WORK_DURATION.labels(name)
        self._m_retries = RETRIES.labels(name)
        _LIVE_QUEUES.add(self)

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: Hashable) -> None:
        """Queue `key` unless it is already waiting; if a worker holds it, queue it on `done`."""
        if self._shutting_down or key in self._dirty:
            return
        self._m_adds.inc()
        self._dirty.add(key)
        self._added_at.setdefault(key, time.monotonic())
        if key in self._processing:
            return
        self._push(key)

    def _push(self, key: Hashable) -> None:
        self._queue.append(key)
        self._m_depth.inc()
        self._wake_one_getter()

    def _wake_one_getter(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def get(self) -> Hashable:
        """The next key; the caller owns it until `done(key)`. Raises `ShutDown` when drained."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown()
            await self._wait_for_key()
        key = self._queue.popleft()
        self._m_depth.dec()
        self._processing.add(key)
        self._dirty.discard(key)
        now = time.monotonic()
        added = self._added_at.pop(key, None)
        if added is not None:
            self._m_queue.observe(now - added)
        self._started_at[key] = now
        return key

    async def _wait_for_key(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._getters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            # A wakeup meant for us must not be lost: hand it to the next getter.
            if waiter.done() and not waiter.cancelled() and self._queue:
                self._wake_one_getter()
            raise

    def done(self, key: Hashable) -> None:
        """The worker is finished with `key`; queue it again if it was added meanwhile."""
        if key not in self._processing:
            return
        self._processing.discard(key)
        started = self._started_at.pop(key, None)
        if started is not None:
            self._m_work.observe(time.monotonic() - started)
        if key in self._dirty:
            self._push(key)
        elif not self._processing:
            self._wake_drainers()

    def shutdown(self) -> None:
        """Refuse new keys; `get` raises `ShutDown` once the queued keys are handed out."""
        self._shutting_down = True
        for waiter in self._getters:
            if not waiter.done():
                waiter.set_result(None)
        self._getters.clear()

    async def shutdown_with_drain(self) -> None:
        """`shutdown()`, then wait until every key handed out by `get` is `done`."""
        self.shutdown()
        while self._processing:
            waiter = asyncio.get_running_loop().create_future()
            self._drained.append(waiter)
            await waiter

    def _wake_drainers(self) -> None:
        for waiter in self._drained:
            if not waiter.done():
                waiter.set_result(None)
        self._drained.clear()

    def is_processing(self, key: Hashable) -> bool:
        return key in self._processing


class DelayingQueue(WorkQueue):
    """A `WorkQueue` with `add_after` (client-go's `DelayingInterface`)."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._heap: list[tuple[float, int, Hashable]] = []
        self._ready_at: dict[Hashable, float] = {}
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    def add_after(self, key: Hashable, seconds: float) -> None:
        """Add `key` after `seconds` (now if <= 0); an earlier pending time for it wins."""
        if self._shutting_down:
            return
        self._m_retries.inc()
        if seconds <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        ready = loop.time() + seconds
        if ready >= self._ready_at.get(key, float("inf")):
            return
        self._ready_at[key] = ready
        heapq.heappush(self._heap, (ready, next(self._seq), key))
        self._arm_timer(loop)

    def _arm_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._heap or self._heap[0][0] >= self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = self._heap[0][0]
        self._timer = loop.call_at(self._timer_at, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer, self._timer_at = None, float("inf")
        now = loop.time()
        while self._heap and self._heap[0][0] <= now:
            ready, _, key = heapq.heappop(self._heap)
            if self._ready_at.get(key) == ready:  # else a stale entry: the key was moved earlier
                del self._ready_at[key]
                self.add(key)
        self._arm_timer(loop)

    @property
    def waiting(self) -> int:
        """How many keys wait for their `add_after` time."""
        return len(self._ready_at)

    def shutdown(self) -> None:
        super().shutdown()
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, float("inf")
        self._heap.clear()
        self._ready_at.clear()


class ItemExponentialFailureRateLimiter:
    """Per-key backoff: `base_delay * 2**failures`, at most `max_delay`."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay, self.max_delay = base_delay, max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        if failures > 64:  # 2**64 * anything exceeds any sane max_delay; avoid float overflow
            return self.max_delay
        return min(self.base_delay * 2**failures, self.max_delay)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


class BucketRateLimiter:
    """An overall token bucket (`qps` tokens a second, `burst` at most): the delay until a token."""

    def __init__(self, qps: float = 10.0, burst: int = 100) -> None:
        self.qps, self.burst = qps, burst
        self._tokens = float(burst)
        self._last = time.monotonic()

    def when(self, key: Hashable) -> float:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1  # reserve a token now, even if it is only available later
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps


class RateLimitingQueue(DelayingQueue):
    """The queue controllers use: `add_rate_limited`, `forget`, `num_requeues` on top of delays.

    `qps=None` turns the overall token bucket off, leaving only per-key backoff.
    """

    def __init__(self, name: str = "", *, base_delay: float = 0.005, max_delay: float = 1000.0,
                 qps: float | None = 10.0, burst: int = 100) -> None:
        super().__init__(name)
        self._per_item = ItemExponentialFailureRateLimiter(base_delay, max_delay)
        self._bucket = BucketRateLimiter(qps, burst) if qps else None

    def when(self, key: Hashable) -> float:
        """The backoff for this retry of `key` (counts the retry)."""
        delay = self._per_item.when(key)
        if self._bucket is not None:
            delay = max(delay, self._bucket.when(key))
        return delay

    def add_rate_limited(self, key: Hashable) -> None:
        """Add `key` again after its backoff; each call without `forget` doubles the backoff."""
        if self._shutting_down:
            return
        self.add_after(key, self.when(key))

    def forget(self, key: Hashable) -> None:
        """The key succeeded: its next failure starts over at `base_delay`."""
        self._per_item.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return self._per_item.num_requeues(key)
