"""Watch over HTTP: from a resourceVersion, selectors, bookmarks, timeouts, 410 Gone."""

from __future__ import annotations

import asyncio

import pytest

from tests.fixtures.apiserver import ApiServerHandle
from tests.integration.apiserver.helpers import Raw, pod

PODS = "/api/v1/namespaces/default/pods"


async def _collect(raw: Raw, path: str, params: dict, count: int, timeout: float = 10.0) -> list[dict]:
    events: list[dict] = []

    async def run() -> None:
        async for event in raw.watch(path, params):
            events.append(event)
            if len(events) >= count:
                return

    await asyncio.wait_for(run(), timeout)
    return events


async def test_watch_from_list_resource_version(raw: Raw) -> None:
    await raw.post(PODS, pod("before"))
    _, listed = await raw.get(PODS)
    rv = listed["metadata"]["resourceVersion"]
    task = asyncio.create_task(_collect(raw, PODS, {"resourceVersion": rv}, 3))
    await asyncio.sleep(0.2)
    _, created = await raw.post(PODS, pod("a"))
    await raw.patch(f"{PODS}/a", {"metadata": {"labels": {"x": "y"}}})
    await raw.delete(f"{PODS}/a")
    events = await task
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert all(e["object"]["metadata"]["name"] == "a" for e in events)
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] == int(created["metadata"]["resourceVersion"])


async def test_watch_replays_history_after_resource_version(raw: Raw) -> None:
    _, first = await raw.post(PODS, pod("a"))
    await raw.post(PODS, pod("b"))
    await raw.post(PODS, pod("c"))
    events = await _collect(raw, PODS, {"resourceVersion": first["metadata"]["resourceVersion"]}, 2)
    assert [e["object"]["metadata"]["name"] for e in events] == ["b", "c"]


async def test_watch_without_resource_version_starts_with_current_state(raw: Raw) -> None:
    await raw.post(PODS, pod("a"))
    await raw.post(PODS, pod("b"))
    events = await _collect(raw, PODS, {}, 2)
    assert sorted((e["type"], e["object"]["metadata"]["name"]) for e in events) == [("ADDED", "a"), ("ADDED", "b")]


async def test_selector_stops_matching_arrives_as_deleted(raw: Raw) -> None:
    _, listed = await raw.get(PODS)
    params = {"resourceVersion": listed["metadata"]["resourceVersion"], "labelSelector": "app=web"}
    task = asyncio.create_task(_collect(raw, PODS, params, 3))
    await asyncio.sleep(0.2)
    await raw.post(PODS, pod("other", labels={"app": "db"}))  # never matches: not seen
    await raw.post(PODS, pod("a", labels={"app": "db"}))
    await raw.patch(f"{PODS}/a", {"metadata": {"labels": {"app": "web"}}})  # starts matching
    await raw.patch(f"{PODS}/a", {"metadata": {"labels": {"app": "web", "v": "2"}}})
    await raw.patch(f"{PODS}/a", {"metadata": {"labels": {"app": "db"}}})  # stops matching
    events = await task
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == \
        [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


async def test_field_selector_watch_for_a_node(raw: Raw) -> None:
    _, listed = await raw.get(PODS)
    params = {"resourceVersion": listed["metadata"]["resourceVersion"], "fieldSelector": "spec.nodeName=n1"}
    task = asyncio.create_task(_collect(raw, "/api/v1/pods", params, 1))
    await asyncio.sleep(0.2)
    await raw.post(PODS, pod("a"))
    code, body = await raw.post(f"{PODS}/a/binding", {"apiVersion": "v1", "kind": "Binding",
                                                     "metadata": {"name": "a"},
                                                     "target": {"kind": "Node", "name": "n1"}})
    assert code == 201, body
    events = await task
    assert events[0]["type"] == "ADDED" and events[0]["object"]["spec"]["nodeName"] == "n1"


async def test_timeout_seconds_ends_the_stream(raw: Raw) -> None:
    _, listed = await raw.get(PODS)
    params = {"resourceVersion": listed["metadata"]["resourceVersion"], "timeoutSeconds": "1"}
    events = [e async for e in raw.watch(PODS, params)]
    assert events == []


async def test_too_old_resource_version_is_410_error_event(apiserver_factory) -> None:
    handle: ApiServerHandle = apiserver_factory(watch_cache_size=3)
    raw = Raw(handle)
    try:
        _, first = await raw.post(PODS, pod("a"))
        for i in range(5):
            await raw.post(PODS, pod(f"b{i}"))
        await asyncio.sleep(0.3)
        events = [e async for e in raw.watch(PODS, {"resourceVersion": first["metadata"]["resourceVersion"]})]
        assert len(events) == 1 and events[0]["type"] == "ERROR"
        status = events[0]["object"]
        assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"
        assert status["message"].startswith("too old resource version")
    finally:
        await raw.close()


async def test_bookmarks(apiserver_factory) -> None:
    handle: ApiServerHandle = apiserver_factory(bookmark_interval=0.2)
    raw = Raw(handle)
    try:
        _, created = await raw.post(PODS, pod("a"))
        params = {"resourceVersion": str(int(created["metadata"]["resourceVersion"]) - 1),
                  "allowWatchBookmarks": "true", "timeoutSeconds": "2"}
        events = await _collect(raw, PODS, params, 2)
        assert events[0]["type"] == "ADDED"
        assert events[1]["type"] == "BOOKMARK"
        assert events[1]["object"]["kind"] == "Pod"
        assert events[1]["object"]["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    finally:
        await raw.close()


@pytest.mark.parametrize("watchers", [50])
async def test_many_watchers_all_get_every_event(raw: Raw, watchers: int) -> None:
    _, listed = await raw.get(PODS)
    rv = listed["metadata"]["resourceVersion"]
    tasks = [asyncio.create_task(_collect(raw, PODS, {"resourceVersion": rv}, 5, timeout=20))
             for _ in range(watchers)]
    await asyncio.sleep(0.5)
    for i in range(5):
        await raw.post(PODS, pod(f"p{i}"))
    results = await asyncio.gather(*tasks)
    for events in results:
        assert [e["object"]["metadata"]["name"] for e in events] == [f"p{i}" for i in range(5)]
