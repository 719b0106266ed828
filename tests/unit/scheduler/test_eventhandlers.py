"""Informer events routed to the queue and the cache, as a table of cases."""

from __future__ import annotations

import pytest

from services.scheduler.cache import SchedulerCache
from services.scheduler.eventhandlers import EventHandlers
from services.scheduler.plugins import default_framework
from services.scheduler.queue import ACTIVE, BACKOFF, UNSCHEDULABLE, SchedulingQueue

from .builders import make_node, make_pod


def _finished(pod: dict, phase: str = "Succeeded") -> dict:
    return {**pod, "status": {"phase": phase}}


def _deleting(pod: dict) -> dict:
    return {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}


class Tombstone:
    def __init__(self, obj: dict) -> None:
        self.key, self.obj = "default/" + obj["metadata"]["name"], obj


@pytest.fixture
def handlers() -> EventHandlers:
    cache = SchedulerCache()
    cache.add_node(make_node("n"))
    queue = SchedulingQueue(events_to_register=default_framework().events_to_register())
    return EventHandlers(cache=cache, queue=queue)


PENDING = make_pod("p", cpu="1")
BOUND = make_pod("p", cpu="1", node_name="n")


@pytest.mark.parametrize(("events", "where", "cpu_on_n"), [
    ([("add", PENDING)], ACTIVE, 0),
    ([("add", BOUND)], None, 1000),
    ([("add", make_pod("p", schedulerName="other"))], None, 0),
    ([("add", _finished(PENDING, "Failed"))], None, 0),
    ([("add", PENDING), ("update", PENDING, BOUND)], None, 1000),       # bound: leaves the queue, counts
    ([("add", PENDING), ("delete", PENDING)], None, 0),
    ([("add", PENDING), ("delete", Tombstone(PENDING))], None, 0),
    ([("add", BOUND), ("update", BOUND, _finished(BOUND))], None, 0),    # finished: frees the node
    ([("add", BOUND), ("delete", BOUND)], None, 0),
    ([("add", BOUND), ("delete", Tombstone(BOUND))], None, 0),
    ([("add", PENDING), ("update", PENDING, make_pod("p", schedulerName="other"))], None, 0),
    ([("add", BOUND), ("update", BOUND, make_pod("p", cpu="2", node_name="n"))], None, 2000),
])
def test_pod_events(handlers, events, where, cpu_on_n):
    for kind, *args in events:
        getattr(handlers, f"on_pod_{kind}")(*args)
    assert handlers.queue.where("default/p") == where
    assert handlers.cache.get_node_info("n").requested.milli_cpu == cpu_on_n


def test_updates_of_an_assumed_pod_do_not_requeue_it(handlers):
    handlers.on_pod_add(PENDING)
    qpi = handlers.queue.pop_nowait()
    handlers.cache.assume_pod(qpi.pod_info.with_node("n"))
    handlers.on_pod_update(PENDING, {**PENDING, "status": {"phase": "Pending", "conditions": []}})
    handlers.on_pod_add(PENDING)  # a re-list
    assert handlers.queue.where("default/p") is None


def test_deleting_a_pod_whose_bind_is_in_flight_releases_its_assumption(handlers):
    handlers.on_pod_add(PENDING)
    handlers.cache.assume_pod(handlers.queue.pop_nowait().pod_info.with_node("n"))
    handlers.on_pod_delete(PENDING)
    assert handlers.cache.get_node_info("n").requested.milli_cpu == 0


def _park(handlers, pod: dict, plugins: set[str]) -> None:
    handlers.on_pod_add(pod)
    qpi = handlers.queue.pop_nowait()
    qpi.unschedulable_plugins = plugins
    handlers.queue.add_unschedulable_if_not_present(qpi, handlers.queue.scheduling_cycle - 1)
    handlers.queue._clock = lambda: 10**9  # backoff long over


@pytest.mark.parametrize(("old", "new", "moves"), [
    (make_node("n"), make_node("n", cpu="64"), True),                 # allocatable grew: NodeResourcesFit cares
    (make_node("n"), make_node("n", labels={"a": "b"}), False),       # labels: only NodeAffinity cares
    (make_node("n"), {**make_node("n"), "status": {**make_node("n")["status"],
                                                   "conditions": [{"type": "Ready", "status": "True",
                                                                   "lastHeartbeatTime": "x"}]}}, False),
])
def test_node_updates_move_only_pods_they_may_help(handlers, old, new, moves):
    _park(handlers, make_pod("big", cpu="100"), {"NodeResourcesFit"})
    handlers.on_node_update(old, new)
    assert handlers.queue.where("default/big") == (ACTIVE if moves else UNSCHEDULABLE)


def test_new_node_and_deleted_pod_retry_unschedulable_pods(handlers):
    _park(handlers, make_pod("big", cpu="100"), {"NodeResourcesFit"})
    handlers.on_node_add(make_node("m"))
    assert handlers.queue.where("default/big") == ACTIVE
    _park(handlers, make_pod("big", cpu="100"), {"NodeResourcesFit"})
    handlers.on_pod_add(BOUND)
    handlers.on_pod_delete(BOUND)
    assert handlers.queue.where("default/big") in (ACTIVE, BACKOFF)  # out of unschedulablePods


def test_a_newly_assigned_pod_retries_only_pods_a_pod_add_may_help(handlers):
    _park(handlers, make_pod("spread", cpu="1"), {"PodTopologySpread"})
    _park(handlers, make_pod("big", cpu="100"), {"NodeResourcesFit"})
    handlers.on_pod_add(make_pod("other", node_name="n"))
    assert handlers.queue.where("default/spread") in (ACTIVE, BACKOFF)
    assert handlers.queue.where("default/big") == UNSCHEDULABLE  # a pod more never frees resources
    _park(handlers, make_pod("spread", cpu="1"), {"PodTopologySpread"})
    handlers.on_pod_add(PENDING)
    handlers.on_pod_update(PENDING, BOUND)  # just bound
    assert handlers.queue.where("default/spread") in (ACTIVE, BACKOFF)


def test_deleted_node_is_no_longer_a_candidate(handlers):
    handlers.on_node_delete(make_node("n"))
    assert handlers.cache.node_infos() == []
