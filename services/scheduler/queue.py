"""The scheduling queue (kube-scheduler's PriorityQueue): which pending pod is scheduled next.

Guarantees:
- Three places, a pod in at most one: activeQ (ready; popped highest `spec.priority` first,
  then earliest creation, then first added), backoffQ (failed recently; waits
  1 s x 2^(attempts-1), at most 10 s, from when it failed), unschedulablePods (rejected by
  filters; waits for a cluster event that could help).
- A cluster event (node added or updated, an assigned pod deleted) moves the unschedulable pods
  that a plugin interested in that event had rejected: to backoffQ if their backoff has not
  expired, else to activeQ. A pod rejected for no plugin's reason (an error) goes to backoffQ.
- A pod whose cycle started before such an event arrived goes to backoffQ rather than
  unschedulablePods when it fails, so an event during its cycle is not lost (moveRequestCycle).
- `run()` flushes backoffQ every `backoff_flush_period` seconds and moves pods that sat in
  unschedulablePods longer than `max_in_unschedulable` (5 min) back, checking every 30 s.
- An update that changes a pod's spec or metadata (not status) moves it out of
  unschedulablePods; a status-only update (e.g. our own PodScheduled condition) does not.
- The queue keeps its `nominator` current as kube-scheduler's PriorityQueue does: a pod added
  is nominated to its `status.nominatedNodeName` (e.g. after a restart), an update refreshes its
  nomination (PodNominator.update_nominated_pod), a delete drops it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from services.scheduler.framework import ClusterEvent, PodInfo
from services.scheduler.framework.types import UNSCHEDULABLE_TIMEOUT, WILDCARD, pod_key
from services.scheduler.nominator import PodNominator

ACTIVE, BACKOFF, UNSCHEDULABLE = "active", "backoff", "unschedulable"


class QueueClosed(Exception):
    pass


@dataclass(slots=True, eq=False)
class QueuedPodInfo:
    pod_info: PodInfo
    timestamp: float
    attempts: int = 0
    initial_attempt_timestamp: float | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return self.pod_info.key

    @property
    def pod(self) -> dict:
        return self.pod_info.pod


class _KeyedHeap:
    """A heap of items by key, with removal and re-prioritising by key (lazy deletion)."""

    def __init__(self) -> None:
        self._heap: list[list[Any]] = []
        self._entries: dict[str, list[Any]] = {}
        self._seq = itertools.count()

    def push(self, key: str, priority: tuple, item: Any) -> None:
        self.remove(key)
        entry = [priority, next(self._seq), key, item, True]
        self._entries[key] = entry
        heapq.heappush(self._heap, entry)

    def remove(self, key: str) -> Any:
        entry = self._entries.pop(key, None)
        if entry is None:
            return None
        entry[4] = False
        return entry[3]

    def peek(self) -> tuple[tuple, Any] | None:
        while self._heap and not self._heap[0][4]:
            heapq.heappop(self._heap)
        return (self._heap[0][0], self._heap[0][3]) if self._heap else None

    def pop(self) -> Any:
        while self._heap:
            entry = heapq.heappop(self._heap)
            if entry[4]:
                del self._entries[entry[2]]
                return entry[3]
        raise IndexError("pop from an empty heap")

    def get(self, key: str) -> Any:
        entry = self._entries.get(key)
        return entry[3] if entry else None

    def values(self) -> Iterable[Any]:
        return [entry[3] for entry in self._entries.values()]

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


def priority_sort_key(qpi: QueuedPodInfo) -> tuple:
    """PrioritySort: higher priority first, then older pods (RFC 3339 UTC strings sort by time)."""
    meta = qpi.pod.get("metadata") or {}
    return (-qpi.pod_info.priority, meta.get("creationTimestamp") or "")


def is_pod_updated(old: dict, new: dict) -> bool:
    """True if something other than status/resourceVersion/generation/managedFields/finalizers changed."""
    def strip(pod: dict) -> tuple:
        meta = {k: v for k, v in (pod.get("metadata") or {}).items()
                if k not in ("resourceVersion", "generation", "managedFields", "finalizers")}
        return meta, pod.get("spec")
    return strip(old) != strip(new)


class SchedulingQueue:
    def __init__(self, *, events_to_register: Iterable[tuple[ClusterEvent, str]] = (),
                 initial_backoff: float = 1.0, max_backoff: float = 10.0,
                 max_in_unschedulable: float = 300.0, backoff_flush_period: float = 1.0,
                 unschedulable_flush_period: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 nominator: PodNominator | None = None) -> None:
        self.nominator = nominator or PodNominator()
        self._initial_backoff, self._max_backoff = initial_backoff, max_backoff
        self._max_in_unschedulable = max_in_unschedulable
        self._backoff_flush_period, self._unschedulable_flush_period = backoff_flush_period, unschedulable_flush_period
        self._clock = clock
        self._plugin_events: dict[str, list[ClusterEvent]] = {}
        for event, plugin in events_to_register:
            self._plugin_events.setdefault(plugin, []).append(event)
        self._active = _KeyedHeap()
        self._backoff = _KeyedHeap()
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._wake = asyncio.Event()
        self._closed = False
        self.scheduling_cycle = 0
        self._move_request_cycle = -1

    # adding and removing pods ------------------------------------------------------------------

    def add(self, pod: dict) -> None:
        """A new pending pod: straight to activeQ. A pod already queued keeps its place (and its backoff)."""
        key = pod_key(pod)
        if key in self._active:
            self.update(None, pod)
            return
        if (qpi := self._backoff.get(key) or self._unschedulable.get(key)) is not None:
            qpi.pod_info = PodInfo(pod)
            self.nominator.update_nominated_pod(None, qpi.pod_info)
        else:
            self._push_active(qpi := self._new_queued(pod))
            self.nominator.add_nominated_pod(qpi.pod_info)

    def update(self, old: dict | None, new: dict) -> None:
        key = pod_key(new)
        if key in self._active:
            qpi = self._active.get(key)
            qpi.pod_info = PodInfo(new, previous=qpi.pod_info)
            self._push_active(qpi)
        elif key in self._backoff:
            qpi = self._backoff.get(key)
            qpi.pod_info = PodInfo(new, previous=qpi.pod_info)
        elif key in self._unschedulable:
            qpi = self._unschedulable[key]
            qpi.pod_info = PodInfo(new, previous=qpi.pod_info)
            if old is None or is_pod_updated(old, new):
                del self._unschedulable[key]
                self._requeue(qpi)
        else:
            self._push_active(qpi := self._new_queued(new))
            self.nominator.add_nominated_pod(qpi.pod_info)
            return
        self.nominator.update_nominated_pod(old, qpi.pod_info)

    def delete(self, pod: dict) -> None:
        key = pod_key(pod)
        self._active.remove(key)
        self._backoff.remove(key)
        self._unschedulable.pop(key, None)
        self.nominator.delete_nominated_pod_if_exists(pod)

    def __contains__(self, key: str) -> bool:
        return key in self._active or key in self._backoff or key in self._unschedulable

    def where(self, key: str) -> str | None:
        if key in self._active:
            return ACTIVE
        if key in self._backoff:
            return BACKOFF
        if key in self._unschedulable:
            return UNSCHEDULABLE
        return None

    # popping -----------------------------------------------------------------------------------

    async def pop(self) -> QueuedPodInfo:
        """The next pod to schedule, waiting for one; raises QueueClosed after `close()`."""
        while not len(self._active):
            if self._closed:
                raise QueueClosed()
            self._wake.clear()
            await self._wake.wait()
        return self.pop_nowait()

    def pop_nowait(self) -> QueuedPodInfo:
        qpi = self._active.pop()
        qpi.attempts += 1
        if qpi.initial_attempt_timestamp is None:
            qpi.initial_attempt_timestamp = self._clock()
        self.scheduling_cycle += 1
        return qpi

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    # after a failed attempt --------------------------------------------------------------------

    def add_unschedulable_if_not_present(self, qpi: QueuedPodInfo, pod_scheduling_cycle: int) -> None:
        if qpi.key in self:
            return
        qpi.timestamp = self._clock()
        if self._move_request_cycle >= pod_scheduling_cycle or not qpi.unschedulable_plugins:
            self._backoff.push(qpi.key, (self.backoff_expiry(qpi),), qpi)
        else:
            self._unschedulable[qpi.key] = qpi

    def backoff_duration(self, qpi: QueuedPodInfo) -> float:
        if qpi.attempts <= 0:
            return 0.0
        return min(self._initial_backoff * 2 ** (qpi.attempts - 1), self._max_backoff)

    def backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi)

    def is_backing_off(self, qpi: QueuedPodInfo) -> bool:
        return self.backoff_expiry(qpi) > self._clock()

    # cluster events and flushing ---------------------------------------------------------------

    def move_all_to_active_or_backoff(self, event: ClusterEvent,
                                      pre_check: Callable[[dict], bool] | None = None) -> int:
        """Move the unschedulable pods `event` may help; how many moved."""
        self._move_request_cycle = self.scheduling_cycle
        moved = [qpi for qpi in self._unschedulable.values()
                 if (pre_check is None or pre_check(qpi.pod)) and self._pod_matches_event(qpi, event)]
        for qpi in moved:
            del self._unschedulable[qpi.key]
            self._requeue(qpi)
        return len(moved)

    def _pod_matches_event(self, qpi: QueuedPodInfo, event: ClusterEvent) -> bool:
        if event.resource == WILDCARD or not qpi.unschedulable_plugins:
            return True
        return any(event.matches(registered)
                   for plugin in qpi.unschedulable_plugins for registered in self._plugin_events.get(plugin, ()))

    def flush_backoff_completed(self) -> int:
        now, moved = self._clock(), 0
        while (top := self._backoff.peek()) is not None and top[0][0] <= now:
            self._push_active(self._backoff.pop())
            moved += 1
        return moved

    def flush_unschedulable_left_over(self) -> int:
        now = self._clock()
        stale = [qpi for qpi in self._unschedulable.values() if now - qpi.timestamp > self._max_in_unschedulable]
        for qpi in stale:
            del self._unschedulable[qpi.key]
            self._requeue(qpi)
        return len(stale)

    async def run(self) -> None:
        """The queue's two periodic flushes, until cancelled."""
        last_unschedulable_flush = self._clock()
        while not self._closed:
            await asyncio.sleep(self._backoff_flush_period)
            self.flush_backoff_completed()
            if self._clock() - last_unschedulable_flush >= self._unschedulable_flush_period:
                last_unschedulable_flush = self._clock()
                self.flush_unschedulable_left_over()

    def pending_pods(self) -> dict[str, int]:
        return {ACTIVE: len(self._active), BACKOFF: len(self._backoff), UNSCHEDULABLE: len(self._unschedulable)}

    # internals -------------------------------------------------------------------------------

    def _new_queued(self, pod: dict) -> QueuedPodInfo:
        return QueuedPodInfo(PodInfo(pod), timestamp=self._clock())

    def _push_active(self, qpi: QueuedPodInfo) -> None:
        self._active.push(qpi.key, priority_sort_key(qpi), qpi)
        self._wake.set()

    def _requeue(self, qpi: QueuedPodInfo) -> None:
        if self.is_backing_off(qpi):
            self._backoff.push(qpi.key, (self.backoff_expiry(qpi),), qpi)
        else:
            self._push_active(qpi)


__all__ = ["ACTIVE", "BACKOFF", "UNSCHEDULABLE", "QueueClosed", "QueuedPodInfo", "SchedulingQueue",
           "UNSCHEDULABLE_TIMEOUT", "is_pod_updated", "priority_sort_key"]
