"""The scheduler end to end against a real kubemu API server (no kubelets: pods stay Pending once bound)."""

from __future__ import annotations

import asyncio
import urllib.request
from collections import Counter

from shared.resources import LEASES, NODES, PODS, PRIORITYCLASSES
from tests.integration.scheduler.scheduler_helpers import (
    SchedulerProcess,
    eventually,
    events_for,
    node,
    pod,
    pods_by_name,
)

CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


async def create_all(client, objects: list[dict], resource) -> None:
    semaphore = asyncio.Semaphore(32)

    async def one(obj: dict) -> None:
        async with semaphore:
            await client.create(resource, obj)

    await asyncio.gather(*(one(o) for o in objects))


async def all_bound(client, names: list[str]) -> dict[str, str] | None:
    pods = await pods_by_name(client)
    placed = {n: pods[n]["spec"].get("nodeName") for n in names if n in pods}
    return placed if len(placed) == len(names) and all(placed.values()) else None


async def _events(client, name: str, reason: str) -> list[dict]:
    return [e for e in await events_for(client, name) if e["reason"] == reason]


async def test_pods_spread_by_least_allocated_and_get_scheduled_events(api_client, start_scheduler):
    await create_all(api_client, [node(f"node-{i}", cpu="4", memory="8Gi") for i in range(3)], NODES)
    state = await start_scheduler()
    names = [f"web-{i}" for i in range(6)]
    await create_all(api_client, [pod(n, cpu="500m", memory="256Mi") for n in names], PODS)
    placed = await eventually(lambda: all_bound(api_client, names), what="six pods bound")
    assert sorted(Counter(placed.values()).values()) == [2, 2, 2]
    pods = await pods_by_name(api_client)
    conditions = {c["type"]: c["status"] for c in pods["web-0"]["status"]["conditions"]}
    assert conditions["PodScheduled"] == "True"

    async def scheduled_event():
        return [e for e in await events_for(api_client, "web-0") if e["reason"] == "Scheduled"]

    [event] = await eventually(scheduled_event, what="Scheduled event")
    assert event["type"] == "Normal" and event["source"]["component"] == "default-scheduler"
    assert event["message"] == f"Successfully assigned default/web-0 to {placed['web-0']}"

    base = f"http://127.0.0.1:{state.config.secure_port}"
    metrics = await asyncio.to_thread(lambda: urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode())
    assert 'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 6.0' in metrics
    assert 'scheduler_pending_pods{queue="active"} 0.0' in metrics
    assert 'scheduler_cache_size{type="nodes"} 3.0' in metrics
    assert "scheduler_scheduling_attempt_duration_seconds_bucket" in metrics
    assert await asyncio.to_thread(lambda: urllib.request.urlopen(f"{base}/readyz", timeout=5).status) == 200


async def test_too_large_pod_stays_pending_then_lands_on_a_big_new_node(api_client, start_scheduler):
    await create_all(api_client, [node("control-plane", taints=[CONTROL_PLANE_TAINT]),
                                  node("small-1", memory="1Gi"), node("small-2", memory="1Gi")], NODES)
    await start_scheduler(pod_initial_backoff_seconds=0.2, backoff_flush_period=0.1)
    await api_client.create(PODS, pod("big", memory="4Gi"))
    message = ("0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
               "2 Insufficient memory. preemption: 0/3 nodes are available: "
               "1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.")

    async def failed_event():
        return [e for e in await events_for(api_client, "big") if e["reason"] == "FailedScheduling"]

    [event] = await eventually(failed_event, what="FailedScheduling event")
    assert (event["type"], event["message"]) == ("Warning", message)

    async def unschedulable_condition():
        big = (await pods_by_name(api_client))["big"]
        return [c for c in big["status"].get("conditions", []) if c["type"] == "PodScheduled"]

    [condition] = await eventually(unschedulable_condition, what="PodScheduled condition")
    assert (condition["status"], condition["reason"], condition["message"]) == ("False", "Unschedulable", message)
    assert not (await pods_by_name(api_client))["big"]["spec"].get("nodeName")

    await api_client.create(NODES, node("big-node", memory="16Gi"))
    placed = await eventually(lambda: all_bound(api_client, ["big"]), what="big pod bound")
    assert placed == {"big": "big-node"}


async def test_taints_and_node_selectors_are_honoured(api_client, start_scheduler):
    gpu_taint = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
    await create_all(api_client, [node("plain-1"), node("plain-2"), node("gpu", taints=[gpu_taint]),
                                  node("ssd", labels={"disk": "ssd"})], NODES)
    await start_scheduler()
    plain = [f"plain-{i}" for i in range(8)]
    tolerant = pod("cuda", tolerations=[{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
                   nodeSelector={"kubernetes.io/hostname": "gpu"})
    selective = pod("db", nodeSelector={"disk": "ssd"})
    await create_all(api_client, [pod(n, cpu="100m") for n in plain] + [tolerant, selective], PODS)
    placed = await eventually(lambda: all_bound(api_client, plain + ["cuda", "db"]), what="all pods bound")
    assert "gpu" not in {placed[n] for n in plain}
    assert placed["cuda"] == "gpu" and placed["db"] == "ssd"

    await api_client.create(PODS, pod("nowhere", nodeSelector={"disk": "nvme"}))

    async def failed_event():
        return [e for e in await events_for(api_client, "nowhere") if e["reason"] == "FailedScheduling"]

    [event] = await eventually(failed_event, what="FailedScheduling for nowhere")
    assert event["message"] == ("0/4 nodes are available: 1 node(s) had untolerated taint {gpu: true}, "
                                "3 node(s) didn't match Pod's node affinity/selector. "
                                "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.")


async def test_high_priority_pod_preempts_low_priority_pods_and_lands_once_they_are_gone(api_client, start_scheduler):
    for name, value in (("low", 10), ("high", 1000)):
        await api_client.create(PRIORITYCLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                                  "metadata": {"name": name}, "value": value})
    await create_all(api_client, [node("full", cpu="2"), node("control-plane", taints=[CONTROL_PLANE_TAINT])], NODES)
    await start_scheduler(pod_initial_backoff_seconds=0.2, backoff_flush_period=0.1)
    victims = ["low-0", "low-1"]
    await create_all(api_client, [pod(n, cpu="1", priorityClassName="low") for n in victims], PODS)
    assert await eventually(lambda: all_bound(api_client, victims), what="low pods bound") == {
        n: "full" for n in victims}

    urgent = await api_client.create(PODS, pod("urgent", cpu="2", priorityClassName="high"))
    assert urgent["spec"]["priority"] == 1000

    async def preempted():
        pods = await pods_by_name(api_client)
        nominated = pods["urgent"].get("status", {}).get("nominatedNodeName")
        gone = [n for n in victims if n not in pods or pods[n]["metadata"].get("deletionTimestamp")]
        return pods if nominated == "full" and gone == victims else None

    pods = await eventually(preempted, what="urgent nominated to node full, both low pods being deleted")
    for name in victims:  # no kubelet here: the victims stay, terminating, until deleted for good
        [condition] = [c for c in pods[name]["status"]["conditions"] if c["type"] == "DisruptionTarget"]
        assert (condition["status"], condition["reason"], condition["message"]) == (
            "True", "PreemptionByScheduler", "default-scheduler: preempting to accommodate a higher priority pod")
        [event] = await eventually(lambda n=name: _events(api_client, n, "Preempted"), what=f"Preempted on {name}")
        assert (event["type"], event["message"]) == (
            "Normal", f"Preempted by pod {urgent['metadata']['uid']} on node full")
    [failed, *_] = await _events(api_client, "urgent", "FailedScheduling")
    assert failed["message"] == ("0/2 nodes are available: 1 Insufficient cpu, "
                                 "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.")
    assert not pods["urgent"]["spec"].get("nodeName")

    for name in victims:  # what the kubelet does once the containers stopped
        await api_client.delete(PODS, name, namespace="default", grace_period_seconds=0)
    assert await eventually(lambda: all_bound(api_client, ["urgent"]), what="urgent bound") == {"urgent": "full"}


async def test_no_node_is_over_committed_when_200_pods_arrive_at_once(api_client, start_scheduler):
    await create_all(api_client, [node(f"node-{i}", cpu="2", memory="4Gi") for i in range(5)], NODES)
    await start_scheduler()
    names = [f"burst-{i:03d}" for i in range(200)]
    await create_all(api_client, [pod(n, cpu="300m", memory="64Mi") for n in names], PODS)

    async def settled():
        pods = await pods_by_name(api_client)
        bound = [p for p in pods.values() if p["spec"].get("nodeName")]
        refused = [p for p in pods.values() if any(c.get("reason") == "Unschedulable"
                                                   for c in p.get("status", {}).get("conditions", []))]
        return (bound, refused) if len(bound) == 30 and len(refused) == 170 else None

    bound, _ = await eventually(settled, timeout=60, what="30 bound and 170 unschedulable")
    per_node = Counter(p["spec"]["nodeName"] for p in bound)
    assert per_node == {f"node-{i}": 6 for i in range(5)}  # 6 x 300m = 1800m <= 2 cpu, a 7th does not fit


async def test_leader_killed_mid_run_and_the_other_replica_finishes(api_client, apiserver, tmp_path):
    await create_all(api_client, [node(f"node-{i}", cpu="32", memory="64Gi") for i in range(4)], NODES)
    first = SchedulerProcess(tmp_path, apiserver.kubeconfig, "scheduler-a")
    second = SchedulerProcess(tmp_path, apiserver.kubeconfig, "scheduler-b")
    try:
        first.start()
        await eventually(lambda: asyncio.to_thread(first.is_leader), timeout=30, what="first replica leading")
        second.start()
        await eventually(lambda: asyncio.to_thread(lambda: second.metric("leader_election_master_status",
                                                                         'name="kube-scheduler"') == 0.0),
                         timeout=30, what="second replica up, standing by")
        wave_one = [f"one-{i}" for i in range(50)]
        await create_all(api_client, [pod(n, cpu="100m") for n in wave_one], PODS)
        await eventually(lambda: all_bound(api_client, wave_one), what="wave one bound by the leader")
        assert await asyncio.to_thread(second.scheduled) == 0

        lease_before = await api_client.get(LEASES, "kube-scheduler", namespace="kube-system")
        first.kill()
        wave_two = [f"two-{i}" for i in range(50)]
        await create_all(api_client, [pod(n, cpu="100m") for n in wave_two], PODS)
        await eventually(lambda: all_bound(api_client, wave_two), timeout=30,
                         what="wave two bound by the other replica")
        assert await asyncio.to_thread(second.is_leader)
        assert await asyncio.to_thread(second.scheduled) == 50
        lease_after = await api_client.get(LEASES, "kube-scheduler", namespace="kube-system")
        assert lease_after["spec"]["holderIdentity"] != lease_before["spec"]["holderIdentity"]
        assert lease_after["spec"].get("leaseTransitions", 0) >= lease_before["spec"].get("leaseTransitions", 0) + 1

        # Another holder takes the Lease over: this replica must stop, as kube-scheduler exits.
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        stolen = {**lease_after, "spec": {**lease_after["spec"], "holderIdentity": "somebody-else",
                                          "renewTime": now, "leaseDurationSeconds": 60}}
        await api_client.update(LEASES, stolen)
        await eventually(lambda: asyncio.to_thread(lambda: second.proc.poll() is not None), timeout=20,
                         what="the replica that lost its lease to exit")
        assert "leaderelection lost" in second.log()
    finally:
        first.stop()
        second.stop()
