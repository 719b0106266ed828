"""Disruption controller on a real API server: a PDB `minAvailable: 2` over three hand-made pods
(no ReplicaSet) that the test marks Ready through pods/status allows one disruption; one pod
going not-ready takes it back to none, with the DisruptionAllowed condition following."""

from __future__ import annotations

from typing import Any

from shared.resources import PODDISRUPTIONBUDGETS, PODS, REPLICASETS

from services.controller_manager.controllers.disruption import DisruptionController
from services.controller_manager.objects import format_time, utcnow
from tests.integration.controller_manager.conftest import eventually, running_controller

NS = "default"


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

    async with running_controller(DisruptionController, api_client):
        status = await eventually(lambda: status_with(1, 3), timeout=10, what="one disruption allowed")
        assert (status["expectedPods"], status["desiredHealthy"], status["observedGeneration"]) == (3, 2, 1)
        [cond] = status["conditions"]
        assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")

        await set_ready(api_client, "web-1", False)
        status = await eventually(lambda: status_with(0, 2), timeout=10, what="no disruption allowed")
        [cond] = status["conditions"]
        assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")


async def test_max_unavailable_takes_the_scale_of_the_pods_controller(api_client):
    """A ReplicaSet's spec.replicas from the cache; a DaemonSet owner goes to the scale subresource,
    which daemonsets do not serve (as discovery tells), so that PDB fails safe."""
    rs = await api_client.create(REPLICASETS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": NS},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    owners = {"web": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
                      "controller": True},
              "agent": {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent",
                        "uid": "0b7e6a52-3c2e-4d7e-9a57-1f0c2b6a9d11", "controller": True}}
    for app, count in (("web", 3), ("agent", 1)):
        for i in range(count):
            await api_client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": f"{app}-{i}", "namespace": NS, "labels": {"app": app}, "ownerReferences": [owners[app]]},
                "spec": {"containers": [{"name": app, "image": "nginx"}]}})
            await set_ready(api_client, f"{app}-{i}", True)
        await api_client.create(PODDISRUPTIONBUDGETS, {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": app, "namespace": NS},
            "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": app}}}})

    async def condition_of(name: str):
        status = (await api_client.get(PODDISRUPTIONBUDGETS, name, namespace=NS)).get("status") or {}
        return status if status.get("conditions") else None

    async with running_controller(DisruptionController, api_client):
        web = await eventually(lambda: condition_of("web"), timeout=10, what="the web PDB's status")
        assert (web["expectedPods"], web["desiredHealthy"], web["currentHealthy"], web["disruptionsAllowed"]) == \
            (4, 2, 3, 1)
        agent = await eventually(lambda: condition_of("agent"), timeout=10, what="the agent PDB's status")
        [cond] = agent["conditions"]
        assert (agent["disruptionsAllowed"], cond["status"], cond["reason"], cond["message"]) == \
            (0, "False", "SyncFailed", "daemonsets.apps does not implement the scale subresource")
