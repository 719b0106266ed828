"""Job controller (k8s pkg/controller/job, as kube-controller-manager 1.32 runs it).

Guarantees, for each Job key (`sync`, level-based; the Job's pods are found by controller
ownerReference, orphans matching its selector adopted, strays released):
- pods are created from the template (generateName "<job>-", ownerReference batch/v1 Job with
  controller and blockOwnerDeletion, finalizer `batch.kubernetes.io/job-tracking`) until
  min(parallelism, completions - succeeded) are active (parallelism while nothing succeeded when
  completions is unset); surplus active pods are deleted, least useful first. Expectations keep
  a sync from acting again before the informer has seen its creations and deletions.
- a finished pod is counted exactly once, through the finalizer: its uid first goes into
  status.uncountedTerminatedPods (written), then its finalizer is removed, then the uid moves into
  status.succeeded / status.failed. A pod deleted before it finished counts as failed.
- after a failure, replacements wait the pod failure backoff (10 s doubling, at most 10 min,
  counted from the last failure), by requeueing the key with a delay.
- more failures than backoffLimit (for restartPolicy OnFailure, container restarts count too),
  or activeDeadlineSeconds passed since status.startTime, make the Job fail: FailureTarget is
  written, active pods are deleted, and once none is terminating the Failed condition follows
  (BackoffLimitExceeded / DeadlineExceeded events). Enough successes write SuccessCriteriaMet,
  then Complete with completionTime (the Completed event) once no pod terminates.
- suspend deletes the active pods and sets Suspended=True; resuming sets it False and restarts
  the clock (startTime). Indexed Jobs give each pod a completion index (annotation, label,
  JOB_COMPLETION_INDEX, hostname "<job>-<index>") and report status.completedIndexes.
- no pod keeps the tracking finalizer for ever: the pods of a Job that is finished, deleted or
  gone, and orphans, have it removed by a second queue (`job_orphan_pod`).
Not implemented: podFailurePolicy, backoffLimitPerIndex/maxFailedIndexes and successPolicy.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.client import NotFound
from shared.controller import run_workers
from shared.resources import JOBS, PODS
from shared.workqueue import RateLimitingQueue

from shared.logging import get_logger

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.controllers import job_util as ju
from services.controller_manager.controllers.replicaset import pod_from_template, slow_start_batch
from services.controller_manager.expectations import Expectations
from services.controller_manager.labels import selector_matches
from services.controller_manager.objects import (
    controller_ref,
    format_time,
    is_being_deleted,
    is_pod_active,
    is_pod_ready,
    key_of,
    labels_of,
    meta,
    name_of,
    new_controller_ref,
    parse_time,
    resolve_controller_ref,
    split_key,
    status_cause,
    uid_of,
    unwrap_tombstone,
)
from services.controller_manager.refmanager import RefManager, recheck_owner

log = get_logger()

API_VERSION, KIND = "batch/v1", "Job"
SYNC_BATCH_PERIOD = 1.0          # pod events and status-only updates wait this long, to batch syncs
POD_FAILURE_BACKOFF = 10.0       # DefaultJobPodFailureBackOff
POD_FAILURE_BACKOFF_MAX = 600.0  # MaxJobPodFailureBackOff: 10 min in the code (the docs still say six)
API_BACKOFF, API_BACKOFF_MAX = 1.0, 60.0  # the queue's retry backoff after a failed sync
MAX_UNCOUNTED_PODS = 500
MAX_POD_CREATE_DELETE_PER_SYNC = 500
# a strategic merge patch, as kube-controller-manager sends it: only this one finalizer goes
REMOVE_FINALIZER_PATCH = {"metadata": {"$deleteFromPrimitiveList/finalizers": [ju.TRACKING_FINALIZER]}}


@dataclass
class SyncContext:
    """What one sync knows about its Job (syncJobCtx)."""

    job: dict
    pods: list[dict]
    active_pods: list[dict]
    ready: int
    terminating: int
    uncounted_succeeded: set[str]
    uncounted_failed: set[str]
    expected_rm_finalizers: set[str]
    succeeded: int = 0
    failed: int = 0
    finished_condition: dict | None = None
    new_backoff: ju.BackoffRecord = field(default_factory=ju.BackoffRecord)
    prev_succeeded_indexes: ju.Intervals = field(default_factory=list)
    succeeded_indexes: ju.Intervals = field(default_factory=list)

    @property
    def status(self) -> dict:
        return self.job["status"]


def _uncounted(status: Mapping) -> dict:
    return status.get("uncountedTerminatedPods") or {}


def _set_count(status: dict, field_name: str, value: int) -> None:
    """Counters are omitempty in batch/v1 JobStatus; ready and terminating are pointers (kept at 0)."""
    if value or field_name in ("ready", "terminating"):
        status[field_name] = value
    else:
        status.pop(field_name, None)


def clean_uncounted(status: dict, uids_with_finalizer: set[str]) -> bool:
    """cleanUncountedPodsWithoutFinalizers: uncounted uids whose finalizer is gone are counted."""
    uncounted = dict(_uncounted(status))
    changed = False
    for which in ("succeeded", "failed"):
        listed = uncounted.get(which) or []
        kept = [uid for uid in listed if uid in uids_with_finalizer]
        if len(kept) != len(listed):
            changed = True
            _set_count(status, which, status.get(which, 0) + len(listed) - len(kept))
            if kept:
                uncounted[which] = kept
            else:
                uncounted.pop(which, None)
    status["uncountedTerminatedPods"] = uncounted
    return changed


def new_pod(job: dict, template: dict, index: int | None) -> dict:
    """A pod of `job` (controller.GetPodFromTemplate), for an Indexed Job with its index."""
    pod = pod_from_template(job, template, new_controller_ref(job, api_version=API_VERSION, kind=KIND))
    if index is not None:
        pod["metadata"]["generateName"] = ju.generate_name_with_index(name_of(job), index)
        pod["metadata"].setdefault("annotations", {})[ju.COMPLETION_INDEX_KEY] = str(index)
        pod["metadata"]["labels"][ju.COMPLETION_INDEX_KEY] = str(index)
        pod["spec"]["hostname"] = f"{name_of(job)}-{index}"
    return pod


class JobController(Controller):
    name = "job-controller"
    queue_name = "job"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        options = ctx.options
        self.batch_period = getattr(options, "job_sync_batch_period", SYNC_BATCH_PERIOD)
        self.backoff_base = getattr(options, "job_pod_failure_backoff", POD_FAILURE_BACKOFF)
        self.backoff_max = getattr(options, "job_pod_failure_backoff_max", POD_FAILURE_BACKOFF_MAX)
        self.queue = RateLimitingQueue(name=self.queue_name, base_delay=API_BACKOFF, max_delay=API_BACKOFF_MAX, qps=None)
        self.orphan_queue = RateLimitingQueue(name="job_orphan_pod", base_delay=API_BACKOFF,
                                              max_delay=API_BACKOFF_MAX, qps=None)
        self.expectations = Expectations()
        self.finalizer_expectations: dict[str, set[str]] = {}  # job key → pod uids whose finalizer we removed
        self.backoff: dict[str, ju.BackoffRecord] = {}
        self.recorder = ctx.recorder_factory(self.name)
        self.job_informer = ctx.informers.informer(JOBS)
        self.pod_informer = ctx.informers.informer(PODS)
        self.job_informer.add_event_handler(on_add=self._add_job, on_update=self._update_job,
                                            on_delete=self._delete_job)
        self.pod_informer.add_event_handler(on_add=self._add_pod, on_update=self._update_pod,
                                            on_delete=self._delete_pod)

    async def run(self) -> None:
        await asyncio.gather(
            run_workers(self.queue, self.timed_sync, workers=self.workers, name=self.queue_name),
            run_workers(self.orphan_queue, self.timed_orphan_sync, workers=1, name="job_orphan_pod"))

    async def timed_orphan_sync(self, key: str) -> None:
        await self.timed(self.sync_orphan_pod, key, "job_orphan_pod")

    def shutdown(self) -> None:
        self.queue.shutdown()
        self.orphan_queue.shutdown()

    # --- event handlers: bookkeeping and enqueue only ---

    def _enqueue_batched(self, job: Mapping) -> None:
        self.queue.add_after(key_of(job), self.batch_period)

    def _add_job(self, job: dict) -> None:
        self.enqueue(job)

    def _update_job(self, old: dict, new: dict) -> None:
        if meta(old).get("generation") == meta(new).get("generation"):
            self._enqueue_batched(new)  # a status update or a pod-driven change: batch them
        else:
            self.enqueue(new)  # the spec changed: at once
        if ju.is_finished(new):
            self._cleanup_pod_finalizers(new)  # a backup: a finished Job's sync removes them too
        deadline = ju.spec_of(new).get("activeDeadlineSeconds")
        started = parse_time((new.get("status") or {}).get("startTime"))
        if deadline is not None and started is not None and deadline != ju.spec_of(old).get("activeDeadlineSeconds"):
            self.queue.add_after(key_of(new), deadline - (self.now() - started).total_seconds())

    def _delete_job(self, obj: object) -> None:
        job = unwrap_tombstone(obj)
        if job is not None:
            self.enqueue(job)
            self._cleanup_pod_finalizers(job)

    def _cleanup_pod_finalizers(self, job: Mapping) -> None:
        for pod in self.pod_informer.lister.list(namespace=meta(job).get("namespace")):
            if ju.is_controlled_by(pod, job) and ju.has_tracking_finalizer(pod):
                self.orphan_queue.add(key_of(pod))

    def _resolve(self, namespace: str, ref: Mapping | None) -> dict | None:
        return resolve_controller_ref(self.job_informer.lister, namespace, ref, kind=KIND)

    def _matching_jobs(self, pod: Mapping) -> list[dict]:
        if not labels_of(pod):
            return []
        jobs = self.job_informer.lister.list(namespace=meta(pod).get("namespace"))
        return [j for j in jobs if selector_matches(ju.spec_of(j).get("selector"), labels_of(pod))]

    def _add_pod(self, pod: dict) -> None:
        if is_being_deleted(pod):
            self._delete_pod(pod, final=False)  # a restarted controller sees a pending deletion as an add
            return
        ref = controller_ref(pod)
        if ref is not None:
            job = self._resolve(meta(pod).get("namespace", ""), ref)
            if job is not None:
                self.expectations.creation_observed(key_of(job))
                self._enqueue_batched(job)
            return
        if ju.has_tracking_finalizer(pod):
            self.orphan_queue.add(key_of(pod))
        for job in self._matching_jobs(pod):  # an orphan: whoever matches may adopt it
            self._enqueue_batched(job)

    def _update_pod(self, old: dict, new: dict) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return  # periodic resync
        if is_being_deleted(new):
            self._delete_pod(new, final=False)  # replace it now, not when the kubelet is done with it
            return
        ns = meta(new).get("namespace", "")
        finalizer_removed = not ju.has_tracking_finalizer(new)
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref != new_ref and old_ref is not None:
            job = self._resolve(ns, old_ref)
            if job is not None:
                if finalizer_removed:
                    self._finalizer_removal_observed(key_of(job), uid_of(new))
                self._enqueue_batched(job)
        if new_ref is not None:
            job = self._resolve(ns, new_ref)
            if job is not None:
                if finalizer_removed:
                    self._finalizer_removal_observed(key_of(job), uid_of(new))
                self._enqueue_batched(job)
            return
        if ju.has_tracking_finalizer(new):
            self.orphan_queue.add(key_of(new))
        if labels_of(old) != labels_of(new) or old_ref != new_ref:
            for job in self._matching_jobs(new):
                self._enqueue_batched(job)

    def _delete_pod(self, obj: object, final: bool = True) -> None:
        pod = unwrap_tombstone(obj)
        if pod is None:
            return
        ref = controller_ref(pod)
        has_finalizer = ju.has_tracking_finalizer(pod)
        job = self._resolve(meta(pod).get("namespace", ""), ref) if ref is not None else None
        if job is None or ju.is_finished(job):
            if has_finalizer:
                self.orphan_queue.add(key_of(pod))  # no sync of a Job will remove it
            return
        key = key_of(job)
        self.expectations.deletion_observed(key, key_of(pod))
        if final or not has_finalizer:
            self._finalizer_removal_observed(key, uid_of(pod))
        self._enqueue_batched(job)

    def _finalizer_removal_observed(self, key: str, uid: str) -> None:
        self.finalizer_expectations.get(key, set()).discard(uid)

    # --- the orphan pod queue ---

    async def sync_orphan_pod(self, key: str) -> None:
        """Remove the tracking finalizer from a pod no unfinished Job of ours controls."""
        namespace, name = split_key(key)
        pod = self.pod_informer.lister.get(name, namespace)
        if pod is None or not ju.has_tracking_finalizer(pod):
            return
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != KIND or ref.get("apiVersion") != API_VERSION:
                return  # not a Job's: not ours to touch
            job = self._resolve(namespace, ref)
            if job is not None and (ju.managed_by_other(job) or not ju.is_finished(job)):
                return  # adopted by a running Job, or another controller's
        log.info("job.orphan_finalizer_removed")  # the key is the pod's
        try:
            await self.client.patch(PODS, name, REMOVE_FINALIZER_PATCH, namespace=namespace, patch_type="strategic")
        except NotFound:
            pass

    # --- sync ---

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.job_informer.lister.get(name, namespace)
        if cached is None:
            self.expectations.delete(key)
            self.finalizer_expectations.pop(key, None)
            self.backoff.pop(key, None)
            return
        if not self._wants_sync(cached, key):
            return
        job = copy.deepcopy(cached)
        job["status"] = dict(job.get("status") or {})
        job["status"]["uncountedTerminatedPods"] = dict(_uncounted(job["status"]))
        satisfied = self.expectations.satisfied(key)  # before the pods are read: a new pod can't sneak in
        ctx = self._context(job, await self._pods_for_job(job), key)
        status = ctx.status
        if not status.get("startTime") and not ju.is_suspended(job):
            status["startTime"] = format_time(self.now())
        ctx.finished_condition = self._finished_condition(job, ctx, key)
        if ju.is_indexed(job):
            ctx.prev_succeeded_indexes, ctx.succeeded_indexes = ju.succeeded_indexes(job, ctx.pods)
            ctx.succeeded = ju.intervals_total(ctx.succeeded_indexes)
        active, suspend_changed, manage_error = await self._act_on_pods(job, ctx, key, satisfied)
        needs_update = suspend_changed or active != status.get("active", 0) \
            or status.get("ready") != ctx.ready or status.get("terminating") != ctx.terminating
        _set_count(status, "active", active)
        _set_count(status, "ready", ctx.ready)
        _set_count(status, "terminating", ctx.terminating)
        await self._track_status_and_remove_finalizers(ctx, key, needs_update)
        if manage_error is not None:
            raise manage_error

    def _wants_sync(self, job: dict, key: str) -> bool:
        if ju.managed_by_other(job):
            log.debug("job.skipped_managed_by", managed_by=ju.managed_by_other(job))
            return False
        if ju.is_finished(job):
            self.backoff.pop(key, None)
            return False
        if ju.completion_mode(job) not in ("NonIndexed", "Indexed"):
            self.recorder.event(job, "Warning", "UnknownCompletionMode",
                                "Skipped Job sync because completion mode is unknown")
            return False
        return True

    async def _act_on_pods(self, job: dict, ctx: SyncContext, key: str,
                           satisfied: bool) -> tuple[int, bool, Exception | None]:
        """A finishing Job loses its active pods; any other has its pods managed, and is found
        complete or (un)suspended. Returns (active, suspended condition changed, error)."""
        active = len(ctx.active_pods)
        if ctx.finished_condition is not None:
            deleted, error = await self._delete_active_pods(job, ctx)
            if deleted != active or not satisfied:
                ctx.finished_condition = None  # pods may still be unseen, or not all could be deleted
            return active - deleted, False, error
        managed = satisfied and not is_being_deleted(job)
        error = None
        if managed:
            active, error = await self._manage_job(job, ctx, key)
        wanted = ju.completions(job)
        complete = ctx.succeeded > 0 if wanted is None else ctx.succeeded >= wanted
        if complete and active == 0:
            ctx.finished_condition = ju.new_condition(ju.SUCCESS_CRITERIA_MET, "True", *ju.COMPLETIONS_REACHED,
                                                      self.now())
            return active, False, error
        # conditions and events only from a sync that managed the pods
        return active, managed and self._update_suspended_condition(job), error

    def _context(self, job: dict, pods: list[dict], key: str) -> SyncContext:
        active = [p for p in pods if is_pod_active(p)]
        uncounted = _uncounted(job["status"])
        ctx = SyncContext(
            job=job, pods=pods, active_pods=active, ready=sum(1 for p in active if is_pod_ready(p)),
            terminating=sum(1 for p in pods if ju.is_terminating(p)),
            uncounted_succeeded=set(uncounted.get("succeeded") or []),
            uncounted_failed=set(uncounted.get("failed") or []),
            expected_rm_finalizers=set(self.finalizer_expectations.get(key, set())))
        new_succeeded = self._new_finished(ctx, ctx.uncounted_succeeded,
                                           lambda p: (p.get("status") or {}).get("phase") == "Succeeded")
        new_failed = self._new_finished(ctx, ctx.uncounted_failed, lambda p: ju.is_pod_failed(p, job))
        ctx.succeeded = job["status"].get("succeeded", 0) + len(new_succeeded) + len(ctx.uncounted_succeeded)
        ctx.failed = job["status"].get("failed", 0) + len(new_failed) + len(ctx.uncounted_failed)
        ctx.new_backoff = ju.next_backoff_record(self.backoff.get(key, ju.BackoffRecord()), new_succeeded, new_failed)
        return ctx

    @staticmethod
    def _new_finished(ctx: SyncContext, uncounted: set[str], keep) -> list[dict]:
        """getValidPodsWithFilter: finished pods that still carry the finalizer and are not yet in
        the uncounted lists (for an Indexed Job, only those with a valid index)."""
        total = ju.completions(ctx.job) or 0
        out = []
        for pod in ctx.pods:
            uid = uid_of(pod)
            if not ju.has_tracking_finalizer(pod) or uid in uncounted or uid in ctx.expected_rm_finalizers:
                continue
            if ju.is_indexed(ctx.job) and not ju.has_valid_index(pod, total):
                continue
            if keep(pod):
                out.append(pod)
        return out

    def _finished_condition(self, job: dict, ctx: SyncContext, key: str) -> dict | None:
        """The condition the Job is headed for, if any: an existing SuccessCriteriaMet or
        FailureTarget, or a new FailureTarget for the backoff limit or the deadline."""
        if (met := ju.true_condition(job, ju.SUCCESS_CRITERIA_MET)) is not None:
            return met
        if (target := ju.true_condition(job, ju.FAILURE_TARGET)) is not None:
            return ju.new_condition(ju.FAILED, "True", target.get("reason", ""), target.get("message", ""), self.now())
        if ctx.failed > ju.backoff_limit(job) or ju.past_backoff_limit_on_failure(job, ctx.pods):
            return ju.new_condition(ju.FAILURE_TARGET, "True", *ju.BACKOFF_LIMIT_EXCEEDED, self.now())
        deadline = ju.spec_of(job).get("activeDeadlineSeconds")
        if deadline is None or ju.is_suspended(job):
            return None
        elapsed = (self.now() - parse_time(job["status"]["startTime"])).total_seconds()
        if elapsed >= deadline:
            return ju.new_condition(ju.FAILURE_TARGET, "True", *ju.DEADLINE_EXCEEDED, self.now())
        self.queue.add_after(key, deadline - elapsed)  # look again when the deadline passes
        return None

    def _update_suspended_condition(self, job: dict) -> bool:
        status = job["status"]
        conditions = status.get("conditions") or []
        if ju.is_suspended(job):
            conditions, changed = ju.ensure_condition(conditions, ju.SUSPENDED, "True", "JobSuspended",
                                                      "Job suspended", self.now())
            if changed:
                self.recorder.event(job, "Normal", "Suspended", "Job suspended")
                log.info("job.suspended")
        else:
            conditions, changed = ju.ensure_condition(conditions, ju.SUSPENDED, "False", "JobResumed",
                                                      "Job resumed", self.now())
            if changed:
                self.recorder.event(job, "Normal", "Resumed", "Job resumed")
                log.info("job.resumed")
                # activeDeadlineSeconds counts the time the Job runs without a pause: start again
                status["startTime"] = format_time(self.now())
        if changed:
            status["conditions"] = conditions
        return changed

    async def _pods_for_job(self, job: dict) -> list[dict]:
        """All pods of the namespace, so a controlled pod that no longer matches is released."""
        selector = ju.spec_of(job).get("selector")
        manager = RefManager(self.client, ref=PODS, owner=job, api_version=API_VERSION, kind=KIND,
                             matches=lambda p: selector_matches(selector, labels_of(p)),
                             can_adopt=recheck_owner(self.client, JOBS, job), finalizers=(ju.TRACKING_FINALIZER,))
        return await manager.claim(self.pod_informer.lister.list(namespace=meta(job)["namespace"]))

    # --- pods: create and delete ---

    async def _manage_job(self, job: dict, ctx: SyncContext, key: str) -> tuple[int, Exception | None]:
        """manageJob: create or delete pods (never both in one sync). Returns (active, error)."""
        active = len(ctx.active_pods)
        if ju.is_suspended(job):
            return await self._delete_job_pods(job, ctx, key, ju.active_pods_for_removal(job, ctx.active_pods, active))
        wanted = ju.completions(job)
        if wanted is None:
            want_active = active if ctx.succeeded > 0 else ju.parallelism(job)  # after a success, only finish
        else:
            want_active = max(0, min(wanted - ctx.succeeded, ju.parallelism(job)))
        surplus = ju.active_pods_for_removal(job, ctx.active_pods, max(0, active - want_active))
        if surplus:
            return await self._delete_job_pods(job, ctx, key, surplus[:MAX_POD_CREATE_DELETE_PER_SYNC])
        terminating = ctx.terminating if ju.only_replace_failed_pods(job) else 0
        diff = want_active - terminating - active
        if diff <= 0:
            return active, None
        wait = ctx.new_backoff.remaining(self.now(), self.backoff_base, self.backoff_max)
        if wait > 0:
            log.info("job.pod_creation_backoff", seconds=round(wait, 2),
                     failures=ctx.new_backoff.failures_after_last_success)
            self.queue.add_after(key, max(wait, self.batch_period))
            # The real active count: 1.32 reported 0 here, which the API server rejects as fewer
            # active than ready pods (kubernetes#139428, fixed in every maintained release).
            return active, None
        diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        indexes: list[int | None] = [None] * diff
        if ju.is_indexed(job):
            indexes = list(ju.first_pending_indexes(ctx.active_pods, ctx.succeeded_indexes, diff, wanted or 0))
            diff = len(indexes)
        created, error = await self._create_pods(job, key, indexes)
        return active + created, error

    async def _create_pods(self, job: dict, key: str, indexes: list[int | None]) -> tuple[int, Exception | None]:
        """Create one pod per entry of `indexes` in slow-start batches; (created, first error)."""
        count = len(indexes)
        if count == 0:
            return 0, None
        self.expectations.expect_creations(key, count)
        template = copy.deepcopy(ju.spec_of(job).get("template") or {})
        if ju.is_indexed(job):
            template = ju.with_completion_index_env(template)
        tmeta = template.setdefault("metadata", {})
        if ju.TRACKING_FINALIZER not in (tmeta.get("finalizers") or []):
            tmeta["finalizers"] = [*(tmeta.get("finalizers") or []), ju.TRACKING_FINALIZER]
        pending = iter(indexes)

        async def create_one() -> None:
            body = new_pod(job, template, next(pending))
            try:
                pod = await self.client.create(PODS, body, namespace=meta(job)["namespace"])
            except Exception as err:
                if status_cause(err, "NamespaceTerminating"):
                    return  # every create fails while the namespace goes away
                self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {err}")
                raise
            self.recorder.event(job, "Normal", "SuccessfulCreate", f"Created pod: {name_of(pod)}")
            log.info("job.pod_created", pod=name_of(pod), index=ju.completion_index(pod))

        created, error = await slow_start_batch(count, 1, create_one)
        for _ in range(count - created):
            self.expectations.creation_observed(key)  # failed or never attempted: never observed
        return created, error

    async def _delete_job_pods(self, job: dict, ctx: SyncContext, key: str,
                               pods: list[dict]) -> tuple[int, Exception | None]:
        """deleteJobPods: remove each pod's finalizer, then delete it (the pod is not counted as a
        failure: it was removed on purpose). Returns (active left, first error)."""
        self.expectations.expect_deletions(key, [key_of(p) for p in pods])

        async def delete_one(pod: dict) -> None:
            try:
                if ju.has_tracking_finalizer(pod):
                    await self.client.patch(PODS, name_of(pod), REMOVE_FINALIZER_PATCH,
                                            namespace=meta(pod)["namespace"], patch_type="strategic")
                await self._delete_pod_api(job, pod)
            except Exception as err:
                self.expectations.deletion_observed(key, key_of(pod))  # the informer will never see it
                if not isinstance(err, NotFound):  # already gone counts as deleted
                    raise

        results = await asyncio.gather(*(delete_one(p) for p in pods), return_exceptions=True)
        deleted = [p for p, r in zip(pods, results, strict=True) if not isinstance(r, Exception)]
        ctx.terminating += len(deleted)
        ctx.ready -= sum(1 for p in deleted if is_pod_ready(p))
        errors = [r for r in results if isinstance(r, Exception)]
        return len(ctx.active_pods) - len(deleted), errors[0] if errors else None

    async def _delete_active_pods(self, job: dict, ctx: SyncContext) -> tuple[int, Exception | None]:
        """deleteActivePods, for a Job that is finishing: only DELETE; the finalizers stay until
        the pods are counted (as failed)."""

        async def delete_one(pod: dict) -> None:
            try:
                await self._delete_pod_api(job, pod)
            except NotFound:
                pass

        results = await asyncio.gather(*(delete_one(p) for p in ctx.active_pods), return_exceptions=True)
        deleted = [p for p, r in zip(ctx.active_pods, results, strict=True) if not isinstance(r, Exception)]
        ctx.terminating += len(deleted)
        ctx.ready -= sum(1 for p in deleted if is_pod_ready(p))
        errors = [r for r in results if isinstance(r, Exception)]
        return len(deleted), errors[0] if errors else None

    async def _delete_pod_api(self, job: dict, pod: dict) -> None:
        """RealPodControl.DeletePod: DELETE, with SuccessfulDelete / FailedDelete events."""
        try:
            await self.client.delete(PODS, name_of(pod), namespace=meta(pod)["namespace"])
        except Exception as err:
            if not isinstance(err, NotFound):
                self.recorder.event(job, "Warning", "FailedDelete", f"Error deleting: {err}")
            raise
        self.recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")
        log.info("job.pod_deleted", pod=name_of(pod))

    # --- status: count finished pods through their finalizers ---

    async def _track_status_and_remove_finalizers(self, ctx: SyncContext, key: str, needs_flush: bool) -> None:
        """trackJobStatusAndRemoveFinalizers: (1) put finished pods' uids in uncountedTerminatedPods
        and write that, (2) remove their finalizers, (3) count the uids whose finalizer is gone,
        (4) add Complete/Failed once nothing is uncounted or terminating, and write."""
        job, indexed = ctx.job, ju.is_indexed(ctx.job)
        pods = sorted(ctx.pods, key=ju.completion_index) if indexed else ctx.pods
        uids_with_finalizer = {uid_of(p) for p in pods
                               if ju.has_tracking_finalizer(p) and uid_of(p) not in ctx.expected_rm_finalizers}
        needs_flush = clean_uncounted(ctx.status, uids_with_finalizer) or needs_flush
        to_remove, new_indexes, reached_max = [], [], False
        for pod in pods:
            if not ju.has_tracking_finalizer(pod) or uid_of(pod) in ctx.expected_rm_finalizers:
                continue  # counted in an earlier sync
            failed = ju.is_pod_failed(pod, job)
            if not (is_being_deleted(job) or ctx.finished_condition or failed
                    or (pod.get("status") or {}).get("phase") == "Succeeded"):
                continue  # still running: its finalizer stays
            to_remove.append(pod)
            needs_flush = self._record_uncounted(ctx, pod, failed, new_indexes) or needs_flush
            uncounted = _uncounted(ctx.status)
            if len(new_indexes) + len(uncounted.get("succeeded") or []) + len(uncounted.get("failed") or []) \
                    >= MAX_UNCOUNTED_PODS:
                reached_max = True  # keep status small and leave time to other Jobs: the rest next sync
                break
        if indexed:
            ctx.succeeded_indexes = ju.with_indexes(ctx.succeeded_indexes, new_indexes)
            completed = ju.format_intervals(ctx.succeeded_indexes)
            needs_flush = needs_flush or completed != ctx.status.get("completedIndexes", "")
            _set_count(ctx.status, "succeeded", ju.intervals_total(ctx.succeeded_indexes))
            if completed:
                ctx.status["completedIndexes"] = completed
            else:
                ctx.status.pop("completedIndexes", None)
        needs_flush = self._add_interim_condition(ctx) or needs_flush
        needs_flush = await self._flush_and_remove_finalizers(ctx, key, to_remove, uids_with_finalizer, needs_flush)
        finished = not reached_max and self._enact_finished(ctx)
        if needs_flush or finished:
            await self._write_status(ctx)
            if finished:
                self._record_finished(ctx)

    def _record_uncounted(self, ctx: SyncContext, pod: dict, failed: bool, new_indexes: list[int]) -> bool:
        """Put a finished pod's uid (an Indexed Job: its index) where it will be counted; True if
        the status changed."""
        uid, uncounted = uid_of(pod), ctx.status["uncountedTerminatedPods"]
        total = ju.completions(ctx.job) or 0
        index = ju.completion_index(pod)
        if (pod.get("status") or {}).get("phase") == "Succeeded" and uid not in ctx.uncounted_failed:
            if ju.is_indexed(ctx.job):
                if ju.has_valid_index(pod, total) and not ju.intervals_has(ctx.prev_succeeded_indexes, index):
                    new_indexes.append(index)
                    return True
                return False
            if uid not in ctx.uncounted_succeeded:
                uncounted.setdefault("succeeded", []).append(uid)
                return True
            return False
        # once the Job is failing, every pod not yet finished counts as failed
        failing = ctx.finished_condition is not None and ctx.finished_condition["type"] != ju.SUCCESS_CRITERIA_MET
        if (failed or failing) and uid not in ctx.uncounted_failed \
                and (not ju.is_indexed(ctx.job) or ju.has_valid_index(pod, total)):
            uncounted.setdefault("failed", []).append(uid)
            return True
        return False

    def _add_interim_condition(self, ctx: SyncContext) -> bool:
        """FailureTarget or SuccessCriteriaMet is written before any finalizer is removed, and the
        terminal condition (Failed, Complete) prepared for when the pods are all accounted for."""
        cond, status = ctx.finished_condition, ctx.status
        if cond is None:
            return False
        changed = False
        if cond["type"] == ju.FAILURE_TARGET:
            status["conditions"] = [*(status.get("conditions") or []), cond]
            ctx.finished_condition = ju.new_condition(ju.FAILED, "True", cond.get("reason", ""),
                                                      cond.get("message", ""), self.now())
            changed = True
        elif cond["type"] == ju.SUCCESS_CRITERIA_MET:
            if ju.true_condition(ctx.job, ju.SUCCESS_CRITERIA_MET) is None:
                status["conditions"] = [*(status.get("conditions") or []), cond]
                changed = True
            ctx.finished_condition = ju.new_condition(ju.COMPLETE, "True", cond.get("reason", ""),
                                                      cond.get("message", ""), self.now())
        return changed

    async def _flush_and_remove_finalizers(self, ctx: SyncContext, key: str, pods: list[dict],
                                           uids_with_finalizer: set[str], needs_flush: bool) -> bool:
        """flushUncountedAndRemoveFinalizers; returns whether status changes remain unwritten."""
        if needs_flush:
            await self._write_status(ctx)
            self.backoff[key] = ctx.new_backoff  # the failures it counts are now in the status
            needs_flush = False
        error: Exception | None = None
        if pods:
            removed, error = await self._remove_tracking_finalizers(key, pods)
            uids_with_finalizer -= {uid_of(p) for p, ok in zip(pods, removed, strict=True) if ok}
            log.info("job.finalizers_removed", pods=sum(removed), failed=len(pods) - sum(removed))
        needs_flush = clean_uncounted(ctx.status, uids_with_finalizer) or needs_flush
        if error is not None:
            if needs_flush:
                await self._write_status(ctx)  # keep what did work
            raise error
        return needs_flush

    async def _remove_tracking_finalizers(self, key: str, pods: list[dict]) -> tuple[list[bool], Exception | None]:
        self.finalizer_expectations.setdefault(key, set()).update(uid_of(p) for p in pods)

        async def remove(pod: dict) -> bool:
            try:
                await self.client.patch(PODS, name_of(pod), REMOVE_FINALIZER_PATCH,
                                        namespace=meta(pod)["namespace"], patch_type="strategic")
            except NotFound:
                self._finalizer_removal_observed(key, uid_of(pod))
                return True  # gone: its finalizer with it
            except Exception:
                self._finalizer_removal_observed(key, uid_of(pod))  # no update will come
                raise
            return True

        results = await asyncio.gather(*(remove(p) for p in pods), return_exceptions=True)
        errors = [r for r in results if isinstance(r, Exception)]
        return [r is True for r in results], errors[0] if errors else None

    def _enact_finished(self, ctx: SyncContext) -> bool:
        """Add the terminal condition, unless pods are still uncounted or terminating."""
        cond, status = ctx.finished_condition, ctx.status
        if cond is None:
            return False
        uncounted = _uncounted(status)
        if uncounted.get("succeeded") or uncounted.get("failed") or ctx.terminating > 0:
            return False
        status["conditions"], _ = ju.ensure_condition(status.get("conditions") or [], cond["type"], cond["status"],
                                                      cond.get("reason", ""), cond.get("message", ""), self.now())
        if cond["type"] == ju.COMPLETE:
            status["completionTime"] = ju.get_condition(status["conditions"], ju.COMPLETE)["lastTransitionTime"]
        return True

    def _record_finished(self, ctx: SyncContext) -> None:
        job, cond = ctx.job, ctx.finished_condition
        log.info("job.finished", condition=cond["type"], reason=cond.get("reason"),
                 succeeded=ctx.status.get("succeeded", 0), failed=ctx.status.get("failed", 0))
        if cond["type"] == ju.COMPLETE:
            wanted = ju.completions(job)
            if wanted is not None and ctx.status.get("succeeded", 0) > wanted:
                self.recorder.event(job, "Warning", "TooManySucceededPods",
                                    "Too many succeeded pods running after completion count reached")
            self.recorder.event(job, "Normal", "Completed", "Job completed")
        else:
            self.recorder.event(job, "Warning", cond.get("reason", ""), cond.get("message", ""))

    async def _write_status(self, ctx: SyncContext) -> None:
        """PUT the status subresource; the answer (with its new resourceVersion) is the Job from
        now on, so a second write in the same sync does not conflict with the first."""
        body = dict(ctx.job, status=ctx.status)
        ctx.job = await self.client.update(JOBS, body, namespace=meta(ctx.job)["namespace"], subresource="status")
        ctx.job["status"] = dict(ctx.job.get("status") or {})
        ctx.job["status"]["uncountedTerminatedPods"] = dict(_uncounted(ctx.job["status"]))

