"""Disruption controller: one sync against a preloaded cache and a fixed clock, asserting the status
written through /status, the events and the requeue."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.client import Conflict
from shared.resources import DEPLOYMENTS, PODDISRUPTIONBUDGETS, PODS, REPLICASETS

from services.controller_manager.controllers.disruption import DisruptionController, go_selector
from tests.unit.controller_manager.builders import owner_ref, pod, replicaset
from tests.unit.controller_manager.fakes import NOW, api_error

NS = "default"
KEY = "default/web-pdb"


def pdb(*, min_available: int | str | None = None, max_unavailable: int | str | None = None,
        selector: dict | None = None, status: dict | None = None, generation: int = 1) -> dict:
    spec: dict = {"selector": {"matchLabels": {"app": "web"}} if selector is None else selector}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web-pdb", "namespace": NS, "uid": "uid-web-pdb", "resourceVersion": "3",
                         "generation": generation},
            "spec": spec, "status": status if status is not None else {}}


def deployment(name: str = "web", replicas: int = 4) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}}}


def make(cluster, budget: dict, pods=(), *, replicasets=(), deployments=()) -> DisruptionController:
    cluster.add(PODDISRUPTIONBUDGETS, budget)
    for obj in pods:
        cluster.add(PODS, obj)
    for obj in replicasets:
        cluster.add(REPLICASETS, obj)
    for obj in deployments:
        cluster.add(DEPLOYMENTS, obj)
    controller = DisruptionController(cluster.ctx())
    controller.requeues = []
    controller.queue.add_after = lambda key, seconds: controller.requeues.append((key, round(seconds, 3)))
    return controller


def status_written(cluster) -> dict | None:
    updates = cluster.client.calls_of("update", "poddisruptionbudgets")
    assert all(c.kwargs["subresource"] == "status" for c in updates)
    assert len(updates) <= 1
    return updates[0].body["status"] if updates else None


def counts(status: dict) -> tuple[int, int, int, int]:
    return (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"], status["disruptionsAllowed"])


def condition(status: dict) -> tuple[str, str]:
    [cond] = status["conditions"]
    assert cond["type"] == "DisruptionAllowed"
    return cond["status"], cond["reason"]


async def discovery(method: str, path: str, **_: object) -> dict:
    """GET /apis/apps/v1 as the API server answers it (the part the scale finder reads)."""
    assert (method, path) == ("GET", "/apis/apps/v1")
    return {"resources": [{"name": "daemonsets", "kind": "DaemonSet"},
                          {"name": "replicasets/scale", "group": "autoscaling", "version": "v1", "kind": "Scale"}]}


def web_pods(n: int, *, owner: dict | None = None, **kwargs) -> list[dict]:
    return [pod(f"web-{i}", owner=owner, **kwargs) for i in range(n)]


# --- expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed ---

async def test_integer_min_available_counts_the_matching_pods(cluster):
    other = pod("db-0", labels={"app": "db"})
    controller = make(cluster, pdb(min_available=2), [*web_pods(3), other])
    await controller.sync(KEY)
    status = status_written(cluster)
    assert counts(status) == (3, 2, 3, 1)
    assert condition(status) == ("True", "SufficientPods")
    [cond] = status["conditions"]
    assert cond == {"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "",
                    "observedGeneration": 1, "lastTransitionTime": "2026-01-01T12:00:00Z"}
    assert status["observedGeneration"] == 1 and "disruptedPods" not in status
    assert cluster.events == [] and controller.requeues == []


@pytest.mark.parametrize(("build", "expected"), [
    (lambda: pod("web-x", ready=False), (4, 2, 3, 1)),
    (lambda: pod("web-x", deleting=True, ready=True), (4, 2, 3, 1)),
    (lambda: pod("web-x", ready=True), (4, 2, 4, 2)),
])
async def test_only_ready_pods_not_being_deleted_are_healthy(cluster, build, expected):
    controller = make(cluster, pdb(min_available=2), [*web_pods(3), build()])
    await controller.sync(KEY)
    assert counts(status_written(cluster)) == expected


async def test_too_few_healthy_pods_allow_no_disruption(cluster):
    controller = make(cluster, pdb(min_available=3), [*web_pods(2), pod("web-x", ready=False)])
    await controller.sync(KEY)
    status = status_written(cluster)
    assert counts(status) == (3, 3, 2, 0)
    assert condition(status) == ("False", "InsufficientPods")


async def test_percent_min_available_is_of_the_replicaset_scale_rounded_up(cluster):
    rs = replicaset("web", replicas=5)
    controller = make(cluster, pdb(min_available="50%"), web_pods(4, owner=owner_ref(rs, "ReplicaSet")),
                      replicasets=[rs])
    await controller.sync(KEY)
    assert counts(status_written(cluster)) == (5, 3, 4, 1)


async def test_max_unavailable_through_the_deployment_of_the_replicaset(cluster):
    d = deployment(replicas=4)
    old, new = (replicaset(name, replicas=2, owner=owner_ref(d, "Deployment")) for name in ("web-a", "web-b"))
    pods = [pod("a-0", owner=owner_ref(old, "ReplicaSet")), pod("a-1", owner=owner_ref(old, "ReplicaSet")),
            pod("b-0", owner=owner_ref(new, "ReplicaSet")), pod("b-1", owner=owner_ref(new, "ReplicaSet"))]
    controller = make(cluster, pdb(max_unavailable=1), pods, replicasets=[old, new], deployments=[d])
    await controller.sync(KEY)
    assert counts(status_written(cluster)) == (4, 3, 4, 1)  # the Deployment's 4, counted once


@pytest.mark.parametrize(("max_unavailable", "desired"), [("25%", 2), ("50%", 1), (5, 0)])
async def test_max_unavailable_percent_rounds_up_and_desired_never_goes_negative(cluster, max_unavailable, desired):
    rs = replicaset("web", replicas=3)
    controller = make(cluster, pdb(max_unavailable=max_unavailable), web_pods(3, owner=owner_ref(rs, "ReplicaSet")),
                      replicasets=[rs])
    await controller.sync(KEY)
    assert counts(status_written(cluster)) == (3, desired, 3, 3 - desired)


async def test_unmanaged_pods_are_left_out_with_a_warning(cluster):
    rs = replicaset("web", replicas=2)
    pods = [*web_pods(2, owner=owner_ref(rs, "ReplicaSet")), pod("stray")]
    controller = make(cluster, pdb(max_unavailable=1), pods, replicasets=[rs])
    await controller.sync(KEY)
    assert counts(status_written(cluster)) == (2, 1, 3, 2)
    [(key, kind, reason, message)] = cluster.events
    assert (key, kind, reason) == (KEY, "Warning", "UnmanagedPods")
    assert message.startswith("Pods selected by this PodDisruptionBudget (selector: &LabelSelector{MatchLabels:"
                              "map[string]string{app: web,},MatchExpressions:[]LabelSelectorRequirement{},}) were")


async def test_a_missing_controller_fails_safe(cluster):
    gone = replicaset("gone")
    status = {"observedGeneration": 1, "disruptionsAllowed": 2, "currentHealthy": 3, "desiredHealthy": 1,
              "expectedPods": 3, "conditions": [{"type": "DisruptionAllowed", "status": "True",
                                                 "reason": "SufficientPods", "message": "", "observedGeneration": 1,
                                                 "lastTransitionTime": "2026-01-01T11:00:00Z"}]}
    controller = make(cluster, pdb(min_available="50%", status=status),
                      web_pods(1, owner=owner_ref(gone, "ReplicaSet")))
    cluster.client.request = discovery  # the RS is gone from the scale subresource too, which it does serve
    await controller.sync(KEY)
    written = status_written(cluster)
    assert written["disruptionsAllowed"] == 0 and written["currentHealthy"] == 3  # only the fail-safe fields
    assert written["conditions"] == [{"type": "DisruptionAllowed", "status": "False", "reason": "SyncFailed",
                                      "message": 'found no controllers for pod "web-0"', "observedGeneration": 1,
                                      "lastTransitionTime": "2026-01-01T12:00:00Z"}]
    assert cluster.events == [(KEY, "Warning", "CalculateExpectedPodCountFailed",
                               'Failed to calculate the number of expected pods: found no controllers for pod "web-0"')]


async def test_an_owner_without_a_scale_subresource_fails_safe(cluster):
    ds = {"metadata": {"name": "agent", "uid": "uid-agent"}}
    controller = make(cluster, pdb(max_unavailable=1), web_pods(1, owner=owner_ref(ds, "DaemonSet")))
    cluster.client.request = discovery
    await controller.sync(KEY)
    assert [c.name for c in cluster.client.calls_of("get")] == ["agent"]
    [cond] = status_written(cluster)["conditions"]
    assert (cond["reason"], cond["message"]) == ("SyncFailed",
                                                 "daemonsets.apps does not implement the scale subresource")


async def test_a_conflict_is_retried_not_failed_safe(cluster):
    controller = make(cluster, pdb(min_available=1), web_pods(2))
    cluster.client.fail_next("update", "poddisruptionbudgets", api_error(Conflict, "the object has been modified", 409))
    with pytest.raises(Conflict):
        await controller.sync(KEY)
    assert len(cluster.client.calls_of("update", "poddisruptionbudgets")) == 1


# --- selectors ---

async def test_an_empty_selector_selects_every_pod_of_the_namespace(cluster):
    pods = [*web_pods(2), pod("db-0", labels={"app": "db"}), pod("elsewhere", ns="other")]
    controller = make(cluster, pdb(min_available=1, selector={}), pods)
    await controller.sync(KEY)
    assert counts(status_written(cluster)) == (3, 1, 3, 2)


async def test_no_matching_pods_allow_nothing(cluster):
    controller = make(cluster, pdb(min_available=0), [pod("db-0", labels={"app": "db"})])
    await controller.sync(KEY)
    status = status_written(cluster)
    assert counts(status) == (0, 0, 0, 0) and condition(status) == ("False", "InsufficientPods")
    assert cluster.events == [(KEY, "Normal", "NoPods", "No matching pods found")]


# --- disruptedPods ---

def evicted(ago: timedelta) -> str:
    return (NOW - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_disrupted_pods_are_not_healthy_until_their_entry_expires(cluster):
    status = {"disruptedPods": {"web-0": evicted(timedelta(seconds=30)), "web-1": evicted(timedelta(seconds=90)),
                                "gone": evicted(timedelta(seconds=10))}}
    controller = make(cluster, pdb(min_available=1, status=status), web_pods(3))
    await controller.sync(KEY)
    written = status_written(cluster)
    assert written["disruptedPods"] == {"web-0": evicted(timedelta(seconds=30)),
                                        "web-1": evicted(timedelta(seconds=90))}  # the missing pod's entry dropped
    assert counts(written) == (3, 1, 1, 0)
    assert controller.requeues == [(KEY, 30.0)]  # web-1's entry expires first


async def test_an_expired_entry_is_dropped_with_a_warning_on_the_pod(cluster):
    status = {"disruptedPods": {"web-0": evicted(timedelta(minutes=3))}}
    controller = make(cluster, pdb(min_available=1, status=status), web_pods(2))
    await controller.sync(KEY)
    written = status_written(cluster)
    assert "disruptedPods" not in written and counts(written) == (2, 1, 2, 1)
    assert cluster.events == [("default/web-0", "Warning", "NotDeleted",
                               "Pod was expected by PDB default/default to be deleted but it wasn't")]
    assert controller.requeues == []


async def test_an_entry_of_a_pod_being_deleted_is_dropped(cluster):
    status = {"disruptedPods": {"web-x": evicted(timedelta(seconds=5))}}
    controller = make(cluster, pdb(min_available=1, status=status), [*web_pods(2), pod("web-x", deleting=True)])
    await controller.sync(KEY)
    written = status_written(cluster)
    assert "disruptedPods" not in written and counts(written) == (3, 1, 2, 1)
    assert cluster.events == []


# --- writing only on change ---

async def test_an_up_to_date_status_is_not_written_again(cluster):
    controller = make(cluster, pdb(min_available=2), web_pods(3))
    await controller.sync(KEY)
    written = status_written(cluster)
    cluster.cache(PODDISRUPTIONBUDGETS).objects[(NS, "web-pdb")]["status"] = written
    cluster.client.calls.clear()
    await controller.sync(KEY)
    assert cluster.client.writes() == []


async def test_a_new_generation_is_observed_and_the_condition_keeps_its_transition_time(cluster):
    status = {"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2,
              "expectedPods": 3, "conditions": [{"type": "DisruptionAllowed", "status": "True",
                                                 "reason": "SufficientPods", "message": "", "observedGeneration": 1,
                                                 "lastTransitionTime": "2026-01-01T11:00:00Z"}]}
    controller = make(cluster, pdb(min_available=1, status=status, generation=2), web_pods(3))
    await controller.sync(KEY)
    written = status_written(cluster)
    assert written["observedGeneration"] == 2 and counts(written) == (3, 1, 3, 2)
    [cond] = written["conditions"]
    assert cond["observedGeneration"] == 2 and cond["lastTransitionTime"] == "2026-01-01T11:00:00Z"


async def test_the_condition_flips_to_insufficient_pods(cluster):
    status = {"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2,
              "expectedPods": 3, "conditions": [{"type": "DisruptionAllowed", "status": "True",
                                                 "reason": "SufficientPods", "message": "", "observedGeneration": 1,
                                                 "lastTransitionTime": "2026-01-01T11:00:00Z"}]}
    controller = make(cluster, pdb(min_available=2, status=status),
                      [*web_pods(2), pod("web-2", ready=False)])
    await controller.sync(KEY)
    written = status_written(cluster)
    assert counts(written) == (3, 2, 2, 0)
    [cond] = written["conditions"]
    assert (cond["status"], cond["reason"], cond["lastTransitionTime"]) == ("False", "InsufficientPods",
                                                                           "2026-01-01T12:00:00Z")


async def test_a_deleted_pdb_is_not_synced(cluster):
    controller = make(cluster, pdb(min_available=1), web_pods(1))
    await controller.sync("default/other")
    assert cluster.client.calls == []


# --- event handlers ---

def test_a_pod_event_enqueues_the_pdb_matching_it(cluster):
    controller = make(cluster, pdb(min_available=1), [])
    pods = cluster.informers.informer(PODS)
    pods.fire_add(pod("db-0", labels={"app": "db"}))
    assert len(controller.queue) == 0
    pods.fire_add(pod("web-0"))
    assert len(controller.queue) == 1


def test_a_pod_matching_two_pdbs_enqueues_the_first_with_a_warning(cluster):
    controller = make(cluster, pdb(min_available=1), [])
    second = pdb(min_available=1)
    second["metadata"]["name"] = "z-pdb"
    cluster.add(PODDISRUPTIONBUDGETS, second)
    cluster.informers.informer(PODS).fire_update(pod("web-0"), pod("web-0"))
    assert len(controller.queue) == 1
    assert cluster.events == [("default/web-0", "Warning", "MultiplePodDisruptionBudgets",
                               ('Pod "default"/"web-0" matches multiple PodDisruptionBudgets.  '
                                'Chose "web-pdb" arbitrarily.'))]


def test_go_selector_prints_expressions():
    selector = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}
    assert go_selector(selector) == ("&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:"
                                     "[]LabelSelectorRequirement{LabelSelectorRequirement{Key:tier,Operator:In,"
                                     "Values:[a b],},},}")


# --- stale DisruptionTarget conditions (the second queue, of pod keys) ---

def disruption_target(p: dict, *, ago: timedelta, reason: str = "EvictionByEvictionAPI", status: str = "True") -> dict:
    p["status"]["conditions"].append({"type": "DisruptionTarget", "status": status, "reason": reason,
                                      "message": "Eviction API: evicting", "lastTransitionTime": evicted(ago)})
    return p


def stale_requeues(controller: DisruptionController) -> list[tuple[str, float]]:
    seen: list[tuple[str, float]] = []
    controller.stale_queue.add_after = lambda key, seconds: seen.append((key, round(seconds, 3)))
    return seen


async def test_a_stale_disruption_target_condition_is_reset_to_false(cluster):
    stale = disruption_target(pod("web-0"), ago=timedelta(minutes=3))
    controller = make(cluster, pdb(min_available=1), [stale])
    await controller.sync_stale_pod_disruption("default/web-0")
    [update] = cluster.client.calls_of("update", "pods")
    assert update.kwargs["subresource"] == "status"
    ready, target = update.body["status"]["conditions"]
    assert ready["type"] == "Ready"
    assert target == {"type": "DisruptionTarget", "status": "False", "lastTransitionTime": "2026-01-01T12:00:00Z"}


async def test_a_recent_disruption_target_condition_waits_for_its_timeout(cluster):
    recent = disruption_target(pod("web-0"), ago=timedelta(seconds=30))
    controller = make(cluster, pdb(min_available=1), [recent])
    seen = stale_requeues(controller)
    await controller.sync_stale_pod_disruption("default/web-0")
    assert cluster.client.writes() == [] and seen == [("default/web-0", 90.0)]


@pytest.mark.parametrize("build", [
    lambda: disruption_target(pod("web-0", deleting=True), ago=timedelta(minutes=3)),
    lambda: disruption_target(pod("web-0", phase="Failed"), ago=timedelta(minutes=3)),
    lambda: disruption_target(pod("web-0"), ago=timedelta(minutes=3), reason="TerminationByKubelet"),
    lambda: disruption_target(pod("web-0"), ago=timedelta(minutes=3), status="False"),
])
async def test_disruption_target_conditions_that_are_not_stale_are_left_alone(cluster, build):
    controller = make(cluster, pdb(min_available=1), [build()])
    seen = stale_requeues(controller)
    await controller.sync_stale_pod_disruption("default/web-0")
    assert cluster.client.writes() == [] and seen == []


def test_a_pod_event_with_a_disruption_target_queues_the_pod(cluster):
    controller = make(cluster, pdb(min_available=1), [])
    seen = stale_requeues(controller)
    cluster.informers.informer(PODS).fire_add(disruption_target(pod("web-0"), ago=timedelta(seconds=20)))
    assert seen == [("default/web-0", 100.0)] and len(controller.queue) == 1
