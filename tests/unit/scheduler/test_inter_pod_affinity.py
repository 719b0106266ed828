"""InterPodAffinity: required (anti-)affinity and its symmetry, namespaces, missing labels, the
first-pod rule, node copies, scores, and the plugin inside the default profile (FitError
message, the scheduling loop)."""

from __future__ import annotations

import pytest

from services.scheduler.algorithm import Algorithm
from services.scheduler.framework import Code, CycleState, FitError, NodeInfo, PodInfo, Status
from services.scheduler.plugins import DEFAULT_SCORE_WEIGHTS, InterPodAffinity, default_framework, default_plugins
from services.scheduler.plugins.inter_pod_affinity import (
    ERR_REASON_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH,
)

from . import builders
from .builders import make_node, make_pod, node_info, terminating
from .test_scheduler import Cluster

HOST = "kubernetes.io/hostname"
ZONE = "zone"
WEB, DB = {"app": "web"}, {"app": "db"}
AFFINITY = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_AFFINITY_RULES_NOT_MATCH)
ANTI = Status(Code.UNSCHEDULABLE, ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)
EXISTING = Status(Code.UNSCHEDULABLE, ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)


def term(key: str = HOST, labels: dict | None = WEB, **extra) -> dict:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


def affinity(*, required: list | None = None, anti: list | None = None, preferred: list | None = None,
             preferred_anti: list | None = None) -> dict:
    out: dict = {}
    if required or preferred:
        out["podAffinity"] = {k: v for k, v in (("requiredDuringSchedulingIgnoredDuringExecution", required),
                                                ("preferredDuringSchedulingIgnoredDuringExecution", preferred)) if v}
    if anti or preferred_anti:
        out["podAntiAffinity"] = {k: v for k, v in (("requiredDuringSchedulingIgnoredDuringExecution", anti),
                                                    ("preferredDuringSchedulingIgnoredDuringExecution", preferred_anti))
                                  if v}
    return out


def weighted(weight: int, t: dict) -> dict:
    return {"weight": weight, "podAffinityTerm": t}


def pod(name: str, labels: dict | None = WEB, *, node: str | None = None, namespace: str = "default",
        aff: dict | None = None, **kw) -> dict:
    spec = {"affinity": aff} if aff else {}
    p = make_pod(name, namespace, node_name=node, **spec, **kw)
    if labels is not None:
        p["metadata"]["labels"] = dict(labels)
    return p


def pending(labels: dict | None = WEB, **kw) -> PodInfo:
    return PodInfo(pod("new", labels, **kw))


def host(name: str, *pods: dict, zone: str | None = None, **kw) -> NodeInfo:
    labels = {HOST: name}
    if zone is not None:
        labels[ZONE] = zone
    return node_info(make_node(name, labels=labels, **kw), *pods)


def run_filter(pod_info: PodInfo, nodes: list[NodeInfo]) -> dict[str, Status | None] | str:
    return builders.run_filter(InterPodAffinity(), pod_info, nodes)


@pytest.mark.parametrize(("pod_info", "nodes", "expected"), [
    # required affinity by hostname: only the node with a web pod
    (pending(DB, aff=affinity(required=[term()])), [host("n1", pod("w", node="n1")), host("n2")],
     {"n1": None, "n2": AFFINITY}),
    # by zone: both nodes of zone a
    (pending(DB, aff=affinity(required=[term(ZONE)])),
     [host("n1", pod("w", node="n1"), zone="a"), host("n2", zone="a"), host("n3", zone="b")],
     {"n1": None, "n2": None, "n3": AFFINITY}),
    # a node without the topologyKey fails the affinity term
    (pending(DB, aff=affinity(required=[term(ZONE)])),
     [host("n1", pod("w", node="n1"), zone="a"), host("n2")], {"n1": None, "n2": AFFINITY}),
    # the first pod of a group with affinity to itself goes anywhere with the key
    (pending(WEB, aff=affinity(required=[term(ZONE)])), [host("n1", zone="a"), host("n2")],
     {"n1": None, "n2": AFFINITY}),
    # ... but not when it does not match its own term
    (pending(DB, aff=affinity(required=[term(ZONE)])), [host("n1", zone="a"), host("n2", zone="b")],
     {"n1": AFFINITY, "n2": AFFINITY}),
    # ... nor when a matching pod exists elsewhere
    (pending(WEB, aff=affinity(required=[term(ZONE)])),
     [host("n1", pod("w", node="n1"), zone="a"), host("n2", zone="b")], {"n1": None, "n2": AFFINITY}),
    # required anti-affinity: one replica per node
    (pending(WEB, aff=affinity(anti=[term()])), [host("n1", pod("w", node="n1")), host("n2")],
     {"n1": ANTI, "n2": None}),
    (pending(WEB, aff=affinity(anti=[term(ZONE)])),
     [host("n1", pod("w", node="n1"), zone="a"), host("n2", zone="a"), host("n3", zone="b"), host("n4")],
     {"n1": ANTI, "n2": ANTI, "n3": None, "n4": None}),
    # symmetry: an existing pod's anti-affinity keeps the pod (without any affinity) away
    (pending(WEB), [host("n1", pod("db", DB, node="n1", aff=affinity(anti=[term()]))), host("n2")],
     {"n1": EXISTING, "n2": None}),
    (pending(DB), [host("n1", pod("db", DB, node="n1", aff=affinity(anti=[term()]))), host("n2")], "skip"),
    # namespaces: the pod's own by default, listed ones, or all with namespaceSelector {}
    (pending(DB, aff=affinity(anti=[term()])), [host("n1", pod("w", node="n1", namespace="other")), host("n2")],
     {"n1": None, "n2": None}),
    (pending(DB, aff=affinity(anti=[term(namespaces=["other"])])),
     [host("n1", pod("w", node="n1", namespace="other")), host("n2", pod("w2", node="n2"))],
     {"n1": ANTI, "n2": None}),
    (pending(DB, aff=affinity(anti=[term(namespaceSelector={})])),
     [host("n1", pod("w", node="n1", namespace="other")), host("n2", pod("w2", node="n2"))],
     {"n1": ANTI, "n2": ANTI}),
    # a namespaceSelector with terms selects no namespace (no namespace lister): nothing matches
    (pending(DB, aff=affinity(anti=[term(namespaceSelector={"matchLabels": {"team": "a"}})])),
     [host("n1", pod("w", node="n1", namespace="other"))], {"n1": None}),
    # terminating pods count, as in kube-scheduler
    (pending(WEB, aff=affinity(anti=[term()])), [host("n1", terminating(pod("w", node="n1"))), host("n2")],
     {"n1": ANTI, "n2": None}),
    # nothing involved: Skip
    (pending(WEB), [host("n1", pod("w", node="n1")), host("n2")], "skip"),
])
def test_filter(pod_info, nodes, expected):
    assert run_filter(pod_info, nodes) == expected


def test_reason_codes_and_strings_are_kube_schedulers():
    assert ERR_REASON_AFFINITY_RULES_NOT_MATCH == "node(s) didn't match pod affinity rules"
    assert ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH == "node(s) didn't match pod anti-affinity rules"
    assert ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH == "node(s) didn't satisfy existing pods anti-affinity rules"
    assert (AFFINITY.code, ANTI.code, EXISTING.code) == (
        Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.UNSCHEDULABLE, Code.UNSCHEDULABLE)


def test_invalid_selector_rejects_the_pod():
    bad = term(labels=None) | {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Near"}]}}
    _, status = InterPodAffinity().pre_filter(CycleState(), pending(aff=affinity(anti=[bad])), [host("n1")])
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE and status.message().startswith("parsing pod: ")


def test_default_profile_runs_it_after_pod_topology_spread_with_weight_2():
    names = [p.name for p in default_plugins()]
    assert names.index("InterPodAffinity") == names.index("PodTopologySpread") + 1
    assert DEFAULT_SCORE_WEIGHTS["InterPodAffinity"] == 2


def test_fit_error_message_through_the_default_profile():
    nodes = [host("n1", pod("w1", node="n1")), host("n2", pod("db", DB, node="n2", aff=affinity(anti=[term()]))),
             host("n3", cpu="1")]
    with pytest.raises(FitError) as info:
        Algorithm().schedule_pod(default_framework(), CycleState(), pending(cpu="2", aff=affinity(anti=[term()])),
                                 nodes)
    assert str(info.value) == (
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod anti-affinity rules, "
        "1 node(s) didn't satisfy existing pods anti-affinity rules.")
    assert info.value.diagnosis.unschedulable_plugins == {"NodeResourcesFit", "InterPodAffinity"}


def test_index_follows_pods_added_and_removed_between_cycles():
    nodes = [host("n1"), host("n2")]
    plugin, blocker = InterPodAffinity(), PodInfo(pod("db", DB, node="n1", aff=affinity(anti=[term()])))

    def statuses():
        state = CycleState()
        _, status = plugin.pre_filter(state, pending(), nodes)
        return "skip" if status is not None else {n.name: plugin.filter(state, pending(), n) for n in nodes}

    assert statuses() == "skip"
    nodes[0].add_pod(blocker)
    assert statuses() == {"n1": EXISTING, "n2": None}
    nodes[0].remove_pod(blocker.key)
    assert statuses() == "skip"


def test_node_copies_count_their_own_pods():
    """Preemption's dry run removes the blocker; a nominated pod with anti-affinity blocks."""
    blocker = pod("w", node="n1")
    nodes = [host("n1", blocker), host("n2")]
    plugin, state, incoming = InterPodAffinity(), CycleState(), pending(aff=affinity(anti=[term()]))
    plugin.pre_filter(state, incoming, nodes)
    assert plugin.filter(state, incoming, nodes[0]) == ANTI
    without = nodes[0].clone()
    without.remove_pod("default/w")
    assert plugin.filter(state, incoming, without) is None
    with_nominated = nodes[1].clone()
    with_nominated.add_pod(PodInfo(pod("nominated", node="n2")))
    assert plugin.filter(state, incoming, with_nominated) == ANTI
    assert plugin.filter(state, incoming, nodes[1]) is None


def test_a_nominated_pod_alone_does_not_satisfy_affinity():
    """Filters must pass with and without the nominated pods (kube-scheduler's two passes)."""
    nodes = [host("n1", zone="a"), host("n2", pod("w", node="n2"), zone="b")]
    plugin, state, incoming = InterPodAffinity(), CycleState(), pending(DB, aff=affinity(required=[term(ZONE)]))
    plugin.pre_filter(state, incoming, nodes)
    copy = nodes[0].clone()
    copy.add_pod(PodInfo(pod("nominated", node="n1")))
    assert plugin.filter(state, incoming, copy) == AFFINITY
    assert plugin.filter(state, incoming, nodes[1]) is None


# scoring -------------------------------------------------------------------------------------------

def run_scores(pod_info: PodInfo, nodes: list[NodeInfo]) -> list[int] | str:
    return builders.run_scores(InterPodAffinity(), pod_info, nodes)


@pytest.mark.parametrize(("pod_info", "nodes", "expected"), [
    # preferred affinity: weight per matching pod in the domain, scaled to [0, 100]
    (pending(DB, aff=affinity(preferred=[weighted(10, term())])),
     [host("n1", pod("w1", node="n1"), pod("w2", node="n1")), host("n2", pod("w3", node="n2")), host("n3")],
     [100, 50, 0]),
    # preferred anti-affinity: the nodes with matching pods score lowest
    (pending(DB, aff=affinity(preferred_anti=[weighted(5, term(ZONE))])),
     [host("n1", pod("w1", node="n1"), zone="a"), host("n2", zone="a"), host("n3", zone="b")], [0, 0, 100]),
    # both: +10 - 5 on n1, -5 on n2, 0 on n3 -> 100 * (s - -5) / (5 - -5)
    (pending(DB, aff=affinity(preferred=[weighted(10, term(labels=WEB))],
                              preferred_anti=[weighted(5, term(labels={"tier": "x"}))])),
     [host("n1", pod("w1", {"app": "web", "tier": "x"}, node="n1")), host("n2", pod("x", {"tier": "x"}, node="n2")),
      host("n3")], [100, 0, 50]),
    # an existing pod's required affinity to the incoming pod attracts it (hardPodAffinityWeight 1)
    (pending(WEB), [host("n1", pod("db", DB, node="n1", aff=affinity(required=[term()]))), host("n2")], [100, 0]),
    # an existing pod's preferred anti-affinity repels it
    (pending(WEB), [host("n1", pod("db", DB, node="n1", aff=affinity(preferred_anti=[weighted(3, term())]))),
                    host("n2")], [0, 100]),
    # nothing to score
    (pending(WEB), [host("n1", pod("w", node="n1")), host("n2")], "skip"),
    (pending(DB, aff=affinity(preferred=[weighted(10, term())])), [host("n1"), host("n2")], "skip"),
])
def test_score(pod_info, nodes, expected):
    assert run_scores(pod_info, nodes) == expected


def test_preferred_affinity_steers_the_default_profile():
    nodes = [host("n1", pod("other", DB, node="n1", cpu="100m")), host("n2", pod("w", node="n2", cpu="100m"))]
    incoming = pending(DB, cpu="100m", aff=affinity(preferred=[weighted(100, term())]))
    result = Algorithm().schedule_pod(default_framework(), CycleState(), incoming, nodes)
    assert result.suggested_host == "n2"


# the scheduling loop ------------------------------------------------------------------------------

async def test_scheduling_loop_three_replicas_with_hostname_anti_affinity_on_two_nodes():
    cluster = Cluster()
    for name in ("n1", "n2"):
        cluster.add_node(make_node(name, cpu="32", memory="64Gi", labels={HOST: name}))
    for i in range(3):
        cluster.add_pod(pod(f"web-{i}", cpu="1", aff=affinity(anti=[term()])))
    await cluster.run_until_idle()
    placement = cluster.placement()
    assert len(placement) == 2 and sorted(placement.values()) == ["n1", "n2"]
    [unplaced] = {"web-0", "web-1", "web-2"} - placement.keys()
    failed = [e for e in cluster.recorder.events if e[0] == f"default/{unplaced}" and e[2] == "FailedScheduling"]
    assert failed and failed[-1][3].startswith("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.")


def test_the_cache_counts_pods_with_affinity_and_the_plugin_skips_when_there_are_none():
    from services.scheduler.cache import SchedulerCache

    cache = SchedulerCache()
    cache.add_node(make_node("n1", labels={HOST: "n1"}))
    plugin = InterPodAffinity(pods_with_affinity=cache.pods_with_affinity)
    cache.add_pod(pod("plain", node="n1"))
    assert cache.pods_with_affinity() == 0
    assert plugin.pre_filter(CycleState(), pending(), cache.node_infos())[1].code == Code.SKIP
    assert plugin.pre_score(CycleState(), pending(), cache.node_infos()).code == Code.SKIP

    loner = pod("loner", node="n1", aff=affinity(anti=[term()]))
    cache.add_pod(loner)
    assert cache.pods_with_affinity() == 1
    # Now the existing pod's anti-affinity is looked at: the pending web pod may not join it.
    assert builders.run_filter(plugin, pending(), cache.node_infos()) == {"n1": EXISTING}
    cache.update_pod(loner, pod("loner", node="n1"))  # its affinity dropped
    assert cache.pods_with_affinity() == 0
    cache.update_pod(pod("loner", node="n1"), loner)
    cache.remove_pod(loner)
    assert cache.pods_with_affinity() == 0
    cache.assume_pod(PodInfo(pod("assumed", node="n1", aff=affinity(anti=[term()]))))
    assert cache.pods_with_affinity() == 1
    cache.forget_pod("default/assumed")
    assert cache.pods_with_affinity() == 0
    # A pod with affinity of its own never skips on the count.
    mine = pending(aff=affinity(anti=[term(labels=DB)]))
    assert plugin.pre_filter(CycleState(), mine, cache.node_infos())[1] is None
