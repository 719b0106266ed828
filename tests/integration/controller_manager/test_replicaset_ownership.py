"""ReplicaSet ownership on a real API server: adopting a matching orphan, releasing a relabelled pod."""

from __future__ import annotations

from shared.resources import PODS, REPLICASETS

from tests.integration.controller_manager.conftest import eventually

NS = "default"


def rs(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


async def test_adopts_orphan_and_releases_relabelled_pod(api_client, controller_manager):
    await api_client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                   "metadata": {"name": "stray", "namespace": NS, "labels": {"app": "own"}},
                                   "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    await controller_manager(controllers="replicaset,garbagecollector")
    created = await api_client.create(REPLICASETS, rs("own", 2))

    async def owned():
        pods = (await api_client.list(PODS, namespace=NS, label_selector="app=own"))["items"]
        refs = [(p["metadata"].get("ownerReferences") or [{}])[0].get("uid") for p in pods]
        return pods if len(pods) == 2 and refs == [created["metadata"]["uid"]] * 2 else None

    pods = await eventually(owned, what="the orphan adopted and one pod created")
    assert "stray" in {p["metadata"]["name"] for p in pods}
    ref = (await api_client.get(PODS, "stray", namespace=NS))["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["controller"], ref["blockOwnerDeletion"]) == ("ReplicaSet", True, True)

    await api_client.patch(PODS, "stray", {"metadata": {"labels": {"app": "elsewhere"}}}, namespace=NS)

    async def released():
        stray = await api_client.get(PODS, "stray", namespace=NS)
        mine = (await api_client.list(PODS, namespace=NS, label_selector="app=own"))["items"]
        return not stray["metadata"].get("ownerReferences") and len(mine) == 2

    await eventually(released, what="the relabelled pod released and replaced")
