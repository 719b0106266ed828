"""Node lifecycle/eviction/IPAM, Service endpoints and namespace deletion on a real API server."""

from __future__ import annotations

from shared.resources import (
    CONFIGMAPS,
    DEPLOYMENTS,
    ENDPOINTS,
    ENDPOINTSLICES,
    NAMESPACES,
    NODES,
    PODS,
    SERVICEACCOUNTS,
    SERVICES,
)

from tests.integration.controller_manager.conftest import eventually
from tests.integration.controller_manager.test_deployment_rollout import active_pods, deployment, is_ready, rolled_out

NS = "default"
SHORT_TOLERATIONS = [
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1},
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1},
]


async def test_pods_of_a_dead_node_are_recreated_elsewhere(api_client, controller_manager, nodes):
    fake = await nodes(["node-1", "node-2"], ready_delay=0.05)
    await controller_manager()
    spec = deployment("ha", 4)
    spec["spec"]["template"]["spec"]["tolerations"] = SHORT_TOLERATIONS
    await api_client.create(DEPLOYMENTS, spec)
    await eventually(lambda: rolled_out(api_client, "ha", "nginx:1.25", 4), what="rollout")
    on_node1 = {p["metadata"]["name"] for p in await active_pods(api_client, "ha")
                if p["spec"]["nodeName"] == "node-1"}
    assert on_node1, "the stand-in scheduler spreads pods over both nodes"

    await fake.stop("node-1")

    async def node_unknown():
        node = await api_client.get(NODES, "node-1")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        keys = {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}
        ok = ready["status"] == "Unknown" and ("node.kubernetes.io/unreachable", "NoExecute") in keys
        return (ready, keys) if ok else None

    ready, _ = await eventually(node_unknown, what="node-1 marked Unknown and tainted")
    assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")

    async def moved():
        pods = await active_pods(api_client, "ha")
        return len(pods) == 4 and all(p["spec"].get("nodeName") == "node-2" and is_ready(p) for p in pods)

    await eventually(moved, what="pods recreated on node-2")
    for name in on_node1:  # evicted: being deleted (the dead kubelet cannot finish), or Ready=False
        pod = await api_client.get(PODS, name, namespace=NS)
        assert pod["metadata"].get("deletionTimestamp")
        assert not is_ready(pod)

    await fake.restart("node-1")  # the kubelet comes back: Ready with a new heartbeat, Lease renewed
    async def healthy_again():
        node = await api_client.get(NODES, "node-1")
        return not [t for t in node["spec"].get("taints") or [] if t["key"].startswith("node.kubernetes.io/")]

    await eventually(healthy_again, what="taints removed from node-1")


async def test_nodes_get_pod_cidrs(api_client, controller_manager, nodes):
    await controller_manager()
    await nodes(["node-1", "node-3"])

    async def cidrs():
        items = (await api_client.list(NODES))["items"]
        got = {n["metadata"]["name"]: n["spec"].get("podCIDR") for n in items}
        return got if all(got.values()) else None

    assert await eventually(cidrs, what="podCIDRs") == {"node-1": "127.244.1.0/24", "node-3": "127.244.3.0/24"}


async def test_service_gets_endpoint_slices_and_endpoints(api_client, controller_manager, nodes):
    await nodes(["node-1"], ready_delay=0.05)
    await controller_manager()
    spec = deployment("svc", 2)
    spec["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 80}]
    await api_client.create(DEPLOYMENTS, spec)
    await api_client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
                                       "spec": {"selector": {"app": "svc"},
                                                "ports": [{"name": "web", "port": 8080, "targetPort": "http"}]}},
                            namespace=NS)

    async def slices_ready():
        items = (await api_client.list(ENDPOINTSLICES, namespace=NS,
                                       label_selector="kubernetes.io/service-name=svc"))["items"]
        eps = [e for s in items for e in s.get("endpoints") or []]
        ok = len(eps) == 2 and all(e["conditions"]["ready"] for e in eps)
        return items if ok else None

    [eps] = await eventually(slices_ready, what="an EndpointSlice with 2 ready endpoints")
    assert eps["metadata"]["name"].startswith("svc-")
    assert eps["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert eps["ports"] == [{"name": "web", "port": 80, "protocol": "TCP"}]
    assert {e["targetRef"]["kind"] for e in eps["endpoints"]} == {"Pod"}

    async def endpoints_ready():
        try:
            ep = await api_client.get(ENDPOINTS, "svc", namespace=NS)
        except Exception:
            return None
        subsets = ep.get("subsets") or []
        return ep if subsets and len(subsets[0].get("addresses") or []) == 2 else None

    ep = await eventually(endpoints_ready, what="Endpoints with 2 addresses")
    assert ep["subsets"][0]["ports"] == [{"name": "web", "port": 80, "protocol": "TCP"}]

    await api_client.delete(SERVICES, "svc", namespace=NS)

    async def cleaned():
        slices = (await api_client.list(ENDPOINTSLICES, namespace=NS,
                                        label_selector="kubernetes.io/service-name=svc"))["items"]
        endpoints = [e for e in (await api_client.list(ENDPOINTS, namespace=NS))["items"]
                     if e["metadata"]["name"] == "svc"]
        return not slices and not endpoints

    await eventually(cleaned, what="slices (GC) and Endpoints removed with the Service")


async def test_namespace_deletion_leaves_nothing(api_client, controller_manager, nodes):
    await nodes(["node-1"], ready_delay=0.05)
    await controller_manager()
    await api_client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})

    async def has_default_sa():
        items = (await api_client.list(SERVICEACCOUNTS, namespace="team"))["items"]
        return [s for s in items if s["metadata"]["name"] == "default"]

    await eventually(has_default_sa, what='the "default" ServiceAccount')
    spec = deployment("app", 2)
    spec["metadata"]["namespace"] = "team"
    await api_client.create(DEPLOYMENTS, spec, namespace="team")
    await api_client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                                         "data": {"a": "b"}}, namespace="team")

    async def running():
        pods = (await api_client.list(PODS, namespace="team"))["items"]
        return len(pods) == 2 and all(is_ready(p) for p in pods)

    await eventually(running, what="pods running in team")
    await api_client.delete(NAMESPACES, "team")

    async def gone():
        names = {n["metadata"]["name"] for n in (await api_client.list(NAMESPACES))["items"]}
        return "team" not in names

    await eventually(gone, what="namespace team deleted")
    for ref in (PODS, DEPLOYMENTS, CONFIGMAPS, SERVICEACCOUNTS):
        assert (await api_client.list(ref, namespace="team"))["items"] == [], ref
