"""The event recorder writes core/v1 Events as client-go does, aggregates repeats, never blocks."""

from __future__ import annotations

import asyncio
import re

import pytest
import structlog
import structlog.testing

from shared.events import EventRecorder, object_reference

EVENTS_DEFAULT = "/api/v1/namespaces/default/events"

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "nginx", "namespace": "web", "uid": "u-1", "resourceVersion": "42"}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "uid": "u-2", "resourceVersion": "7"}}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
async def recorder(fake_client):
    rec = EventRecorder(fake_client, component="default-scheduler", host="host-a")
    yield rec
    await rec.close()


def events(api, ns: str) -> list[dict]:
    return list(api.objects.get(f"/api/v1/namespaces/{ns}/events", {}).values())


REFS = {
    "object": (POD, {"kind": "Pod", "namespace": "web", "name": "nginx", "uid": "u-1", "apiVersion": "v1",
                     "resourceVersion": "42"}),
    "cluster-scoped object": (NODE, {"kind": "Node", "name": "node-1", "uid": "u-2", "apiVersion": "v1",
                                     "resourceVersion": "7"}),
    "a reference already": ({"kind": "Pod", "namespace": "a", "name": "b", "fieldPath": "spec.containers{c}"},
                            {"kind": "Pod", "namespace": "a", "name": "b", "fieldPath": "spec.containers{c}"}),
}


@pytest.mark.parametrize(("obj", "ref"), REFS.values(), ids=REFS.keys())
def test_object_reference(obj: dict, ref: dict) -> None:
    assert object_reference(obj) == ref


async def test_event_shape(fake_api, recorder) -> None:
    api, _ = fake_api
    recorder.event(POD, "Normal", "Scheduled", "Successfully assigned web/nginx to node-1")
    await recorder.close()
    [ev] = events(api, "web")
    name, nanos = ev["metadata"]["name"].split(".")
    assert name == "nginx" and int(nanos, 16) > 1_600_000_000 * 10**9
    assert ev["involvedObject"] == object_reference(POD)
    assert (ev["type"], ev["reason"], ev["message"]) == ("Normal", "Scheduled",
                                                         "Successfully assigned web/nginx to node-1")
    assert ev["source"] == {"component": "default-scheduler", "host": "host-a"}
    assert (ev["reportingComponent"], ev["reportingInstance"]) == ("default-scheduler", "host-a")
    assert ev["count"] == 1 and ev["firstTimestamp"] == ev["lastTimestamp"]
    assert STAMP.match(ev["firstTimestamp"])


async def test_cluster_scoped_object_events_go_to_default(fake_api, recorder) -> None:
    api, _ = fake_api
    recorder.event(NODE, "Warning", "NodeNotReady", "Node node-1 status is now: NodeNotReady")
    await recorder.close()
    [ev] = events(api, "default")
    assert ev["involvedObject"]["name"] == "node-1" and "namespace" not in ev["involvedObject"]


# (events recorded, expected (reason, message, count) of the Events stored)
AGGREGATION = {
    "repeat bumps count": ([("Warning", "BackOff", "Back-off restarting")] * 3,
                           [("BackOff", "Back-off restarting", 3)]),
    "other message is another event": ([("Warning", "Failed", "a"), ("Warning", "Failed", "b")],
                                       [("Failed", "a", 1), ("Failed", "b", 1)]),
    "other type is another event": ([("Normal", "X", "m"), ("Warning", "X", "m")], [("X", "m", 1), ("X", "m", 1)]),
}


@pytest.mark.parametrize(("recorded", "stored"), AGGREGATION.values(), ids=AGGREGATION.keys())
async def test_aggregation(fake_api, recorder, recorded, stored) -> None:
    api, _ = fake_api
    for type_, reason, message in recorded:
        recorder.event(POD, type_, reason, message)
    await recorder.close()
    got = sorted((e["reason"], e["message"], e["count"]) for e in events(api, "web"))
    assert got == sorted(stored)
    patches = [r for r in api.requests if r[0] == "PATCH"]
    assert len(patches) == len(recorded) - len(stored)


async def test_repeat_moves_last_timestamp_only(fake_api, recorder) -> None:
    api, _ = fake_api
    recorder.event(POD, "Warning", "BackOff", "m")
    await recorder.close()
    [first] = events(api, "web")
    api.bodies.clear()
    recorder.event(POD, "Warning", "BackOff", "m")
    await recorder.close()
    assert set(api.bodies[-1]) == {"count", "lastTimestamp"}
    [ev] = events(api, "web")
    assert ev["metadata"]["name"] == first["metadata"]["name"]
    assert ev["firstTimestamp"] == first["firstTimestamp"] and ev["count"] == 2


async def test_event_deleted_meanwhile_is_created_again(fake_api, recorder) -> None:
    api, _ = fake_api
    recorder.event(POD, "Normal", "Pulled", "m")
    await recorder.close()
    [ev] = events(api, "web")
    api.remove("/api/v1/namespaces/web/events", ev["metadata"]["name"])
    recorder.event(POD, "Normal", "Pulled", "m")
    await recorder.close()
    [again] = events(api, "web")
    assert again["count"] == 1 and again["metadata"]["name"] != ev["metadata"]["name"]


async def test_full_queue_drops_instead_of_blocking(fake_api, fake_client) -> None:
    api, _ = fake_api
    rec = EventRecorder(fake_client, component="c", host="h", max_queued=3)
    for i in range(10):  # no await: the writer cannot run, the queue fills up
        rec.event(POD, "Normal", "R", f"message {i}")
    assert rec.dropped == 7
    await rec.close()
    assert len(events(api, "web")) == 3


async def test_a_flood_of_drops_is_one_warning(fake_client) -> None:
    rec = EventRecorder(fake_client, component="c", host="h", max_queued=1, spam_burst=None)
    with structlog.testing.capture_logs() as logs:
        for i in range(50):
            rec.event(POD, "Normal", "R", f"message {i}")
    warnings = [e for e in logs if e["event"] == "event.dropped"]
    assert rec.dropped == 49
    assert len(warnings) == 1 and warnings[0]["dropped_since_last_warning"] == 1
    await rec.close()


async def test_failed_write_is_logged_and_skipped(fake_api, recorder) -> None:
    api, _ = fake_api
    api.failures.append((403, {"kind": "Status", "code": 403, "reason": "Forbidden", "message": "no"}))
    recorder.event(POD, "Normal", "A", "first")
    recorder.event(POD, "Normal", "B", "second")
    await recorder.close()
    assert [e["reason"] for e in events(api, "web")] == ["B"]


async def test_unavailable_server_is_retried(fake_api, recorder) -> None:
    api, _ = fake_api
    api.failures.append((503, {"kind": "Status", "code": 503, "reason": "ServiceUnavailable", "message": "x"}))
    recorder.event(POD, "Normal", "A", "m")
    await recorder.close()
    assert [e["reason"] for e in events(api, "web")] == ["A"]


def test_event_outside_the_loop_is_dropped_not_raised(fake_client) -> None:
    rec = EventRecorder(fake_client, component="c", host="h")
    rec.event(POD, "Normal", "A", "m")
    assert rec.dropped == 1


async def test_repeat_aggregates_across_resource_versions(fake_api, recorder) -> None:
    api, _ = fake_api
    newer = {**POD, "metadata": {**POD["metadata"], "resourceVersion": "43"}}
    recorder.event(POD, "Warning", "BackOff", "m")
    recorder.event(newer, "Warning", "BackOff", "m")
    await recorder.close()
    [ev] = events(api, "web")
    assert ev["count"] == 2


async def test_similar_events_are_combined_after_ten_messages(fake_api, recorder) -> None:
    api, _ = fake_api
    for i in range(14):
        recorder.event(POD, "Warning", "FailedScheduling", f"0/{i} nodes are available")
    await recorder.close()
    stored = events(api, "web")
    plain = [e for e in stored if not e["message"].startswith("(combined")]
    [combined] = [e for e in stored if e["message"].startswith("(combined")]
    assert len(plain) == 9
    assert combined["count"] == 5
    assert combined["message"] == "(combined from similar events): 0/13 nodes are available"


async def test_spam_filter_drops_floods_per_object(fake_api, fake_client) -> None:
    api, _ = fake_api
    rec = EventRecorder(fake_client, component="kubelet", host="node-1", spam_burst=5)
    for i in range(8):
        rec.event(POD, "Warning", "BackOff", "Back-off restarting failed container")
    rec.event(NODE, "Normal", "Starting", "Starting kubelet.")  # another object has its own bucket
    await rec.close()
    [backoff] = events(api, "web")
    assert backoff["count"] == 5 and rec.dropped == 3
    assert len(events(api, "default")) == 1


async def test_event_from_another_thread(fake_api, recorder) -> None:
    api, _ = fake_api
    recorder.event(POD, "Normal", "A", "from the loop")
    await asyncio.to_thread(recorder.event, POD, "Normal", "B", "from a thread")
    await asyncio.sleep(0.05)
    await recorder.close()
    assert sorted(e["reason"] for e in events(api, "web")) == ["A", "B"]
