"""The event recorder: core/v1 Events about objects, as client-go's record.EventRecorder writes them.

Guarantees:
- `recorder.event(obj, type, reason, message)` never blocks and never raises: it queues the event
  for one background writer task (from another thread, through the recorder's event loop once
  it has one). When more than `max_queued` events wait (the API server is slow
  or down), new ones are dropped with an `event.dropped` log line instead of growing without bound
  (client-go's broadcaster drops the same way).
- An Event is named `<involved name>.<unix nanos in hex>`, lives in the involved object's namespace
  (`default` for cluster-scoped objects), and carries `involvedObject` (kind, namespace, name, uid,
  apiVersion, resourceVersion), `reason`, `message`, `type`, `source {component, host}`,
  `firstTimestamp`, `lastTimestamp`, `count`, `reportingComponent`, `reportingInstance`.
- Repeats are correlated as client-go's EventCorrelator does:
  - the same (object, type, reason, message) again PATCHes the existing Event with `count+1` and
    a new `lastTimestamp` instead of creating one (the object's resourceVersion does not matter;
    the last `cache_size` distinct events are remembered; an Event deleted meanwhile is created
    afresh);
  - once `max_similar` (10) different messages with the same (object, type, reason) come within
    `similar_interval` (10 min), further ones go to one Event whose message is
    `(combined from similar events): <latest message>`;
  - per source and object, a token bucket (burst 25, one token per 5 min) drops floods
    (`event.spam_dropped`); `spam_burst=None` turns it off.
- Writes that fail because the API server is unavailable are retried a few times; other failures
  are logged (`event.write_failed`) and the event is dropped. `close()` flushes what is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shared.client import AlreadyExists, ApiClient, NotFound, ServerUnavailable
from shared.logging import get_logger
from shared.resources import EVENTS

log = get_logger()

NORMAL, WARNING = "Normal", "Warning"
_REF_FIELDS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion")


def _timestamp(t_ns: int) -> str:
    return datetime.fromtimestamp(t_ns / 1e9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_reference(obj: dict[str, Any]) -> dict[str, str]:
    """The ObjectReference for `obj` (an API object, or already a reference)."""
    if "metadata" not in obj:
        return {k: obj[k] for k in (*_REF_FIELDS, "fieldPath") if obj.get(k)}
    meta = obj["metadata"]
    ref = {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
           "uid": meta.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
           "resourceVersion": meta.get("resourceVersion", "")}
    return {k: v for k, v in ref.items() if v}


@dataclass(slots=True)
class _Pending:
    ref: dict[str, str]
    type: str
    reason: str
    message: str
    at_ns: int  # unix time the event happened, in nanoseconds
    key: tuple = ()  # what repeats of it share: the Event it bumps
    combined: bool = False


class _Correlator:
    """client-go's EventCorrelator: spam filter, similar-event aggregation, and the dedupe key."""

    def __init__(self, *, max_similar: int = 10, similar_interval: float = 600.0,
                 spam_burst: int | None = 25, spam_qps: float = 1 / 300, cache_size: int = 4096) -> None:
        self.max_similar, self.similar_interval = max_similar, similar_interval
        self.spam_burst, self.spam_qps, self.cache_size = spam_burst, spam_qps, cache_size
        self._similar: OrderedDict[tuple, tuple[set[str], float]] = OrderedDict()
        self._buckets: OrderedDict[tuple, tuple[float, float]] = OrderedDict()  # tokens, last refill

    def observe(self, pending: _Pending, source: tuple[str, str]) -> bool:
        """Set the event's key (and message, when combined); False if the spam filter drops it."""
        obj = tuple(pending.ref.get(f, "") for f in ("kind", "namespace", "name", "uid", "apiVersion"))
        now = pending.at_ns / 1e9
        if not self._take_token((*source, *obj), now):
            return False
        similar = (*source, *obj, pending.type, pending.reason)
        messages, last = self._similar.get(similar, (set(), now))
        if now - last > self.similar_interval:
            messages = set()
        messages.add(pending.message)
        self._put(self._similar, similar, (messages, now))
        if len(messages) >= self.max_similar:
            pending.message = f"(combined from similar events): {pending.message}"
            pending.key, pending.combined = similar, True
        else:
            pending.key = (*similar, pending.ref.get("fieldPath", ""), pending.message)
        return True

    def _take_token(self, key: tuple, now: float) -> bool:
        if self.spam_burst is None:
            return True
        tokens, last = self._buckets.get(key, (float(self.spam_burst), now))
        tokens = min(float(self.spam_burst), tokens + (now - last) * self.spam_qps)
        allowed = tokens >= 1
        self._put(self._buckets, key, (tokens - 1 if allowed else tokens, now))
        return allowed

    def _put(self, cache: OrderedDict, key: tuple, value: Any) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self.cache_size:
            cache.popitem(last=False)


@dataclass(slots=True)
class _Seen:
    name: str
    namespace: str
    count: int


DROP_LOG_INTERVAL = 10.0  # seconds between two event.dropped warnings


class EventRecorder:
    def __init__(self, client: ApiClient, component: str, host: str | None = None, *,
                 max_queued: int = 1000, cache_size: int = 4096, retries: int = 3,
                 spam_burst: int | None = 25, max_similar: int = 10) -> None:
        self.client = client
        self.component = component
        self.host = host if host is not None else socket.gethostname()
        self.max_queued, self.cache_size, self.retries = max_queued, cache_size, retries
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task | None = None
        self._seen: OrderedDict[tuple, _Seen] = OrderedDict()
        self.dropped = 0
        self._drops_unlogged = 0
        self._last_drop_log = -DROP_LOG_INTERVAL
        self._loop: asyncio.AbstractEventLoop | None = None
        self._correlator = _Correlator(max_similar=max_similar, spam_burst=spam_burst, cache_size=cache_size)

    # --- the caller's side ------------------------------------------------------------------------

    def event(self, obj: dict[str, Any], type: str, reason: str, message: str) -> None:
        """Record that `reason`/`message` happened to `obj`; returns at once.

        From another thread (a runtime worker), the event is handed to the recorder's event loop.
        """
        pending = _Pending(object_reference(obj), type, reason, message, time.time_ns())
        loop = self._loop
        if loop is not None and loop.is_running() and not _on_loop(loop):
            loop.call_soon_threadsafe(self._enqueue, pending)
            return
        self._enqueue(pending)

    def _enqueue(self, pending: _Pending) -> None:
        reason, type = pending.reason, pending.type
        if not self._correlator.observe(pending, (self.component, self.host)):
            self.dropped += 1
            log.debug("event.spam_dropped", key=_key(pending.ref), reason=reason, type=type)
            return
        try:
            queue = self._ensure_writer()
            queue.put_nowait(pending)
        except (RuntimeError, asyncio.QueueFull) as exc:
            self.dropped += 1
            self._log_drop(pending, "queue full" if isinstance(exc, asyncio.QueueFull) else str(exc))

    def _log_drop(self, pending: _Pending, why: str) -> None:
        """One warning per DROP_LOG_INTERVAL at most: a flood of drops must not become a flood of logs."""
        self._drops_unlogged += 1
        now = time.monotonic()
        if now - self._last_drop_log < DROP_LOG_INTERVAL:
            return
        log.warning("event.dropped", key=_key(pending.ref), reason=pending.reason, type=pending.type, why=why,
                    dropped_since_last_warning=self._drops_unlogged, dropped_total=self.dropped)
        self._last_drop_log, self._drops_unlogged = now, 0

    def eventf(self, obj: dict[str, Any], type: str, reason: str, fmt: str, *args: Any) -> None:
        self.event(obj, type, reason, fmt % args if args else fmt)

    async def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (at most `timeout` seconds), then stop the writer."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def _ensure_writer(self) -> asyncio.Queue[_Pending]:
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()  # RuntimeError outside any loop: the event is dropped
            if self._queue is None:
                self._queue = asyncio.Queue(self.max_queued)
            self._task = asyncio.create_task(self._write_loop(), name=f"event-recorder-{self.component}")
        return self._queue

    # --- the writer ---------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            pending = await self._queue.get()
            try:
                await self._write_with_retries(pending)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad event must not stop the recorder
                log.warning("event.write_failed", key=_key(pending.ref), reason=pending.reason,
                            error=f"{type(exc).__name__}: {exc}")
            finally:
                self._queue.task_done()

    async def _write_with_retries(self, pending: _Pending) -> None:
        for attempt in range(self.retries + 1):
            try:
                await self._write(pending)
                return
            except ServerUnavailable:
                if attempt == self.retries:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)

    async def _write(self, pending: _Pending) -> None:
        key = pending.key
        seen = self._seen.get(key)
        if seen is not None:
            try:
                await self._bump(seen, pending)
                self._seen.move_to_end(key)
                return
            except NotFound:
                del self._seen[key]
        self._remember(key, await self._create(pending))

    async def _bump(self, seen: _Seen, pending: _Pending) -> None:
        patch: dict[str, Any] = {"count": seen.count + 1, "lastTimestamp": _timestamp(pending.at_ns)}
        if pending.combined:
            patch["message"] = pending.message
        await self.client.patch(EVENTS, seen.name, patch, namespace=seen.namespace)
        seen.count += 1

    async def _create(self, pending: _Pending) -> _Seen:
        body = self._make_event(pending)
        meta = body["metadata"]
        try:
            await self.client.create(EVENTS, body, namespace=meta["namespace"])
        except AlreadyExists:
            pass  # the same nanosecond twice: it is recorded already
        return _Seen(meta["name"], meta["namespace"], 1)

    def _remember(self, key: tuple, seen: _Seen) -> None:
        self._seen[key] = seen
        while len(self._seen) > self.cache_size:
            self._seen.popitem(last=False)

    def _make_event(self, pending: _Pending) -> dict[str, Any]:
        ref, stamp = pending.ref, _timestamp(pending.at_ns)
        namespace = ref.get("namespace") or "default"
        return {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{ref.get('name', '')}.{pending.at_ns:x}", "namespace": namespace},
            "involvedObject": ref,
            "reason": pending.reason, "message": pending.message, "type": pending.type,
            "source": {"component": self.component, "host": self.host},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host,
        }


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _key(ref: dict[str, str]) -> str:
    ns, name = ref.get("namespace"), ref.get("name", "")
    return f"{ns}/{name}" if ns else name


