"""Deletion, finalizers, subresources, services' allocations, namespaces: kube-apiserver's rules."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.apiserver.helpers import Raw, deployment, pod

PODS = "/api/v1/namespaces/default/pods"
SVCS = "/api/v1/namespaces/default/services"
DEPS = "/apis/apps/v1/namespaces/default/deployments"


async def test_unscheduled_pod_is_deleted_at_once(raw: Raw) -> None:
    await raw.post(PODS, pod("a"))
    code, body = await raw.delete(f"{PODS}/a")
    assert code == 200 and body["metadata"]["name"] == "a"
    assert (await raw.get(f"{PODS}/a"))[0] == 404


async def test_bound_pod_is_only_marked_then_kubelet_deletes_with_grace_zero(raw: Raw) -> None:
    await raw.post(PODS, pod("a", node="node-1"))
    code, body = await raw.delete(f"{PODS}/a", {"propagationPolicy": "Background"})
    assert code == 202
    assert body["metadata"]["deletionTimestamp"] and body["metadata"]["deletionGracePeriodSeconds"] == 30
    code, again = await raw.get(f"{PODS}/a")
    assert code == 200 and again["metadata"]["deletionTimestamp"]
    code, shorter = await raw.delete(f"{PODS}/a", {"gracePeriodSeconds": 5})
    assert code == 202 and shorter["metadata"]["deletionGracePeriodSeconds"] == 5
    code, _ = await raw.delete(f"{PODS}/a", {"gracePeriodSeconds": 0})
    assert code == 200
    assert (await raw.get(f"{PODS}/a"))[0] == 404


async def test_finalizers_hold_the_object_until_removed(raw: Raw) -> None:
    cm = {"metadata": {"name": "cm", "finalizers": ["example.com/hold"]}, "data": {"a": "b"}}
    await raw.post("/api/v1/namespaces/default/configmaps", cm)
    code, body = await raw.delete("/api/v1/namespaces/default/configmaps/cm")
    assert code == 202 and body["metadata"]["deletionTimestamp"]
    code, held = await raw.get("/api/v1/namespaces/default/configmaps/cm")
    assert code == 200
    code, status = await raw.patch("/api/v1/namespaces/default/configmaps/cm",
                                   {"metadata": {"finalizers": ["example.com/hold", "new"]}})
    assert code == 422
    code, _ = await raw.patch("/api/v1/namespaces/default/configmaps/cm", {"metadata": {"finalizers": None}})
    assert code == 200
    assert (await raw.get("/api/v1/namespaces/default/configmaps/cm"))[0] == 404


async def test_propagation_policies_add_gc_finalizers(raw: Raw) -> None:
    await raw.post(DEPS, deployment("orphaned"))
    code, body = await raw.delete(f"{DEPS}/orphaned", {"propagationPolicy": "Orphan"})
    assert code == 202 and body["metadata"]["finalizers"] == ["orphan"]
    await raw.post(DEPS, deployment("fg"))
    code, body = await raw.delete(f"{DEPS}/fg", params={"propagationPolicy": "Foreground"})
    assert code == 202 and body["metadata"]["finalizers"] == ["foregroundDeletion"]
    await raw.post(DEPS, deployment("bg"))
    code, body = await raw.delete(f"{DEPS}/bg", {"propagationPolicy": "Background"})
    assert code == 200 and body["kind"] == "Status" and body["status"] == "Success"
    code, status = await raw.delete(f"{DEPS}/fg", {"propagationPolicy": "Sideways"})
    assert code == 422


async def test_delete_preconditions(raw: Raw) -> None:
    _, created = await raw.post(PODS, pod("a"))
    code, status = await raw.delete(f"{PODS}/a", {"preconditions": {"uid": "not-the-uid"}})
    assert code == 409 and "Precondition failed: UID in precondition: not-the-uid" in status["message"]
    code, status = await raw.delete(f"{PODS}/a", {"preconditions": {"resourceVersion": "1"}})
    assert code == 409
    code, _ = await raw.delete(f"{PODS}/a", {"preconditions": {"uid": created["metadata"]["uid"]}})
    assert code == 200


async def test_deletecollection_with_selector(raw: Raw) -> None:
    await raw.post(PODS, pod("a", labels={"x": "1"}))
    await raw.post(PODS, pod("b", labels={"x": "1"}))
    await raw.post(PODS, pod("c"))
    code, body = await raw.delete(PODS, params={"labelSelector": "x=1"})
    assert code == 200
    _, left = await raw.get(PODS)
    assert [p["metadata"]["name"] for p in left["items"]] == ["c"]


async def test_binding_sets_node_once_with_condition(raw: Raw) -> None:
    await raw.post(PODS, pod("a"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "a"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    code, body = await raw.post(f"{PODS}/a/binding", binding)
    assert code == 201 and body["status"] == "Success"
    _, bound = await raw.get(f"{PODS}/a")
    assert bound["spec"]["nodeName"] == "node-1"
    cond = [c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert cond and cond[0]["status"] == "True"
    code, status = await raw.post(f"{PODS}/a/binding", {**binding, "target": {"kind": "Node", "name": "node-2"}})
    assert code == 409 and status["reason"] == "Conflict"
    assert 'is already assigned to node "node-1"' in status["message"]


async def test_scale_subresource(raw: Raw) -> None:
    await raw.post(DEPS, deployment("web", replicas=2))
    code, scale = await raw.get(f"{DEPS}/web/scale")
    assert code == 200 and scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 2 and scale["status"]["selector"] == "app=web"
    code, scale = await raw.patch(f"{DEPS}/web/scale", {"spec": {"replicas": 4}})
    assert code == 200 and scale["spec"]["replicas"] == 4
    scale["spec"]["replicas"] = 1
    code, scale = await raw.put(f"{DEPS}/web/scale", scale)
    assert code == 200 and scale["spec"]["replicas"] == 1
    _, dep = await raw.get(f"{DEPS}/web")
    assert dep["spec"]["replicas"] == 1
    code, status = await raw.patch(f"{DEPS}/web/scale", {"spec": {"replicas": -1}})
    assert code == 422


async def test_status_subresource_of_deployment(raw: Raw) -> None:
    await raw.post(DEPS, deployment("web"))
    code, dep = await raw.patch(f"{DEPS}/web/status", {"status": {"observedGeneration": 1, "replicas": 1}})
    assert code == 200 and dep["status"]["replicas"] == 1
    assert dep["metadata"]["generation"] == 1


async def test_service_cluster_ip_and_node_port_allocation(raw: Raw) -> None:
    svc = {"metadata": {"name": "a"}, "spec": {"type": "NodePort", "ports": [{"port": 80}], "selector": {"x": "y"}}}
    code, a = await raw.post(SVCS, svc)
    assert code == 201, a
    assert a["spec"]["clusterIP"].startswith("127.96.") and a["spec"]["clusterIPs"] == [a["spec"]["clusterIP"]]
    node_port = a["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    taken = {"metadata": {"name": "b"}, "spec": {"clusterIP": a["spec"]["clusterIP"], "ports": [{"port": 80}]}}
    code, status = await raw.post(SVCS, taken)
    assert code == 422 and "provided IP is already allocated" in status["message"]
    outside = {"metadata": {"name": "b"}, "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80}]}}
    code, status = await raw.post(SVCS, outside)
    assert code == 422 and "not in the valid range" in status["message"]
    port_taken = {"metadata": {"name": "b"},
                  "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": node_port}]}}
    code, status = await raw.post(SVCS, port_taken)
    assert code == 422 and "provided port is already allocated" in status["message"]
    assert (await raw.get(f"{SVCS}/b"))[0] == 404
    code, _ = await raw.delete(f"{SVCS}/a")
    assert code == 200
    code, b = await raw.post(SVCS, port_taken)  # released on delete: free again
    assert code == 201 and b["spec"]["ports"][0]["nodePort"] == node_port


async def test_service_update_keeps_allocations(raw: Raw) -> None:
    code, a = await raw.post(SVCS, {"metadata": {"name": "a"}, "spec": {"ports": [{"port": 80}]}})
    ip = a["spec"]["clusterIP"]
    del a["spec"]["clusterIP"], a["spec"]["clusterIPs"]
    a["spec"]["type"] = "NodePort"
    code, b = await raw.put(f"{SVCS}/a", a)
    assert code == 200, b
    assert b["spec"]["clusterIP"] == ip and b["spec"]["ports"][0]["nodePort"] >= 30000
    code, status = await raw.patch(f"{SVCS}/a", {"spec": {"clusterIP": "127.96.9.9", "clusterIPs": None}})
    assert code == 422


async def test_pods_get_default_tolerations(raw: Raw) -> None:
    _, created = await raw.post(PODS, pod("a"))
    tolerations = {(t["key"], t["effect"], t.get("tolerationSeconds")) for t in created["spec"]["tolerations"]}
    assert ("node.kubernetes.io/not-ready", "NoExecute", 300) in tolerations
    assert ("node.kubernetes.io/unreachable", "NoExecute", 300) in tolerations


async def test_namespace_delete_finalize_then_gone(raw: Raw) -> None:
    await raw.post("/api/v1/namespaces", {"metadata": {"name": "t"}})
    code, ns = await raw.delete("/api/v1/namespaces/t")
    assert code == 202 and ns["status"]["phase"] == "Terminating"
    code, status = await raw.post("/api/v1/namespaces/t/configmaps", {"metadata": {"name": "x"}})
    assert code == 403 and status["reason"] == "Forbidden"
    assert status["message"] == ('configmaps "x" is forbidden: unable to create new content in namespace t '
                                 'because it is being terminated')
    ns["spec"]["finalizers"] = []
    code, ns = await raw.put("/api/v1/namespaces/t/finalize", ns)
    assert code == 200 and ns["spec"]["finalizers"] == []
    code, _ = await raw.delete("/api/v1/namespaces/t")
    assert code == 200
    assert (await raw.get("/api/v1/namespaces/t"))[0] == 404


async def test_system_namespaces_and_kubernetes_service_exist(raw: Raw) -> None:
    _, namespaces = await raw.get("/api/v1/namespaces")
    names = {n["metadata"]["name"] for n in namespaces["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    code, svc = await raw.get(f"{SVCS}/kubernetes")
    assert code == 200 and svc["spec"]["clusterIP"] == "127.96.0.1"
    port = int(raw.handle.url.rsplit(":", 1)[1])
    code, ep = await raw.get("/api/v1/namespaces/default/endpoints/kubernetes")
    assert code == 200 and ep["subsets"][0]["ports"][0]["port"] == port
    code, eps = await raw.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes")
    assert code == 200 and eps["endpoints"][0]["addresses"] == ["127.0.0.1"] and eps["ports"][0]["port"] == port


async def test_dry_run_stores_nothing(raw: Raw) -> None:
    code, _ = await raw.post(PODS, pod("a"), params={"dryRun": "All"})
    assert code == 201
    assert (await raw.get(f"{PODS}/a"))[0] == 404


async def test_eviction_deletes_the_pod(raw: Raw) -> None:
    await raw.post(PODS, pod("a"))
    code, _ = await raw.post(f"{PODS}/a/eviction", {"apiVersion": "policy/v1", "kind": "Eviction",
                                                    "metadata": {"name": "a"}})
    assert code == 201
    assert (await raw.get(f"{PODS}/a"))[0] == 404


PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
EVICTION = {"apiVersion": "policy/v1", "kind": "Eviction"}


async def _running_ready(raw: Raw, name: str) -> None:
    await raw.post(PODS, pod(name, labels={"app": "web"}))
    code, current = await raw.get(f"{PODS}/{name}")
    current["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    assert (await raw.put(f"{PODS}/{name}/status", current))[0] == 200


async def test_eviction_spends_the_pod_disruption_budget(raw: Raw) -> None:
    for name in ("a", "b", "c"):
        await _running_ready(raw, name)
    budget = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
              "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}
    assert (await raw.post(PDBS, budget))[0] == 201
    # Not yet processed by the disruption controller (observedGeneration 0 < generation 1): 429.
    code, status = await raw.post(f"{PODS}/a/eviction", {**EVICTION, "metadata": {"name": "a"}})
    assert code == 429 and status["reason"] == "TooManyRequests"
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"] == [{"reason": "DisruptionBudget", "message": "The disruption budget web is "
                                            "still being processed by the server."}]
    # What the controller would write: 3 healthy, 2 wanted, 1 disruption allowed.
    code, current = await raw.get(f"{PDBS}/web")
    current["status"] = {"observedGeneration": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3,
                         "disruptionsAllowed": 1}
    assert (await raw.put(f"{PDBS}/web/status", current))[0] == 200
    code, _ = await raw.post(f"{PODS}/a/eviction", {**EVICTION, "metadata": {"name": "a"}})
    assert code == 201
    assert (await raw.get(f"{PODS}/a"))[0] == 404
    code, spent = await raw.get(f"{PDBS}/web")
    assert spent["status"]["disruptionsAllowed"] == 0 and list(spent["status"]["disruptedPods"]) == ["a"]
    assert [(c["type"], c["status"], c["reason"]) for c in spent["status"]["conditions"]] == [
        ("DisruptionAllowed", "False", "InsufficientPods")]
    code, status = await raw.post(f"{PODS}/b/eviction", {**EVICTION, "metadata": {"name": "b"}})
    assert code == 429
    assert status["details"]["causes"][0]["message"] == "The disruption budget web needs 2 healthy pods and has 3 " \
                                                        "currently"
    assert (await raw.get(f"{PODS}/b"))[0] == 200  # nothing happened to it
    # A second budget over the same pods: the eviction subresource refuses to choose.
    assert (await raw.post(PDBS, {**budget, "metadata": {"name": "web2"}}))[0] == 201
    code, status = await raw.post(f"{PODS}/c/eviction", {**EVICTION, "metadata": {"name": "c"}})
    assert code == 500 and status["message"].endswith(
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")


async def test_eviction_of_a_pending_pod_ignores_budgets(raw: Raw) -> None:
    await raw.post(PODS, pod("p", labels={"app": "web"}))
    budget = {"metadata": {"name": "all"}, "spec": {"maxUnavailable": 0, "selector": {}}}
    assert (await raw.post(PDBS, budget))[0] == 201
    code, _ = await raw.post(f"{PODS}/p/eviction", {**EVICTION, "metadata": {"name": "p"}})
    assert code == 201


SMP = "application/strategic-merge-patch+json"


def _debugger(name: str = "dbg", **extra) -> dict:
    return {"spec": {"ephemeralContainers": [{"name": name, "image": "busybox", "stdin": True, "tty": True, **extra}]}}


async def test_ephemeral_containers_are_added_through_their_subresource_only(raw: Raw) -> None:
    await raw.post(PODS, pod("a", node="node-1"))
    with_one = {**pod("b"), "spec": {**pod("b")["spec"], "ephemeralContainers": [{"name": "x", "image": "busybox"}]}}
    code, status = await raw.post(PODS, with_one)
    assert code == 422 and "spec.ephemeralContainers: Forbidden: cannot be set on create" in status["message"]
    code, added = await raw.patch(f"{PODS}/a/ephemeralcontainers", _debugger(), content_type=SMP)
    assert code == 200, added
    (debugger,) = added["spec"]["ephemeralContainers"]
    assert (debugger["imagePullPolicy"], debugger["terminationMessagePolicy"], debugger["tty"]) == (
        "Always", "File", True)
    assert added["spec"]["containers"] == (await raw.get(f"{PODS}/a"))[1]["spec"]["containers"]
    code, got = await raw.get(f"{PODS}/a/ephemeralcontainers")
    assert code == 200 and got["kind"] == "Pod" and got["spec"]["ephemeralContainers"][0]["name"] == "dbg"
    # Existing ones may not change or go; new ones are checked as Kubernetes checks them.
    code, status = await raw.patch(f"{PODS}/a/ephemeralcontainers", _debugger(image="alpine"), content_type=SMP)
    assert code == 422 and 'existing ephemeral containers "dbg" may not be changed' in status["message"]
    code, status = await raw.put(f"{PODS}/a/ephemeralcontainers",
                                 {**added, "spec": {**added["spec"], "ephemeralContainers": []}})
    assert code == 422 and 'existing ephemeral containers "dbg" may not be removed' in status["message"]
    code, status = await raw.patch(f"{PODS}/a/ephemeralcontainers",
                                   _debugger("c", ports=[{"containerPort": 80}], targetContainerName="nope"),
                                   content_type=SMP)
    assert code == 422
    causes = {(c["field"], c["reason"]) for c in status["details"]["causes"]}
    # (a patch without $setElementOrder puts the new item first, as Kubernetes' mergeSortedSlice does)
    assert causes == {("spec.ephemeralContainers[0].name", "FieldValueDuplicate"),
                      ("spec.ephemeralContainers[0].ports", "FieldValueForbidden"),
                      ("spec.ephemeralContainers[0].targetContainerName", "FieldValueNotFound")}
    second = _debugger("second")
    second["spec"]["$setElementOrder/ephemeralContainers"] = [{"name": "dbg"}, {"name": "second"}]  # as kubectl
    code, _ = await raw.patch(f"{PODS}/a/ephemeralcontainers", second, content_type=SMP)
    assert code == 200
    names = [c["name"] for c in (await raw.get(f"{PODS}/a"))[1]["spec"]["ephemeralContainers"]]
    assert names == ["dbg", "second"]


async def test_update_of_leases_may_create(raw: Raw) -> None:
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n1"},
             "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}}
    code, body = await raw.put("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", lease)
    assert code == 201, body
    code, status = await raw.put(f"{PODS}/nope", pod("nope"))
    assert code == 404


@pytest.mark.etcd
async def test_two_api_servers_share_allocations(etcd_apiserver, apiserver_factory, etcd_endpoint) -> None:
    """A second API server on the same store sees the first one's allocations through its watch."""
    second = apiserver_factory(storage="etcd", etcd_servers=[etcd_endpoint],
                               etcd_prefix=etcd_apiserver.config.etcd_prefix)
    one, two = Raw(etcd_apiserver), Raw(second)
    try:
        svc = {"metadata": {"name": "a"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
        code, a = await one.post(SVCS, svc)
        assert code == 201
        taken = {"metadata": {"name": "b"}, "spec": {"clusterIP": a["spec"]["clusterIP"], "ports": [{"port": 80}]}}
        for _ in range(100):  # until the second server's watch cache has seen "a"
            _, cached = await two.get(SVCS, params={"resourceVersion": "0"})
            if "a" in [s["metadata"]["name"] for s in cached["items"]]:
                break
            await asyncio.sleep(0.05)
        code, status = await two.post(SVCS, taken)
        assert code == 422 and "already allocated" in status["message"]
    finally:
        await one.close()
        await two.close()
