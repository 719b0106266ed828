"""Deployment controller: the arithmetic as tables, and sync() against a preloaded cache."""

from __future__ import annotations

import copy

import pytest

from shared.resources import DEPLOYMENTS, PODS, REPLICASETS

from services.controller_manager.controllers import deployment_util as du
from services.controller_manager.controllers.deployment import DeploymentController
from tests.unit.controller_manager.builders import owner_ref, pod, replicaset, template


def deployment(name: str = "nginx", replicas: int = 3, *, image: str = "nginx:1.25", strategy: dict | None = None,
               status: dict | None = None, paused: bool = False, generation: int = 1, history: int = 10,
               annotations: dict | None = None) -> dict:
    d = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "generation": generation,
                     "resourceVersion": "7", "creationTimestamp": "2026-01-01T10:00:00Z"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": template(image=image),
                 "strategy": strategy or {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                 "revisionHistoryLimit": history, "progressDeadlineSeconds": 600, "paused": paused},
        "status": status or {},
    }
    if annotations:
        d["metadata"]["annotations"] = annotations
    return d


def rs_for(d: dict, *, replicas: int, available: int | None = None, revision: int = 1, image: str | None = None,
           created: str = "2026-01-01T10:00:00Z", name: str | None = None) -> dict:
    tmpl = template(image=image or d["spec"]["template"]["spec"]["containers"][0]["image"])
    pod_hash = du.compute_hash(tmpl, None)
    tmpl["metadata"]["labels"][du.HASH_LABEL] = pod_hash
    available = replicas if available is None else available
    rs = replicaset(name or f"{d['metadata']['name']}-{pod_hash}", replicas, labels={"app": "web", du.HASH_LABEL: pod_hash},
                    owner=owner_ref(d, "Deployment"), tmpl=tmpl, created=created,
                    status={"replicas": replicas, "readyReplicas": available, "availableReplicas": available,
                            "observedGeneration": 1},
                    annotations={du.REVISION_ANNOTATION: str(revision),
                                 du.DESIRED_REPLICAS_ANNOTATION: str(du.replicas_of(d)),
                                 du.MAX_REPLICAS_ANNOTATION: str(du.replicas_of(d) + du.max_surge(d))})
    rs["spec"]["selector"] = {"matchLabels": {"app": "web", du.HASH_LABEL: pod_hash}}
    return rs


def make(cluster, d, rss=()):
    cluster.add(DEPLOYMENTS, d)
    for rs in rss:
        cluster.add(REPLICASETS, rs)
    return DeploymentController(cluster.ctx())


# --- arithmetic ---

@pytest.mark.parametrize(("surge", "unavailable", "desired", "expected"), [
    ("25%", "25%", 10, (3, 2)),      # surge rounds up, unavailable down
    ("25%", "25%", 4, (1, 1)),
    ("25%", "25%", 1, (1, 0)),
    ("0%", "25%", 1, (0, 1)),        # both resolve to 0: unavailable becomes 1
    (2, 0, 5, (2, 0)),
    ("50%", 3, 5, (3, 3)),
    (None, None, 3, (0, 1)),
])
def test_resolve_fenceposts(surge, unavailable, desired, expected):
    assert du.resolve_fenceposts(surge, unavailable, desired) == expected


def test_hash_has_kubernetes_shape_and_depends_on_collision_count():
    tmpl = template()
    h = du.compute_hash(tmpl, None)
    assert h == du.compute_hash(copy.deepcopy(tmpl), None)
    assert 1 <= len(h) <= 10 and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert du.compute_hash(tmpl, 1) != h
    assert du.compute_hash(template(image="nginx:1.26"), None) != h
    assert du.fnv32a(b"") == 0x811C9DC5 and du.fnv32a(b"a") == 0xE40C292C  # FNV-1a test vectors


def test_equal_ignore_hash():
    a = template()
    b = copy.deepcopy(a)
    b["metadata"]["labels"][du.HASH_LABEL] = "abc"
    assert du.equal_ignore_hash(a, b)
    b["spec"]["containers"][0]["image"] = "other"
    assert not du.equal_ignore_hash(a, b)


def test_revision_history_kept_on_rollback():
    rs = {"metadata": {"annotations": {du.REVISION_ANNOTATION: "1"}}}
    assert du.set_new_rs_annotations(deployment(), rs, "3", exists=True)
    assert rs["metadata"]["annotations"][du.REVISION_ANNOTATION] == "3"
    assert rs["metadata"]["annotations"][du.REVISION_HISTORY_ANNOTATION] == "1"
    du.set_new_rs_annotations(deployment(), rs, "5", exists=True)
    assert rs["metadata"]["annotations"][du.REVISION_HISTORY_ANNOTATION] == "1,3"


def test_deployment_annotations_are_copied_except_kubectls():
    d = deployment(annotations={"kubernetes.io/change-cause": "v2", du.LAST_APPLIED_ANNOTATION: "{}"})
    rs = {"metadata": {}}
    du.set_new_rs_annotations(d, rs, "1", exists=False)
    ann = rs["metadata"]["annotations"]
    assert ann["kubernetes.io/change-cause"] == "v2" and du.LAST_APPLIED_ANNOTATION not in ann
    assert (ann[du.DESIRED_REPLICAS_ANNOTATION], ann[du.MAX_REPLICAS_ANNOTATION]) == ("3", "4")


# --- sync ---

async def test_new_deployment_creates_its_replica_set(cluster):
    d = deployment("nginx", 3)
    dc = make(cluster, d)
    await dc.sync("default/nginx")
    [create] = cluster.client.calls_of("create", "replicasets")
    rs = create.body
    pod_hash = du.compute_hash(d["spec"]["template"], None)
    assert rs["metadata"]["name"] == f"nginx-{pod_hash}"
    assert rs["spec"]["replicas"] == 3
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert rs["metadata"]["annotations"][du.REVISION_ANNOTATION] == "1"
    assert cluster.events == [("default/nginx", "Normal", "ScalingReplicaSet",
                               f"Scaled up replica set nginx-{pod_hash} from 0 to 3")]
    [patch] = cluster.client.calls_of("patch", "deployments")
    assert patch.body["metadata"]["annotations"] == {du.REVISION_ANNOTATION: "1"}
    statuses = cluster.client.calls_of("update", "deployments")
    progressing = du.get_condition(statuses[0].body["status"]["conditions"], "Progressing")
    assert progressing["reason"] == "NewReplicaSetCreated"
    assert progressing["message"] == f'Created new replica set "nginx-{pod_hash}"'


async def test_rolling_update_first_step_surges(cluster):
    d = deployment("nginx", 10, image="nginx:1.26", generation=2,
                   annotations={du.REVISION_ANNOTATION: "1"})
    old = rs_for(d, replicas=10, image="nginx:1.25", revision=1)
    dc = make(cluster, d, [old])
    await dc.sync("default/nginx")
    [create] = cluster.client.calls_of("create", "replicasets")
    assert create.body["spec"]["replicas"] == 3  # ceil(25% of 10)
    assert create.body["metadata"]["annotations"][du.REVISION_ANNOTATION] == "2"
    # the same sync already scales the old one down: 10 available > 8 = 10 - floor(25%)
    [scale] = cluster.client.calls_of("update", "replicasets")
    assert (scale.name, scale.body["spec"]["replicas"]) == (old["metadata"]["name"], 8)


async def test_rolling_update_scales_old_down_within_unavailable(cluster):
    d = deployment("nginx", 10, image="nginx:1.26", generation=2, annotations={du.REVISION_ANNOTATION: "2"})
    old = rs_for(d, replicas=10, image="nginx:1.25", revision=1)
    new = rs_for(d, replicas=3, available=0, revision=2, created="2026-01-01T11:00:00Z")
    dc = make(cluster, d, [old, new])
    await dc.sync("default/nginx")
    [scale] = cluster.client.calls_of("update", "replicasets")
    assert scale.name == old["metadata"]["name"] and scale.body["spec"]["replicas"] == 8  # 13 - 8 min - 3 new
    assert cluster.events[-1][3] == f"Scaled down replica set {old['metadata']['name']} from 10 to 8"


async def test_rolling_update_never_exceeds_surge(cluster):
    d = deployment("nginx", 10, image="nginx:1.26", generation=2, annotations={du.REVISION_ANNOTATION: "2"})
    old = rs_for(d, replicas=10, image="nginx:1.25", revision=1)
    new = rs_for(d, replicas=3, available=3, revision=2, created="2026-01-01T11:00:00Z")
    dc = make(cluster, d, [old, new])
    await dc.sync("default/nginx")
    sizes = {c.name: c.body["spec"]["replicas"] for c in cluster.client.calls_of("update", "replicasets")}
    assert sizes == {old["metadata"]["name"]: 5}  # total 13 at most; available 13 → 8 min


async def test_completed_rollout_reports_conditions_and_cleans_up(cluster):
    d = deployment("nginx", 3, generation=3, history=1, annotations={du.REVISION_ANNOTATION: "3"})
    current = rs_for(d, replicas=3, revision=3, created="2026-01-01T11:30:00Z")
    old1 = rs_for(d, replicas=0, image="v1", revision=1, created="2026-01-01T10:00:00Z")
    old2 = rs_for(d, replicas=0, image="v2", revision=2, created="2026-01-01T11:00:00Z")
    for old in (old1, old2):
        old["status"] = {"replicas": 0, "observedGeneration": 1}
    d["status"] = {"observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3,
                   "readyReplicas": 3}
    dc = make(cluster, d, [current, old1, old2])
    await dc.sync("default/nginx")
    assert [c.name for c in cluster.client.calls_of("delete", "replicasets")] == [old1["metadata"]["name"]]
    status = cluster.client.calls_of("update", "deployments")[-1]
    conds = {c["type"]: c for c in status.body["status"]["conditions"]}
    assert (conds["Available"]["status"], conds["Available"]["reason"]) == ("True", "MinimumReplicasAvailable")
    assert conds["Available"]["message"] == "Deployment has minimum availability."
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conds["Progressing"]["message"] == f'ReplicaSet "{current["metadata"]["name"]}" has successfully progressed.'


async def test_rollback_reuses_old_replica_set_with_a_new_revision(cluster):
    d = deployment("nginx", 3, image="nginx:1.25", generation=3, annotations={du.REVISION_ANNOTATION: "2"})
    v1 = rs_for(d, replicas=0, image="nginx:1.25", revision=1, created="2026-01-01T10:00:00Z")
    v2 = rs_for(d, replicas=3, image="nginx:1.26", revision=2, created="2026-01-01T11:00:00Z")
    dc = make(cluster, d, [v1, v2])
    await dc.sync("default/nginx")
    assert cluster.client.calls_of("create", "replicasets") == []
    first = cluster.client.calls_of("update", "replicasets")[0]
    assert first.name == v1["metadata"]["name"]
    assert first.body["metadata"]["annotations"][du.REVISION_ANNOTATION] == "3"
    assert first.body["metadata"]["annotations"][du.REVISION_HISTORY_ANNOTATION] == "1"


async def test_recreate_scales_old_down_before_creating(cluster):
    d = deployment("nginx", 3, image="nginx:1.26", strategy={"type": "Recreate"}, generation=2)
    old = rs_for(d, replicas=3, image="nginx:1.25")
    dc = make(cluster, d, [old])
    await dc.sync("default/nginx")
    assert cluster.client.calls_of("create", "replicasets") == []
    [scale] = cluster.client.calls_of("update", "replicasets")
    assert scale.body["spec"]["replicas"] == 0


async def test_recreate_creates_new_once_old_pods_are_gone(cluster):
    d = deployment("nginx", 3, image="nginx:1.26", strategy={"type": "Recreate"}, generation=2)
    old = rs_for(d, replicas=0, image="nginx:1.25")
    old["status"] = {"replicas": 0}
    dc = make(cluster, d, [old])
    await dc.sync("default/nginx")
    [create] = cluster.client.calls_of("create", "replicasets")
    assert create.body["spec"]["replicas"] == 3


async def test_recreate_waits_while_old_pods_still_run(cluster):
    d = deployment("nginx", 3, image="nginx:1.26", strategy={"type": "Recreate"}, generation=2)
    old = rs_for(d, replicas=0, image="nginx:1.25")
    old["status"] = {"replicas": 0}
    dc = make(cluster, d, [old])
    cluster.add(PODS, pod("old-1", owner=owner_ref(old, "ReplicaSet")))  # still terminating on its node
    await dc.sync("default/nginx")
    assert cluster.client.calls_of("create", "replicasets") == []


async def test_scaling_mid_rollout_is_proportional(cluster):
    d = deployment("nginx", 20, image="nginx:1.26", generation=3, annotations={du.REVISION_ANNOTATION: "2"})
    d10 = deployment("nginx", 10)
    old = rs_for(d10, replicas=8, image="nginx:1.25", revision=1)
    new = rs_for(d10, replicas=5, available=0, image="nginx:1.26", revision=2, created="2026-01-01T11:00:00Z")
    dc = make(cluster, d, [old, new])
    await dc.sync("default/nginx")
    sizes = {c.name: c.body["spec"]["replicas"] for c in cluster.client.calls_of("update", "replicasets")}
    assert sizes == {old["metadata"]["name"]: 15, new["metadata"]["name"]: 10}  # 25 = 20 + 5 surge


async def test_paused_deployment_does_not_roll_out(cluster):
    d = deployment("nginx", 3, image="nginx:1.26", paused=True, generation=2)
    old = rs_for(d, replicas=3, image="nginx:1.25")
    dc = make(cluster, d, [old])
    await dc.sync("default/nginx")
    assert cluster.client.calls_of("create", "replicasets") == []
    statuses = cluster.client.calls_of("update", "deployments")
    progressing = du.get_condition(statuses[0].body["status"]["conditions"], "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")


async def test_adopts_orphan_replica_set(cluster):
    d = deployment("nginx", 3)
    orphan = rs_for(d, replicas=3)
    del orphan["metadata"]["ownerReferences"]
    dc = make(cluster, d, [orphan])
    await dc.sync("default/nginx")
    [patch] = cluster.client.calls_of("patch", "replicasets")
    assert patch.body["metadata"]["ownerReferences"][0]["uid"] == "uid-nginx"


async def test_progress_deadline_exceeded(cluster):
    d = deployment("nginx", 3, image="nginx:1.26", generation=2, annotations={du.REVISION_ANNOTATION: "2"})
    old = rs_for(d, replicas=0, image="nginx:1.25", revision=1)
    old["status"] = {"replicas": 0}
    new = rs_for(d, replicas=3, available=0, revision=2)
    new["status"] = {"replicas": 3, "observedGeneration": 1}
    d["spec"]["progressDeadlineSeconds"] = 60
    d["status"] = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "unavailableReplicas": 3,
                   "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                                   "message": "x", "lastUpdateTime": "2026-01-01T11:00:00Z",
                                   "lastTransitionTime": "2026-01-01T11:00:00Z"}]}
    dc = make(cluster, d, [old, new])
    await dc.sync("default/nginx")
    [status] = cluster.client.calls_of("update", "deployments")
    progressing = du.get_condition(status.body["status"]["conditions"], "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"] == f'ReplicaSet "{new["metadata"]["name"]}" has timed out progressing.'


async def test_deleted_deployment_is_quiet(cluster):
    dc = DeploymentController(cluster.ctx())
    await dc.sync("default/none")
    assert cluster.client.calls == []
