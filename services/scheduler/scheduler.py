"""The scheduling loop: one pod at a time, decide, assume, bind in the background (kube-scheduler's scheduleOne).

Guarantees:
- `schedule_one` is synchronous from pop to assume: the decision and the cache update happen
  without yielding to the event loop, so the next pod already sees this one's resources used.
  The bind (POST pods/binding) then runs as its own task; the loop does not wait for it.
- On a successful bind: a `Scheduled` Event "Successfully assigned ns/name to node", one log line
  `pod.scheduled` (key, node, feasible_nodes, evaluated_nodes, duration_ms) and the metrics.
- On a failed bind: the assumption is forgotten (the node's resources released, and pods that
  were waiting for room are retried), and the pod is handled as a failure.
- On a failure: unless the pod was deleted or bound meanwhile, it goes back to the queue
  (unschedulablePods if filters rejected it, backoffQ if it was an error); a `FailedScheduling`
  Warning Event and a PodScheduled=False condition (reason Unschedulable or SchedulerError, the
  same message) are written, the condition only when it changed.
- A pod being deleted is not scheduled; a pod already assumed is skipped.
- Nominations (the queue's `nominator`): when PostFilter nominated a node (or cleared the
  nomination), the failure handler records it before the next cycle starts; otherwise the pod
  stays nominated to its own `status.nominatedNodeName`. A pod assumed, gone or bound is no
  longer nominated. (kube-scheduler also clears the nomination, in memory and in the API, after
  errors and when no PostFilter runs; kubemu keeps the pod's own there.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from shared.logging import get_logger
from shared.resources import PODS
from services.scheduler import metrics as m
from services.scheduler.algorithm import Algorithm, NoNodesAvailable, ScheduleResult, SchedulingError
from services.scheduler.cache import CacheError, SchedulerCache
from services.scheduler.framework import Code, CycleState, FitError, Framework, PodInfo, Status, pod_key
from services.scheduler.framework.types import ASSIGNED_POD_DELETE
from services.scheduler.queue import QueueClosed, QueuedPodInfo, SchedulingQueue

log = get_logger()

REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"
NOTE_LENGTH_LIMIT = 1024  # an Event's note (message) limit in Kubernetes


def truncate_message(message: str) -> str:
    if len(message) <= NOTE_LENGTH_LIMIT:
        return message
    return message[: NOTE_LENGTH_LIMIT - 4] + " ..."


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def updated_condition(pod: dict, condition: dict) -> dict | None:
    """`condition` as it should be stored, or None if the pod already has it (podutil.UpdatePodCondition)."""
    for current in (pod.get("status") or {}).get("conditions") or []:
        if current.get("type") != condition["type"]:
            continue
        same = all(current.get(k) == condition.get(k) for k in ("status", "reason", "message"))
        if same:
            return None
        if current.get("status") == condition["status"] and current.get("lastTransitionTime"):
            return {**condition, "lastTransitionTime": current["lastTransitionTime"]}
        break
    return {**condition, "lastTransitionTime": _now()}


class Scheduler:
    def __init__(self, *, framework: Framework, cache: SchedulerCache, queue: SchedulingQueue,
                 algorithm: Algorithm | None = None, client: Any = None, recorder: Any = None,
                 pod_lister: Callable[[str, str], dict | None] | None = None,
                 metrics: m.SchedulerMetrics | None = None) -> None:
        self.framework = framework
        self.cache = cache
        self.queue = queue
        self.algorithm = algorithm or Algorithm()
        self.client = client
        self.recorder = recorder
        self.pod_lister = pod_lister or (lambda namespace, name: None)
        self.metrics = metrics or m.SchedulerMetrics()
        self._tasks: set[asyncio.Task] = set()

    @property
    def profile(self) -> str:
        return self.framework.profile_name

    async def run(self) -> None:
        """Schedule pods one at a time until cancelled or the queue is closed."""
        log.info("scheduler.started", profile=self.profile)
        while True:
            try:
                qpi = await self.queue.pop()
            except QueueClosed:
                return
            self.schedule_one(qpi)
            await asyncio.sleep(0)  # let informer events, binds and events run between cycles

    async def wait_for_tasks(self) -> None:
        """Wait for the binds and status updates started so far (for shutdown and tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # the scheduling cycle ------------------------------------------------------------------

    def schedule_one(self, qpi: QueuedPodInfo) -> None:
        pod_info = qpi.pod_info
        if self._skip_pod_schedule(pod_info):
            return
        start = time.perf_counter()
        state = CycleState()
        try:
            result = self.algorithm.schedule_pod(self.framework, state, pod_info, self.cache.node_infos())
        except FitError as err:
            nominated = self._run_post_filter(state, pod_info, err)
            qpi.unschedulable_plugins = set(err.diagnosis.unschedulable_plugins)
            self._handle_failure(qpi, Status(Code.UNSCHEDULABLE, str(err)), start, nominated)
            return
        except NoNodesAvailable as err:
            self._handle_failure(qpi, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, str(err)), start)
            return
        except SchedulingError as err:
            self._handle_failure(qpi, err.status, start)
            return
        assumed = pod_info.with_node(result.suggested_host)
        try:
            self.cache.assume_pod(assumed)
        except CacheError as err:
            self._handle_failure(qpi, Status.as_error(err), start)
            return
        self.queue.nominator.delete_nominated_pod_if_exists(assumed.pod)  # its room is now its own
        decided = time.perf_counter()
        self.spawn(self._binding_cycle(state, qpi, assumed, result, start, decided))

    def _skip_pod_schedule(self, pod_info: PodInfo) -> bool:
        meta = pod_info.pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            self._event(pod_info.pod, "Warning", "FailedScheduling", f"skip schedule deleting pod: {pod_info.key}")
            return True
        return self.cache.is_assumed_pod(pod_info.key)

    def _run_post_filter(self, state: CycleState, pod_info: PodInfo, err: FitError) -> str | None:
        """The node PostFilter nominated ("" to clear a nomination), or None to leave the pod's own."""
        if not self.framework.post_filter_plugins:
            return None  # kube-scheduler: "No PostFilter plugins are registered, so no preemption will be performed"
        result, status = self.framework.run_post_filter_plugins(state, pod_info, err.diagnosis.node_to_status)
        err.diagnosis.post_filter_msg = status.message()
        return result.nominated_node_name if result is not None else None

    # the binding cycle -----------------------------------------------------------------------

    async def _binding_cycle(self, state: CycleState, qpi: QueuedPodInfo, assumed: PodInfo,
                             result: ScheduleResult, start: float, decided: float) -> None:
        node = result.suggested_host
        try:
            status = await self.framework.run_bind_plugins(state, assumed, node)
        except Exception as exc:  # a bind plugin that raises is a bind error, never a dead loop
            status = Status.as_error(exc)
        self.cache.finish_binding(assumed.key)
        if status.is_success():
            self.metrics.observe_attempt(m.SCHEDULED, self.profile, time.perf_counter() - start)
            log.info("pod.scheduled", key=assumed.key, node=node, feasible_nodes=result.feasible_nodes,
                     evaluated_nodes=result.evaluated_nodes, duration_ms=round((decided - start) * 1000, 3),
                     bind_ms=round((time.perf_counter() - decided) * 1000, 3))
            self._event(assumed.pod, "Normal", "Scheduled", f"Successfully assigned {assumed.key} to {node}")
            return
        log.warning("pod.bind_failed", key=assumed.key, node=node, error=status.message())
        try:
            self.cache.forget_pod(assumed.key)
        except CacheError as err:
            log.error("cache.forget_failed", key=assumed.key, error=str(err))
        else:
            # Forgetting frees the node's resources, just as a deleted pod would.
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, pre_check=lambda p: pod_key(p) != assumed.key)
        self._handle_failure(qpi, status, start)

    # failures ----------------------------------------------------------------------------------

    def _handle_failure(self, qpi: QueuedPodInfo, status: Status, start: float,
                        nominated: str | None = None) -> None:
        """`nominated`: the node PostFilter nominated the pod to ("" clears), None keeps the pod's own."""
        rejected = status.is_rejected()
        reason = REASON_UNSCHEDULABLE if rejected else REASON_SCHEDULER_ERROR
        message = status.message()
        self.metrics.observe_attempt(m.UNSCHEDULABLE if rejected else m.ERROR, self.profile,
                                     time.perf_counter() - start)
        log.info("pod.unschedulable" if rejected else "pod.schedule_error", key=qpi.key, reason=reason,
                 message=message, attempts=qpi.attempts, duration_ms=round((time.perf_counter() - start) * 1000, 3))
        meta = qpi.pod.get("metadata") or {}
        cached = self.pod_lister(meta.get("namespace", ""), meta.get("name", ""))
        if cached is None:
            log.info("pod.not_in_informer_cache", key=qpi.key)
        elif (cached.get("spec") or {}).get("nodeName"):
            log.info("pod.already_assigned", key=qpi.key, node=cached["spec"]["nodeName"])
        else:
            if cached is not qpi.pod:
                qpi.pod_info = PodInfo(cached)
            self.queue.add_unschedulable_if_not_present(qpi, self.queue.scheduling_cycle)
        # Before the next cycle, not when the API update comes back: else another pod could take the
        # room just freed. A pod gone or bound is not nominated (the nominator's pod-lister check).
        if cached is None or (cached.get("spec") or {}).get("nodeName"):
            self.queue.nominator.delete_nominated_pod_if_exists(qpi.pod)
        else:
            self.queue.nominator.add_nominated_pod(qpi.pod_info, nominated)
        pod = cached or qpi.pod
        self._event(pod, "Warning", "FailedScheduling", truncate_message(message))
        condition = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message,
                     "lastProbeTime": None}
        if self.client is not None and (new := updated_condition(pod, condition)) is not None:
            self.spawn(self._patch_condition(pod, new))

    async def _patch_condition(self, pod: dict, condition: dict) -> None:
        meta = pod.get("metadata") or {}
        patch = {"status": {"conditions": [condition]}}
        try:
            await self.client.patch(PODS, meta["name"], patch, namespace=meta.get("namespace"),
                                    subresource="status", patch_type="strategic")
        except Exception as exc:  # the pod may be gone; the next attempt writes it again
            log.info("pod.condition_update_failed", key=f"{meta.get('namespace')}/{meta.get('name')}",
                     error=str(exc))

    # helpers -----------------------------------------------------------------------------------

    def _event(self, pod: dict, event_type: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(pod, event_type, reason, message)

    def spawn(self, coro) -> None:
        """Run `coro` as a background task of this scheduler (awaited by `wait_for_tasks`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
