"""Job controller: one sync against a preloaded cache, asserting the API calls and the status written."""

from __future__ import annotations

import copy
from datetime import timedelta
from types import SimpleNamespace

import pytest

from shared.client import Conflict
from shared.resources import JOBS, PODS

from services.controller_manager import controllers as registry
from services.controller_manager.config import ControllerManagerConfig
from services.controller_manager.controllers import job_util as ju
from services.controller_manager.controllers.job import JobController
from tests.unit.controller_manager.builders import JOB_TRACKING, job, job_condition, job_pod, pod
from tests.unit.controller_manager.fakes import NOW, api_error

REMOVE_FINALIZER = {"metadata": {"$deleteFromPrimitiveList/finalizers": [JOB_TRACKING]}}
OPTIONS = SimpleNamespace(job_sync_batch_period=0.5, job_pod_failure_backoff=10.0, job_pod_failure_backoff_max=600.0)


def make(cluster, j, pods=(), options=OPTIONS):
    cluster.add(JOBS, j)
    for p in pods:
        cluster.add(PODS, p)
    return JobController(cluster.ctx(options))


def catch_up(cluster, j) -> None:
    """The Job's informer sees what the server has now."""
    key = ("jobs", j["metadata"]["namespace"], j["metadata"]["name"])
    cluster.cache(JOBS).objects[key[1:]] = copy.deepcopy(cluster.client.store[key])


def status_writes(cluster) -> list[dict]:
    calls = cluster.client.calls_of("update", "jobs")
    assert all(c.kwargs["subresource"] == "status" for c in calls)
    return [c.body["status"] for c in calls]


def verbs(cluster) -> list[tuple[str, str, str | None]]:
    return [(c.verb, c.plural, c.name) for c in cluster.client.writes()]


def types(status: dict) -> list[tuple[str, str]]:
    return [(c["type"], c["status"]) for c in status.get("conditions") or []]


# --- creating pods ---

async def test_creates_pods_from_the_template_with_owner_and_tracking_finalizer(cluster):
    j = job("pi", completions=3, parallelism=2)
    jc = make(cluster, j)
    await jc.sync("default/pi")
    creates = cluster.client.calls_of("create", "pods")
    assert len(creates) == 2
    body = creates[0].body
    assert body["metadata"]["generateName"] == "pi-"
    assert body["metadata"]["labels"] == j["spec"]["template"]["metadata"]["labels"]
    assert body["metadata"]["ownerReferences"] == [{
        "apiVersion": "batch/v1", "kind": "Job", "name": "pi", "uid": "uid-pi", "controller": True,
        "blockOwnerDeletion": True}]
    assert body["metadata"]["finalizers"] == [JOB_TRACKING]
    assert body["spec"]["containers"][0]["command"] == ["sh", "-c", "echo hi"]
    assert body["spec"]["restartPolicy"] == "Never"
    assert [e[2:] for e in cluster.events] == [("SuccessfulCreate", f"Created pod: {c.name}") for c in creates]
    assert jc.expectations.pending("default/pi") == (2, 0)
    [status] = status_writes(cluster)
    assert status == {"startTime": "2026-01-01T12:00:00Z", "active": 2, "ready": 0, "terminating": 0,
                      "uncountedTerminatedPods": {}}


async def test_unobserved_creations_block_a_second_create(cluster):
    j = job("pi", completions=4, parallelism=2)
    jc = make(cluster, j)
    await jc.sync("default/pi")
    catch_up(cluster, j)
    await jc.sync("default/pi")
    assert len(cluster.client.calls_of("create", "pods")) == 2


async def test_observed_creation_satisfies_expectations(cluster):
    jc = make(cluster, job("pi"))
    await jc.sync("default/pi")
    created = cluster.client.calls_of("create", "pods")[0].body
    created["metadata"].update(uid="uid-new", resourceVersion="20")
    cluster.informers.informer(PODS).fire_add(created)
    assert jc.expectations.satisfied("default/pi")


async def test_active_pods_up_to_parallelism_and_remaining_completions(cluster):
    j = job("pi", completions=5, parallelism=3, status={"succeeded": 3, "startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "a")])
    await jc.sync("default/pi")
    assert len(cluster.client.calls_of("create", "pods")) == 1  # 5 - 3 succeeded = 2 wanted, 1 active


async def test_without_completions_no_new_pods_after_a_success(cluster):
    j = job("pi", completions=None, parallelism=3)
    jc = make(cluster, j, [job_pod(j, "done", phase="Succeeded"), job_pod(j, "running")])
    await jc.sync("default/pi")
    assert cluster.client.calls_of("create") == []
    assert status_writes(cluster)[-1]["succeeded"] == 1
    assert ju.SUCCESS_CRITERIA_MET not in [c[0] for c in types(status_writes(cluster)[-1])]  # one still runs


async def test_cached_objects_are_never_mutated(cluster):
    j = job("pi", completions=2, parallelism=2)
    pods = [job_pod(j, "done", phase="Succeeded"), job_pod(j, "failed", phase="Failed")]
    jc = make(cluster, j, pods)
    before = copy.deepcopy((j, pods))
    await jc.sync("default/pi")
    assert (j, pods) == before


# --- counting finished pods through the finalizer ---

async def test_a_succeeded_pod_is_recorded_uncounted_then_its_finalizer_removed_then_counted(cluster):
    j = job("pi", completions=2, status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "done", phase="Succeeded")])
    await jc.sync("default/pi")
    first, second = status_writes(cluster)
    assert first["uncountedTerminatedPods"] == {"succeeded": ["uid-done"]}
    assert "succeeded" not in first
    assert second["uncountedTerminatedPods"] == {}
    assert second["succeeded"] == 1
    [patch] = cluster.client.calls_of("patch", "pods")
    assert (patch.name, patch.body, patch.kwargs["patch_type"]) == ("done", REMOVE_FINALIZER, "strategic")
    order = [v for v in verbs(cluster) if v[0] != "create"]
    assert order == [("update", "jobs", "pi"), ("patch", "pods", "done"), ("update", "jobs", "pi")]
    assert len(cluster.client.calls_of("create", "pods")) == 1  # the second completion


async def test_a_pod_without_the_finalizer_was_counted_before(cluster):
    j = job("pi", completions=2, status={"startTime": "2026-01-01T11:00:00Z", "succeeded": 1, "ready": 1,
                                         "active": 1, "terminating": 0, "uncountedTerminatedPods": {}})
    jc = make(cluster, j, [job_pod(j, "done", phase="Succeeded", finalizer=False), job_pod(j, "running")])
    await jc.sync("default/pi")
    assert cluster.client.writes() == []


async def test_uncounted_pod_whose_finalizer_is_gone_is_counted(cluster):
    j = job("pi", completions=2, status={"startTime": "2026-01-01T11:00:00Z",
                                         "uncountedTerminatedPods": {"failed": ["uid-gone"]}})
    jc = make(cluster, j, [job_pod(j, "running")])
    await jc.sync("default/pi")
    [status] = status_writes(cluster)
    assert status["failed"] == 1
    assert status["uncountedTerminatedPods"] == {}


async def test_a_pod_deleted_before_it_finished_counts_as_failed(cluster):
    j = job("pi", status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "evicted", deleting=True)])
    await jc.sync("default/pi")
    first, second = status_writes(cluster)
    assert first["uncountedTerminatedPods"] == {"failed": ["uid-evicted"]}
    assert first["terminating"] == 1
    assert second["failed"] == 1


async def test_failed_finalizer_removal_keeps_the_pod_uncounted_and_fails_the_sync(cluster):
    j = job("pi", completions=2, status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "done", phase="Succeeded")])
    cluster.client.fail_next("patch", "pods", api_error(Conflict, "the object has been modified", 409))
    with pytest.raises(Conflict):
        await jc.sync("default/pi")
    [status] = status_writes(cluster)  # only the uncounted record: nothing to count yet
    assert status["uncountedTerminatedPods"] == {"succeeded": ["uid-done"]}
    assert jc.finalizer_expectations["default/pi"] == set()


async def test_removed_finalizer_is_not_processed_twice_before_the_informer_sees_it(cluster):
    j = job("pi", completions=3, parallelism=1, status={"startTime": "2026-01-01T11:00:00Z"})
    done = job_pod(j, "done", phase="Succeeded")
    jc = make(cluster, j, [done])
    await jc.sync("default/pi")
    assert jc.finalizer_expectations["default/pi"] == {"uid-done"}
    jc._update_pod(done, dict(done, metadata=dict(done["metadata"], finalizers=[], resourceVersion="99")))
    assert jc.finalizer_expectations["default/pi"] == set()


# --- finishing ---

async def test_enough_successes_write_success_criteria_met_then_complete(cluster):
    j = job("pi", status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "done", phase="Succeeded")])
    await jc.sync("default/pi")
    first, last = status_writes(cluster)
    reason, message = "CompletionsReached", "Reached expected number of succeeded pods"
    assert first["conditions"] == [job_condition("SuccessCriteriaMet", reason, message, at="2026-01-01T12:00:00Z")]
    assert first["uncountedTerminatedPods"] == {"succeeded": ["uid-done"]}
    assert last["conditions"] == [job_condition("SuccessCriteriaMet", reason, message, at="2026-01-01T12:00:00Z"),
                                  job_condition("Complete", reason, message, at="2026-01-01T12:00:00Z")]
    assert last["completionTime"] == "2026-01-01T12:00:00Z"
    assert last["succeeded"] == 1
    assert cluster.events == [("default/pi", "Normal", "Completed", "Job completed")]


async def test_completion_is_noticed_even_while_expectations_are_pending(cluster):
    j = job("pi", status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "done", phase="Succeeded")])
    jc.expectations.expect_creations("default/pi", 1)
    await jc.sync("default/pi")
    assert types(status_writes(cluster)[-1]) == [("SuccessCriteriaMet", "True"), ("Complete", "True")]


async def test_complete_waits_until_no_pod_terminates(cluster):
    j = job("pi", completions=1, parallelism=2, status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "done", phase="Succeeded"), job_pod(j, "slow", deleting=True)])
    await jc.sync("default/pi")
    last = status_writes(cluster)[-1]
    assert types(last) == [("SuccessCriteriaMet", "True")]
    assert (last["terminating"], last["succeeded"]) == (1, 1)
    assert cluster.events == []


async def test_success_criteria_met_job_completes_when_pods_are_gone(cluster):
    met = job_condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods")
    j = job("pi", status={"startTime": "2026-01-01T11:00:00Z", "succeeded": 1, "conditions": [met],
                          "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}})
    jc = make(cluster, j)
    await jc.sync("default/pi")
    [status] = status_writes(cluster)
    assert types(status) == [("SuccessCriteriaMet", "True"), ("Complete", "True")]
    assert status["conditions"][1]["reason"] == "CompletionsReached"
    assert cluster.client.calls_of("create") == []


async def test_too_many_failures_fail_the_job_active_pods_deleted_failed_after_they_are_gone(cluster):
    j = job("pi", completions=3, parallelism=2, backoff_limit=1,
            status={"startTime": "2026-01-01T11:00:00Z", "failed": 1})
    jc = make(cluster, j, [job_pod(j, "broken", phase="Failed"), job_pod(j, "running")])
    await jc.sync("default/pi")
    assert [c.name for c in cluster.client.calls_of("delete", "pods")] == ["running"]
    assert ("default/pi", "Normal", "SuccessfulDelete", "Deleted pod: running") in cluster.events
    first, last = status_writes(cluster)
    target = job_condition("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit",
                           at="2026-01-01T12:00:00Z")
    assert first["conditions"] == [target]
    assert sorted(first["uncountedTerminatedPods"]["failed"]) == ["uid-broken", "uid-running"]
    assert {c.name for c in cluster.client.calls_of("patch", "pods")} == {"broken", "running"}
    assert last["failed"] == 3
    assert (last.get("active", 0), last["terminating"]) == (0, 1)
    assert types(last) == [("FailureTarget", "True")]  # Failed waits for the deleted pod to go
    assert cluster.client.calls_of("create") == []

    other = type(cluster)()
    j2 = job("pi", completions=3, parallelism=2, backoff_limit=1,
             status={"startTime": "2026-01-01T11:00:00Z", "failed": 3, "conditions": [target], "ready": 0,
                     "terminating": 0, "uncountedTerminatedPods": {}})
    jc2 = make(other, j2)
    await jc2.sync("default/pi")
    [final] = status_writes(other)
    assert types(final) == [("FailureTarget", "True"), ("Failed", "True")]
    assert final["conditions"][1]["reason"] == "BackoffLimitExceeded"
    assert "completionTime" not in final
    assert other.events == [("default/pi", "Warning", "BackoffLimitExceeded",
                             "Job has reached the specified backoff limit")]


async def test_on_failure_container_restarts_count_toward_the_backoff_limit(cluster):
    j = job("pi", backoff_limit=2, restart_policy="OnFailure", status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "crashy", restarts=2)])
    await jc.sync("default/pi")
    assert status_writes(cluster)[0]["conditions"][0]["reason"] == "BackoffLimitExceeded"
    assert [c.name for c in cluster.client.calls_of("delete", "pods")] == ["crashy"]


async def test_active_deadline_fails_the_job(cluster):
    j = job("pi", deadline=60, status={"startTime": "2026-01-01T11:58:00Z"})
    jc = make(cluster, j, [job_pod(j, "slow")])
    await jc.sync("default/pi")
    first = status_writes(cluster)[0]
    assert first["conditions"][0] == job_condition("FailureTarget", "DeadlineExceeded",
                                                   "Job was active longer than specified deadline",
                                                   at="2026-01-01T12:00:00Z")
    assert [c.name for c in cluster.client.calls_of("delete", "pods")] == ["slow"]


async def test_active_deadline_requeues_the_job_for_when_it_passes(cluster):
    j = job("pi", deadline=600, status={"startTime": "2026-01-01T11:58:00Z", "active": 1, "ready": 1,
                                        "terminating": 0, "uncountedTerminatedPods": {}})
    jc = make(cluster, j, [job_pod(j, "running")])
    await jc.sync("default/pi")
    assert cluster.client.writes() == []
    assert jc.queue.waiting == 1


async def test_start_time_is_set_once(cluster):
    j = job("pi", status={"startTime": "2026-01-01T10:00:00Z"})
    jc = make(cluster, j)
    await jc.sync("default/pi")
    assert status_writes(cluster)[0]["startTime"] == "2026-01-01T10:00:00Z"


# --- pod failure backoff ---

@pytest.mark.parametrize(("failures", "ago", "expected"), [
    (0, 0, 0.0), (1, 0, 10.0), (1, 4, 6.0), (2, 0, 20.0), (3, 0, 40.0), (3, 50, 0.0), (20, 0, 600.0),
])
def test_pod_failure_backoff_doubles_from_the_last_failure(failures, ago, expected):
    record = ju.BackoffRecord(failures, NOW - timedelta(seconds=ago))
    assert record.remaining(NOW, 10.0, 600.0) == expected


async def test_replacement_waits_for_the_pod_failure_backoff(cluster):
    j = job("pi", status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "broken", phase="Failed", finished_at="2026-01-01T11:59:56Z")])
    await jc.sync("default/pi")
    assert cluster.client.calls_of("create") == []
    assert jc.queue.waiting == 1  # back in 6 s
    assert jc.backoff["default/pi"] == ju.BackoffRecord(1, NOW - timedelta(seconds=4))
    assert status_writes(cluster)[-1]["failed"] == 1


async def test_replacement_is_created_once_the_backoff_passed(cluster):
    j = job("pi", status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "broken", phase="Failed", finished_at="2026-01-01T11:59:30Z")])
    await jc.sync("default/pi")
    assert len(cluster.client.calls_of("create", "pods")) == 1


async def test_backoff_base_is_configurable(cluster):
    j = job("pi", status={"startTime": "2026-01-01T11:00:00Z"})
    fast = SimpleNamespace(job_sync_batch_period=0.01, job_pod_failure_backoff=0.1, job_pod_failure_backoff_max=1.0)
    jc = make(cluster, j, [job_pod(j, "broken", phase="Failed", finished_at="2026-01-01T11:59:59Z")], options=fast)
    await jc.sync("default/pi")
    assert len(cluster.client.calls_of("create", "pods")) == 1


def test_a_success_resets_the_backoff():
    old = ju.BackoffRecord(3, NOW - timedelta(seconds=100))
    ok = job_pod(job(), "ok", phase="Succeeded", finished_at="2026-01-01T11:59:00Z")
    before = job_pod(job(), "before", phase="Failed", finished_at="2026-01-01T11:58:00Z")
    after = job_pod(job(), "after", phase="Failed", finished_at="2026-01-01T11:59:30Z")
    assert ju.next_backoff_record(old, [ok], [before]) == ju.BackoffRecord(0, None)
    assert ju.next_backoff_record(old, [ok], [before, after]) == ju.BackoffRecord(1, NOW - timedelta(seconds=30))
    assert ju.next_backoff_record(old, [], [after]) == ju.BackoffRecord(4, NOW - timedelta(seconds=30))


# --- deleting pods ---

async def test_surplus_active_pods_are_deleted_least_useful_first(cluster):
    j = job("pi", completions=2, parallelism=1, status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "ready"), job_pod(j, "notready", ready=False)])
    await jc.sync("default/pi")
    assert verbs(cluster)[:2] == [("patch", "pods", "notready"), ("delete", "pods", "notready")]
    assert cluster.client.calls_of("patch", "pods")[0].body == REMOVE_FINALIZER
    assert cluster.events == [("default/pi", "Normal", "SuccessfulDelete", "Deleted pod: notready")]
    assert not jc.expectations.satisfied("default/pi")
    jc._delete_pod(job_pod(j, "notready"))
    assert jc.expectations.satisfied("default/pi")
    status = status_writes(cluster)[-1]
    assert (status["active"], status["terminating"], "failed" in status) == (1, 1, False)


@pytest.mark.parametrize(("pods", "expected"), [
    ([pod("scheduled"), pod("unscheduled", node=None, phase="Pending", ready=False)], "unscheduled"),
    ([pod("running"), pod("pending", phase="Pending", ready=False)], "pending"),
    ([pod("ready"), pod("notready", ready=False)], "notready"),
    ([pod("old", ready_since="2026-01-01T08:00:00Z"), pod("new", ready_since="2026-01-01T11:59:00Z")], "new"),
    ([pod("stable", restarts=0), pod("crashy", restarts=5)], "crashy"),
    ([pod("older", created="2026-01-01T02:00:00Z"), pod("newer", created="2026-01-01T11:59:50Z")], "newer"),
])
def test_active_pods_ranking(pods, expected):
    assert ju.sort_for_removal(pods)[0]["metadata"]["name"] == expected
    assert ju.sort_for_removal(list(reversed(pods)))[0]["metadata"]["name"] == expected


# --- suspend ---

async def test_suspend_deletes_active_pods_and_sets_the_condition(cluster):
    j = job("pi", parallelism=2, completions=2, suspend=True, status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "a"), job_pod(j, "b")])
    await jc.sync("default/pi")
    assert sorted(c.name for c in cluster.client.calls_of("delete", "pods")) == ["a", "b"]
    [status] = status_writes(cluster)
    assert status["conditions"] == [job_condition("Suspended", "JobSuspended", "Job suspended",
                                                  at="2026-01-01T12:00:00Z")]
    assert ("active" in status, status["terminating"], status["ready"]) == (False, 2, 0)
    assert ("default/pi", "Normal", "Suspended", "Job suspended") in cluster.events
    assert "failed" not in status  # deleted on purpose: not failures


async def test_a_job_created_suspended_has_no_start_time(cluster):
    jc = make(cluster, job("pi", suspend=True))
    await jc.sync("default/pi")
    [status] = status_writes(cluster)
    assert "startTime" not in status
    assert types(status) == [("Suspended", "True")]
    assert cluster.client.calls_of("create") == []


async def test_resume_sets_suspended_false_and_restarts_the_clock(cluster):
    suspended = job_condition("Suspended", "JobSuspended", "Job suspended")
    j = job("pi", status={"startTime": "2026-01-01T10:00:00Z", "conditions": [suspended], "ready": 0,
                          "terminating": 0, "uncountedTerminatedPods": {}})
    jc = make(cluster, j)
    await jc.sync("default/pi")
    [status] = status_writes(cluster)
    assert status["conditions"] == [job_condition("Suspended", "JobResumed", "Job resumed", status="False",
                                                  at="2026-01-01T12:00:00Z")]
    assert status["startTime"] == "2026-01-01T12:00:00Z"
    assert ("default/pi", "Normal", "Resumed", "Job resumed") in cluster.events
    assert len(cluster.client.calls_of("create", "pods")) == 1


# --- ownership and finalizers of pods nobody counts ---

async def test_adopts_matching_orphans_with_the_finalizer_and_releases_strays(cluster):
    j = job("pi", completions=3, parallelism=3, status={"startTime": "2026-01-01T11:00:00Z"})
    orphan = job_pod(j, "orphan", finalizer=False)
    del orphan["metadata"]["ownerReferences"]
    stray = job_pod(j, "stray")
    stray["metadata"]["labels"] = {"app": "other"}
    jc = make(cluster, j, [orphan, stray])
    await jc.sync("default/pi")
    patches = {c.name: c.body for c in cluster.client.calls_of("patch", "pods")}
    assert patches["orphan"]["metadata"]["finalizers"] == [JOB_TRACKING]
    assert patches["orphan"]["metadata"]["ownerReferences"][0]["uid"] == "uid-pi"
    assert patches["stray"]["metadata"]["ownerReferences"] is None
    assert patches["stray"]["metadata"]["finalizers"] is None
    assert cluster.client.calls_of("get", "jobs"), "adoption re-reads the Job first"
    assert len(cluster.client.calls_of("create", "pods")) == 2


async def test_a_job_being_deleted_lets_go_of_all_its_pods(cluster):
    j = job("pi", deleting=True, status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "running")])
    await jc.sync("default/pi")
    assert [(c.name, c.body) for c in cluster.client.calls_of("patch", "pods")] == [("running", REMOVE_FINALIZER)]
    assert cluster.client.calls_of("create") == []
    assert cluster.client.calls_of("delete") == []


async def test_a_deleted_job_is_quiet_and_forgotten(cluster):
    jc = JobController(cluster.ctx(OPTIONS))
    jc.backoff["default/gone"] = ju.BackoffRecord(1, NOW)
    await jc.sync("default/gone")
    assert cluster.client.writes() == []
    assert "default/gone" not in jc.backoff


@pytest.mark.parametrize("status", [
    {"conditions": [job_condition("Complete")]}, {"conditions": [job_condition("Failed", "DeadlineExceeded")]}])
async def test_a_finished_job_is_not_synced(cluster, status):
    j = job("pi", status=status)
    jc = make(cluster, j, [job_pod(j, "done", phase="Succeeded")])
    await jc.sync("default/pi")
    assert cluster.client.writes() == []


async def test_a_job_managed_by_another_controller_is_skipped(cluster):
    j = job("pi")
    j["spec"]["managedBy"] = "example.com/batch"
    jc = make(cluster, j)
    await jc.sync("default/pi")
    assert cluster.client.writes() == []


async def test_deleting_a_job_queues_its_pods_for_finalizer_removal(cluster):
    j = job("pi")
    jc = make(cluster, j, [job_pod(j, "a"), job_pod(j, "b", finalizer=False)])
    cluster.informers.informer(JOBS).fire_delete(j)
    assert len(jc.orphan_queue) == 1
    await jc.sync_orphan_pod("default/a")
    assert [(c.name, c.body) for c in cluster.client.calls_of("patch", "pods")] == [("a", REMOVE_FINALIZER)]


@pytest.mark.parametrize(("owner", "patched"), [
    (None, True),                                                     # an orphan
    ({"apiVersion": "batch/v1", "kind": "Job", "name": "gone", "uid": "uid-gone", "controller": True}, True),
    ({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "uid-rs", "controller": True}, False),
    ("running", False),                                               # its Job still runs
    ("finished", True),
])
async def test_orphan_pod_sync(cluster, owner, patched):
    running, finished = job("running"), job("finished", status={"conditions": [job_condition("Complete")]})
    cluster.add(JOBS, running)
    cluster.add(JOBS, finished)
    p = job_pod(running, "p")
    if isinstance(owner, str):
        p["metadata"]["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": owner,
                                             "uid": f"uid-{owner}", "controller": True}]
    elif owner is None:
        del p["metadata"]["ownerReferences"]
    else:
        p["metadata"]["ownerReferences"] = [owner]
    cluster.add(PODS, p)
    jc = JobController(cluster.ctx(OPTIONS))
    await jc.sync_orphan_pod("default/p")
    assert bool(cluster.client.calls_of("patch", "pods")) is patched


# --- event handlers ---

async def test_pod_events_batch_the_sync_and_job_spec_changes_do_not(cluster):
    j = job("pi")
    jc = make(cluster, j)
    p = job_pod(j, "a")
    jc._add_pod(p)
    assert (len(jc.queue), jc.queue.waiting) == (0, 1)
    jc._update_job(j, dict(j, metadata=dict(j["metadata"], generation=2)))
    assert len(jc.queue) == 1


async def test_a_pod_being_deleted_is_observed_as_a_deletion(cluster):
    j = job("pi", parallelism=2, completions=2)
    jc = make(cluster, j, [job_pod(j, "a"), job_pod(j, "b")])
    jc.expectations.expect_deletions("default/pi", ["default/a"])
    p = job_pod(j, "a")
    gone = dict(p, metadata=dict(p["metadata"], deletionTimestamp="2026-01-01T12:00:00Z", resourceVersion="50"))
    jc._update_pod(p, gone)
    assert jc.expectations.satisfied("default/pi")


# --- Indexed ---

async def test_indexed_pods_get_index_annotation_label_env_hostname_and_name(cluster):
    j = job("pi", completions=3, parallelism=2, mode="Indexed")
    jc = make(cluster, j)
    await jc.sync("default/pi")
    bodies = sorted((c.body for c in cluster.client.calls_of("create", "pods")),
                    key=lambda b: b["metadata"]["generateName"])
    assert [b["metadata"]["generateName"] for b in bodies] == ["pi-0-", "pi-1-"]
    first = bodies[0]
    assert first["metadata"]["annotations"] == {"batch.kubernetes.io/job-completion-index": "0"}
    assert first["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "0"
    assert first["spec"]["hostname"] == "pi-0"
    assert first["spec"]["containers"][0]["env"] == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"}}}]


async def test_indexed_job_fills_the_missing_index_and_reports_completed_indexes(cluster):
    j = job("pi", completions=3, parallelism=2, mode="Indexed", status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "zero", phase="Succeeded", index=0), job_pod(j, "one", index=1)])
    await jc.sync("default/pi")
    [create] = cluster.client.calls_of("create", "pods")
    assert create.body["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "2"
    last = status_writes(cluster)[-1]
    assert (last["completedIndexes"], last["succeeded"]) == ("0", 1)
    assert "uncountedTerminatedPods" not in last or last["uncountedTerminatedPods"] == {}


async def test_indexed_duplicate_index_pods_are_deleted(cluster):
    j = job("pi", completions=2, parallelism=2, mode="Indexed", status={"startTime": "2026-01-01T11:00:00Z"})
    jc = make(cluster, j, [job_pod(j, "a", index=0), job_pod(j, "b", index=0, ready=False), job_pod(j, "c", index=1),
                           job_pod(j, "x", index=7)])
    await jc.sync("default/pi")
    assert sorted(c.name for c in cluster.client.calls_of("delete", "pods")) == ["b", "x"]


@pytest.mark.parametrize(("indexes", "text"), [
    ([], ""), ([0], "0"), ([0, 1], "0,1"), ([0, 1, 2], "0-2"), ([0, 1, 2, 4], "0-2,4"), ([5, 3, 4, 9, 8], "3-5,8,9"),
])
def test_completed_indexes_format(indexes, text):
    intervals = ju.with_indexes([], indexes)
    assert ju.format_intervals(intervals) == text
    assert ju.parse_intervals(text, 100) == intervals
    assert ju.intervals_total(intervals) == len(set(indexes))


def test_completed_indexes_beyond_completions_are_dropped():
    assert ju.parse_intervals("0-2,4,x-1,7-9", 8) == [(0, 2), (4, 4), (7, 7)]


def test_first_pending_indexes_skip_succeeded_and_active():
    active = [job_pod(job(), "p", index=1)]
    assert ju.first_pending_indexes(active, [(0, 0), (3, 4)], 3, 10) == [2, 5, 6]
    assert ju.first_pending_indexes(active, [(0, 0)], 5, 3) == [2]


# --- wiring ---

def test_registered_with_kube_controller_manager_names_and_workers(cluster):
    names = {s.name: s for s in registry.selected("*")}
    assert {"job-controller", "ttl-after-finished-controller"} <= set(names)
    assert registry.selected("job")[0].name == "job-controller"
    built = registry.build(names["job-controller"], cluster.ctx(ControllerManagerConfig(concurrent_job_syncs=3)))
    assert (type(built), built.workers) == (JobController, 3)
    assert ControllerManagerConfig().concurrent_job_syncs == 5
