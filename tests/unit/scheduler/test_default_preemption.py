"""DefaultPreemption against NodeInfos built here and a fake client: eligibility, victims, reprieve,
the node chosen, kube-scheduler's messages, and the API calls made in the background."""

from __future__ import annotations

import asyncio
import random

import pytest

from shared.client.errors import NotFound
from services.scheduler.algorithm import Algorithm
from services.scheduler.app import build_scheduler
from services.scheduler.config import SchedulerConfig
from services.scheduler.framework import Code, CycleState, FitError, NodeInfo, PodInfo, Status
from services.scheduler.plugins import DefaultPreemption, default_framework
from services.scheduler.plugins.default_preemption import (
    Candidate,
    filter_pods_with_pdb_violation,
    pick_one_node_for_preemption,
)
from services.scheduler.nominator import PodNominator
from services.scheduler.queue import ACTIVE, BACKOFF

from .builders import FakeRecorder, make_node, make_pod, node_info, taint

UNRESOLVABLE = Code.UNSCHEDULABLE_AND_UNRESOLVABLE
T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"
GONE = NotFound({"code": 404, "reason": "NotFound", "message": "pods \"v\" not found"})


class FakeClient:
    """Records patches and deletes; `fail` maps "patch"/"delete" to the exception to raise."""

    def __init__(self, **fail: Exception) -> None:
        self.calls: list[tuple] = []
        self.bindings: list[dict] = []
        self.fail = fail

    async def create(self, resource, body, namespace=None, subresource=None):
        self.bindings.append(body)
        return {}

    async def patch(self, resource, name, patch, namespace=None, subresource=None, patch_type="merge"):
        assert (resource.plural, subresource, patch_type) == ("pods", "status", "strategic")
        self.calls.append(("patch", f"{namespace}/{name}", patch))
        if "patch" in self.fail and "conditions" in patch["status"]:
            raise self.fail["patch"]
        return {}

    async def delete(self, resource, name, namespace=None, **options):
        assert resource.plural == "pods" and not options
        self.calls.append(("delete", f"{namespace}/{name}"))
        if "delete" in self.fail:
            raise self.fail["delete"]
        return {}


class FirstOffset(random.Random):
    def randrange(self, *args, **kwargs) -> int:  # start the dry run at the first potential node
        return 0


def low(name: str, priority: int = 10, *, cpu: str = "1", node: str = "n", start: str = T0, **extra) -> dict:
    pod = make_pod(name, cpu=cpu, node_name=node, priority=priority, **extra)
    pod["status"] = {"phase": "Running", "startTime": start}
    return pod


def preemptor(priority: int = 100, *, cpu: str = "2", nominated: str = "", **spec) -> PodInfo:
    pod = make_pod("high", cpu=cpu, priority=priority, **spec)
    if nominated:
        pod["status"]["nominatedNodeName"] = nominated
    return PodInfo(pod)


def terminating(pod: dict, *, by_scheduler: bool = True) -> dict:
    pod["metadata"]["deletionTimestamp"] = T2
    if by_scheduler:
        pod["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                        "reason": "PreemptionByScheduler"}]
    return pod


def setup(nodes: list[NodeInfo], client: FakeClient | None = None, recorder: FakeRecorder | None = None):
    client = client or FakeClient()
    framework = default_framework(client, recorder=recorder, node_lister=lambda: nodes)
    [plugin] = framework.post_filter_plugins
    plugin._rng = FirstOffset()
    return framework, plugin


def nominator_with(node_name: str, *pods: dict) -> PodNominator:
    nominator = PodNominator()
    for pod in pods:
        nominator.add_nominated_pod(PodInfo(pod), node_name)
    return nominator


def diagnose(framework, pod: PodInfo, nodes: list[NodeInfo]) -> tuple[CycleState, dict[str, Status]]:
    """Run the cycle up to PostFilter, as the scheduler does; the filters' status per node."""
    state = CycleState()
    with pytest.raises(FitError) as info:
        Algorithm().schedule_pod(framework, state, pod, nodes)
    return state, info.value.diagnosis.node_to_status


async def preempt(framework, plugin: DefaultPreemption, pod: PodInfo, nodes: list[NodeInfo]):
    """The cycle's filters, then PostFilter, then its background API calls: (result, status)."""
    state, statuses = diagnose(framework, pod, nodes)
    result, status = plugin.post_filter(state, pod, statuses)
    await asyncio.gather(*plugin._tasks)
    return result, status


def select_victims(pod: PodInfo, node: NodeInfo, nominated: tuple[dict, ...] = (),
                   pdbs: tuple[dict, ...] = ()) -> tuple[list[str], Status | None]:
    names, _, status = select_victims_counting_violations(pod, node, nominated, pdbs)
    return names, status


def select_victims_counting_violations(pod: PodInfo, node: NodeInfo, nominated: tuple[dict, ...] = (),
                                       pdbs: tuple[dict, ...] = ()) -> tuple[list[str], int, Status | None]:
    framework, plugin = setup([node])
    framework.pod_nominator = nominator_with(node.name, *nominated)
    state = CycleState()
    framework.run_pre_filter_plugins(state, pod, [node])
    victims, violations, status = plugin.select_victims_on_node(state, pod, node.clone(), list(pdbs))
    return [v.key.split("/")[1] for v in victims], violations, status


# victims and reprieve --------------------------------------------------------------------------

@pytest.mark.parametrize(("pods", "pod", "victims", "status"), [
    # the higher-priority low pod is reprieved first, and the pod still fits beside it
    ([low("a", 10, cpu="2"), low("b", 20, cpu="2")], preemptor(cpu="2"), ["a"], None),
    # equal priorities: the one that started earlier is more important and stays
    ([low("old", start=T0, cpu="2"), low("new", start=T1, cpu="2")], preemptor(cpu="2"), ["new"], None),
    # no start time: the creation time decides
    ([make_pod("x", cpu="2", node_name="n", priority=10, created=T1),
      make_pod("y", cpu="2", node_name="n", priority=10, created=T0)], preemptor(cpu="2"), ["x"], None),
    # every victim needed: listed most important first
    ([low("a", 10, cpu="2"), low("b", 20, cpu="2")], preemptor(cpu="4"), ["b", "a"], None),
    # pods of equal or higher priority are never victims: evicting the rest is not enough
    ([low("peer", 100, cpu="3"), low("a", 10, cpu="1")], preemptor(cpu="2"), [],
     Status(Code.UNSCHEDULABLE, "Insufficient cpu")),
    # nothing of lower priority on the node
    ([low("peer", 100, cpu="4")], preemptor(cpu="2"), [],
     Status(UNRESOLVABLE, "No preemption victims found for incoming pod")),
    # negative priorities are lower too
    ([low("neg", -5, cpu="4")], preemptor(priority=0, cpu="2"), ["neg"], None),
])
def test_select_victims_on_node(pods, pod, victims, status):
    node = node_info(make_node("n", cpu="4"), *pods)
    requested = node.requested.milli_cpu
    assert select_victims(pod, node) == (victims, status)
    assert len(node.pods) == len(pods) and node.requested.milli_cpu == requested  # the original is untouched


def waiting(name: str, priority: int, *, cpu: str | None = "1", nominated: str = "") -> dict:
    """A pending pod nominated to a node (its status says so when `nominated` is given)."""
    pod = make_pod(name, cpu=cpu, priority=priority)
    if nominated:
        pod["status"]["nominatedNodeName"] = nominated
    return pod


@pytest.mark.parametrize(("nominated", "victims", "status"), [
    ((), ["v"], None),
    # the room a higher-priority nominated pod is waiting for is not the preemptor's to take
    ((waiting("other", 200, cpu="2"),), [], Status(Code.UNSCHEDULABLE, "Insufficient cpu")),
    ((waiting("peer", 100, cpu="2"),), [], Status(Code.UNSCHEDULABLE, "Insufficient cpu")),
    # a lower-priority one does not count, nor the preemptor itself
    ((waiting("lower", 50, cpu="2"),), ["v"], None),
    ((waiting("high", 100, cpu="2"),), ["v"], None),
])
def test_the_dry_run_counts_nominated_pods_of_equal_or_higher_priority(nominated, victims, status):
    node = node_info(make_node("n", cpu="3"), low("v", cpu="2"))
    assert select_victims(preemptor(cpu="2"), node, nominated) == (victims, status)


# PodDisruptionBudgets ---------------------------------------------------------------------------

def pdb(name: str, allowed: int, selector: dict | None, *, namespace: str = "default",
        disrupted: tuple[str, ...] = ()) -> dict:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"selector": selector},
            "status": {"disruptionsAllowed": allowed, "disruptedPods": {p: "2026-01-01T00:00:00Z" for p in disrupted}}}


def labelled(name: str, priority: int = 10, *, app: str = "web", **kw) -> dict:
    pod = low(name, priority, **kw)
    pod["metadata"]["labels"] = {"app": app}
    return pod


WEB = {"matchLabels": {"app": "web"}}


@pytest.mark.parametrize(("budgets", "violating"), [
    ([pdb("b", 1, WEB)], ["c"]),                        # a, b... spend the budget in order: the 2nd goes below 0
    ([pdb("b", 0, WEB)], ["a", "c"]),
    ([pdb("b", 0, WEB, disrupted=("a",))], ["c"]),      # already being evicted: spends nothing
    ([pdb("b", 0, {})], []),                             # an empty selector selects nothing here
    ([pdb("b", 0, None)], []),
    ([pdb("b", 0, WEB, namespace="other")], []),
    ([pdb("b", 0, {"matchLabels": {"app": "db"}})], ["x"]),
])
def test_filter_pods_with_pdb_violation(budgets, violating):
    pods = [PodInfo(labelled("a")), PodInfo(labelled("x", app="db")), PodInfo(labelled("c")),
            PodInfo(low("unlabelled"))]
    bad, good = filter_pods_with_pdb_violation(pods, budgets)
    assert [p.key.split("/")[1] for p in bad] == violating
    assert len(bad) + len(good) == len(pods) and all(p not in bad for p in good)


def test_victims_that_would_violate_a_budget_are_reprieved_first():
    # Either pod frees enough room; without budgets the less important (lower priority) one goes.
    node = node_info(make_node("n", cpu="4"), labelled("guarded", 20, cpu="2"), labelled("free", 10, app="db", cpu="2"))
    assert select_victims_counting_violations(preemptor(cpu="2"), node) == (["free"], 0, None)
    budgets = (pdb("web", 0, WEB),)
    assert select_victims_counting_violations(preemptor(cpu="2"), node, pdbs=budgets) == (["free"], 0, None)
    # Now the budget guards the less important pod: it is reprieved first, the other one goes.
    node = node_info(make_node("n", cpu="4"), labelled("guarded", 10, cpu="2"), labelled("free", 20, app="db", cpu="2"))
    assert select_victims_counting_violations(preemptor(cpu="2"), node, pdbs=budgets) == (["free"], 0, None)
    # When both must go the violation is counted.
    assert select_victims_counting_violations(preemptor(cpu="4"), node, pdbs=budgets) == (
        ["free", "guarded"], 1, None)


# choosing the node ---------------------------------------------------------------------------------

def cand(name: str, *victims: tuple[int, str]) -> Candidate:
    return Candidate(name, [PodInfo(low(f"{name}-{i}", p, start=s)) for i, (p, s) in enumerate(victims)])


@pytest.mark.parametrize(("candidates", "chosen"), [
    ([cand("a", (20, T0)), cand("b", (10, T0), (10, T0), (10, T0))], "b"),  # lowest highest priority
    ([cand("a", (10, T0), (9, T0)), cand("b", (10, T0), (5, T0))], "b"),      # then the lowest sum
    ([cand("a", (10, T0), (-2**31, T0)), cand("b", (10, T0))], "b"),         # sums count every pod as >= 0
    ([cand("a", (10, T0), (0, T0), (0, T0)), cand("b", (10, T0), (0, T0), (0, T0))], "a"),  # all tie: first
    ([cand("a", (10, T0), (5, T1)), cand("b", (10, T1), (5, T0))], "b"),      # latest start of the top victims
    ([cand("a", (10, T2), (10, T0)), cand("b", (10, T1), (10, T1))], "b"),    # the earliest of them counts
    ([cand("only", (10, T0))], "only"),
])
def test_pick_one_node_for_preemption(candidates, chosen):
    assert pick_one_node_for_preemption(candidates).node_name == chosen


def test_fewest_budget_violations_come_first():
    violating = Candidate("a", [PodInfo(low("a-0", 1))], num_pdb_violations=1)
    costly = Candidate("b", [PodInfo(low("b-0", 50)), PodInfo(low("b-1", 50))])
    assert pick_one_node_for_preemption([violating, costly]).node_name == "b"


def test_no_candidates_picks_nothing():
    assert pick_one_node_for_preemption([]) is None


# eligibility -----------------------------------------------------------------------------------

INSUFFICIENT = Status(Code.UNSCHEDULABLE, "Insufficient cpu")


@pytest.mark.parametrize(("pod", "on_nominated", "nominated_status", "expected"), [
    (preemptor(preemptionPolicy="Never"), [], INSUFFICIENT, (False, "not eligible due to preemptionPolicy=Never.")),
    (preemptor(preemptionPolicy="PreemptLowerPriority"), [], INSUFFICIENT, (True, "")),
    (preemptor(nominated="n"), [terminating(low("v"))], INSUFFICIENT,
     (False, "not eligible due to a terminating pod on the nominated node.")),
    # the nominated node can no longer take the pod at all: preempt elsewhere
    (preemptor(nominated="n"), [terminating(low("v"))], Status(UNRESOLVABLE, "node(s) were unschedulable"), (True, "")),
    (preemptor(nominated="n"), [terminating(low("v"))], None, (True, "")),  # not examined
    (preemptor(nominated="n"), [terminating(low("v", 100))], INSUFFICIENT, (True, "")),  # not lower priority
    (preemptor(nominated="n"), [terminating(low("v"), by_scheduler=False)], INSUFFICIENT, (True, "")),
    (preemptor(nominated="n"), [low("v")], INSUFFICIENT, (True, "")),  # not terminating
    (preemptor(nominated="gone"), [terminating(low("v"))], INSUFFICIENT, (True, "")),
])
def test_pod_eligible_to_preempt_others(pod, on_nominated, nominated_status, expected):
    _, plugin = setup([node_info(make_node("n"), *on_nominated)])
    assert plugin.pod_eligible_to_preempt_others(pod, nominated_status) == expected


# PostFilter: the messages when preemption cannot help ------------------------------------------

CONTROL_PLANE = taint("node-role.kubernetes.io/control-plane")


@pytest.mark.parametrize(("nodes", "pod", "message"), [
    ([node_info(make_node("cp", taints=[CONTROL_PLANE])), node_info(make_node("s1", memory="1Gi")),
      node_info(make_node("s2", memory="1Gi"))], PodInfo(make_pod("big", memory="4Gi")),
     ("preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
      "2 No preemption victims found for incoming pod.")),
    ([node_info(make_node("a", cpu="4"), low("peer", 100, cpu="3"), low("x", cpu="1", node="a")),
      node_info(make_node("b", cpu="4"), low("y", 200, cpu="4", node="b"))], preemptor(cpu="2"),
     "preemption: 0/2 nodes are available: 1 Insufficient cpu, 1 No preemption victims found for incoming pod."),
    ([node_info(make_node("a", unschedulable=True), low("x", node="a"))], preemptor(),
     "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."),
    ([node_info(make_node("a", cpu="1"), low("x", node="a"))], preemptor(preemptionPolicy="Never"),
     "preemption: not eligible due to preemptionPolicy=Never."),
])
async def test_post_filter_failure_messages(nodes, pod, message):
    client = FakeClient()
    framework, _ = setup(nodes, client)
    state, statuses = diagnose(framework, pod, nodes)
    _, status = framework.run_post_filter_plugins(state, pod, statuses)
    assert status.code == Code.UNSCHEDULABLE and status.message() == message
    await asyncio.sleep(0)
    assert client.calls == []


async def test_a_stale_nomination_is_cleared_when_preemption_cannot_help():
    nodes = [node_info(make_node("a", cpu="1"), low("peer", 100, node="a"))]
    client = FakeClient()
    framework, plugin = setup(nodes, client)
    pod = preemptor(nominated="a")
    result, status = await preempt(framework, plugin, pod, nodes)
    assert result.nominated_node_name == "" and status.code == Code.UNSCHEDULABLE
    assert client.calls == [("patch", "default/high", {"status": {"nominatedNodeName": None}})]


# PostFilter: success and the API calls ---------------------------------------------------------

def crowded_cluster() -> list[NodeInfo]:
    """Node a's victims would be priority 50, node b's priority 10: b is chosen, and only one of its pods."""
    return [node_info(make_node("a", cpu="4"), low("a1", 50, cpu="2", node="a"), low("a2", 50, cpu="2", node="a")),
            node_info(make_node("b", cpu="4"), low("b1", 10, cpu="2", node="b", start=T0),
                      low("b2", 10, cpu="2", node="b", start=T1)),
            node_info(make_node("cp", taints=[CONTROL_PLANE]))]


async def test_post_filter_nominates_the_best_node_and_preempts_in_the_background():
    nodes, client, recorder = crowded_cluster(), FakeClient(), FakeRecorder()
    framework, plugin = setup(nodes, client, recorder)
    pod = preemptor(cpu="2")
    state, statuses = diagnose(framework, pod, nodes)
    result, status = framework.run_post_filter_plugins(state, pod, statuses)
    assert (result.nominated_node_name, status.code, status.message()) == ("b", Code.SUCCESS, "")
    assert client.calls == [] and len(nodes[1].pods) == 2  # nothing yet: the cycle does not wait, nor touch the cache
    await asyncio.gather(*plugin._tasks)
    condition = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                 "message": "default-scheduler: preempting to accommodate a higher priority pod"}
    [nominate, mark, delete] = client.calls
    assert nominate == ("patch", "default/high", {"status": {"nominatedNodeName": "b"}})
    assert mark[:2] == ("patch", "default/b2")  # the younger one goes
    [written] = mark[2]["status"]["conditions"]
    assert {k: written[k] for k in condition} == condition and written["lastTransitionTime"]
    assert delete == ("delete", "default/b2")
    assert recorder.events == [("default/b2", "Normal", "Preempted", "Preempted by pod uid-default-high on node b")]


async def test_lower_priority_pods_nominated_to_the_chosen_node_are_cleared():
    nodes, client = crowded_cluster(), FakeClient()
    framework, plugin = setup(nodes, client)
    framework.pod_nominator = nominator_with(
        "b", waiting("lower", 5, cpu=None, nominated="b"),
        waiting("in-memory-only", 5, cpu=None),  # its API object does not say so yet: left alone
        waiting("above", 200, cpu=None, nominated="b"))
    framework.pod_nominator.add_nominated_pod(PodInfo(waiting("elsewhere", 5, nominated="a")))
    pod = preemptor(cpu="2")
    result, _ = await preempt(framework, plugin, pod, nodes)
    assert result.nominated_node_name == "b"
    assert [c[:2] for c in client.calls] == [("patch", "default/high"), ("patch", "default/b2"),
                                             ("delete", "default/b2"), ("patch", "default/lower")]
    assert client.calls[-1][2] == {"status": {"nominatedNodeName": None}}


@pytest.mark.parametrize(("fail", "calls_per_victim", "events"), [
    ({"patch": GONE}, ["patch"], 0),  # already gone: no delete, no event
    ({"delete": GONE}, ["patch", "delete"], 0),
    ({"delete": RuntimeError("etcd timeout")}, ["patch", "delete"], 0),  # logged, never raised
    ({}, ["patch", "delete"], 1),
])
async def test_api_errors_are_logged_not_raised(fail, calls_per_victim, events):
    nodes, client, recorder = crowded_cluster(), FakeClient(**fail), FakeRecorder()
    framework, plugin = setup(nodes, client, recorder)
    await preempt(framework, plugin, preemptor(cpu="2"), nodes)
    assert [c[0] for c in client.calls[1:]] == calls_per_victim
    assert len(recorder.events) == events


async def test_victims_already_terminating_are_not_deleted_again_nor_marked():
    nodes = [node_info(make_node("n", cpu="2"), terminating(low("going", cpu="1")), low("stays", 5, cpu="1"))]
    client = FakeClient()
    framework, plugin = setup(nodes, client)
    result, _ = await preempt(framework, plugin, preemptor(cpu="2"), nodes)
    assert result.nominated_node_name == "n"
    assert [c[:2] for c in client.calls] == [("patch", "default/high"), ("patch", "default/stays"),
                                             ("delete", "default/stays")]


async def test_the_dry_run_stops_after_enough_candidates():
    nodes = [node_info(make_node(f"n{i}", cpu="1"), low(f"v{i}", node=f"n{i}")) for i in range(150)]
    framework, plugin = setup(nodes)
    pod = preemptor(cpu="1")
    state, statuses = diagnose(framework, pod, nodes)
    candidates, failed, error = plugin.find_candidates(state, pod, nodes, statuses)
    assert len(candidates) == 100 and failed == {} and error is None  # max(10 % of 150, 100)
    assert [c.node_name for c in candidates[:2]] == ["n0", "n1"]


# the scheduling loop with preemption ------------------------------------------------------------

async def test_scheduler_preempts_then_binds_once_the_victim_is_gone():
    client, recorder = FakeClient(), FakeRecorder()
    scheduler, handlers = build_scheduler(SchedulerConfig(leader_elect=False), client=client, recorder=recorder,
                                          rng=random.Random(0))
    pods: dict[str, dict] = {}
    scheduler.pod_lister = lambda ns, name: pods.get(f"{ns}/{name}")
    handlers.on_node_add(make_node("n", cpu="2"))
    victim = low("victim", cpu="2")
    for pod in (victim, preemptor(cpu="2").pod):
        pods[f"default/{pod['metadata']['name']}"] = pod
        handlers.on_pod_add(pod)
    scheduler.schedule_one(scheduler.queue.pop_nowait())
    await scheduler.wait_for_tasks()  # the preemption's API calls are the scheduler's tasks
    assert recorder.events[0] == ("default/high", "Warning", "FailedScheduling",
                                  "0/1 nodes are available: 1 Insufficient cpu.")
    assert ("delete", "default/victim") in client.calls
    assert ("patch", "default/high", {"status": {"nominatedNodeName": "n"}}) in client.calls
    assert scheduler.cache.get_node_info("n").pods.keys() == {"default/victim"}  # until the informer says so

    handlers.on_pod_delete(victim)  # the informer delivers the deletion
    assert scheduler.queue.where("default/high") is not None
    scheduler.queue._clock = lambda: 10**9  # its backoff is over
    scheduler.queue.flush_backoff_completed()
    assert scheduler.queue.pending_pods()[ACTIVE] == 1
    scheduler.schedule_one(scheduler.queue.pop_nowait())
    await scheduler.wait_for_tasks()
    assert [(b["metadata"]["name"], b["target"]["name"]) for b in client.bindings] == [("high", "n")]


async def test_the_room_freed_for_a_preemptor_is_not_taken_by_a_lower_priority_pod():
    client, recorder = FakeClient(), FakeRecorder()
    scheduler, handlers = build_scheduler(SchedulerConfig(leader_elect=False), client=client, recorder=recorder,
                                          rng=random.Random(0))
    nominator = scheduler.queue.nominator
    pods: dict[str, dict] = {}
    scheduler.pod_lister = lambda ns, name: pods.get(f"{ns}/{name}")

    def informer(pod: dict, event: str = "add", old: dict | None = None) -> None:
        key = f"default/{pod['metadata']['name']}"
        if event == "delete":
            pods.pop(key)
            handlers.on_pod_delete(pod)
            return
        pods[key] = pod
        if event == "add":
            handlers.on_pod_add(pod)
        else:
            handlers.on_pod_update(old, pod)

    handlers.on_node_add(make_node("n", cpu="2"))
    victim, high = low("victim", cpu="2"), preemptor(cpu="2").pod
    informer(victim)
    informer(high)
    scheduler.schedule_one(scheduler.queue.pop_nowait())
    assert nominator.nominated_node("default/high") == "n"  # at once, before any API call returns
    await scheduler.wait_for_tasks()
    assert ("delete", "default/victim") in client.calls

    # Our PodScheduled condition comes back before the nominatedNodeName: the reservation stays.
    with_condition = {**high, "status": {**high["status"], "conditions": [{"type": "PodScheduled"}]}}
    informer(with_condition, "update", high)
    informer({**with_condition, "status": {**with_condition["status"], "nominatedNodeName": "n"}}, "update",
             with_condition)
    assert nominator.nominated_node("default/high") == "n"

    # While the victim terminates, a pod of lower (but higher than the victim's) priority arrives: it
    # neither fits nor preempts the victim again, as the room it would free is the preemptor's.
    informer(terminating(dict(victim, metadata=dict(victim["metadata"]))), "update", victim)
    informer(make_pod("mid", cpu="1", priority=50))
    scheduler.schedule_one(scheduler.queue.pop_nowait())
    assert recorder.events[-1] == ("default/mid", "Warning", "FailedScheduling",
                                   ("0/1 nodes are available: 1 Insufficient cpu. "
                                    "preemption: 0/1 nodes are available: 1 Insufficient cpu."))

    # The victim is gone; the preemptor still backs off when another lower-priority pod arrives.
    informer(pods["default/victim"], "delete")
    assert scheduler.queue.where("default/high") == BACKOFF
    informer(make_pod("late", cpu="1", priority=50))
    scheduler.schedule_one(scheduler.queue.pop_nowait())
    assert recorder.events[-1][:3] == ("default/late", "Warning", "FailedScheduling")
    assert recorder.events[-1][3].startswith("0/1 nodes are available: 1 Insufficient cpu.")
    assert scheduler.cache.get_node_info("n").pods == {}

    scheduler.queue._clock = lambda: 10**9  # backoffs are over: the preemptor goes first and binds
    scheduler.queue.flush_backoff_completed()
    scheduler.schedule_one(scheduler.queue.pop_nowait())
    assert nominator.nominated_pods == {}  # assumed: no longer nominated
    await scheduler.wait_for_tasks()
    assert [(b["metadata"]["name"], b["target"]["name"]) for b in client.bindings] == [("high", "n")]


def test_default_profile_preempts_only_with_a_client():
    names = [p.name for p in default_framework().post_filter_plugins]
    assert names == []
    [plugin] = default_framework(FakeClient()).post_filter_plugins
    assert isinstance(plugin, DefaultPreemption) and plugin.framework is not None
