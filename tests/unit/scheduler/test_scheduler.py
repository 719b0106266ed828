"""The scheduling loop against fake API calls: binds, events, conditions, requeueing."""

from __future__ import annotations

import asyncio
import random

import pytest

from services.scheduler.app import build_scheduler
from services.scheduler.config import SchedulerConfig
from services.scheduler.queue import ACTIVE, BACKOFF, UNSCHEDULABLE

from .builders import FakeRecorder, make_node, make_pod, taint


class FakeClient:
    """Records the calls the scheduler makes; `fail_binds` makes binding POSTs raise."""

    def __init__(self) -> None:
        self.bindings: list[dict] = []
        self.patches: list[tuple[str, dict, str]] = []
        self.fail_binds = 0

    async def create(self, resource, body, namespace=None, subresource=None):
        assert (resource.plural, subresource) == ("pods", "binding")
        await asyncio.sleep(0)
        if self.fail_binds:
            self.fail_binds -= 1
            raise RuntimeError("etcdserver: request timed out")
        self.bindings.append(body)
        return {"kind": "Status", "status": "Success"}

    async def patch(self, resource, name, patch, namespace=None, subresource=None, patch_type="merge"):
        assert subresource == "status" and patch_type == "strategic"
        self.patches.append((f"{namespace}/{name}", patch, patch_type))
        return {}


class Cluster:
    """A scheduler wired to fakes, with an informer stand-in that delivers what the binds did."""

    def __init__(self, **config) -> None:
        self.client, self.recorder = FakeClient(), FakeRecorder()
        self.scheduler, self.handlers = build_scheduler(
            SchedulerConfig(leader_elect=False, **config), client=self.client, recorder=self.recorder,
            rng=random.Random(0))
        self.pods: dict[str, dict] = {}
        self.scheduler.pod_lister = lambda ns, name: self.pods.get(f"{ns}/{name}")

    def add_node(self, node: dict) -> None:
        self.handlers.on_node_add(node)

    def add_pod(self, pod: dict) -> None:
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        self.pods[key] = pod
        self.handlers.on_pod_add(pod)

    async def run_until_idle(self) -> None:
        """Schedule what is active, let binds finish, and deliver the bound pods as the informer would."""
        queue = self.scheduler.queue
        while queue.pending_pods()[ACTIVE]:
            self.scheduler.schedule_one(queue.pop_nowait())
            await self.scheduler.wait_for_tasks()
            self._deliver_bindings()

    def _deliver_bindings(self) -> None:
        for binding in self.client.bindings:
            key = f"{binding['metadata']['namespace']}/{binding['metadata']['name']}"
            old = self.pods[key]
            if old["spec"].get("nodeName"):
                continue
            new = {**old, "spec": {**old["spec"], "nodeName": binding["target"]["name"]}}
            self.pods[key] = new
            self.handlers.on_pod_update(old, new)

    def placement(self) -> dict[str, str]:
        return {b["metadata"]["name"]: b["target"]["name"] for b in self.client.bindings}


async def test_pods_spread_over_equal_nodes_by_least_allocated():
    cluster = Cluster()
    for i in range(3):
        cluster.add_node(make_node(f"node-{i}", cpu="4", memory="8Gi"))
    for i in range(6):
        cluster.add_pod(make_pod(f"web-{i}", cpu="500m", memory="512Mi"))
    await cluster.run_until_idle()
    per_node = sorted(list(cluster.placement().values()).count(f"node-{i}") for i in range(3))
    assert per_node == [2, 2, 2]
    binding = cluster.client.bindings[0]
    assert binding["apiVersion"] == "v1" and binding["kind"] == "Binding"
    assert binding["metadata"] == {"name": "web-0", "namespace": "default", "uid": "uid-default-web-0"}
    assert binding["target"]["kind"] == "Node"
    node = cluster.placement()["web-0"]
    assert ("default/web-0", "Normal", "Scheduled", f"Successfully assigned default/web-0 to {node}") in \
        cluster.recorder.events


async def test_too_large_pod_waits_with_event_and_condition_then_fits_a_new_node():
    cluster = Cluster()
    cluster.add_node(make_node("cp", taints=[taint("node-role.kubernetes.io/control-plane")]))
    cluster.add_node(make_node("small-1", memory="1Gi"))
    cluster.add_node(make_node("small-2", memory="1Gi"))
    cluster.add_pod(make_pod("big", memory="4Gi"))
    await cluster.run_until_idle()
    message = ("0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
               "2 Insufficient memory. preemption: 0/3 nodes are available: "
               "1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.")
    assert cluster.recorder.events == [("default/big", "Warning", "FailedScheduling", message)]
    [(key, patch, _)] = cluster.client.patches
    condition = patch["status"]["conditions"][0]
    assert key == "default/big"
    assert {k: condition[k] for k in ("type", "status", "reason", "message")} == {
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    assert cluster.scheduler.queue.where("default/big") == UNSCHEDULABLE
    assert cluster.client.bindings == []

    cluster.add_node(make_node("big-node", memory="16Gi"))
    assert cluster.scheduler.queue.where("default/big") in (ACTIVE, BACKOFF)
    cluster.scheduler.queue._clock = lambda: 10**9  # its backoff is over
    cluster.scheduler.queue.flush_backoff_completed()
    await cluster.run_until_idle()
    assert cluster.placement() == {"big": "big-node"}


async def test_same_failure_again_does_not_patch_the_condition_twice():
    cluster = Cluster()
    cluster.add_node(make_node("n", cpu="1"))
    cluster.add_pod(make_pod("big", cpu="2"))
    await cluster.run_until_idle()
    [(_, patch, _)] = cluster.client.patches
    condition = {**patch["status"]["conditions"][0]}
    pod = cluster.pods["default/big"]
    cluster.pods["default/big"] = {**pod, "status": {"phase": "Pending", "conditions": [condition]}}
    cluster.scheduler.queue._clock = lambda: 10**9  # its backoff is over
    cluster.scheduler.queue.update(None, cluster.pods["default/big"])
    await cluster.run_until_idle()
    assert len(cluster.client.patches) == 1
    assert [e[2] for e in cluster.recorder.events] == ["FailedScheduling", "FailedScheduling"]


async def test_no_node_is_over_committed_when_many_pods_arrive_at_once():
    cluster = Cluster()
    for i in range(5):
        cluster.add_node(make_node(f"node-{i}", cpu="2", memory="4Gi", pods="110"))
    for i in range(200):
        cluster.add_pod(make_pod(f"p-{i:03d}", cpu="300m", memory="100Mi"))
    # schedule all of them before any bind completes: only the assumptions protect the nodes
    queue = cluster.scheduler.queue
    while queue.pending_pods()[ACTIVE]:
        cluster.scheduler.schedule_one(queue.pop_nowait())
    await cluster.scheduler.wait_for_tasks()
    placed = cluster.placement()
    assert len(placed) == 5 * 6  # 6 x 300m fit in 2 cpu
    for i in range(5):
        assert list(placed.values()).count(f"node-{i}") == 6
    assert queue.pending_pods()[UNSCHEDULABLE] == 170


async def test_failed_bind_forgets_the_assumption_and_backs_off():
    cluster = Cluster()
    cluster.add_node(make_node("n", cpu="1"))
    cluster.client.fail_binds = 1
    cluster.add_pod(make_pod("p", cpu="1"))
    await cluster.run_until_idle()
    assert cluster.client.bindings == []
    assert cluster.scheduler.cache.get_node_info("n").requested.milli_cpu == 0
    assert cluster.scheduler.queue.where("default/p") == BACKOFF
    [(_, patch, _)] = cluster.client.patches
    assert patch["status"]["conditions"][0]["reason"] == "SchedulerError"
    assert "etcdserver: request timed out" in cluster.recorder.events[-1][3]
    cluster.scheduler.queue._clock = lambda: 10**9
    cluster.scheduler.queue.flush_backoff_completed()
    await cluster.run_until_idle()
    assert cluster.placement() == {"p": "n"}


async def test_bound_pods_count_and_deleting_one_makes_room():
    cluster = Cluster()
    cluster.add_node(make_node("n", cpu="1"))
    running = make_pod("running", cpu="1", node_name="n")
    cluster.add_pod(running)
    cluster.add_pod(make_pod("waiting", cpu="1"))
    await cluster.run_until_idle()
    assert cluster.recorder.events[-1][3] == (
        "0/1 nodes are available: 1 Insufficient cpu. "
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
    cluster.handlers.on_pod_delete(running)
    assert cluster.scheduler.queue.where("default/waiting") in (ACTIVE, BACKOFF)


async def test_finished_pods_free_their_node():
    cluster = Cluster()
    cluster.add_node(make_node("n", cpu="1"))
    job = make_pod("job", cpu="1", node_name="n")
    cluster.add_pod(job)
    done = {**job, "status": {"phase": "Succeeded"}}
    cluster.handlers.on_pod_update(job, done)
    assert cluster.scheduler.cache.get_node_info("n").requested.milli_cpu == 0


async def test_other_schedulers_pods_and_deleting_pods_are_left_alone():
    cluster = Cluster()
    cluster.add_node(make_node("n"))
    cluster.add_pod(make_pod("theirs", schedulerName="my-scheduler"))
    assert cluster.scheduler.queue.where("default/theirs") is None
    deleting = make_pod("going")
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    cluster.add_pod(deleting)
    await cluster.run_until_idle()
    assert cluster.client.bindings == []
    assert cluster.recorder.events == [("default/going", "Warning", "FailedScheduling",
                                        "skip schedule deleting pod: default/going")]


async def test_no_nodes_at_all_retries_with_backoff():
    cluster = Cluster()
    cluster.add_pod(make_pod("p"))
    await cluster.run_until_idle()
    assert cluster.recorder.events[-1][3] == "no nodes available to schedule pods"
    assert cluster.scheduler.queue.where("default/p") == BACKOFF


async def test_run_loop_schedules_and_metrics_count():
    cluster = Cluster()
    cluster.add_node(make_node("n"))
    loop = asyncio.create_task(cluster.scheduler.run())
    cluster.add_pod(make_pod("a"))
    cluster.add_pod(make_pod("b", cpu="100"))
    for _ in range(100):
        await asyncio.sleep(0)
        if len(cluster.recorder.events) == 2:
            break
    cluster.scheduler.queue.close()
    await asyncio.wait_for(loop, 1)
    await cluster.scheduler.wait_for_tasks()
    registry = cluster.scheduler.metrics.registry
    sample = lambda result: registry.get_sample_value(  # noqa: E731
        "scheduler_schedule_attempts_total", {"result": result, "profile": "default-scheduler"})
    assert sample("scheduled") == 1 and sample("unschedulable") == 1


@pytest.mark.parametrize("bad", [{"percentage_of_nodes_to_score": 101}, {"leader_elect": True,
                                                                        "leader_elect_renew_deadline": 20.0}])
def test_config_rejects_invalid_values(bad):
    with pytest.raises(ValueError):
        SchedulerConfig(**bad)


UNSCHEDULABLE_CONDITION = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "m",
                           "lastProbeTime": None}


@pytest.mark.parametrize(("current", "expected_transition"), [
    ([], "now"),                                                                   # first time: set
    ([{**UNSCHEDULABLE_CONDITION, "lastTransitionTime": "t0"}], None),             # unchanged: no write
    ([{**UNSCHEDULABLE_CONDITION, "message": "old", "lastTransitionTime": "t0"}], "t0"),  # same status: keep time
    ([{"type": "PodScheduled", "status": "True", "lastTransitionTime": "t0"}], "now"),    # status flips: new time
    ([{"type": "Ready", "status": "False", "lastTransitionTime": "t0"}], "now"),   # other types do not count
])
def test_updated_condition_follows_pod_condition_semantics(current, expected_transition):
    from services.scheduler.scheduler import updated_condition

    new = updated_condition({"status": {"conditions": current}}, UNSCHEDULABLE_CONDITION)
    if expected_transition is None:
        assert new is None
    elif expected_transition == "now":
        assert new["lastTransitionTime"] not in ("t0", None) and new["message"] == "m"
    else:
        assert new["lastTransitionTime"] == expected_transition and new["message"] == "m"
