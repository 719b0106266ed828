"""Pod garbage collector (k8s pkg/controller/podgc), every 20 s.

Guarantees:
- a pod bound to a node that no longer exists (checked with the API server, after the node has
  been missing for a 40 s quarantine) is force-deleted (grace period 0);
- a terminating pod that was never scheduled is force-deleted;
- terminated pods (Succeeded/Failed) beyond `--terminated-pod-gc-threshold` are deleted, oldest first.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from shared.client import NotFound
from shared.controller import run_workers
from shared.resources import NODES, PODS

from shared.logging import get_logger

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.objects import TERMINAL_PHASES, is_being_deleted, meta, name_of

log = get_logger()

GC_CHECK_PERIOD = 20.0
QUARANTINE_SECONDS = 40.0
KEY = "podgc"


class PodGCController(Controller):
    name = "pod-garbage-collector-controller"
    queue_name = "podgc"
    default_workers = 1

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=1)
        self.threshold = getattr(ctx.options, "terminated_pod_gc_threshold", 12500)
        self.period = GC_CHECK_PERIOD
        self.pod_informer = ctx.informers.informer(PODS)
        self.node_informer = ctx.informers.informer(NODES)
        self.missing_since: dict[str, datetime] = {}

    async def run(self) -> None:
        await asyncio.gather(run_workers(self.queue, self.timed_sync, workers=1, name=self.queue_name), self._tick())

    async def _tick(self) -> None:
        while not self.queue.shutting_down:
            self.queue.add(KEY)
            await asyncio.sleep(self.period)

    async def sync(self, key: str) -> None:
        pods = self.pod_informer.lister.list()
        await self._gc_terminated(pods)
        await self._gc_orphaned(pods)
        for pod in pods:
            if is_being_deleted(pod) and not (pod.get("spec") or {}).get("nodeName"):
                await self._force_delete(pod)

    async def _gc_terminated(self, pods: list[dict]) -> None:
        if self.threshold <= 0:
            return
        done = [p for p in pods if (p.get("status") or {}).get("phase") in TERMINAL_PHASES and not is_being_deleted(p)]
        excess = len(done) - self.threshold
        if excess <= 0:
            return
        done.sort(key=lambda p: meta(p).get("creationTimestamp") or "")
        for pod in done[:excess]:
            await self._force_delete(pod, grace=None)

    async def _gc_orphaned(self, pods: list[dict]) -> None:
        now = self.now()
        nodes = {name_of(n) for n in self.node_informer.lister.list()}
        bound = {(p.get("spec") or {}).get("nodeName") for p in pods} - {None, ""}
        for node in list(self.missing_since):
            if node in nodes or node not in bound:
                del self.missing_since[node]
        gone = set()
        for node in bound - nodes:
            since = self.missing_since.setdefault(node, now)
            if (now - since).total_seconds() >= QUARANTINE_SECONDS and await self._node_absent(node):
                gone.add(node)
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") in gone:
                await self._force_delete(pod)

    async def _node_absent(self, name: str) -> bool:
        try:
            await self.client.get(NODES, name)
        except NotFound:
            return True
        return False

    async def _force_delete(self, pod: dict, grace: int | None = 0) -> None:
        log.info("pod.garbage_collected", pod=f"{meta(pod).get('namespace')}/{name_of(pod)}", grace_period=grace)
        try:
            await self.client.delete(PODS, name_of(pod), namespace=meta(pod).get("namespace"),
                                     grace_period_seconds=grace)
        except NotFound:
            pass
