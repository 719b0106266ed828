"""CronJob controller: one sync against a preloaded cache and a fixed clock, asserting the API calls,
events and requeue delay it makes; the schedule arithmetic as tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.client import Forbidden
from shared.resources import CRONJOBS, JOBS

from services.controller_manager.controllers import cronjob_util as cu
from services.controller_manager.controllers.cronjob import CronJobController
from services.controller_manager.objects import new_controller_ref
from tests.unit.controller_manager.fakes import api_error

NS = "default"
T = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)  # half a minute after 12:00
MINUTES_1200 = 29454480  # 2026-01-01T12:00:00Z in Unix minutes


def cronjob(name: str = "tick", schedule: str = "* * * * *", *, created: str = "2026-01-01T11:00:00Z",
            last: str | None = "2026-01-01T11:59:00Z", active: list[dict] | None = None, policy: str = "Allow",
            suspend: bool = False, deadline: int | None = None, zone: str | None = None, successful: int = 3,
            failed: int = 1) -> dict:
    spec = {"schedule": schedule, "concurrencyPolicy": policy, "suspend": suspend,
            "successfulJobsHistoryLimit": successful, "failedJobsHistoryLimit": failed,
            "jobTemplate": {"metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
                            "spec": {"backoffLimit": 2, "template": {"spec": {
                                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}
    if deadline is not None:
        spec["startingDeadlineSeconds"] = deadline
    if zone is not None:
        spec["timeZone"] = zone
    status: dict = {}
    if last:
        status["lastScheduleTime"] = last
    if active:
        status["active"] = active
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "resourceVersion": "7",
                         "creationTimestamp": created},
            "spec": spec, "status": status}


def job(name: str, owner: dict | None, *, condition: str | None = None, started: str = "2026-01-01T11:00:00Z",
        completed: str | None = None) -> dict:
    j = {"apiVersion": "batch/v1", "kind": "Job",
         "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "resourceVersion": "20"},
         "spec": {}, "status": {"startTime": started}}
    if owner is not None:
        j["metadata"]["ownerReferences"] = [new_controller_ref(owner, api_version="batch/v1", kind="CronJob")]
    if condition:
        j["status"]["conditions"] = [{"type": condition, "status": "True"}]
    if completed:
        j["status"]["completionTime"] = completed
    return j


def ref(j: dict) -> dict:
    return cu.job_reference(j)


def make(cluster, cj: dict, jobs=(), *, now: datetime = T) -> CronJobController:
    cluster.now = now
    cluster.add(CRONJOBS, cj)
    for j in jobs:
        cluster.add(JOBS, j)
    controller = CronJobController(cluster.ctx())
    controller.requeues = []
    controller.queue.add_after = lambda key, seconds: controller.requeues.append((key, round(seconds, 3)))
    return controller


def status_written(cluster) -> dict | None:
    updates = [c for c in cluster.client.calls_of("update", "cronjobs") if c.kwargs["subresource"] == "status"]
    assert len(updates) <= 1
    return updates[0].body["status"] if updates else None


# --- starting Jobs ---

async def test_creates_the_job_of_the_latest_schedule_time(cluster):
    cj = cronjob()
    controller = make(cluster, cj)
    await controller.sync("default/tick")

    [create] = cluster.client.calls_of("create", "jobs")
    body = create.body
    assert body["metadata"]["name"] == f"tick-{MINUTES_1200}"
    assert body["metadata"]["labels"] == {"team": "a"}
    assert body["metadata"]["annotations"] == {"note": "x", cu.SCHEDULED_TIMESTAMP_ANNOTATION: "2026-01-01T12:00:00Z"}
    assert body["metadata"]["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "tick",
                                                    "uid": "uid-tick", "controller": True, "blockOwnerDeletion": True}]
    assert body["spec"] == cj["spec"]["jobTemplate"]["spec"]
    assert create.namespace == NS
    status = status_written(cluster)
    created = cluster.client.store[("jobs", NS, f"tick-{MINUTES_1200}")]
    assert status["active"] == [{"kind": "Job", "namespace": NS, "name": f"tick-{MINUTES_1200}",
                                 "uid": created["metadata"]["uid"], "apiVersion": "batch/v1",
                                 "resourceVersion": created["metadata"]["resourceVersion"]}]
    assert status["lastScheduleTime"] == "2026-01-01T12:00:00Z"
    assert cluster.events == [("default/tick", "Normal", "SuccessfulCreate", f"Created job tick-{MINUTES_1200}")]
    assert controller.requeues == [("default/tick", 30.1)]  # 12:01:00 + 100 ms


async def test_not_yet_time_only_requeues(cluster):
    controller = make(cluster, cronjob(created="2026-01-01T11:59:50Z", last=None),
                      now=datetime(2026, 1, 1, 11, 59, 55, tzinfo=UTC))
    await controller.sync("default/tick")
    assert cluster.client.writes() == [] and cluster.events == []
    assert controller.requeues == [("default/tick", 5.1)]


async def test_first_run_counts_from_the_creation_time(cluster):
    controller = make(cluster, cronjob(created="2026-01-01T11:59:50Z", last=None))
    await controller.sync("default/tick")
    assert [c.name for c in cluster.client.calls_of("create", "jobs")] == [f"tick-{MINUTES_1200}"]


async def test_a_time_already_started_is_not_started_again(cluster):
    controller = make(cluster, cronjob(last="2026-01-01T12:00:00Z"))
    await controller.sync("default/tick")
    assert cluster.client.writes() == []
    assert controller.requeues == [("default/tick", 30.1)]


async def test_job_already_existing_is_listed_without_an_event(cluster):
    cj = cronjob()
    existing = job(f"tick-{MINUTES_1200}", cj)
    controller = make(cluster, cj)
    cluster.add(JOBS, existing, cache=False)  # made by an earlier sync whose status write was lost
    await controller.sync("default/tick")
    assert status_written(cluster)["active"] == [ref(existing)]
    assert cluster.events == []


async def test_job_of_the_same_name_owned_by_someone_else_is_left_alone(cluster):
    controller = make(cluster, cronjob())
    cluster.add(JOBS, job(f"tick-{MINUTES_1200}", None), cache=False)
    await controller.sync("default/tick")
    assert status_written(cluster) is None and controller.requeues == []


async def test_time_zone_names_the_job_in_utc_minutes_and_annotates_local_time(cluster):
    cj = cronjob(schedule="0 9 * * *", zone="America/New_York", last="2025-12-31T14:00:00Z")
    controller = make(cluster, cj, now=datetime(2026, 1, 1, 14, 0, 30, tzinfo=UTC))  # 09:00:30 in New York
    await controller.sync("default/tick")
    [create] = cluster.client.calls_of("create", "jobs")
    assert create.name == f"tick-{MINUTES_1200 + 120}"
    assert create.body["metadata"]["annotations"][cu.SCHEDULED_TIMESTAMP_ANNOTATION] == "2026-01-01T09:00:00-05:00"
    assert status_written(cluster)["lastScheduleTime"] == "2026-01-01T14:00:00Z"
    assert controller.requeues == [("default/tick", 24 * 3600 - 30 + 0.1)]


async def test_suspended_starts_nothing_and_is_not_requeued(cluster):
    controller = make(cluster, cronjob(suspend=True))
    await controller.sync("default/tick")
    assert cluster.client.writes() == [] and controller.requeues == []


async def test_being_deleted_starts_nothing(cluster):
    cj = cronjob()
    cj["metadata"]["deletionTimestamp"] = "2026-01-01T12:00:10Z"
    controller = make(cluster, cj)
    await controller.sync("default/tick")
    assert cluster.client.writes() == [] and controller.requeues == []


async def test_deleted_cronjob_is_quiet(cluster):
    controller = CronJobController(cluster.ctx())
    await controller.sync("default/gone")
    assert cluster.client.calls == []


async def test_more_than_100_missed_times_warns_and_runs_the_latest(cluster):
    controller = make(cluster, cronjob(created="2026-01-01T09:00:00Z", last=None))
    await controller.sync("default/tick")
    assert [c.name for c in cluster.client.calls_of("create", "jobs")] == [f"tick-{MINUTES_1200}"]
    assert cluster.events[0] == ("default/tick", "Warning", "TooManyMissedTimes", "too many missed start times. "
                                 "Set or decrease .spec.startingDeadlineSeconds or check clock skew")


@pytest.mark.parametrize(("deadline", "started"), [(10, False), (60, True), (None, True)])
async def test_starting_deadline_skips_times_older_than_it(cluster, deadline, started):
    """12:00:00 is 30 s old at 12:00:30: too late for a 10 s deadline, in time for 60 s or none.
    A time missed this way is not reported: 1.32 never looks before now - deadline."""
    controller = make(cluster, cronjob(deadline=deadline))
    await controller.sync("default/tick")
    assert bool(cluster.client.calls_of("create", "jobs")) is started
    assert [e for e in cluster.events if e[1] == "Warning"] == []
    assert controller.requeues == [("default/tick", 30.1)]


async def test_create_failure_is_reported_and_retried(cluster):
    controller = make(cluster, cronjob())
    cluster.client.fail_next("create", "jobs", api_error(Forbidden, "jobs is forbidden", 403))
    with pytest.raises(Forbidden):
        await controller.sync("default/tick")
    assert cluster.events == [("default/tick", "Warning", "FailedCreate", "Error creating job: jobs is forbidden")]
    assert status_written(cluster) is None


async def test_create_in_a_terminating_namespace_is_not_reported(cluster):
    controller = make(cluster, cronjob())
    causes = [{"type": "NamespaceTerminating", "message": "namespace default is being terminated"}]
    cluster.client.fail_next("create", "jobs", api_error(Forbidden, "forbidden", 403, causes=causes))
    with pytest.raises(Forbidden):
        await controller.sync("default/tick")
    assert cluster.events == []


@pytest.mark.parametrize(("schedule", "zone", "reason"), [
    ("* * * *", None, "UnparseableSchedule"),
    ("0 0 31 2 *", None, "InvalidSchedule"),
    ("* * * * *", "Mars/Olympus_Mons", "UnknownTimeZone"),
])
async def test_bad_schedule_or_zone_warns_and_waits_for_an_update(cluster, schedule, zone, reason):
    controller = make(cluster, cronjob(schedule=schedule, zone=zone))
    await controller.sync("default/tick")
    assert [e[2] for e in cluster.events] == [reason]
    assert cluster.client.writes() == [] and controller.requeues == []


# --- concurrency policy ---

async def test_forbid_waits_while_a_job_is_active(cluster):
    cj = cronjob(policy="Forbid")
    running = job("tick-1", cj)
    cj["status"]["active"] = [ref(running)]
    controller = make(cluster, cj, [running])
    await controller.sync("default/tick")
    assert cluster.client.writes() == []
    assert cluster.events == [("default/tick", "Normal", "JobAlreadyActive", "Not starting job because prior "
                               "execution is running and concurrency policy is Forbid")]
    assert controller.requeues == [("default/tick", 30.1)]


async def test_replace_deletes_the_active_job_then_creates(cluster):
    cj = cronjob(policy="Replace")
    running = job("tick-1", cj)
    cj["status"]["active"] = [ref(running)]
    controller = make(cluster, cj, [running])
    await controller.sync("default/tick")
    [delete] = cluster.client.calls_of("delete", "jobs")
    assert (delete.name, delete.kwargs["propagation_policy"]) == ("tick-1", "Background")
    assert [c.name for c in cluster.client.calls_of("create", "jobs")] == [f"tick-{MINUTES_1200}"]
    assert [r["name"] for r in status_written(cluster)["active"]] == [f"tick-{MINUTES_1200}"]
    assert [e[2:] for e in cluster.events] == [("SuccessfulDelete", "Deleted job tick-1"),
                                              ("SuccessfulCreate", f"Created job tick-{MINUTES_1200}")]


async def test_allow_runs_alongside_the_active_job(cluster):
    cj = cronjob()
    running = job("tick-1", cj)
    cj["status"]["active"] = [ref(running)]
    controller = make(cluster, cj, [running])
    await controller.sync("default/tick")
    assert [r["name"] for r in status_written(cluster)["active"]] == ["tick-1", f"tick-{MINUTES_1200}"]


# --- status of the Jobs it started ---

async def test_completed_job_leaves_active_and_sets_last_successful_time(cluster):
    cj = cronjob(last="2026-01-01T12:00:00Z")
    done = job("tick-1", cj, condition="Complete", completed="2026-01-01T12:00:20Z")
    cj["status"]["active"] = [ref(done)]
    controller = make(cluster, cj, [done])
    await controller.sync("default/tick")
    status = status_written(cluster)
    assert "active" not in status
    assert status["lastSuccessfulTime"] == "2026-01-01T12:00:20Z"
    assert cluster.events == [("default/tick", "Normal", "SawCompletedJob",
                               "Saw completed job: tick-1, condition: Complete")]


async def test_failed_job_leaves_active_without_success(cluster):
    cj = cronjob(last="2026-01-01T12:00:00Z")
    failed = job("tick-1", cj, condition="Failed")
    cj["status"]["active"] = [ref(failed)]
    controller = make(cluster, cj, [failed])
    await controller.sync("default/tick")
    status = status_written(cluster)
    assert "active" not in status and "lastSuccessfulTime" not in status
    assert cluster.events[0][2:] == ("SawCompletedJob", "Saw completed job: tick-1, condition: Failed")


async def test_last_successful_time_only_moves_forward(cluster):
    cj = cronjob(last="2026-01-01T12:00:00Z")
    cj["status"]["lastSuccessfulTime"] = "2026-01-01T11:59:30Z"
    old = job("tick-0", cj, condition="Complete", completed="2026-01-01T11:58:10Z")
    controller = make(cluster, cj, [old])
    await controller.sync("default/tick")
    assert status_written(cluster) is None


async def test_active_job_gone_from_the_api_server_is_dropped(cluster):
    cj = cronjob(last="2026-01-01T12:00:00Z")
    cj["status"]["active"] = [ref(job("tick-1", cj))]
    controller = make(cluster, cj)
    await controller.sync("default/tick")
    assert "active" not in status_written(cluster)
    assert cluster.events == [("default/tick", "Normal", "MissingJob", "Active job went missing: tick-1")]


async def test_active_job_not_yet_in_the_cache_is_kept(cluster):
    cj = cronjob(last="2026-01-01T12:00:00Z")
    fresh = job("tick-1", cj)
    cj["status"]["active"] = [ref(fresh)]
    controller = make(cluster, cj)
    cluster.add(JOBS, fresh, cache=False)
    await controller.sync("default/tick")
    assert status_written(cluster) is None and cluster.events == []


async def test_unlisted_running_job_is_reported_not_adopted(cluster):
    cj = cronjob(last="2026-01-01T12:00:00Z")
    controller = make(cluster, cj, [job("manual", cj)])
    await controller.sync("default/tick")
    assert cluster.events == [("default/tick", "Warning", "UnexpectedJob",
                               "Saw a job that the controller did not create or forgot: manual")]
    assert status_written(cluster) is None


async def test_unlisted_job_listed_by_a_newer_cronjob_is_no_surprise(cluster):
    """The Job's add event may arrive before the status write that listed it."""
    cj = cronjob(last="2026-01-01T11:59:00Z")
    started = job(f"tick-{MINUTES_1200}", cj)
    controller = make(cluster, cj, [started])
    newer = cronjob(last="2026-01-01T12:00:00Z", active=[ref(started)])
    newer["metadata"]["resourceVersion"] = "8"
    cluster.add(CRONJOBS, newer, cache=False)
    await controller.sync("default/tick")
    assert cluster.events == [] and cluster.client.writes() == []
    assert controller.requeues == [("default/tick", 30.1)]


# --- history ---

async def test_finished_jobs_beyond_the_history_limits_are_deleted_oldest_first(cluster):
    cj = cronjob(last="2026-01-01T12:00:00Z", successful=2, failed=1)
    jobs = [job(f"ok-{i}", cj, condition="Complete", started=f"2026-01-01T11:5{i}:00Z",
                completed=f"2026-01-01T11:5{i}:30Z") for i in (3, 1, 2, 4)]
    jobs += [job(f"bad-{i}", cj, condition="Failed", started=f"2026-01-01T11:4{i}:00Z") for i in (2, 1)]
    jobs.append(job("not-started", cj, condition="Failed", started=""))
    controller = make(cluster, cj, jobs)
    await controller.sync("default/tick")
    deletes = cluster.client.calls_of("delete", "jobs")
    assert [d.name for d in deletes] == ["ok-1", "ok-2", "bad-1", "bad-2"]
    assert {d.kwargs["propagation_policy"] for d in deletes} == {"Background"}
    assert ("default/tick", "Normal", "SuccessfulDelete", "Deleted job ok-1") in cluster.events
    assert status_written(cluster)["lastSuccessfulTime"] == "2026-01-01T11:54:30Z"


# --- event handlers ---

async def test_job_events_enqueue_their_cronjob(cluster):
    cj = cronjob()
    controller = make(cluster, cj)
    informer = cluster.informers.informer(JOBS)
    informer.fire_add(job("tick-1", cj))
    informer.fire_add(job("orphan", None))
    assert len(controller.queue) == 1
    assert await controller.queue.get() == "default/tick"


def test_job_of_another_cronjob_with_the_same_name_is_ignored(cluster):
    controller = make(cluster, cronjob())
    impostor = cronjob()
    impostor["metadata"]["uid"] = "uid-older"
    cluster.informers.informer(JOBS).fire_add(job("tick-1", impostor))
    assert len(controller.queue) == 0


def test_schedule_change_requeues_for_the_new_next_time(cluster):
    old = cronjob(schedule="0 * * * *")
    controller = make(cluster, old)
    new = cronjob(schedule="*/5 * * * *", last="2026-01-01T12:00:00Z")
    cluster.informers.informer(CRONJOBS).fire_update(old, new)
    assert controller.requeues == [("default/tick", 270.1)]  # 12:05:00 + 100 ms, from 12:00:30
    assert len(controller.queue) == 0


def test_other_changes_sync_now(cluster):
    old = cronjob()
    controller = make(cluster, old)
    cluster.informers.informer(CRONJOBS).fire_update(old, cronjob(suspend=True))
    assert len(controller.queue) == 1 and controller.requeues == []


def test_unparseable_new_schedule_is_reported(cluster):
    old = cronjob()
    controller = make(cluster, old)
    cluster.informers.informer(CRONJOBS).fire_update(old, cronjob(schedule="61 * * * *"))
    assert [e[2] for e in cluster.events] == ["UnParseableCronJobSchedule"]
    assert len(controller.queue) == 0 and controller.requeues == []


# --- schedule arithmetic ---

def at(hh: int, mm: int, ss: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 1, day, hh, mm, ss, tzinfo=UTC)


@pytest.mark.parametrize(("schedule", "last", "now", "deadline", "want", "missed"), [
    ("0 * * * *", at(9, 1), at(9, 59), None, None, cu.Missed.NONE),
    ("0 * * * *", at(9, 1), at(10, 1), None, at(10, 0), cu.Missed.NONE),
    ("0 * * * *", at(9, 1), at(12, 30), None, at(12, 0), cu.Missed.FEW),
    ("0 * * * *", at(9, 1), at(10, 0, day=8), None, at(10, 0, day=8), cu.Missed.MANY),
    ("0 * * * *", at(9, 1), at(10, 0, 11), 10, None, cu.Missed.NONE),
    ("0 * * * *", at(9, 1), at(10, 0, 9), 10, at(10, 0), cu.Missed.NONE),
    ("0 * * * *", at(9, 1), at(10, 0, day=8), 2 * 3600, at(10, 0, day=8), cu.Missed.FEW),
    ("30 6-16/4 * * 1-5", at(9, 1), at(9, 0, day=5), None, at(6, 30, day=5), cu.Missed.FEW),  # Thu to Mon
    # @every: a constant delay after the last time (ConstantDelaySchedule), not clock-aligned
    ("@every 90m", at(9, 1), at(10, 30), None, None, cu.Missed.NONE),
    ("@every 90m", at(9, 1), at(10, 31), None, at(10, 31), cu.Missed.NONE),
    ("@every 90m", at(9, 1), at(14, 0), None, at(13, 31), cu.Missed.FEW),
])
def test_next_schedule_time(schedule, last, now, deadline, want, missed):
    cj = cronjob(schedule=schedule, last=last.strftime("%Y-%m-%dT%H:%M:%SZ"), deadline=deadline)
    assert cu.next_schedule_time(cj, now, cu.Schedule(schedule, UTC)) == (want, missed)


@pytest.mark.parametrize(("schedule", "last", "now", "want"), [
    ("0 * * * *", at(9, 1), at(9, 59), 60.1),           # not yet: the first time after the last
    ("0 * * * *", at(9, 1), at(10, 1), 3540.1),         # one due now: the one after it
    ("0 * * * *", at(9, 1), at(10, 0, day=8), 3600.1),  # many due: the next after the latest
])
def test_next_schedule_delay(schedule, last, now, want):
    cj = cronjob(schedule=schedule, last=last.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert round(cu.next_schedule_delay(cj, now, cu.Schedule(schedule, UTC)), 3) == want


@pytest.mark.parametrize(("schedule", "error"), [
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("@every 1x", 'failed to parse duration @every 1x: time: unknown unit "x" in duration "1x"'),
    ("@sometimes", "unrecognized descriptor: @sometimes"),
    ("61 * * * *", "unparseable schedule"),
])
def test_schedule_parse_errors(schedule, error):
    with pytest.raises(cu.ScheduleError, match=error.replace("[", r"\[").replace("*", r"\*")):
        cu.Schedule(schedule, UTC)


@pytest.mark.parametrize(("t", "want"), [
    (datetime(2026, 1, 1, 12, 0, tzinfo=UTC), "2026-01-01T12:00:00Z"),
    (datetime(2026, 1, 1, 7, 0, tzinfo=cu.load_zone("America/New_York")), "2026-01-01T07:00:00-05:00"),
    (datetime(2026, 7, 1, 12, 0, tzinfo=UTC).astimezone(cu.load_zone("Asia/Kolkata")), "2026-07-01T17:30:00+05:30"),
    (datetime(2026, 1, 1, 12, 0, tzinfo=UTC).astimezone(cu.load_zone("Europe/London")), "2026-01-01T12:00:00Z"),
])
def test_rfc3339_like_go(t, want):
    assert cu.rfc3339(t) == want
