"""CronJob controller (k8s pkg/controller/cronjob, the v2 controller kube-controller-manager 1.32 runs).

Guarantees, for each CronJob key (`sync`, level-based; the CronJob's Jobs are those whose controller
ownerReference names it):
- status.active lists the unfinished Jobs it started: a Job that finished (a Complete or Failed
  condition True) leaves it (SawCompletedJob), so does one the API server no longer has
  (MissingJob); lastSuccessfulTime follows the latest completionTime of a Job that completed. An
  unfinished Job of the CronJob that it does not list is reported (UnexpectedJob), not adopted.
- finished Jobs beyond spec.successfulJobsHistoryLimit / failedJobsHistoryLimit are deleted, oldest
  status.startTime first, with propagationPolicy Background (SuccessfulDelete).
- one Job per schedule time: the latest time of spec.schedule (in spec.timeZone, else the
  controller's zone, UTC as in kube-controller-manager's image) after status.lastScheduleTime (else
  the creation time) that is not in the future, nor older than now - startingDeadlineSeconds.
  The Job is named `<cronjob>-<that time in Unix minutes>`, so a second attempt only meets
  AlreadyExists; it carries the template's labels, annotations and spec, the
  `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation, and a controller ownerReference
  (SuccessfulCreate). After more than 100 missed times, TooManyMissedTimes, and the latest runs.
- nothing starts while the CronJob is suspended or being deleted, or while a Job is active under
  concurrencyPolicy Forbid (JobAlreadyActive); Replace deletes the active Jobs first.
- status goes through the /status subresource, only when it changed; the key is then requeued
  for the next schedule time (+100 ms), as the real controller's requeueAfter.
Kubernetes 1.32 looks for unmet times only inside the starting deadline, so a time that fell out
of it is skipped without a word: its MissSchedule event can no longer fire and is not emitted.
Not implemented: `TZ=`/`CRON_TZ=` inside spec.schedule (the API server rejects it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import ClassVar

from prometheus_client import Histogram

from shared.client import AlreadyExists, NotFound
from shared.logging import get_logger
from shared.resources import CRONJOBS, JOBS

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.controllers import cronjob_util as cu
from services.controller_manager.objects import (
    controller_ref,
    format_time,
    is_being_deleted,
    key_of,
    meta,
    name_of,
    namespace_of,
    parse_time,
    resolve_controller_ref,
    split_key,
    status_cause,
    uid_of,
    unwrap_tombstone,
)

log = get_logger()

NORMAL, WARNING = "Normal", "Warning"
JOB_CREATION_SKEW = Histogram(
    "cronjob_controller_job_creation_skew_duration_seconds",
    "Time between when a cronjob is scheduled to be run, and when the corresponding job is created",
    buckets=tuple(2.0 ** i for i in range(10)),
)


@dataclass
class Working:
    """The CronJob one sync works on (a copy) and whether its status needs writing."""

    cronjob: dict
    changed: bool = False

    @property
    def status(self) -> dict:
        return self.cronjob.setdefault("status", {})


class CronJobController(Controller):
    name = "cronjob-controller"
    queue_name = "cronjob"
    default_workers = 5
    local_zone: ClassVar[tzinfo] = UTC  # time.Local of kube-controller-manager in its image

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self.recorder = ctx.recorder_factory(self.name)
        self.cronjob_informer = ctx.informers.informer(CRONJOBS)
        self.job_informer = ctx.informers.informer(JOBS)
        self.job_informer.add_event_handler(on_add=self._add_job, on_update=self._update_job,
                                            on_delete=self._delete_job)
        self.cronjob_informer.add_event_handler(on_add=self.enqueue, on_update=self._update_cronjob,
                                                on_delete=self.enqueue_deleted)

    # --- event handlers: only enqueue ---

    def _resolve(self, namespace: str, ref: dict | None) -> dict | None:
        return resolve_controller_ref(self.cronjob_informer.lister, namespace, ref, kind=cu.KIND)

    def _add_job(self, job: dict) -> None:
        if is_being_deleted(job):
            self._delete_job(job)  # a restarted controller sees a pending deletion as an add
            return
        cronjob = self._resolve(namespace_of(job), controller_ref(job))
        if cronjob is not None:
            self.enqueue(cronjob)

    def _update_job(self, old: dict, new: dict) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return  # periodic resync: nothing changed
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref is not None and old_ref != new_ref:
            previous = self._resolve(namespace_of(old), old_ref)
            if previous is not None:
                self.enqueue(previous)
        cronjob = self._resolve(namespace_of(new), new_ref)
        if cronjob is not None:
            self.enqueue(cronjob)

    def _delete_job(self, obj: object) -> None:
        job = unwrap_tombstone(obj)
        cronjob = self._resolve(namespace_of(job), controller_ref(job)) if job is not None else None
        if cronjob is not None:
            self.enqueue(cronjob)

    def _update_cronjob(self, old: dict, new: dict) -> None:
        """A new schedule or time zone: requeue for its next time (sooner wins in the queue)."""
        old_spec, new_spec = cu.spec_of(old), cu.spec_of(new)
        if (old_spec.get("schedule"), old_spec.get("timeZone")) == (new_spec.get("schedule"), new_spec.get("timeZone")):
            self.enqueue(new)
            return
        try:
            schedule = self._schedule(new)
        except cu.ScheduleError:
            self.recorder.event(new, WARNING, "UnParseableCronJobSchedule",
                                f"unparseable schedule for cronjob: {new_spec.get('schedule')}")
            return
        delay = cu.next_schedule_delay(new, self.now(), schedule)
        self.queue.add_after(key_of(new), 0 if delay is None else delay)

    def _schedule(self, cronjob: dict) -> cu.Schedule:
        """formatSchedule + cron.ParseStandard: spec.timeZone if it loads, else the local zone."""
        spec = cu.spec_of(cronjob)
        try:
            zone = self.local_zone if spec.get("timeZone") is None else cu.load_zone(spec["timeZone"])
        except cu.ScheduleError:
            zone = self.local_zone
        return cu.Schedule(spec.get("schedule") or "", zone)

    # --- sync ---

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.cronjob_informer.lister.get(name, namespace)
        if cached is None:
            return
        jobs = self._jobs_of(cached)
        work = Working(copy.deepcopy(cached))
        await self._cleanup_finished_jobs(work, jobs)
        requeue_after, error = None, None
        try:
            requeue_after = await self._sync_cronjob(work, jobs)
        except Exception as err:  # noqa: BLE001 - the status is written first, then it is raised
            error = err
        if work.changed:
            await self._update_status(work.cronjob)
        if requeue_after is not None:
            self.queue.add_after(key, requeue_after)
        elif error is not None:
            raise error

    def _jobs_of(self, cronjob: dict) -> list[dict]:
        """getJobsToBeReconciled: every Job in the namespace whose controller reference names it."""
        return [job for job in self.job_informer.lister.list(namespace=namespace_of(cronjob))
                if (controller_ref(job) or {}).get("name") == name_of(cronjob)]

    async def _sync_cronjob(self, work: Working, jobs: list[dict]) -> float | None:
        """Reconcile the active list, then start this schedule time's Job if it is due; the seconds
        until the key should be synced again (None: only an event will bring it back)."""
        now = self.now()
        await self._reconcile_active(work, jobs)
        cronjob = work.cronjob
        if is_being_deleted(cronjob):
            return None
        schedule = self._usable_schedule(cronjob)
        if schedule is None:
            return None
        try:
            scheduled, missed = cu.next_schedule_time(cronjob, now, schedule)
        except cu.ScheduleError as err:
            self.recorder.event(cronjob, WARNING, "InvalidSchedule",
                                f"invalid schedule: {cu.spec_of(cronjob).get('schedule')} : {err}")
            return None
        if scheduled is not None and missed is cu.Missed.MANY:
            self.recorder.event(cronjob, WARNING, "TooManyMissedTimes", "too many missed start times. Set or "
                                "decrease .spec.startingDeadlineSeconds or check clock skew")
            log.info("cronjob.too_many_missed_times")
        requeue_after = cu.next_schedule_delay(cronjob, now, schedule)
        if scheduled is None or self._already_started(cronjob, scheduled):
            return requeue_after
        if not await self._make_room(work):
            return requeue_after
        if await self._start_job(work, scheduled, now):
            return cu.next_schedule_delay(work.cronjob, now, schedule)
        return None

    async def _reconcile_active(self, work: Working, jobs: list[dict]) -> None:
        """The first half of syncCronJob: finished Jobs leave status.active, lastSuccessfulTime
        follows completions, a listed Job the API server no longer has is dropped."""
        for job in jobs:
            finished = cu.finished_condition(job)
            listed = cu.in_active_list(work.cronjob, uid_of(job))
            if not listed and finished is None:
                await self._unexpected_job(work, job)
            elif finished is not None:
                if listed:
                    cu.remove_from_active(work.cronjob, uid_of(job))
                    work.changed = True
                    self.recorder.event(work.cronjob, NORMAL, "SawCompletedJob",
                                        f"Saw completed job: {name_of(job)}, condition: {finished}")
                    log.info("cronjob.job_finished", job=name_of(job), condition=finished)
                if finished == "Complete":
                    self._note_success(work, job)
        children = {uid_of(job) for job in jobs}
        for ref in cu.active_of(work.cronjob):
            if ref.get("uid") in children:
                continue
            try:  # the Job informer may just be slow: ask the API server before dropping it
                await self.client.get(JOBS, ref.get("name", ""), namespace=ref.get("namespace"))
            except NotFound:
                cu.remove_from_active(work.cronjob, ref.get("uid", ""))
                work.changed = True
                self.recorder.event(work.cronjob, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}")
                log.info("cronjob.job_missing", job=ref.get("name"))

    async def _unexpected_job(self, work: Working, job: dict) -> None:
        """An unfinished Job not in status.active: usually our cache is older than the status write
        that listed it, so the CronJob is read again; if it does list the Job, that copy is used."""
        fresh = await self.client.get(CRONJOBS, name_of(work.cronjob), namespace=namespace_of(work.cronjob))
        if cu.in_active_list(fresh, uid_of(job)):
            work.cronjob = fresh
            return
        self.recorder.event(work.cronjob, WARNING, "UnexpectedJob",
                            f"Saw a job that the controller did not create or forgot: {name_of(job)}")
        log.info("cronjob.unexpected_job", job=name_of(job))

    @staticmethod
    def _note_success(work: Working, job: dict) -> None:
        completed = parse_time((job.get("status") or {}).get("completionTime"))
        last = parse_time(work.status.get("lastSuccessfulTime"))
        if completed is not None and (last is None or completed > last):
            work.status["lastSuccessfulTime"] = format_time(completed)
            work.changed = True

    def _usable_schedule(self, cronjob: dict) -> cu.Schedule | None:
        """The schedule to start Jobs on; None (with a warning event) when the time zone is unknown
        or the schedule does not parse, and None while suspended."""
        spec = cu.spec_of(cronjob)
        if spec.get("timeZone") is not None:
            try:
                cu.load_zone(spec["timeZone"])
            except cu.ScheduleError as err:
                self.recorder.event(cronjob, WARNING, "UnknownTimeZone",
                                    f'invalid timeZone: "{spec["timeZone"]}": {err}')
                return None
        if spec.get("suspend"):
            log.debug("cronjob.suspended")
            return None
        try:
            return self._schedule(cronjob)
        except cu.ScheduleError as err:
            self.recorder.event(cronjob, WARNING, "UnparseableSchedule",
                                f'unparseable schedule: "{spec.get("schedule")}" : {err}')
            return None

    @staticmethod
    def _already_started(cronjob: dict, scheduled: datetime) -> bool:
        name = cu.job_name(cronjob, scheduled)
        return cu.in_active_list_by_name(cronjob, namespace_of(cronjob), name) or \
            cu.last_schedule_time(cronjob) == scheduled

    async def _make_room(self, work: Working) -> bool:
        """The concurrency policy: False if Forbid must wait; Replace deletes the active Jobs."""
        policy = cu.spec_of(work.cronjob).get("concurrencyPolicy")
        active = cu.active_of(work.cronjob)
        if policy == "Forbid" and active:
            self.recorder.event(work.cronjob, NORMAL, "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is Forbid")
            log.info("cronjob.not_started", reason="JobAlreadyActive", active=[r.get("name") for r in active])
            return False
        if policy == "Replace":
            for ref in active:
                await self._replace(work, ref)
        return True

    async def _replace(self, work: Working, ref: dict) -> None:
        try:
            job = await self.client.get(JOBS, ref.get("name", ""), namespace=ref.get("namespace"))
        except Exception as err:
            self.recorder.event(work.cronjob, WARNING, "FailedGet", f"Get job: {err}")
            raise
        if not await self._delete_job_of(work, job, why="replaced"):
            raise RuntimeError(f"could not replace job {namespace_of(job)}/{name_of(job)}")
        work.changed = True

    async def _start_job(self, work: Working, scheduled: datetime, now: datetime) -> bool:
        """Create the Job of `scheduled` and list it; False when it already exists but is not ours
        or already listed (then the key waits for an event, as in Kubernetes)."""
        cronjob, namespace = work.cronjob, namespace_of(work.cronjob)
        request = cu.job_from_template(cronjob, scheduled)
        try:
            job = await self.client.create(JOBS, request, namespace=namespace)
        except AlreadyExists:
            job = await self.client.get(JOBS, name_of(request), namespace=namespace)
            if (controller_ref(job) or {}).get("uid") != uid_of(cronjob) or cu.in_active_list(cronjob, uid_of(job)):
                return False
            log.info("cronjob.job_exists", job=name_of(job))
        except Exception as err:
            if not status_cause(err, "NamespaceTerminating"):  # every create fails then; no event
                self.recorder.event(cronjob, WARNING, "FailedCreate", f"Error creating job: {err}")
            raise
        else:
            created = parse_time(meta(job).get("creationTimestamp")) or now
            JOB_CREATION_SKEW.observe((created - scheduled).total_seconds())
            self.recorder.event(cronjob, NORMAL, "SuccessfulCreate", f"Created job {name_of(job)}")
            log.info("cronjob.job_created", job=name_of(job), scheduled=format_time(scheduled))
        work.status["active"] = [*cu.active_of(cronjob), cu.job_reference(job)]
        work.status["lastScheduleTime"] = format_time(scheduled)
        work.changed = True
        return True

    async def _cleanup_finished_jobs(self, work: Working, jobs: list[dict]) -> None:
        """cleanupFinishedJobs: keep the newest finished Jobs up to each history limit."""
        spec = cu.spec_of(work.cronjob)
        for condition, limit_field in (("Complete", "successfulJobsHistoryLimit"),
                                       ("Failed", "failedJobsHistoryLimit")):
            limit = spec.get(limit_field)
            finished = sorted((j for j in jobs if cu.finished_condition(j) == condition), key=cu.by_start_time)
            if limit is None or len(finished) <= limit:
                continue
            for job in finished[:len(finished) - limit]:
                await self._delete_job_of(work, job, why="history")

    async def _delete_job_of(self, work: Working, job: dict, *, why: str) -> bool:
        """deleteJob: delete the Job (its pods follow in the background) and unlist it."""
        try:
            await self.client.delete(JOBS, name_of(job), namespace=namespace_of(job), propagation_policy="Background")
        except Exception as err:  # noqa: BLE001 - reported; the caller decides whether it is fatal
            self.recorder.event(work.cronjob, WARNING, "FailedDelete", f"Deleted job: {err}")
            log.warning("cronjob.job_delete_failed", job=name_of(job), error=str(err))
            return False
        if cu.in_active_list(work.cronjob, uid_of(job)):
            cu.remove_from_active(work.cronjob, uid_of(job))
        work.changed = True
        self.recorder.event(work.cronjob, NORMAL, "SuccessfulDelete", f"Deleted job {name_of(job)}")
        log.info("cronjob.job_deleted", job=name_of(job), why=why)
        return True

    async def _update_status(self, cronjob: dict) -> None:
        try:
            await self.client.update(CRONJOBS, cronjob, namespace=namespace_of(cronjob), subresource="status")
        except NotFound:
            pass  # deleted meanwhile: nothing left to report on
