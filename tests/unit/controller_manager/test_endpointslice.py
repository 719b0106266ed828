"""EndpointSlice and Endpoints controllers: one sync against a preloaded cache."""

from __future__ import annotations

import pytest

from shared.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES

from services.controller_manager.controllers.endpoints import EndpointsController
from services.controller_manager.controllers.endpointslice import EndpointSliceController, StaleInformerCache, plan
from tests.unit.controller_manager.builders import pod

HTTP = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def service(name: str = "web", *, selector: dict | None = None, ports: list | None = None, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"tier": "front"}},
            "spec": {"selector": {"app": "web"} if selector is None else selector, "clusterIP": "127.96.0.10",
                     "ports": ports or [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                     **spec}}


def make(cluster, svc, pods=(), slices=(), cls=EndpointSliceController):
    cluster.add(SERVICES, svc)
    for p in pods:
        cluster.add(PODS, p)
    for s in slices:
        cluster.add(ENDPOINTSLICES, s)
    return cls(cluster.ctx())


async def test_slice_holds_ready_and_not_ready_pods_with_resolved_ports(cluster):
    pods = [pod("a", ip="127.244.1.2", ports=HTTP), pod("b", ip="127.244.2.2", ready=False, node="node-2", ports=HTTP),
            pod("no-ip", ip=None, ports=HTTP), pod("other", labels={"app": "db"}, ports=HTTP),
            pod("done", phase="Succeeded", ports=HTTP)]
    esc = make(cluster, service(), pods)
    await esc.sync("default/web")
    [create] = cluster.client.calls_of("create", "endpointslices")
    s = create.body
    assert s["metadata"]["generateName"] == "web-"
    assert s["metadata"]["labels"] == {"tier": "front", "kubernetes.io/service-name": "web",
                                       "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    assert s["metadata"]["ownerReferences"][0] == {"apiVersion": "v1", "kind": "Service", "name": "web",
                                                   "uid": "uid-web", "controller": True, "blockOwnerDeletion": True}
    assert s["addressType"] == "IPv4"
    assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert s["endpoints"] == [
        {"addresses": ["127.244.1.2"], "conditions": {"ready": True, "serving": True, "terminating": False},
         "nodeName": "node-1", "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}},
        {"addresses": ["127.244.2.2"], "conditions": {"ready": False, "serving": False, "terminating": False},
         "nodeName": "node-2", "targetRef": {"kind": "Pod", "namespace": "default", "name": "b", "uid": "uid-b"}},
    ]


def test_endpoint_carries_its_nodes_zone():
    zones = {"node-1": "zone-a"}
    creates, _, _ = plan(service(), [pod("a", ports=HTTP), pod("b", ip="127.244.2.2", node="node-2", ports=HTTP)],
                         [], zone_of=zones.get)
    assert [e.get("zone") for e in creates[0]["endpoints"]] == ["zone-a", None]


async def test_terminating_pod_is_serving_but_not_ready(cluster):
    esc = make(cluster, service(), [pod("a", deleting=True, ports=HTTP)])
    await esc.sync("default/web")
    [create] = cluster.client.calls_of("create", "endpointslices")
    assert create.body["endpoints"][0]["conditions"] == {"ready": False, "serving": True, "terminating": True}


def test_named_port_resolving_differently_splits_slices():
    pods = [pod("a", ip="127.244.1.2", ports=HTTP),
            pod("b", ip="127.244.1.3", ports=[{"name": "http", "containerPort": 9090, "protocol": "TCP"}]),
            pod("c", ip="127.244.1.4")]  # no port named http: not an endpoint of that port
    creates, updates, deletes = plan(service(), pods, [])
    assert sorted((s["ports"][0]["port"], len(s["endpoints"])) for s in creates) == [(8080, 1), (9090, 1)]


def test_numeric_target_port_and_chunking():
    svc = service(ports=[{"name": "", "port": 80, "targetPort": 8080, "protocol": "TCP"}])
    pods = [pod(f"p{i}", ip=f"127.244.1.{i + 2}") for i in range(5)]
    creates, _, _ = plan(svc, pods, [], max_per_slice=2)
    assert [len(s["endpoints"]) for s in creates] == [2, 2, 1]
    assert creates[0]["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]


async def test_service_without_pods_gets_one_placeholder_slice(cluster):
    esc = make(cluster, service())
    await esc.sync("default/web")
    [create] = cluster.client.calls_of("create", "endpointslices")
    assert create.body["endpoints"] == [] and create.body["ports"] == []
    placeholder = dict(create.body, metadata=dict(create.body["metadata"], name="web-abcde"))
    cluster2_calls = plan(service(), [], [placeholder])
    assert cluster2_calls == ([], [], [])


async def test_up_to_date_slice_is_left_alone_and_stale_one_updated(cluster):
    svc = service()
    creates, _, _ = plan(svc, [pod("a", ports=HTTP)], [])
    current = dict(creates[0], metadata=dict(creates[0]["metadata"], name="web-abcde", resourceVersion="3"))
    esc = make(cluster, svc, [pod("a", ports=HTTP)], [current])
    await esc.sync("default/web")
    assert cluster.client.writes() == []
    cluster.cache(PODS).objects[("default", "a")] = pod("a", ready=False, ports=HTTP)
    await esc.sync("default/web")
    [update] = cluster.client.calls_of("update", "endpointslices")
    assert update.name == "web-abcde" and update.body["endpoints"][0]["conditions"]["ready"] is False


async def test_slices_of_a_recreated_service_are_replaced(cluster):
    svc = service()
    creates, _, _ = plan(svc, [], [])
    stale = dict(creates[0], metadata=dict(creates[0]["metadata"], name="web-old12",
                                           ownerReferences=[{"kind": "Service", "uid": "uid-previous",
                                                             "controller": True}]))
    esc = make(cluster, svc, [], [stale])
    await esc.sync("default/web")
    assert [c.name for c in cluster.client.calls_of("delete", "endpointslices")] == ["web-old12"]
    assert len(cluster.client.calls_of("create", "endpointslices")) == 1


async def test_service_without_selector_is_not_managed(cluster):
    esc = make(cluster, service(selector={}))
    await esc.sync("default/web")
    assert cluster.client.writes() == []


async def test_external_name_service_gets_no_endpoints(cluster):
    esc = make(cluster, service(type="ExternalName", externalName="example.com"), [pod("a", ports=HTTP)])
    await esc.sync("default/web")
    await EndpointsController(cluster.ctx()).sync("default/web")
    assert cluster.client.writes() == []


async def test_pod_change_enqueues_matching_services(cluster):
    esc = make(cluster, service())
    cluster.add(SERVICES, service("db", selector={"app": "db"}))
    old, new = pod("a"), pod("a", ready=False)
    new["metadata"]["resourceVersion"] = "6"
    esc._on_pod_update(old, new)
    assert len(esc.queue) == 1


# --- legacy Endpoints ---

async def test_endpoints_object_lists_ready_and_not_ready_addresses(cluster):
    pods = [pod("a", ip="127.244.1.3", ports=HTTP), pod("b", ip="127.244.1.2", ready=False, ports=HTTP),
            pod("gone", ip="127.244.1.9", deleting=True, ports=HTTP)]
    ec = make(cluster, service(), pods, cls=EndpointsController)
    await ec.sync("default/web")
    [create] = cluster.client.calls_of("create", "endpoints")
    assert create.body["metadata"]["name"] == "web"
    assert create.body["metadata"]["labels"] == {"tier": "front", "endpointslice.kubernetes.io/skip-mirror": "true"}
    assert create.body["subsets"] == [{
        "addresses": [{"ip": "127.244.1.3", "nodeName": "node-1",
                       "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}}],
        "notReadyAddresses": [{"ip": "127.244.1.2", "nodeName": "node-1",
                               "targetRef": {"kind": "Pod", "namespace": "default", "name": "b", "uid": "uid-b"}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }]


async def test_endpoints_of_a_deleted_service_are_deleted(cluster):
    cluster.add(ENDPOINTS, {"metadata": {"name": "web", "namespace": "default"}})
    ec = EndpointsController(cluster.ctx())
    await ec.sync("default/web")
    assert [c.name for c in cluster.client.calls_of("delete", "endpoints")] == ["web"]


async def test_endpoints_unchanged_means_no_write(cluster):
    ec = make(cluster, service(), [pod("a", ports=HTTP)], cls=EndpointsController)
    await ec.sync("default/web")
    body = cluster.client.calls_of("create", "endpoints")[0].body
    cluster.add(ENDPOINTS, body)
    await ec.sync("default/web")
    assert len(cluster.client.writes()) == 1


async def test_stale_slice_cache_never_creates_twice(cluster):
    esc = make(cluster, service(), [pod("a", ports=HTTP)])
    await esc.sync("default/web")
    assert len(cluster.client.calls_of("create", "endpointslices")) == 1
    cluster.cache(PODS).objects[("default", "b")] = pod("b", ip="127.244.1.9", ports=HTTP)
    with pytest.raises(StaleInformerCache):
        await esc.sync("default/web")  # the informer has not seen the slice we created
    assert len(cluster.client.calls_of("create", "endpointslices")) == 1
    created = cluster.client.calls_of("create", "endpointslices")[0]
    cluster.cache(ENDPOINTSLICES).objects[("default", created.name)] = \
        cluster.client.store[("endpointslices", "default", created.name)]
    await esc.sync("default/web")
    [update] = cluster.client.calls_of("update", "endpointslices")
    assert len(update.body["endpoints"]) == 2


async def test_placeholder_becomes_the_first_real_slice_by_update(cluster):
    """kube-controller-manager's reconciler turns a create plus a delete of the Service's own slice
    into one update: the placeholder is rewritten, not replaced."""
    svc = service()
    [placeholder], _, _ = plan(svc, [], [])
    placeholder = dict(placeholder, metadata=dict(placeholder["metadata"], name="web-abcde", resourceVersion="3"))
    esc = make(cluster, svc, [pod("a", ports=HTTP)], [placeholder])
    await esc.sync("default/web")
    assert cluster.client.calls_of("create", "endpointslices") == []
    assert cluster.client.calls_of("delete", "endpointslices") == []
    [update] = cluster.client.calls_of("update", "endpointslices")
    assert update.name == "web-abcde"
    assert update.body["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert [e["targetRef"]["name"] for e in update.body["endpoints"]] == ["a"]


def test_a_slice_of_another_service_uid_is_deleted_not_reused():
    svc = service()
    [old], _, _ = plan(svc, [], [])
    foreign = dict(old, metadata=dict(old["metadata"], name="web-old12",
                                      ownerReferences=[{"kind": "Service", "uid": "uid-previous", "controller": True}]))
    creates, updates, deletes = plan(svc, [pod("a", ports=HTTP)], [foreign])
    assert len(creates) == 1 and updates == [] and [d["metadata"]["name"] for d in deletes] == ["web-old12"]
