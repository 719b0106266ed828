"""TTL-after-finished controller: finished Jobs are deleted (Foreground) once their TTL has run out."""

from __future__ import annotations

import pytest

from shared.resources import JOBS

from services.controller_manager.controllers.ttlafterfinished import TTLAfterFinishedController
from tests.unit.controller_manager.builders import job, job_condition

FINISHED_AT = "2026-01-01T11:59:00Z"  # a minute before the fake clock's now


def finished(name: str = "pi", *, ttl: int | None, condition: str = "Complete", deleting: bool = False) -> dict:
    return job(name, ttl=ttl, deleting=deleting, status={"conditions": [job_condition(condition, at=FINISHED_AT)]})


def make(cluster, j):
    cluster.add(JOBS, j)
    return TTLAfterFinishedController(cluster.ctx())


@pytest.mark.parametrize("condition", ["Complete", "Failed"])
async def test_expired_job_is_deleted_in_the_foreground_with_a_uid_precondition(cluster, condition):
    tc = make(cluster, finished(ttl=30, condition=condition))
    await tc.sync("default/pi")
    assert len(cluster.client.calls_of("get", "jobs")) == 1  # the cache may be stale: read it again first
    [delete] = cluster.client.calls_of("delete", "jobs")
    assert (delete.namespace, delete.name) == ("default", "pi")
    assert delete.kwargs == {"grace_period_seconds": None, "propagation_policy": "Foreground",
                             "preconditions": {"uid": "uid-pi"}}


async def test_job_before_its_ttl_is_requeued_for_then(cluster):
    tc = make(cluster, finished(ttl=100))
    await tc.sync("default/pi")
    assert cluster.client.calls == []
    assert tc.queue.waiting == 1


async def test_ttl_zero_deletes_at_once(cluster):
    tc = make(cluster, finished(ttl=0))
    await tc.sync("default/pi")
    assert len(cluster.client.calls_of("delete", "jobs")) == 1


@pytest.mark.parametrize("j", [
    job("running", ttl=10),                                   # not finished
    finished("no-ttl", ttl=None),                             # nothing to do
    finished("going", ttl=10, deleting=True),                 # already being deleted
])
async def test_jobs_that_need_no_cleanup_are_left_alone(cluster, j):
    tc = make(cluster, j)
    tc._on_job(j)
    await tc.sync(f"default/{j['metadata']['name']}")
    assert cluster.client.calls == []
    assert (len(tc.queue), tc.queue.waiting) == (0, 0)


async def test_ttl_changed_in_the_meantime_is_honoured(cluster):
    tc = make(cluster, finished(ttl=10))
    cluster.client.store[("jobs", "default", "pi")]["spec"]["ttlSecondsAfterFinished"] = 3600
    await tc.sync("default/pi")
    assert cluster.client.calls_of("delete") == []
    assert tc.queue.waiting == 1


async def test_job_gone_meanwhile_is_quiet(cluster):
    tc = make(cluster, finished(ttl=10))
    del cluster.client.store[("jobs", "default", "pi")]
    await tc.sync("default/pi")
    assert cluster.client.calls_of("delete") == []


async def test_only_finished_jobs_with_a_ttl_are_queued(cluster):
    tc = TTLAfterFinishedController(cluster.ctx())
    informer = cluster.informers.informer(JOBS)
    informer.fire_add(job("running", ttl=10))
    assert len(tc.queue) == 0
    running = job("pi", ttl=10)
    informer.fire_update(running, finished(ttl=10))
    assert len(tc.queue) == 1
