"""The scheduling queue: ordering, backoff, and moving unschedulable pods on cluster events."""

from __future__ import annotations

import asyncio

import pytest

from services.scheduler.framework import ActionType, ClusterEvent
from services.scheduler.framework.types import ASSIGNED_POD_DELETE, NODE_ADD, node_update_event
from services.scheduler.plugins import default_framework
from services.scheduler.queue import ACTIVE, BACKOFF, UNSCHEDULABLE, QueueClosed, SchedulingQueue

from .builders import make_node, make_pod


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock: Clock) -> SchedulingQueue:
    return SchedulingQueue(events_to_register=default_framework().events_to_register(), clock=clock)


def pop_all(queue: SchedulingQueue) -> list[str]:
    names = []
    while queue.pending_pods()[ACTIVE]:
        names.append(queue.pop_nowait().pod["metadata"]["name"])
    return names


def test_active_queue_orders_by_priority_then_creation_then_arrival(queue):
    queue.add(make_pod("low-old", priority=0, created="2026-01-01T00:00:00Z"))
    queue.add(make_pod("high", priority=100, created="2026-01-01T00:00:09Z"))
    queue.add(make_pod("low-new", priority=0, created="2026-01-01T00:00:05Z"))
    queue.add(make_pod("low-old-2", priority=0, created="2026-01-01T00:00:00Z"))
    queue.add(make_pod("negative", priority=-5, created="2025-01-01T00:00:00Z"))
    assert pop_all(queue) == ["high", "low-old", "low-old-2", "low-new", "negative"]


def fail(queue: SchedulingQueue, name: str, plugins: set[str]):
    """Pop `name` (it must be next) and hand it back as kube-scheduler's failure handler does."""
    qpi = queue.pop_nowait()
    assert qpi.pod["metadata"]["name"] == name
    qpi.unschedulable_plugins = set(plugins)
    queue.add_unschedulable_if_not_present(qpi, queue.scheduling_cycle)
    return qpi


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (12, 10)])
def test_backoff_doubles_from_one_second_up_to_ten(queue, clock, attempts, seconds):
    queue.add(make_pod("p"))
    qpi = queue.pop_nowait()
    qpi.attempts = attempts
    assert queue.backoff_duration(qpi) == seconds


def test_a_pod_that_errored_waits_out_its_backoff(queue, clock):
    queue.add(make_pod("p"))
    fail(queue, "p", set())  # no plugin rejected it: an error -> backoffQ
    assert queue.where("default/p") == BACKOFF
    clock.now += 0.9
    assert queue.flush_backoff_completed() == 0
    clock.now += 0.1
    assert queue.flush_backoff_completed() == 1 and queue.where("default/p") == ACTIVE
    qpi = fail(queue, "p", set())
    assert qpi.attempts == 2
    clock.now += 1.5
    assert queue.flush_backoff_completed() == 0
    clock.now += 0.5
    assert queue.flush_backoff_completed() == 1


def test_unschedulable_pod_waits_for_an_event_its_plugin_cares_about(queue, clock):
    queue.add(make_pod("big"))
    fail(queue, "big", {"NodeResourcesFit"})
    assert queue.where("default/big") == UNSCHEDULABLE
    clock.now += 60
    assert queue.flush_backoff_completed() == 0
    # a label change cannot make room; an allocatable change can
    labels_only = node_update_event(make_node("n"), make_node("n", labels={"a": "b"}))
    assert queue.move_all_to_active_or_backoff(labels_only) == 0
    bigger = node_update_event(make_node("n"), make_node("n", cpu="64"))
    assert queue.move_all_to_active_or_backoff(bigger) == 1
    assert queue.where("default/big") == ACTIVE  # its 1 s backoff expired long ago


def test_event_soon_after_failure_moves_the_pod_to_backoff(queue, clock):
    queue.add(make_pod("p"))
    fail(queue, "p", {"TaintToleration"})
    clock.now += 0.5
    assert queue.move_all_to_active_or_backoff(NODE_ADD) == 1
    assert queue.where("default/p") == BACKOFF


@pytest.mark.parametrize(("plugins", "event", "moves"), [
    ({"NodeResourcesFit"}, ASSIGNED_POD_DELETE, True),
    ({"TaintToleration"}, ASSIGNED_POD_DELETE, False),
    ({"NodeAffinity"}, NODE_ADD, True),
    ({"NodeAffinity"}, ClusterEvent("Node", ActionType.UPDATE_NODE_TAINT), False),
    ({"TaintToleration"}, ClusterEvent("Node", ActionType.UPDATE_NODE_TAINT), True),
    ({"NodeUnschedulable"}, ClusterEvent("Node", ActionType.UPDATE_NODE_TAINT), True),
    ({"NodeName"}, ClusterEvent("Node", ActionType.UPDATE_NODE_LABEL), False),
    ({"NodeName", "NodeAffinity"}, ClusterEvent("Node", ActionType.UPDATE_NODE_LABEL), True),
    (set(), ClusterEvent("Node", ActionType.UPDATE_NODE_CONDITION), True),
])
def test_which_events_move_which_pods(queue, clock, plugins, event, moves):
    queue.add(make_pod("p"))
    qpi = queue.pop_nowait()
    qpi.unschedulable_plugins = plugins
    queue._unschedulable[qpi.key] = qpi  # park it directly: this table is about the event match
    clock.now += 30
    assert queue.move_all_to_active_or_backoff(event) == int(moves)


def test_event_during_the_cycle_sends_the_failed_pod_to_backoff_not_unschedulable(queue, clock):
    queue.add(make_pod("p"))
    qpi = queue.pop_nowait()
    cycle = queue.scheduling_cycle
    queue.move_all_to_active_or_backoff(NODE_ADD)  # a node arrived while p was being scheduled
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    queue.add_unschedulable_if_not_present(qpi, cycle)
    assert queue.where("default/p") == BACKOFF


def test_unschedulable_pods_are_flushed_after_five_minutes(queue, clock):
    queue.add(make_pod("p"))
    fail(queue, "p", {"NodeResourcesFit"})
    clock.now += 300
    assert queue.flush_unschedulable_left_over() == 0
    clock.now += 1
    assert queue.flush_unschedulable_left_over() == 1 and queue.where("default/p") == ACTIVE


def test_spec_update_moves_an_unschedulable_pod_but_status_update_does_not(queue, clock):
    old = make_pod("p")
    queue.add(old)
    fail(queue, "p", {"NodeAffinity"})
    clock.now += 20
    status_only = {**old, "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]},
                   "metadata": {**old["metadata"], "resourceVersion": "2"}}
    queue.update(old, status_only)
    assert queue.where("default/p") == UNSCHEDULABLE
    relabelled = {**status_only, "spec": {**old["spec"], "nodeSelector": {"disk": "ssd"}}}
    queue.update(status_only, relabelled)
    assert queue.where("default/p") == ACTIVE
    assert queue.pop_nowait().pod["spec"]["nodeSelector"] == {"disk": "ssd"}


def test_update_of_an_unknown_pod_adds_it_and_delete_removes_it_everywhere(queue):
    pod = make_pod("p")
    queue.update(None, pod)
    assert queue.where("default/p") == ACTIVE
    queue.delete(pod)
    assert queue.where("default/p") is None and queue.pending_pods() == {ACTIVE: 0, BACKOFF: 0, UNSCHEDULABLE: 0}


def test_priority_change_reorders_the_active_queue(queue):
    queue.add(make_pod("a", created="2026-01-01T00:00:00Z"))
    queue.add(make_pod("b", created="2026-01-01T00:00:01Z"))
    queue.update(make_pod("b"), make_pod("b", priority=10, created="2026-01-01T00:00:01Z"))
    assert pop_all(queue) == ["b", "a"]


async def test_pop_waits_for_a_pod_and_close_wakes_it():
    queue = SchedulingQueue()
    waiter = asyncio.create_task(queue.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    queue.add(make_pod("p"))
    qpi = await asyncio.wait_for(waiter, 1)
    assert qpi.key == "default/p" and qpi.attempts == 1 and queue.scheduling_cycle == 1
    closing = asyncio.create_task(queue.pop())
    await asyncio.sleep(0)
    queue.close()
    with pytest.raises(QueueClosed):
        await asyncio.wait_for(closing, 1)


async def test_run_flushes_the_backoff_queue_periodically():
    queue = SchedulingQueue(initial_backoff=0.05, backoff_flush_period=0.01)
    queue.add(make_pod("p"))
    queue.add_unschedulable_if_not_present(queue.pop_nowait(), queue.scheduling_cycle)
    runner = asyncio.create_task(queue.run())
    try:
        qpi = await asyncio.wait_for(queue.pop(), 2)
        assert qpi.attempts == 2
    finally:
        runner.cancel()


def test_adding_a_pod_already_backing_off_does_not_cut_its_backoff(queue, clock):
    queue.add(make_pod("p"))
    fail(queue, "p", set())
    queue.add(make_pod("p"))  # e.g. an informer that re-lists
    assert queue.where("default/p") == BACKOFF
