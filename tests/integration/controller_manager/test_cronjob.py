"""CronJob controller on a real API server: with its clock a minute ahead (so the CronJob's creation
is already a schedule time ago), a `* * * * *` CronJob gets its Job within seconds, listed in
status.active; the Job's completion takes it out and sets lastSuccessfulTime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from shared.events import EventRecorder
from shared.informer import SharedInformerFactory
from shared.resources import CRONJOBS, EVENTS, JOBS

from services.controller_manager.base import ControllerContext
from services.controller_manager.controllers.cronjob import CronJobController
from services.controller_manager.controllers.cronjob_util import SCHEDULED_TIMESTAMP_ANNOTATION
from services.controller_manager.objects import format_time, parse_time, utcnow
from tests.integration.controller_manager.conftest import eventually

NS = "default"


@contextlib.asynccontextmanager
async def running(client: Any, clock: Callable[[], datetime]) -> AsyncIterator[CronJobController]:
    """The controller as the controller-manager runs it (shared informers, an event recorder),
    built directly so the test can give it a clock."""
    factory = SharedInformerFactory(client, resync_period=0)
    recorder = EventRecorder(client, component=CronJobController.name, host=None)
    ctx = ControllerContext(client=client, informers=factory, recorder_factory=lambda _: recorder, clock=clock)
    controller = CronJobController(ctx, workers=2)
    factory.start()
    await factory.wait_for_cache_sync()
    task = asyncio.create_task(controller.run())
    try:
        yield controller
    finally:
        controller.shutdown()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await factory.stop()
        await recorder.close()


def cronjob(name: str) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": NS},
            "spec": {"schedule": "* * * * *",
                     "jobTemplate": {"metadata": {"labels": {"app": name}},
                                     "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                                         {"name": "c", "image": "busybox", "command": ["true"]}]}}}}}}


async def test_starts_the_due_job_and_follows_it_to_completion(api_client):
    cj = await api_client.create(CRONJOBS, cronjob("tick"))
    async with running(api_client, lambda: utcnow() + timedelta(minutes=1)):

        async def listed():
            status = (await api_client.get(CRONJOBS, "tick", namespace=NS)).get("status") or {}
            return status if status.get("active") else None

        status = await eventually(listed, timeout=10, what="the CronJob listing its Job")
        [ref] = status["active"]
        job = await api_client.get(JOBS, ref["name"], namespace=NS)
        scheduled = parse_time(status["lastScheduleTime"])
        assert ref["name"] == f"tick-{int(scheduled.timestamp()) // 60}"
        assert (ref["uid"], ref["kind"], ref["apiVersion"]) == (job["metadata"]["uid"], "Job", "batch/v1")
        assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION] == status["lastScheduleTime"]
        assert job["metadata"]["labels"]["app"] == "tick"
        owner = job["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"], owner["controller"]) == ("CronJob", cj["metadata"]["uid"], True)

        now = format_time(utcnow())
        job["status"] = {"startTime": now, "completionTime": now, "succeeded": 1, "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": now, "lastTransitionTime": now},
            {"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now}]}
        await api_client.update(JOBS, job, namespace=NS, subresource="status")

        async def finished():
            status = (await api_client.get(CRONJOBS, "tick", namespace=NS)).get("status") or {}
            return status if not status.get("active") and status.get("lastSuccessfulTime") else None

        status = await eventually(finished, timeout=10, what="the completed Job out of status.active")
        assert status["lastSuccessfulTime"] == now

        async def reasons():
            events = (await api_client.list(EVENTS, namespace=NS))["items"]
            seen = {e["reason"] for e in events if e["involvedObject"]["name"] == "tick"}
            return seen if {"SuccessfulCreate", "SawCompletedJob"} <= seen else None

        assert "UnexpectedJob" not in await eventually(reasons, timeout=10, what="the CronJob's events")
