"""Ephemeral containers (`kubectl debug`): when the kubelet starts one, and how it reports them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from services.kubelet import status
from services.kubelet.config import KubeletConfig
from services.kubelet.kubelet import Kubelet
from services.kubelet.pod_worker import ephemeral_containers_to_start, field_path
from services.kubelet.runtime.cri import ContainerMetadata, ContainerState, ContainerStatus, ImageRef
from services.kubelet.runtime.fake import FakeRuntime
from services.kubelet.status import ContainerView
from tests.unit.kubelet.test_kubelet_pod_worker import FakeClient, until

IMAGE = ImageRef("docker.io/library/busybox:latest", "docker.io/library/busybox@sha256:abc")
RUN, EXIT, CREATED = ContainerState.RUNNING, ContainerState.EXITED, ContainerState.CREATED


def cs(name: str, state: ContainerState, exit_code: int = 0) -> ContainerStatus:
    return ContainerStatus(f"id-{name}", "sb", ContainerMetadata(name, 0), state, 1_700_000_000_000_000_000, IMAGE,
                           started_at=1_700_000_001_000_000_000 if state is not CREATED else 0,
                           finished_at=1_700_000_002_000_000_000 if state is EXIT else 0, exit_code=exit_code)


def debug_pod(*ephemeral: str, inits: int = 0) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "default", "uid": "uid-1", "resourceVersion": "1"},
            "spec": {"nodeName": "node-7", "containers": [{"name": "c", "image": "nginx:1.25"}],
                     "initContainers": [{"name": f"i{i}", "image": "busybox"} for i in range(inits)],
                     "ephemeralContainers": [{"name": n, "image": "busybox", "stdin": True, "tty": True}
                                             for n in ephemeral]},
            "status": {"phase": "Pending"}}


# --- the start decision (computePodActions' EphemeralContainersToStart) -------------------------

@pytest.mark.parametrize("ephemeral, runtime, expected", [
    ([], {}, []),
    (["debugger"], {}, ["debugger"]),  # new: start it
    (["debugger"], {"debugger": [cs("debugger", RUN)]}, []),
    (["debugger"], {"debugger": [cs("debugger", EXIT, 0)]}, []),  # exited: never restarted
    (["debugger"], {"debugger": [cs("debugger", EXIT, 1)]}, []),
    (["debugger"], {"debugger": [cs("debugger", CREATED)]}, []),  # it exists: not started a second time
    (["d1", "d2", "d3"], {"d1": [cs("d1", EXIT)], "c": [cs("c", RUN)]}, ["d2", "d3"]),
])
def test_an_ephemeral_container_starts_only_if_the_runtime_never_had_it(ephemeral, runtime, expected) -> None:
    assert [s["name"] for s in ephemeral_containers_to_start(debug_pod(*ephemeral), runtime)] == expected


def test_events_name_the_container_where_the_spec_has_it() -> None:
    p = debug_pod("debugger", inits=1)
    assert field_path(p, "debugger") == "spec.ephemeralContainers{debugger}"
    assert field_path(p, "c") == "spec.containers{c}"
    assert field_path(p, "i0") == "spec.initContainers{i0}"


# --- the status shape ---------------------------------------------------------------------------

def test_ephemeral_status_is_never_ready_has_no_started_and_no_restarts() -> None:
    running = status.ephemeral_container_status(ContainerView("debugger", "busybox", cs("debugger", RUN)),
                                                has_init_containers=False)
    assert running == {"name": "debugger", "state": {"running": {"startedAt": "2023-11-14T22:13:21Z"}},
                       "lastState": {}, "ready": False, "restartCount": 0, "image": IMAGE.image,
                       "imageID": IMAGE.image_id, "containerID": "kubemu://id-debugger"}
    done = status.ephemeral_container_status(ContainerView("debugger", "busybox", cs("debugger", EXIT, 3)),
                                             has_init_containers=False)
    assert done["state"]["terminated"] == {"exitCode": 3, "reason": "Error", "startedAt": "2023-11-14T22:13:21Z",
                                           "finishedAt": "2023-11-14T22:13:22Z", "containerID": "kubemu://id-debugger"}


@pytest.mark.parametrize("has_inits, reason", [(False, "ContainerCreating"), (True, "PodInitializing")])
def test_an_ephemeral_container_not_yet_run_waits(has_inits, reason) -> None:
    out = status.ephemeral_container_status(ContainerView("debugger", "busybox"), has_init_containers=has_inits)
    assert out == {"name": "debugger", "state": {"waiting": {"reason": reason}}, "lastState": {}, "ready": False,
                   "restartCount": 0, "image": "busybox", "imageID": ""}


def test_ephemeral_containers_count_for_neither_phase_nor_ready() -> None:
    p = debug_pod("debugger")
    main = [ContainerView("c", "nginx", cs("c", RUN), ready=True, started=True)]
    waiting, failed = ContainerView("debugger", "busybox"), ContainerView("debugger", "busybox", cs("debugger", EXIT, 1))
    for ephemeral in (waiting, failed):
        out = status.pod_status(p, [], main, host_ip="10.0.0.1", pod_ip="10.1.0.2", sandbox_ready=True,
                                start_time="t", qos_class="BestEffort", ephemeral=[ephemeral])
        assert out["phase"] == "Running"
        assert {c["type"]: c["status"] for c in out["conditions"]}["Ready"] == "True"
        assert [s["name"] for s in out["ephemeralContainerStatuses"]] == ["debugger"]
    plain = status.pod_status(p, [], main, host_ip="10.0.0.1", pod_ip="", sandbox_ready=True, start_time="t",
                              qos_class="BestEffort")
    assert "ephemeralContainerStatuses" not in plain


# --- the pod worker -----------------------------------------------------------------------------

class RefRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []  # (reason, fieldPath, message)

    def event(self, ref, type_, reason, message) -> None:
        self.events.append((reason, ref.get("fieldPath", ""), message))

    async def close(self) -> None:
        return None


@pytest.fixture
async def kubelet(tmp_path: Path):
    runtime = FakeRuntime()
    runtime.update_runtime_config(pod_cidr="127.244.8.0/24")
    config = KubeletConfig(node_name="node-7", node_ip="127.0.1.7", cpu="1", root_dir=tmp_path,
                           sync_frequency=60, minimum_grace_period=0.1)
    k = Kubelet(config, FakeClient(), runtime, recorder=RefRecorder(), own_informers=False)
    yield k
    for w in list(k.workers.values()):
        w.task.cancel()


def containers(k: Kubelet, name: str) -> list[ContainerStatus]:
    return [c for c in k.runtime.list_containers() if c.metadata.name == name]


def last_status(k: Kubelet) -> dict:
    patches = k.client.status_patches()
    return patches[-1] if patches else {}


def ephemeral_state(k: Kubelet) -> dict:
    return (last_status(k).get("ephemeralContainerStatuses") or [{}])[0].get("state", {})


async def test_a_running_pod_starts_its_new_ephemeral_container_once_and_stays_ready(kubelet: Kubelet) -> None:
    plain = debug_pod()
    del plain["spec"]["ephemeralContainers"]
    kubelet.on_pod(plain)
    await until(lambda: containers(kubelet, "c") and containers(kubelet, "c")[0].state is RUN)
    main_id = containers(kubelet, "c")[0].id
    kubelet.recorder.events.clear()

    kubelet.on_pod(debug_pod("debugger"))
    await until(lambda: "running" in ephemeral_state(kubelet))
    assert [(r, f) for r, f, _ in kubelet.recorder.events] == [
        ("Pulling", "spec.ephemeralContainers{debugger}"), ("Pulled", "spec.ephemeralContainers{debugger}"),
        ("Created", "spec.ephemeralContainers{debugger}"), ("Started", "spec.ephemeralContainers{debugger}")]

    kubelet.runtime.exit_container(containers(kubelet, "debugger")[0].id, 3)
    await until(lambda: "terminated" in ephemeral_state(kubelet))
    kubelet.workers["uid-1"].update()
    await asyncio.sleep(0.1)
    assert len(containers(kubelet, "debugger")) == 1  # never restarted
    final = last_status(kubelet)
    assert final["ephemeralContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
    assert final["ephemeralContainerStatuses"][0]["restartCount"] == 0
    assert final["phase"] == "Running"
    assert {c["type"]: c["status"] for c in final["conditions"]}["Ready"] == "True"
    assert [c.id for c in containers(kubelet, "c")] == [main_id]  # the regular container is untouched
    assert final["containerStatuses"][0]["restartCount"] == 0


async def test_a_running_ephemeral_container_is_stopped_with_the_pod(kubelet: Kubelet) -> None:
    kubelet.on_pod(debug_pod("debugger"))
    await until(lambda: "running" in ephemeral_state(kubelet))
    deleting = debug_pod("debugger")
    deleting["metadata"].update(deletionTimestamp="2026-01-01T00:00:00Z", deletionGracePeriodSeconds=1)
    kubelet.on_pod(deleting)
    await until(lambda: "uid-1" not in kubelet.workers)
    assert ("Killing", "spec.ephemeralContainers{debugger}", "Stopping container debugger") in kubelet.recorder.events
    assert ephemeral_state(kubelet)["terminated"]["exitCode"] == 0
