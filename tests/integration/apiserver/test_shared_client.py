"""kubemu's own client (shared.client) against the API server, through the `api_client` fixture."""

from __future__ import annotations

import asyncio

import pytest

resources = pytest.importorskip("shared.resources")
client_mod = pytest.importorskip("shared.client")


async def test_shared_client_roundtrip(api_client) -> None:
    pods = resources.PODS
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    created = await api_client.create(pods, pod)
    assert created["metadata"]["uid"]
    listed = await api_client.list(pods, namespace="default")
    assert [p["metadata"]["name"] for p in listed["items"]] == ["a"]
    with pytest.raises(client_mod.AlreadyExists):
        await api_client.create(pods, pod)
    events = []

    async def watch() -> None:
        async for event in api_client.watch(pods, namespace="default",
                                            resource_version=listed["metadata"]["resourceVersion"],
                                            timeout_seconds=5):
            events.append((event["type"], event["object"]["metadata"]["name"]))
            if len(events) == 2:
                return

    task = asyncio.create_task(watch())
    await asyncio.sleep(0.3)
    await api_client.patch(pods, "a", {"metadata": {"labels": {"x": "y"}}}, namespace="default")
    await api_client.delete(pods, "a", namespace="default")
    await asyncio.wait_for(task, 10)
    assert events == [("MODIFIED", "a"), ("DELETED", "a")]
    with pytest.raises(client_mod.NotFound):
        await api_client.get(pods, "a", namespace="default")
