"""Disruption controller on a real API server: a PDB `minAvailable: 2` over three hand-made pods
(no ReplicaSet) that the test marks Ready through pods/status allows one disruption; one pod
going not-ready takes it back to none, with the DisruptionAllowed condition following."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from shared.events import EventRecorder
from shared.informer import SharedInformerFactory
from shared.resources import PODDISRUPTIONBUDGETS, PODS

from services.controller_manager.base import ControllerContext
from services.controller_manager.controllers.disruption import DisruptionController
from services.controller_manager.objects import format_time, utcnow
from tests.integration.controller_manager.conftest import eventually

NS = "default"


@contextlib.asynccontextmanager
async def running(client: Any) -> AsyncIterator[DisruptionController]:
    """The controller as the controller-manager runs it (shared informers, an event recorder)."""
    factory = SharedInformerFactory(client, resync_period=0)
    recorder = EventRecorder(client, component=DisruptionController.name, host=None)
    ctx = ControllerContext(client=client, informers=factory, recorder_factory=lambda _: recorder)
    controller = DisruptionController(ctx)
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


async def set_ready(client: Any, name: str, ready: bool) -> None:
    pod = await client.get(PODS, name, namespace=NS)
    stamp = format_time(utcnow())
    pod["status"] = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp}]}
    await client.update(PODS, pod, namespace=NS, subresource="status")


async def test_min_available_over_hand_made_pods(api_client):
    for i in range(3):
        await api_client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                       "metadata": {"name": f"web-{i}", "namespace": NS, "labels": {"app": "web"}},
                                       "spec": {"containers": [{"name": "web", "image": "nginx"}]}})
        await set_ready(api_client, f"web-{i}", True)
    await api_client.create(PODDISRUPTIONBUDGETS, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web-pdb", "namespace": NS},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})

    async def status_with(allowed: int, healthy: int):
        status = (await api_client.get(PODDISRUPTIONBUDGETS, "web-pdb", namespace=NS)).get("status") or {}
        conditions = status.get("conditions") or []
        if status.get("disruptionsAllowed") == allowed and status.get("currentHealthy") == healthy and conditions:
            return status
        return None

    async with running(api_client):
        status = await eventually(lambda: status_with(1, 3), timeout=10, what="one disruption allowed")
        assert (status["expectedPods"], status["desiredHealthy"], status["observedGeneration"]) == (3, 2, 1)
        [cond] = status["conditions"]
        assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")

        await set_ready(api_client, "web-1", False)
        status = await eventually(lambda: status_with(0, 2), timeout=10, what="no disruption allowed")
        [cond] = status["conditions"]
        assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")
