"""DaemonSets on a real API server, bound by the real kube-scheduler process.

Three stand-in nodes (they run bound pods and report them Ready); the DaemonSet's pods are pinned
to their nodes only by the required `matchFields metadata.name` affinity the controller writes, and
the scheduler binds them. One pod per eligible node; a tainted node gets none until the template
tolerates the taint; a template change makes revision 2 and replaces every pod (one at a time);
a node labelled out of the nodeSelector loses its pod; deleting the DaemonSet collects its pods
and ControllerRevisions. The real kubectl reads the revisions (rollout status, history) and rolls
back to one (rollout undo applies its data).
"""

from __future__ import annotations

import shutil

import pytest

from shared.client import NotFound
from shared.resources import CONTROLLERREVISIONS, DAEMONSETS, EVENTS, NODES, PODS
from tests.integration.controller_manager.conftest import eventually
from tests.integration.controller_manager.test_kubectl_rollout import kubectl

NS = "default"
CONTROLLERS = "daemonset-controller,garbage-collector-controller"


def daemonset(image: str = "agent:1") -> dict:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": NS},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"nodeSelector": {"role": "agent"},
                                           "containers": [{"name": "agent", "image": image}]}}}}


def is_ready(pod: dict) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def pods_by_node(api) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for pod in (await api.list(PODS, namespace=NS, label_selector="app=agent"))["items"]:
        if not pod["metadata"].get("deletionTimestamp"):
            out.setdefault(pod["spec"].get("nodeName") or "", []).append(pod)
    return out


def pinned_to(pod: dict) -> list[str]:
    required = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    terms = required["nodeSelectorTerms"]
    return [f["values"][0] for t in terms for f in t.get("matchFields") or [] if f["key"] == "metadata.name"]


async def settled(api, nodes: list[str], *, image: str, generation: int) -> dict[str, dict] | None:
    """One ready pod of `image` on each of `nodes` and none elsewhere, and a status that says so."""
    by_node = await pods_by_node(api)
    if sorted(by_node) != sorted(nodes) or any(len(p) != 1 or not is_ready(p[0]) for p in by_node.values()):
        return None
    if any(p[0]["spec"]["containers"][0]["image"] != image for p in by_node.values()):
        return None
    status = (await api.get(DAEMONSETS, "agent", namespace=NS)).get("status") or {}
    want = {"desiredNumberScheduled": len(nodes), "currentNumberScheduled": len(nodes), "numberReady": len(nodes),
            "updatedNumberScheduled": len(nodes), "numberAvailable": len(nodes), "observedGeneration": generation}
    if any(status.get(k, 0) != v for k, v in want.items()) or status.get("numberMisscheduled", 0):
        return None
    return {node: pods[0] for node, pods in by_node.items()}


async def revisions(api) -> dict[int, dict]:
    items = (await api.list(CONTROLLERREVISIONS, namespace=NS, label_selector="app=agent"))["items"]
    return {r["revision"]: r for r in items}


async def test_daemonset_pods_follow_nodes_taints_and_template(api_client, controller_manager, nodes, scheduler):
    await nodes(["node-1", "node-2", "node-3"], ready_delay=0.05, bind=False)
    for name in ("node-1", "node-2", "node-3"):
        await api_client.patch(NODES, name, {"metadata": {"labels": {"role": "agent"}}})
    await api_client.patch(NODES, "node-3", {"spec": {"taints": [{"key": "dedicated", "value": "db",
                                                                  "effect": "NoSchedule"}]}})
    await controller_manager(controllers=CONTROLLERS)
    await api_client.create(DAEMONSETS, daemonset())

    # one pod on each untainted node, placed there by the scheduler through the node-name affinity
    pods = await eventually(lambda: settled(api_client, ["node-1", "node-2"], image="agent:1", generation=1),
                            timeout=30, what="a ready pod on node-1 and node-2 only")
    for node_name, pod in pods.items():
        assert pinned_to(pod) == [node_name]
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
        assert pod["metadata"]["labels"]["pod-template-generation"] == "1"
    [first] = (await revisions(api_client)).values()
    assert first["revision"] == 1
    assert pods["node-1"]["metadata"]["labels"]["controller-revision-hash"] == \
        first["metadata"]["labels"]["controller-revision-hash"]
    assert first["data"]["spec"]["template"]["$patch"] == "replace"

    # a template change: tolerate the taint, new image → revision 2, every pod replaced, node-3 too
    await api_client.patch(DAEMONSETS, "agent", {"spec": {"template": {"spec": {
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}],
        "containers": [{"name": "agent", "image": "agent:2"}]}}}}, namespace=NS, patch_type="strategic")
    pods = await eventually(lambda: settled(api_client, ["node-1", "node-2", "node-3"], image="agent:2", generation=2),
                            timeout=40, what="agent:2 on all three nodes")
    history = await revisions(api_client)
    assert sorted(history) == [1, 2]
    new_hash = history[2]["metadata"]["labels"]["controller-revision-hash"]
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods.values()} == {new_hash}
    assert history[2]["data"]["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:2"

    # node-1 labelled out of the nodeSelector: its pod goes
    await api_client.patch(NODES, "node-1", {"metadata": {"labels": {"role": "other"}}})
    await eventually(lambda: settled(api_client, ["node-2", "node-3"], image="agent:2", generation=2),
                     timeout=30, what="node-1's pod deleted")
    events = (await api_client.list(EVENTS, namespace=NS, field_selector="involvedObject.kind=DaemonSet"))["items"]
    reasons = {e["reason"] for e in events}
    assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons

    # deleting the DaemonSet takes its pods and revisions (garbage collector)
    await api_client.delete(DAEMONSETS, "agent", namespace=NS)

    async def collected() -> bool:
        try:
            await api_client.get(DAEMONSETS, "agent", namespace=NS)
            return False
        except NotFound:
            pass
        return not await pods_by_node(api_client) and not await revisions(api_client)

    await eventually(collected, timeout=30, what="pods and revisions collected")


MANIFEST = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      nodeSelector: {role: agent}
      containers:
      - {name: agent, image: "agent:1"}
"""


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
async def test_kubectl_rollout_history_and_undo(apiserver, api_client, controller_manager, nodes, scheduler):
    await nodes(["node-1", "node-2"], ready_delay=0.05, bind=False)
    for name in ("node-1", "node-2"):
        await api_client.patch(NODES, name, {"metadata": {"labels": {"role": "agent"}}})
    await controller_manager(controllers=CONTROLLERS)
    await kubectl(apiserver, "apply", "-f", "-", stdin=MANIFEST)
    out = await kubectl(apiserver, "rollout", "status", "daemonset/agent", "--timeout=60s")
    assert 'daemon set "agent" successfully rolled out' in out
    await kubectl(apiserver, "set", "image", "daemonset/agent", "agent=agent:2")
    await kubectl(apiserver, "rollout", "status", "daemonset/agent", "--timeout=60s")
    history = await kubectl(apiserver, "rollout", "history", "daemonset/agent")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    detail = await kubectl(apiserver, "rollout", "history", "daemonset/agent", "--revision=1")
    assert "agent:1" in detail

    await kubectl(apiserver, "rollout", "undo", "daemonset/agent")
    await eventually(lambda: settled(api_client, ["node-1", "node-2"], image="agent:1", generation=3),
                     timeout=40, what="agent:1 back on both nodes")
    assert sorted(await revisions(api_client)) == [2, 3]  # revision 1 is renumbered 3
