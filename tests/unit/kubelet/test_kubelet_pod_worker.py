"""The pod worker with the fake runtime and a fake API client: the API calls it makes, and when."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from shared.client import NotFound
from services.kubelet.config import KubeletConfig
from services.kubelet.kubelet import Kubelet
from services.kubelet.runtime.cri import ContainerState
from services.kubelet.runtime.fake import FakeRuntime


class FakeClient:
    """Records every call; answers patches with a growing resourceVersion."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, ...]] = []
        self.rv = 100

    async def patch(self, ref, name, patch, namespace=None, subresource=None, **kw) -> dict:
        self.rv += 1
        self.calls.append(("patch", ref.plural, name, subresource, patch))
        return {"metadata": {"name": name, "resourceVersion": str(self.rv)}, **patch}

    async def delete(self, ref, name, namespace=None, **kw) -> dict:
        self.calls.append(("delete", ref.plural, name, kw))
        return {}

    async def get(self, ref, name, namespace=None, **kw) -> dict:
        raise NotFound({"code": 404, "reason": "NotFound"})

    def status_patches(self) -> list[dict]:
        return [c[4]["status"] for c in self.calls if c[0] == "patch" and c[3] == "status"]


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, ref, type_, reason, message) -> None:
        self.events.append((type_, reason, message))

    async def close(self) -> None:
        return None


@pytest.fixture
async def kubelet(tmp_path: Path):
    runtime = FakeRuntime(missing_images={"nosuch"})
    runtime.update_runtime_config(pod_cidr="127.244.7.0/24")
    config = KubeletConfig(node_name="node-7", node_ip="127.0.1.7", cpu="1", root_dir=tmp_path,
                           crashloop_backoff_base=0.5, sync_frequency=60, minimum_grace_period=0.1)
    k = Kubelet(config, FakeClient(), runtime, recorder=FakeRecorder(), own_informers=False)
    yield k
    for w in list(k.workers.values()):
        w.task.cancel()


def pod(name: str = "web", uid: str = "uid-1", **spec: Any) -> dict:
    containers = spec.pop("containers", [{"name": "c", "image": "nginx:1.25"}])
    return {"metadata": {"name": name, "namespace": "default", "uid": uid, "resourceVersion": "1"},
            "spec": {"nodeName": "node-7", "containers": containers, **spec}, "status": {"phase": "Pending"}}


async def until(predicate, timeout: float = 5.0) -> None:
    """Wait for the workers to get there (they run as tasks); fail after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def last_state(k: Kubelet) -> dict:
    patches = k.client.status_patches()
    return patches[-1]["containerStatuses"][0]["state"] if patches and "containerStatuses" in patches[-1] else {}


async def test_a_new_pod_runs_and_is_reported_running_once(kubelet: Kubelet) -> None:
    kubelet.on_pod(pod())
    await until(lambda: "running" in last_state(kubelet))
    await asyncio.sleep(0.05)
    patches = kubelet.client.status_patches()
    assert len(patches) == 1
    status = patches[0]
    assert status["phase"] == "Running" and status["podIP"] == "127.244.7.2" and status["hostIP"] == "127.0.1.7"
    assert status["containerStatuses"][0]["state"]["running"] and status["containerStatuses"][0]["ready"]
    assert [r for _, r, _ in kubelet.recorder.events] == ["Pulling", "Pulled", "Created", "Started"]
    assert kubelet.recorder.events[1][2].startswith('Successfully pulled image "nginx:1.25" in ')


async def test_deletion_stops_containers_then_deletes_with_grace_zero_and_uid(kubelet: Kubelet) -> None:
    kubelet.on_pod(pod())
    await until(lambda: "running" in last_state(kubelet))
    deleting = pod()
    deleting["metadata"].update(deletionTimestamp="2026-01-01T00:00:00Z", deletionGracePeriodSeconds=1)
    kubelet.on_pod(deleting)
    await until(lambda: "uid-1" not in kubelet.workers)
    deletes = [c for c in kubelet.client.calls if c[0] == "delete"]
    assert deletes == [("delete", "pods", "web", {"grace_period_seconds": 0, "preconditions": {"uid": "uid-1"}})]
    final = kubelet.client.status_patches()[-1]
    assert final["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert kubelet.runtime.list_containers() == [] and "uid-1" not in kubelet.workers
    assert ("Normal", "Killing", "Stopping container c") in kubelet.recorder.events


async def test_a_pod_too_big_for_the_node_is_rejected(kubelet: Kubelet) -> None:
    big = pod(containers=[{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "2"}}}])
    kubelet.on_pod(big)
    await until(lambda: kubelet.client.status_patches())
    status = kubelet.client.status_patches()[-1]
    assert (status["phase"], status["reason"]) == ("Failed", "OutOfcpu")
    assert kubelet.runtime.list_pod_sandboxes() == []


async def test_crash_restarts_at_once_then_backs_off(kubelet: Kubelet) -> None:
    def running(attempt: int) -> list:
        return [c for c in kubelet.runtime.list_containers()
                if c.metadata.attempt == attempt and c.state is ContainerState.RUNNING]

    kubelet.on_pod(pod())
    await until(lambda: running(0))
    kubelet.runtime.exit_container(running(0)[0].id, 1)
    await until(lambda: running(1))  # the first crash is restarted at once
    kubelet.runtime.exit_container(running(1)[0].id, 1)
    await until(lambda: last_state(kubelet).get("waiting", {}).get("reason") == "CrashLoopBackOff")
    assert not running(2)
    await until(lambda: running(2))  # after the 0.5 s back-off


async def test_unknown_image_waits_in_err_image_pull(kubelet: Kubelet) -> None:
    kubelet.on_pod(pod(containers=[{"name": "c", "image": "nosuch:1"}]))
    await until(lambda: last_state(kubelet).get("waiting", {}).get("reason") == "ErrImagePull")
    assert kubelet.runtime.list_containers() == []
