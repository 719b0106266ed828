"""CronJob controller on a real API server: with its clock a minute ahead (so the CronJob's creation
is already a schedule time ago), a `* * * * *` CronJob gets its Job within seconds, listed in
status.active; the Job's completion takes it out and sets lastSuccessfulTime."""

from __future__ import annotations

from datetime import timedelta

from shared.resources import CRONJOBS, EVENTS, JOBS

from services.controller_manager.controllers.cronjob import CronJobController
from services.controller_manager.controllers.cronjob_util import SCHEDULED_TIMESTAMP_ANNOTATION
from services.controller_manager.objects import format_time, parse_time, utcnow
from tests.integration.controller_manager.conftest import eventually, running_controller

NS = "default"


def cronjob(name: str) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": NS},
            "spec": {"schedule": "* * * * *",
                     "jobTemplate": {"metadata": {"labels": {"app": name}},
                                     "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                                         {"name": "c", "image": "busybox", "command": ["true"]}]}}}}}}


async def test_starts_the_due_job_and_follows_it_to_completion(api_client):
    cj = await api_client.create(CRONJOBS, cronjob("tick"))
    async with running_controller(CronJobController, api_client, workers=2,
                                  clock=lambda: utcnow() + timedelta(minutes=1)):

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
