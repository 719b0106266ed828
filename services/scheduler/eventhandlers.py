"""Informer event handlers: pending pods feed the queue, assigned pods and nodes feed the cache.

Guarantees (kube-scheduler's addAllEventHandlers):
- A pod with no `spec.nodeName`, whose `schedulerName` is one of ours and that is not finished,
  is queued; updates and deletes follow it. Updates of a pod the scheduler has already assumed
  are ignored (its bind is in flight).
- A pod with `spec.nodeName` is counted in the cache on its node; when its bind is confirmed it
  leaves the queue and its assumption becomes a fact. A finished pod (Succeeded/Failed) no longer
  counts, as the scheduler's informer (field selector `status.phase!=Succeeded,...`) never sees it.
- Deleting an assigned pod frees room: unschedulable pods that NodeResourcesFit rejected are
  retried. A pod newly assigned to a node (added, or just bound) retries the pods rejected by a
  plugin that registered pod adds (PodTopologySpread: the minimum count of a domain may rise;
  InterPodAffinity: an affinity term may now be met). Adding a node, or a node update that
  changes what filters read (allocatable, labels, taints, unschedulable, conditions), retries
  the pods that plugins interested in it rejected.
- Handlers never block and never raise into the informer: cache errors are logged.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.logging import get_logger
from services.scheduler.cache import CacheError, SchedulerCache
from services.scheduler.framework import node_update_event, pod_key
from services.scheduler.framework.types import ASSIGNED_POD_ADD, ASSIGNED_POD_DELETE, NODE_ADD
from services.scheduler.queue import SchedulingQueue

log = get_logger()
FINISHED_PHASES = ("Succeeded", "Failed")


def _unwrap(obj: object) -> dict:
    """The last known object of a delete (informer tombstones carry it in `.obj`)."""
    return getattr(obj, "obj", obj)


def assigned(pod: dict) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def finished(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in FINISHED_PHASES


class EventHandlers:
    def __init__(self, *, cache: SchedulerCache, queue: SchedulingQueue,
                 scheduler_names: Iterable[str] = ("default-scheduler",)) -> None:
        self.cache = cache
        self.queue = queue
        self.scheduler_names = set(scheduler_names)

    def responsible_for(self, pod: dict) -> bool:
        return (pod.get("spec") or {}).get("schedulerName", "default-scheduler") in self.scheduler_names

    def _queueable(self, pod: dict) -> bool:
        return not assigned(pod) and not finished(pod) and self.responsible_for(pod)

    def _countable(self, pod: dict) -> bool:
        return assigned(pod) and not finished(pod)

    # pods ----------------------------------------------------------------------------------

    def on_pod_add(self, pod: dict) -> None:
        if self._countable(pod):
            self._cache_call(self.cache.add_pod, pod)
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_ADD)
        elif self._queueable(pod) and not self.cache.is_assumed_pod(pod_key(pod)):
            self.queue.add(pod)

    def on_pod_update(self, old: dict, new: dict) -> None:
        if self._countable(new):
            if self._countable(old):
                self._cache_call(self.cache.update_pod, old, new)
            else:  # just bound (by us or anyone): it leaves the queue and counts on its node
                self.queue.delete(new)
                self._cache_call(self.cache.add_pod, new)
                self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_ADD)
            return
        if self._countable(old):  # finished: no longer uses its node
            self._remove_assigned(old)
            return
        if self._queueable(new):
            if not self.cache.is_assumed_pod(pod_key(new)):
                self.queue.update(old, new)
        else:
            self.queue.delete(new)

    def on_pod_delete(self, obj: object) -> None:
        pod = _unwrap(obj)
        if self._countable(pod):
            self._remove_assigned(pod)
            return
        self.queue.delete(pod)
        if self.cache.is_assumed_pod(pod_key(pod)):
            self.cache.remove_pod(pod)  # deleted while its bind was in flight

    def _remove_assigned(self, pod: dict) -> None:
        self.cache.remove_pod(pod)
        self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE)

    # nodes ---------------------------------------------------------------------------------

    def on_node_add(self, node: dict) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(NODE_ADD)

    def on_node_update(self, old: dict, new: dict) -> None:
        self.cache.update_node(old, new)
        event = node_update_event(old, new)
        if event is not None:
            self.queue.move_all_to_active_or_backoff(event)

    def on_node_delete(self, obj: object) -> None:
        self.cache.remove_node(_unwrap(obj))

    # ---------------------------------------------------------------------------------------

    @staticmethod
    def _cache_call(fn, *args) -> None:
        try:
            fn(*args)
        except CacheError as err:
            log.error("cache.inconsistent", key=pod_key(args[-1]), error=str(err))
