"""TTL-after-finished controller (k8s pkg/controller/ttlafterfinished).

Guarantees: a finished Job (a Complete or Failed condition that is True) with
spec.ttlSecondsAfterFinished is deleted that many seconds after its finish time (the condition's
lastTransitionTime), with propagationPolicy Foreground, so its pods go before it, and a uid
precondition. Until then its key waits in the queue for that moment. Before deleting, the Job is
read again from the API server: a TTL changed or removed meanwhile is honoured. Jobs being deleted
are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from shared.client import NotFound
from shared.resources import JOBS

from shared.logging import get_logger

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.controllers import job_util as ju
from services.controller_manager.objects import is_being_deleted, meta, parse_time, split_key, uid_of

log = get_logger()


class FinishTimeUnknown(Exception):
    """A finished Job whose terminal condition has no lastTransitionTime."""


def needs_cleanup(job: Mapping) -> bool:
    return ju.spec_of(job).get("ttlSecondsAfterFinished") is not None and ju.is_finished(job)


def expires_at(job: Mapping) -> datetime:
    """When a finished Job's TTL runs out."""
    finished = parse_time((ju.finished_condition_of(job) or {}).get("lastTransitionTime"))
    if finished is None:
        raise FinishTimeUnknown(f"unable to find the time when the Job {meta(job).get('namespace')}/"
                                f"{meta(job).get('name')} finished")
    return finished + timedelta(seconds=int(ju.spec_of(job)["ttlSecondsAfterFinished"]))


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished-controller"
    queue_name = "ttl_jobs_to_delete"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self.job_informer = ctx.informers.informer(JOBS)
        self.job_informer.add_event_handler(on_add=self._on_job, on_update=lambda old, new: self._on_job(new))

    def _on_job(self, job: dict) -> None:
        if not is_being_deleted(job) and needs_cleanup(job):
            self.enqueue(job)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.job_informer.lister.get(name, namespace)
        if cached is None or not self._expired(cached, key):
            return
        try:  # the cache may be stale: decide on the Job as it is now
            fresh = await self.client.get(JOBS, name, namespace=namespace)
        except NotFound:
            return
        if not self._expired(fresh, key):
            return
        log.info("job.ttl_expired", job=key, ttl_seconds=ju.spec_of(fresh)["ttlSecondsAfterFinished"],
                 finished=(ju.finished_condition_of(fresh) or {}).get("lastTransitionTime"))
        try:
            await self.client.delete(JOBS, name, namespace=namespace, propagation_policy="Foreground",
                                     preconditions={"uid": uid_of(fresh)})
        except NotFound:
            pass

    def _expired(self, job: dict, key: str) -> bool:
        """processTTL: True once the TTL ran out; before that the key is requeued for that moment."""
        if is_being_deleted(job) or not needs_cleanup(job):
            return False
        left = (expires_at(job) - self.now()).total_seconds()
        if left <= 0:
            return True
        self.queue.add_after(key, left)
        return False
