"""A Deployment on a real API server: create, roll within surge/unavailable, undo, replace a pod, delete."""

from __future__ import annotations

import asyncio
import copy

from shared.resources import DEPLOYMENTS, PODS, REPLICASETS

from tests.integration.controller_manager.conftest import eventually

NS = "default"


def deployment(name: str = "web", replicas: int = 10, image: str = "nginx:1.25") -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}},
    }


async def active_pods(client, app: str) -> list[dict]:
    items = (await client.list(PODS, namespace=NS, label_selector=f"app={app}"))["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def is_ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (pod.get("status") or {}).get("conditions") or [])


async def rolled_out(client, name: str, image: str, replicas: int = 10):
    d = await client.get(DEPLOYMENTS, name, namespace=NS)
    s = d.get("status") or {}
    image_now = d["spec"]["template"]["spec"]["containers"][0]["image"]
    done = (image_now == image and s.get("observedGeneration", 0) >= d["metadata"]["generation"]
            and s.get("updatedReplicas") == replicas and s.get("replicas") == replicas
            and s.get("availableReplicas") == replicas)
    return d if done else None


async def watch_bounds(client, app: str, stop: asyncio.Event, samples: list) -> None:
    """Sample the RS sizes and ready pods while a rollout runs."""
    while not stop.is_set():
        rss = (await client.list(REPLICASETS, namespace=NS, label_selector=f"app={app}"))["items"]
        pods = await active_pods(client, app)
        samples.append((sum(rs["spec"]["replicas"] for rs in rss), sum(1 for p in pods if is_ready(p))))
        await asyncio.sleep(0.05)


async def test_rolling_update_within_bounds_then_undo(api_client, controller_manager, nodes):
    await nodes(["node-1", "node-2"], ready_delay=0.3)
    await controller_manager()
    await api_client.create(DEPLOYMENTS, deployment())
    d = await eventually(lambda: rolled_out(api_client, "web", "nginx:1.25"), what="first rollout")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    conditions = {c["type"]: c for c in d["status"]["conditions"]}
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    [rs1] = (await api_client.list(REPLICASETS, namespace=NS))["items"]
    pod_hash = rs1["metadata"]["labels"]["pod-template-hash"]
    assert rs1["metadata"]["name"] == f"web-{pod_hash}"
    assert all(p["metadata"]["labels"]["pod-template-hash"] == pod_hash for p in await active_pods(api_client, "web"))

    stop, samples = asyncio.Event(), []
    sampler = asyncio.create_task(watch_bounds(api_client, "web", stop, samples))
    await api_client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.26"}]}}}}, namespace=NS, patch_type="strategic")
    d = await eventually(lambda: rolled_out(api_client, "web", "nginx:1.26"), what="rollout to 1.26")
    stop.set()
    await sampler
    assert samples and max(total for total, _ in samples) <= 13        # 10 + maxSurge 25% (3)
    assert min(ready for _, ready in samples) >= 8                     # 10 - maxUnavailable 25% (2)
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    pods = await eventually(lambda: _all_on_image(api_client, "nginx:1.26"), what="old pods gone")
    assert len(pods) == 10

    # `kubectl rollout undo`: put revision 1's template back (without the hash label)
    rs1 = await api_client.get(REPLICASETS, rs1["metadata"]["name"], namespace=NS)
    template = copy.deepcopy(rs1["spec"]["template"])
    del template["metadata"]["labels"]["pod-template-hash"]
    await api_client.patch(DEPLOYMENTS, "web", [{"op": "replace", "path": "/spec/template", "value": template}],
                           namespace=NS, patch_type="json")
    d = await eventually(lambda: rolled_out(api_client, "web", "nginx:1.25"), what="undo")
    rs1 = await api_client.get(REPLICASETS, rs1["metadata"]["name"], namespace=NS)
    assert rs1["spec"]["replicas"] == 10, "the undo reuses revision 1's ReplicaSet"
    assert rs1["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert rs1["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert len((await api_client.list(REPLICASETS, namespace=NS))["items"]) == 2


async def _all_on_image(client, image: str, app: str = "web"):
    pods = (await client.list(PODS, namespace=NS, label_selector=f"app={app}"))["items"]
    ok = len(pods) == 10 and all(p["spec"]["containers"][0]["image"] == image for p in pods)
    return pods if ok else None


async def test_deleted_pod_is_replaced_and_deployment_delete_leaves_nothing(api_client, controller_manager, nodes):
    await nodes(["node-1"], ready_delay=0.1)
    await controller_manager()
    await api_client.create(DEPLOYMENTS, deployment("small", 3))
    await eventually(lambda: rolled_out(api_client, "small", "nginx:1.25", 3), what="rollout")
    victim = (await active_pods(api_client, "small"))[0]["metadata"]["name"]
    await api_client.delete(PODS, victim, namespace=NS)

    async def replaced():
        pods = await active_pods(api_client, "small")
        names = {p["metadata"]["name"] for p in pods}
        return len(pods) == 3 and victim not in names and all(is_ready(p) for p in pods)

    await eventually(replaced, what="a replacement pod")

    await api_client.delete(DEPLOYMENTS, "small", namespace=NS)

    async def nothing_left():
        rss = (await api_client.list(REPLICASETS, namespace=NS, label_selector="app=small"))["items"]
        pods = (await api_client.list(PODS, namespace=NS, label_selector="app=small"))["items"]
        return not rss and not pods

    await eventually(nothing_left, what="ReplicaSets and Pods garbage collected")


async def test_foreground_deletion_waits_for_dependents(api_client, controller_manager, nodes):
    await nodes(["node-1"], ready_delay=0.05)
    await controller_manager()
    await api_client.create(DEPLOYMENTS, deployment("fg", 2))
    await eventually(lambda: rolled_out(api_client, "fg", "nginx:1.25", 2), what="rollout")
    await api_client.delete(DEPLOYMENTS, "fg", namespace=NS, propagation_policy="Foreground")

    async def gone():
        deps = (await api_client.list(DEPLOYMENTS, namespace=NS))["items"]
        rss = (await api_client.list(REPLICASETS, namespace=NS, label_selector="app=fg"))["items"]
        pods = (await api_client.list(PODS, namespace=NS, label_selector="app=fg"))["items"]
        return not [d for d in deps if d["metadata"]["name"] == "fg"] and not rss and not pods

    await eventually(gone, what="foreground deletion to finish")


async def test_orphan_deletion_keeps_replica_set(api_client, controller_manager, nodes):
    await nodes(["node-1"], ready_delay=0.05)
    await controller_manager()
    await api_client.create(DEPLOYMENTS, deployment("orph", 1))
    await eventually(lambda: rolled_out(api_client, "orph", "nginx:1.25", 1), what="rollout")
    await api_client.delete(DEPLOYMENTS, "orph", namespace=NS, propagation_policy="Orphan")

    async def orphaned():
        deps = [d for d in (await api_client.list(DEPLOYMENTS, namespace=NS))["items"]
                if d["metadata"]["name"] == "orph"]
        rss = (await api_client.list(REPLICASETS, namespace=NS, label_selector="app=orph"))["items"]
        return not deps and len(rss) == 1 and not rss[0]["metadata"].get("ownerReferences")

    await eventually(orphaned, what="the ReplicaSet to be orphaned")


async def test_a_restarted_controller_manager_finishes_the_rollout(api_client, controller_manager, nodes):
    """Level-based: a new process with empty memory (no expectations) continues where the old one stopped."""
    await nodes(["node-1", "node-2"], ready_delay=0.3)
    first = await controller_manager()
    await api_client.create(DEPLOYMENTS, deployment("restart", 10))
    await eventually(lambda: rolled_out(api_client, "restart", "nginx:1.25"), what="first rollout")
    stop, samples = asyncio.Event(), []
    sampler = asyncio.create_task(watch_bounds(api_client, "restart", stop, samples))
    await api_client.patch(DEPLOYMENTS, "restart", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.26"}]}}}}, namespace=NS, patch_type="strategic")
    await asyncio.sleep(0.5)
    await first.stop()  # mid-rollout
    await controller_manager()
    await eventually(lambda: rolled_out(api_client, "restart", "nginx:1.26"), what="rollout finished by the successor")
    stop.set()
    await sampler
    assert max(total for total, _ in samples) <= 13
    pods = await eventually(lambda: _all_on_image(api_client, "nginx:1.26", "restart"), what="exactly 10 new pods")
    assert len(pods) == 10
