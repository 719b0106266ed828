"""Nominated pods: the nominator's bookkeeping, the queue keeping it current, and the filters
counting the pods nominated to a node so that the room preemption frees stays reserved."""

from __future__ import annotations

import pytest

from services.scheduler.algorithm import Algorithm
from services.scheduler.app import build_scheduler
from services.scheduler.config import SchedulerConfig
from services.scheduler.framework import Code, CycleState, FitError, PodInfo, Status
from services.scheduler.framework.runtime import add_ge_nominated_pods
from services.scheduler.nominator import PodNominator
from services.scheduler.plugins import default_framework
from services.scheduler.queue import SchedulingQueue

from .builders import make_node, make_pod, node_info


def pod(name: str = "p", *, nominated: str = "", node: str | None = None, priority: int = 0,
        cpu: str | None = None) -> dict:
    out = make_pod(name, node_name=node, priority=priority, cpu=cpu)
    if nominated:
        out["status"]["nominatedNodeName"] = nominated
    return out


def nominations(nominator: PodNominator) -> dict[str, list[str]]:
    """node -> names of the pods nominated to it, checked against the reverse map."""
    out = {node: sorted(k.split("/")[1] for k in pods) for node, pods in nominator.nominated_pods.items()}
    assert {k: n for n, pods in nominator.nominated_pods.items() for k in pods} == nominator.nominated_pod_to_node
    return out


# the nominator's bookkeeping -------------------------------------------------------------------

@pytest.mark.parametrize(("steps", "expected"), [
    # the pod's own status.nominatedNodeName, without an override
    ([("add", pod(nominated="n1"), None)], {"n1": ["p"]}),
    ([("add", pod(), None)], {}),
    # an override wins over the pod's own field; "" clears
    ([("add", pod(nominated="n1"), "n2")], {"n2": ["p"]}),
    ([("add", pod(), "n2")], {"n2": ["p"]}),
    ([("add", pod(nominated="n1"), None), ("add", pod(nominated="n1"), "")], {}),
    # a pod is nominated to one node at a time
    ([("add", pod(), "n1"), ("add", pod(), "n2")], {"n2": ["p"]}),
    ([("add", pod(), "n1"), ("add", pod(), "n1")], {"n1": ["p"]}),
    # a bound pod is never nominated, and binding drops an earlier nomination
    ([("add", pod(nominated="n1", node="n1"), None)], {}),
    ([("add", pod(), "n1"), ("add", pod(node="n1"), "n1")], {}),
    ([("add", pod("a"), "n1"), ("add", pod("b"), "n1"), ("add", pod("c"), "n2")], {"n1": ["a", "b"], "n2": ["c"]}),
    # delete, including of a pod never nominated
    ([("add", pod("a"), "n1"), ("add", pod("b"), "n1"), ("delete", pod("a"), None)], {"n1": ["b"]}),
    ([("add", pod(), "n1"), ("delete", pod(), None)], {}),
    ([("delete", pod(), None)], {}),
    # update: the new pod's field decides, unless neither has one (then the in-memory nomination stays)
    ([("add", pod(), "n1"), ("update", (pod(), pod()), None)], {"n1": ["p"]}),
    ([("add", pod(), "n1"), ("update", (pod(), pod(nominated="n2")), None)], {"n2": ["p"]}),
    ([("add", pod(nominated="n1"), None), ("update", (pod(nominated="n1"), pod()), None)], {}),
    ([("update", (pod(), pod(nominated="n1")), None)], {"n1": ["p"]}),
    ([("update", (None, pod()), None)], {}),
    ([("add", pod(), "n1"), ("update", (pod(), pod(node="n1")), None)], {}),
])
def test_nominator_bookkeeping(steps, expected):
    nominator = PodNominator()
    for op, obj, override in steps:
        if op == "add":
            nominator.add_nominated_pod(PodInfo(obj), override)
        elif op == "update":
            nominator.update_nominated_pod(obj[0], PodInfo(obj[1]))
        else:
            nominator.delete_nominated_pod_if_exists(obj)
    assert nominations(nominator) == expected


def test_nominated_pods_for_node_holds_the_latest_pod_info():
    nominator = PodNominator()
    nominator.add_nominated_pod(PodInfo(pod()), "n1")
    newer = PodInfo(pod(priority=7))
    nominator.update_nominated_pod(pod(), newer)
    assert nominator.nominated_pods_for_node("n1") == [newer] and nominator.nominated_pods_for_node("n2") == []
    assert nominator.nominated_node("default/p") == "n1" and nominator.nominated_node("default/q") is None


# the queue keeps it current ----------------------------------------------------------------------

@pytest.mark.parametrize(("steps", "expected"), [
    # added with a nominatedNodeName (e.g. after a scheduler restart): nominated
    ([("add", pod(nominated="n1"))], {"n1": ["p"]}),
    ([("add", pod())], {}),
    ([("update", None, pod(nominated="n1"))], {"n1": ["p"]}),  # an update of a pod not queued adds it
    # an update that clears it removes the nomination, in each of the queue's three places
    ([("add", pod(nominated="n1")), ("update", pod(nominated="n1"), pod())], {}),
    ([("add", pod(nominated="n1")), ("fail", ()), ("update", pod(nominated="n1"), pod())], {}),
    ([("add", pod(nominated="n1")), ("fail", {"NodeResourcesFit"}), ("update", pod(nominated="n1"), pod())],
     {}),
    ([("add", pod(nominated="n1")), ("update", pod(nominated="n1"), pod(nominated="n2"))], {"n2": ["p"]}),
    # a status update without the field keeps a nomination the scheduler made in memory
    ([("add", pod()), ("nominate", "n1"), ("update", pod(), pod())], {"n1": ["p"]}),
    ([("add", pod()), ("fail", {"NodeResourcesFit"}), ("nominate", "n1"), ("add", pod())],
     {"n1": ["p"]}),
    ([("add", pod(nominated="n1")), ("delete", pod())], {}),
])
def test_the_queue_keeps_the_nominator_current(steps, expected):
    queue = SchedulingQueue(events_to_register=default_framework().events_to_register())
    for op, *args in steps:
        if op == "add":
            queue.add(*args)
        elif op == "update":
            queue.update(*args)
        elif op == "delete":
            queue.delete(*args)
        elif op == "nominate":  # what the failure handler does after preemption
            queue.nominator.add_nominated_pod(PodInfo(pod()), *args)
        else:  # a failed attempt: back to backoffQ (no plugin) or unschedulablePods
            qpi = queue.pop_nowait()
            qpi.unschedulable_plugins = set(*args)
            queue.add_unschedulable_if_not_present(qpi, queue.scheduling_cycle)
    assert nominations(queue.nominator) == expected


# filtering with nominated pods ------------------------------------------------------------------

def decide(nominated: list[tuple[str, dict]], incoming: dict, *node_names: str) -> str:
    """The node `incoming` (cpu 1) goes to among nodes of 2 cpu, each already using 1, or the failure message."""
    framework = default_framework()
    framework.pod_nominator = PodNominator()
    for node_name, nominee in nominated:
        framework.pod_nominator.add_nominated_pod(PodInfo(nominee), node_name)
    nodes = [node_info(make_node(n, cpu="2"), make_pod(f"{n}-used", cpu="1", node_name=n)) for n in node_names]
    try:
        return Algorithm().schedule_pod(framework, CycleState(), PodInfo(incoming), nodes).suggested_host
    except FitError as err:
        return str(err)


INSUFFICIENT = "0/1 nodes are available: 1 Insufficient cpu."


@pytest.mark.parametrize(("nominated", "incoming", "expected"), [
    ([], pod("low", cpu="1", priority=10), "a"),
    # the room is reserved for a nominated pod of higher or equal priority
    ([("a", pod("high", cpu="1", priority=100))], pod("low", cpu="1", priority=10), INSUFFICIENT),
    ([("a", pod("peer", cpu="1", priority=10))], pod("low", cpu="1", priority=10), INSUFFICIENT),
    # but not against a pod of higher priority
    ([("a", pod("low", cpu="1", priority=10))], pod("high", cpu="1", priority=100), "a"),
    # a pod is not in its own way
    ([("a", pod("low", cpu="1", priority=10))], pod("low", cpu="1", priority=10), "a"),
    # a nomination elsewhere does not matter; several add up
    ([("b", pod("high", cpu="1", priority=100))], pod("low", cpu="1", priority=10), "a"),
    ([("a", pod("h1", cpu="500m", priority=100)), ("a", pod("h2", cpu="500m", priority=100))],
     pod("low", cpu="1", priority=10), INSUFFICIENT),
    ([("a", pod("h1", cpu="500m", priority=100)), ("a", pod("l2", cpu="500m", priority=1))],
     pod("low", cpu="500m", priority=10), "a"),
])
def test_filters_count_nominated_pods_of_equal_or_higher_priority(nominated, incoming, expected):
    assert decide(nominated, incoming, "a") == expected


def test_a_pod_kept_off_a_reserved_node_goes_to_another():
    nominated = [("a", pod("high", cpu="1", priority=100))]
    assert {decide(nominated, pod("low", cpu="1", priority=10), "a", "b") for _ in range(20)} == {"b"}


def test_add_ge_nominated_pods_copies_only_when_it_adds():
    node = node_info(make_node("a", cpu="2"), make_pod("used", cpu="1", node_name="a"))
    incoming = PodInfo(pod("p", cpu="1", priority=10))
    assert add_ge_nominated_pods(incoming, node, [PodInfo(pod("lower", cpu="1", priority=1))]) is node
    copy = add_ge_nominated_pods(incoming, node, [PodInfo(pod("higher", cpu="1", priority=11))])
    assert copy is not node and copy.pods.keys() == {"default/used", "default/higher"}
    assert (copy.requested.milli_cpu, node.requested.milli_cpu, len(node.pods)) == (2000, 1000, 1)


# the failure handler ------------------------------------------------------------------------------

@pytest.mark.parametrize(("cached", "nominated", "expected"), [
    (pod("p", cpu="8"), "n1", {"n1": ["p"]}),                    # PostFilter nominated n1
    (pod("p", cpu="8", nominated="n0"), "n1", {"n1": ["p"]}),     # ... over the pod's own field
    (pod("p", cpu="8", nominated="n0"), None, {"n0": ["p"]}),     # no PostFilter result: the pod's own
    (pod("p", cpu="8", nominated="n0"), "", {}),                  # PostFilter cleared it
    (pod("p", cpu="8", node="n1"), "n1", {}),                     # bound meanwhile
    (None, "n1", {}),                                             # deleted meanwhile
])
def test_the_failure_handler_records_the_nomination(cached, nominated, expected):
    scheduler, handlers = build_scheduler(SchedulerConfig(leader_elect=False))
    scheduler.pod_lister = lambda ns, name: cached
    handlers.on_pod_add(pod("p", cpu="8", nominated="old"))
    qpi = scheduler.queue.pop_nowait()
    scheduler._handle_failure(qpi, Status(Code.UNSCHEDULABLE, "no"), 0.0, nominated)
    assert nominations(scheduler.queue.nominator) == expected
