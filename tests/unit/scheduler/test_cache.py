"""The scheduler cache: node accounting through assume, bind, confirm, forget and expiry."""

from __future__ import annotations

import pytest

from services.scheduler.cache import CacheError, SchedulerCache
from services.scheduler.framework import PodInfo

from .builders import make_node, make_pod


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def assumed(pod: dict, node: str) -> PodInfo:
    return PodInfo(pod).with_node(node)


def used_cpu(cache: SchedulerCache, node: str) -> int:
    return cache.get_node_info(node).requested.milli_cpu


def test_assume_counts_the_pod_at_once_and_confirm_keeps_it():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    pod = make_pod("p", cpu="1")
    cache.assume_pod(assumed(pod, "n1"))
    assert used_cpu(cache, "n1") == 1000 and cache.is_assumed_pod("default/p")
    cache.finish_binding("default/p")
    bound = make_pod("p", cpu="1", node_name="n1")
    cache.add_pod(bound)
    assert not cache.is_assumed_pod("default/p")
    assert used_cpu(cache, "n1") == 1000 and len(cache.get_node_info("n1").pods) == 1


def test_forget_releases_an_assumed_pod():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    cache.assume_pod(assumed(make_pod("p", cpu="1"), "n1"))
    cache.forget_pod("default/p")
    assert used_cpu(cache, "n1") == 0 and cache.pod_count() == 0


def test_invalid_transitions_raise():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    cache.assume_pod(assumed(make_pod("p"), "n1"))
    with pytest.raises(CacheError):
        cache.assume_pod(assumed(make_pod("p"), "n1"))
    cache.add_pod(make_pod("q", node_name="n1"))
    with pytest.raises(CacheError):
        cache.forget_pod("default/q")
    with pytest.raises(CacheError):
        cache.add_pod(make_pod("q", node_name="n1"))


def test_confirmed_on_another_node_moves_the_accounting():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    cache.add_node(make_node("n2"))
    cache.assume_pod(assumed(make_pod("p", cpu="1"), "n1"))
    cache.add_pod(make_pod("p", cpu="1", node_name="n2"))
    assert used_cpu(cache, "n1") == 0 and used_cpu(cache, "n2") == 1000


def test_update_and_remove_of_bound_pods():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    old = make_pod("p", cpu="1", node_name="n1")
    cache.add_pod(old)
    new = make_pod("p", cpu="2", node_name="n1")
    cache.update_pod(old, new)
    assert used_cpu(cache, "n1") == 2000
    cache.remove_pod(new)
    assert used_cpu(cache, "n1") == 0 and cache.pod_count() == 0


def test_assumed_pods_expire_only_with_a_ttl_and_after_binding_finished():
    clock = Clock()
    cache = SchedulerCache(assumed_pod_ttl=30, clock=clock)
    cache.add_node(make_node("n1"))
    cache.assume_pod(assumed(make_pod("p", cpu="1"), "n1"))
    clock.now += 1000
    assert cache.cleanup_assumed_pods() == []  # binding not finished yet: never expires
    cache.finish_binding("default/p")
    clock.now += 29
    assert cache.cleanup_assumed_pods() == []
    clock.now += 1
    assert cache.cleanup_assumed_pods() == ["default/p"]
    assert used_cpu(cache, "n1") == 0 and not cache.is_assumed_pod("default/p")


def test_default_ttl_never_expires_like_kube_scheduler():
    clock = Clock()
    cache = SchedulerCache(clock=clock)
    cache.add_node(make_node("n1"))
    cache.assume_pod(assumed(make_pod("p"), "n1"))
    cache.finish_binding("default/p")
    clock.now += 10**6
    assert cache.cleanup_assumed_pods() == [] and cache.is_assumed_pod("default/p")


def test_confirmed_pod_does_not_expire():
    clock = Clock()
    cache = SchedulerCache(assumed_pod_ttl=1, clock=clock)
    cache.add_node(make_node("n1"))
    cache.assume_pod(assumed(make_pod("p", cpu="1"), "n1"))
    cache.finish_binding("default/p")
    cache.add_pod(make_pod("p", cpu="1", node_name="n1"))
    clock.now += 10
    assert cache.cleanup_assumed_pods() == [] and used_cpu(cache, "n1") == 1000


def test_node_order_is_stable_and_pods_may_precede_their_node():
    cache = SchedulerCache()
    cache.add_pod(make_pod("early", cpu="1", node_name="n2"))
    assert cache.node_infos() == []  # no Node object yet: not a candidate
    for name in ("n1", "n2", "n3"):
        cache.add_node(make_node(name))
    assert [n.name for n in cache.node_infos()] == ["n1", "n2", "n3"]
    assert used_cpu(cache, "n2") == 1000
    cache.update_node(make_node("n1"), make_node("n1", cpu="8"))
    assert [n.name for n in cache.node_infos()] == ["n1", "n2", "n3"]
    assert cache.get_node_info("n1").allocatable.milli_cpu == 8000


def test_deleted_node_leaves_the_candidates_but_keeps_its_pods_counted():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    pod = make_pod("p", cpu="1", node_name="n1")
    cache.add_pod(pod)
    cache.remove_node(make_node("n1"))
    assert cache.node_infos() == [] and cache.node_count() == 0
    assert used_cpu(cache, "n1") == 1000
    cache.remove_pod(pod)
    assert cache.get_node_info("n1") is None


def test_a_confirmed_pod_whose_containers_changed_is_recounted():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    cache.assume_pod(assumed(make_pod("p", cpu="1"), "n1"))
    cache.add_pod(make_pod("p", cpu="3", node_name="n1"))  # resized meanwhile: the new requests count
    assert used_cpu(cache, "n1") == 3000
    cache.update_pod(make_pod("p", cpu="3", node_name="n1"), make_pod("p", cpu="3", node_name="n1"))
    assert used_cpu(cache, "n1") == 3000
