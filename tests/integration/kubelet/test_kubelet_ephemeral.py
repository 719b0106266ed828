"""`kubectl debug`'s ephemeral container on a real kubelet: appended to a running pod, run once, reported."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import aiohttp
import pytest

from shared.resources import EVENTS, PODS
from tests.integration.kubelet.conftest import condition, container_status, pod_manifest, wait_pod, watch_pod


def ephemeral_status(pod: dict) -> dict:
    return ((pod.get("status") or {}).get("ephemeralContainerStatuses") or [{}])[0]


async def test_an_ephemeral_container_appended_to_a_running_pod_runs_once(start_kubelet, api) -> None:
    k = await start_kubelet()
    await api.create(PODS, pod_manifest("app", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sleep", "300"]}))
    running = await wait_pod(api, "app", lambda p: condition(p, "Ready") == "True", what="Ready")
    main_id = container_status(running, "c")["containerID"]

    debugger = {"name": "debugger", "image": "busybox", "stdin": True, "tty": True,
                "command": ["sh", "-c", "echo debugging $HOSTNAME; sleep 0.6; echo done"],
                "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}
    await api.patch(PODS, "app", {"spec": {"ephemeralContainers": [debugger]}}, "default",
                    subresource="ephemeralcontainers")
    seen = await watch_pod(api, "app", lambda p: "terminated" in ephemeral_status(p).get("state", {}), timeout=15)

    states = [next(iter(ephemeral_status(p).get("state") or {"none": 0})) for p in seen]
    assert "running" in states and states[-1] == "terminated"
    done = ephemeral_status(seen[-1])
    assert done["state"]["terminated"]["exitCode"] == 0 and done["state"]["terminated"]["reason"] == "Completed"
    assert (done["name"], done["ready"], done["restartCount"]) == ("debugger", False, 0)
    assert done["containerID"].startswith("kubemu://") and "started" not in done
    for p in seen:  # the pod stayed Running and Ready throughout, its container untouched
        assert p["status"]["phase"] == "Running" and condition(p, "Ready") == "True"
        assert container_status(p, "c")["containerID"] == main_id
        assert container_status(p, "c")["restartCount"] == 0

    async with aiohttp.ClientSession() as s:
        async with s.get(f"{k.url}/containerLogs/default/app/debugger") as r:
            # a tty's line ends ("\r\n"), as containerd logs them
            assert (r.status, await r.text()) == (200, "debugging app\r\ndone\r\n")
        async with s.get(f"{k.url}/exec/default/app/debugger?command=true") as r:
            assert r.status == 400 and "not running" in await r.text()  # known, but it has exited

    events = (await api.list(EVENTS, "default"))["items"]
    paths = {(e["reason"], e["involvedObject"].get("fieldPath"))
             for e in events if e["involvedObject"]["name"] == "app"}
    where = "spec.ephemeralContainers{debugger}"
    assert {("Created", where), ("Started", where)} <= paths


async def test_kubectl_debug_runs_its_container_and_kubectl_logs_reads_it(start_kubelet, api, apiserver) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("no kubectl on PATH")
    k = await start_kubelet()
    await api.create(PODS, pod_manifest("dbg", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sleep", "300"]}))
    await wait_pod(api, "dbg", lambda p: condition(p, "Ready") == "True", what="Ready")
    out = await asyncio.to_thread(_kubectl, apiserver, "debug", "dbg", "--image=busybox", "--container=debugger",
                                  "--", "sh", "-c", "echo from the debugger")
    assert out.returncode == 0, out.stderr
    await wait_pod(api, "dbg", lambda p: "terminated" in ephemeral_status(p).get("state", {}), what="debugger done")
    logs = await asyncio.to_thread(_kubectl, apiserver, "logs", "dbg", "-c", "debugger")
    assert logs.stdout == "from the debugger\n", logs.stderr


def _kubectl(apiserver, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", str(apiserver.kubeconfig), *args], capture_output=True,
                          check=False, text=True, timeout=30)
