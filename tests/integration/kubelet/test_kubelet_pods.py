"""The kubelet against a real API server, with real processes as containers."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import random
import shutil
import subprocess
import urllib.request

import pytest

import aiohttp

from shared.resources import EVENTS, LEASES, NODES, PODS
from tests.conftest import free_port
from tests.integration.kubelet.conftest import (
    condition,
    container_status,
    pod_manifest,
    wait_pod,
    wait_until,
    watch_pod,
)


def http_get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.status, r.read().decode()


async def get_when_listening(url: str) -> tuple[int, str]:
    """Ready (without a readiness probe) means running, not yet listening: retry refused connections."""
    for _ in range(100):
        try:
            return await asyncio.to_thread(http_get, url)
        except OSError:
            await asyncio.sleep(0.05)
    return await asyncio.to_thread(http_get, url)


async def events_for(api, name: str) -> list[tuple[str, str, str]]:
    items = (await api.list(EVENTS, "default"))["items"]
    return [(e["reason"], e["type"], e["message"]) for e in items if e["involvedObject"]["name"] == name]


async def test_node_registers_with_status_and_renews_its_lease(start_kubelet, api) -> None:
    k = await start_kubelet(cpu="2", memory="4Gi", max_pods=20)
    node = await api.get(NODES, k.config.node_name)
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == k.config.node_name and labels["kubernetes.io/os"] == "linux"
    status = node["status"]
    assert status["capacity"]["cpu"] == "2" and status["allocatable"]["memory"] == "4Gi"
    assert status["capacity"]["pods"] == "20"
    assert {"type": "InternalIP", "address": k.config.node_ip} in status["addresses"]
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == k.config.port
    assert status["nodeInfo"]["kubeletVersion"].startswith("v1.32")
    conds = {c["type"]: c["status"] for c in status["conditions"]}
    assert conds == {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False"}
    assert node["spec"]["podCIDR"] == k.config.pod_cidr
    first = (await api.get(LEASES, k.config.node_name, "kube-node-lease"))["spec"]["renewTime"]
    await wait_until(lambda: _renewed(api, k.config.node_name, first), timeout=5, what="lease renewal")


async def _renewed(api, name: str, first: str) -> bool:
    lease = await api.get(LEASES, name, "kube-node-lease")
    return lease["spec"]["renewTime"] != first and lease["spec"]["holderIdentity"] == name


async def test_nginx_pod_runs_and_answers_on_its_pod_ip(start_kubelet, api) -> None:
    k = await start_kubelet()
    await api.create(PODS, pod_manifest("web", k.config.node_name,
                                        {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}))
    pod = await wait_pod(api, "web", lambda p: condition(p, "Ready") == "True", what="Ready")
    status = pod["status"]
    assert status["phase"] == "Running" and status["hostIP"] == k.config.node_ip
    assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network(k.config.pod_cidr)
    assert status["podIPs"] == [{"ip": status["podIP"]}] and status["qosClass"] == "BestEffort"
    cs = container_status(pod)
    assert "running" in cs["state"] and cs["ready"] and cs["started"] and cs["restartCount"] == 0
    assert cs["containerID"].startswith("kubemu://") and cs["image"] == "docker.io/library/nginx:1.25"
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert {c["type"] for c in status["conditions"]} >= {"PodScheduled", "Initialized", "ContainersReady", "Ready"}
    code, body = await get_when_listening(f"http://{status['podIP']}/")
    assert code == 200 and "Welcome to nginx!" in body
    await wait_until(lambda: _has_events(api, "web", {"Pulling", "Pulled", "Created", "Started"}), timeout=5,
                     what="events")
    await wait_until(lambda: _logs_contain(k.url, "web", "nginx", '"GET / HTTP/1.1" 200 615'), timeout=5,
                     what="the access log line")
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{k.url}/metrics") as r:
            metrics = await r.text()
    assert f'kubelet_running_pods{{node="{k.config.node_name}"}} 1.0' in metrics
    assert "kubelet_pod_start_duration_seconds_count" in metrics


async def _logs_contain(url: str, pod: str, container: str, needle: str) -> bool:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{url}/containerLogs/default/{pod}/{container}") as r:
            return r.status == 200 and needle in await r.text()


async def _has_events(api, name: str, reasons: set[str]) -> bool:
    return reasons <= {reason for reason, _, _ in await events_for(api, name)}


async def test_unknown_image_is_err_image_pull_then_image_pull_backoff(start_kubelet, api) -> None:
    k = await start_kubelet()
    await api.create(PODS, pod_manifest("bad", k.config.node_name, {"name": "c", "image": "nginxx:9"}))
    seen = []

    def reason(p: dict) -> bool:
        seen.append((container_status(p).get("state") or {}).get("waiting", {}).get("reason"))
        return "ImagePullBackOff" in seen

    states = await watch_pod(api, "bad", reason, timeout=10)
    assert "ErrImagePull" in seen and seen.index("ErrImagePull") < seen.index("ImagePullBackOff")
    assert states[-1]["status"]["phase"] == "Pending"
    messages = [m for r, t, m in await events_for(api, "bad") if r == "Failed"]
    assert any('Failed to pull image "nginxx:9"' in m and "repository does not exist" in m for m in messages)


async def test_crashing_container_goes_into_crashloop_backoff_with_growing_delays(start_kubelet, api) -> None:
    k = await start_kubelet(crashloop_backoff_base=0.4, crashloop_backoff_max=10.0)
    await api.create(PODS, pod_manifest("crash", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo attempt; exit 3"]}))
    restarts: dict[int, float] = {}
    loop = asyncio.get_running_loop()
    saw_backoff = False

    def track(p: dict) -> bool:
        if not p.get("status"):
            return False
        nonlocal saw_backoff
        cs = container_status(p)
        restarts.setdefault(cs.get("restartCount", 0), loop.time())
        if cs.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff":
            saw_backoff = True
            assert cs["lastState"]["terminated"]["exitCode"] == 3
            assert "back-off" in cs["state"]["waiting"]["message"]
        return cs.get("restartCount", 0) >= 4

    await watch_pod(api, "crash", track, timeout=20)
    assert saw_backoff
    gaps = [restarts[i + 1] - restarts[i] for i in range(1, 4)]
    assert gaps[1] > gaps[0] * 1.4 and gaps[2] > gaps[1] * 1.4, gaps  # 0.4 s, 0.8 s, 1.6 s
    assert await _has_events(api, "crash", {"BackOff"})
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{k.url}/containerLogs/default/crash/c?previous=true") as r:
            assert (r.status, await r.text()) == (200, "attempt\n")


async def test_failing_liveness_probe_restarts_the_container(start_kubelet, api) -> None:
    k = await start_kubelet()
    probe = {"httpGet": {"path": "/healthz", "port": 80}, "initialDelaySeconds": 1, "periodSeconds": 1,
             "failureThreshold": 1}
    await api.create(PODS, pod_manifest("live", k.config.node_name,
                                        {"name": "nginx", "image": "nginx", "livenessProbe": probe}))
    pod = await wait_pod(api, "live", lambda p: container_status(p).get("restartCount", 0) >= 1, timeout=15,
                         what="a restart")
    assert container_status(pod)["lastState"]["terminated"]["reason"] in ("Completed", "Error")
    events = await events_for(api, "live")
    assert any(r == "Unhealthy" and "Liveness probe failed: HTTP probe failed with statuscode: 404" in m
               for r, _, m in events)
    assert any(r == "Killing" and "failed liveness probe, will be restarted" in m for r, _, m in events)


async def test_readiness_probe_drives_the_ready_condition(start_kubelet, api, tmp_path) -> None:
    k = await start_kubelet()
    marker = tmp_path / "ready"
    probe = {"exec": {"command": ["cat", str(marker)]}, "periodSeconds": 1, "failureThreshold": 1}
    await api.create(PODS, pod_manifest("ready", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sleep", "300"],
                                         "readinessProbe": probe}))
    pod = await wait_pod(api, "ready", lambda p: p["status"].get("phase") == "Running", what="Running")
    assert condition(pod, "Ready") == "False" and not container_status(pod)["ready"]
    marker.write_text("ok")
    await wait_pod(api, "ready", lambda p: condition(p, "Ready") == "True", what="Ready True")
    marker.unlink()
    pod = await wait_pod(api, "ready", lambda p: condition(p, "Ready") == "False", what="Ready False")
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "ContainersNotReady" and ready["message"] == "containers with unready status: [c]"


async def test_deletion_is_graceful_sigterm_then_sigkill(start_kubelet, api, tmp_path) -> None:
    k = await start_kubelet()
    marker = tmp_path / "signals"
    script = f'trap "echo TERM >> {marker}" TERM; while true; do sleep 0.1; done'
    await api.create(PODS, pod_manifest("grace", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sh", "-c", script]},
                                        terminationGracePeriodSeconds=1))
    pod = await wait_pod(api, "grace", lambda p: p["status"].get("phase") == "Running", what="Running")
    rv = pod["metadata"]["resourceVersion"]
    statuses: list[dict] = []

    async def watch() -> None:
        async for event in api.watch(PODS, "default", resource_version=rv, field_selector="metadata.name=grace"):
            if event["type"] == "DELETED":
                return
            statuses.append(event["object"])

    watcher = asyncio.create_task(watch())
    await api.delete(PODS, "grace", "default")
    await asyncio.wait_for(watcher, 15)
    assert marker.read_text().strip() == "TERM"  # the container saw SIGTERM ...
    final = container_status(statuses[-1])["state"]["terminated"]
    assert final["exitCode"] == 137  # ... ignored it, and was killed after the grace period
    assert await _has_events(api, "grace", {"Killing"})


async def test_kubelet_restart_does_not_restart_running_containers(start_kubelet, api) -> None:
    k = await start_kubelet()
    await api.create(PODS, pod_manifest("stay", k.config.node_name, {"name": "nginx", "image": "nginx"}))
    pod = await wait_pod(api, "stay", lambda p: condition(p, "Ready") == "True", what="Ready")
    before = container_status(pod)
    await start_kubelet.stop(k)
    k2 = await start_kubelet()
    await asyncio.sleep(1.0)
    pod = await wait_pod(api, "stay", lambda p: condition(p, "Ready") == "True", what="Ready after restart")
    after = container_status(pod)
    assert after["containerID"] == before["containerID"] and after["restartCount"] == 0
    assert len(k2.kubelet.runtime.list_containers()) == 1
    code, _ = await get_when_listening(f"http://{pod['status']['podIP']}/")
    assert code == 200


async def test_pod_asking_more_cpu_than_the_node_has_is_rejected(start_kubelet, api) -> None:
    k = await start_kubelet(cpu="1")
    big = {"name": "c", "image": "busybox", "command": ["sleep", "10"], "resources": {"requests": {"cpu": "2"}}}
    await api.create(PODS, pod_manifest("big", k.config.node_name, big))
    pod = await wait_pod(api, "big", lambda p: p["status"].get("phase") == "Failed", what="Failed")
    assert pod["status"]["reason"] == "OutOfcpu"
    assert pod["status"]["message"] == "Node didn't have enough resource: cpu, requested: 2000, used: 0, capacity: 1000"


async def test_restart_policies_and_init_containers(start_kubelet, api) -> None:
    k = await start_kubelet()
    node = k.config.node_name
    await api.create(PODS, pod_manifest("once", node, {"name": "c", "image": "busybox", "command": ["true"]},
                                        restartPolicy="Never"))
    await api.create(PODS, pod_manifest("fails", node, {"name": "c", "image": "busybox",
                                                        "command": ["sh", "-c", "echo it broke; exit 1"],
                                                        "terminationMessagePolicy": "FallbackToLogsOnError"},
                                        restartPolicy="Never"))
    await api.create(PODS, pod_manifest(
        "inits", node, {"name": "main", "image": "busybox", "command": ["sleep", "300"]},
        initContainers=[{"name": "first", "image": "busybox", "command": ["true"]},
                        {"name": "second", "image": "busybox", "command": ["sh", "-c", "sleep 0.2"]}]))
    once = await wait_pod(api, "once", lambda p: p["status"].get("phase") == "Succeeded", what="Succeeded")
    assert container_status(once)["state"]["terminated"]["reason"] == "Completed"
    fails = await wait_pod(api, "fails", lambda p: p["status"].get("phase") == "Failed", what="Failed")
    assert container_status(fails)["state"]["terminated"] == {**container_status(fails)["state"]["terminated"],
                                                              "exitCode": 1, "reason": "Error",
                                                              "message": "it broke\n"}
    inits = await wait_pod(api, "inits", lambda p: p["status"].get("phase") == "Running", what="Running")
    assert condition(inits, "Initialized") == "True"
    assert [s["state"]["terminated"]["exitCode"] for s in inits["status"]["initContainerStatuses"]] == [0, 0]


async def test_container_logs_endpoint(start_kubelet, api) -> None:
    k = await start_kubelet()
    script = "for i in 1 2 3; do echo line $i; done; sleep 300"
    await api.create(PODS, pod_manifest("talk", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sh", "-c", script]}))
    await wait_pod(api, "talk", lambda p: p["status"].get("phase") == "Running", what="Running")
    async with aiohttp.ClientSession() as s:
        async def get(path: str) -> tuple[int, str]:
            async with s.get(k.url + path) as r:
                return r.status, await r.text()

        await wait_until(lambda: _log_has(get, "line 3"), timeout=5, what="log lines")
        assert await get("/containerLogs/default/talk/c?tailLines=2") == (200, "line 2\nline 3\n")
        status, text = await get("/containerLogs/default/talk/c?timestamps=true&tailLines=1")
        assert text.endswith("Z line 3\n") and text[:4].isdigit()
        assert (await get("/containerLogs/default/talk/nope"))[0] == 400
        assert (await get("/containerLogs/default/nobody/c"))[0] == 404
        status, text = await get("/containerLogs/default/talk/c?previous=true")
        assert status == 400 and "previous terminated container" in text
        async with s.get(k.url + "/containerLogs/default/talk/c?follow=true") as r:
            first = await asyncio.wait_for(r.content.readline(), 5)
            assert first == b"line 1\n"


async def _log_has(get, needle: str) -> bool:
    status, text = await get("/containerLogs/default/talk/c")
    return status == 200 and needle in text


def _kubectl(apiserver, *args: str, input_: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", str(apiserver.kubeconfig), *args], input=input_,
                          capture_output=True, text=True, timeout=30)


async def test_kubectl_logs_and_exec_go_through_the_api_server_to_the_kubelet(start_kubelet, api, apiserver) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("no kubectl on PATH")
    k = await start_kubelet()
    script = "echo hello from $HOSTNAME; sleep 300"
    await api.create(PODS, pod_manifest("shell", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sh", "-c", script],
                                         "env": [{"name": "GREETING", "value": "hi"}]}))
    await wait_pod(api, "shell", lambda p: p["status"].get("phase") == "Running", what="Running")
    await wait_until(lambda: _logs_contain(k.url, "shell", "c", "hello"), timeout=5, what="log line")
    out = await asyncio.to_thread(_kubectl, apiserver, "logs", "shell")
    assert out.returncode == 0 and out.stdout == "hello from shell\n", out.stderr
    out = await asyncio.to_thread(_kubectl, apiserver, "exec", "shell", "--", "sh", "-c", "echo $GREETING; exit 3")
    assert out.stdout == "hi\n" and out.returncode == 3, out.stderr
    out = await asyncio.to_thread(_kubectl, apiserver, "exec", "-i", "shell", "--", "cat", input_="piped\n")
    assert out.returncode == 0 and out.stdout == "piped\n", out.stderr


async def test_hooks_service_env_and_a_changed_image_restart_the_container(start_kubelet, api, tmp_path) -> None:
    k = await start_kubelet()
    marks = tmp_path / "marks"
    lifecycle = {"postStart": {"exec": {"command": ["sh", "-c", f"echo post-start >> {marks}"]}},
                 "preStop": {"exec": {"command": ["sh", "-c", f"echo pre-stop >> {marks}"]}}}
    await api.create(PODS, pod_manifest("hooks", k.config.node_name,
                                        {"name": "c", "image": "busybox:1.36", "lifecycle": lifecycle,
                                         "command": ["sh", "-c", "env; sleep 300"]}))
    pod = await wait_pod(api, "hooks", lambda p: p["status"].get("phase") == "Running", what="Running")
    first_id = container_status(pod)["containerID"]
    await wait_until(lambda: _logs_contain(k.url, "hooks", "c", "KUBERNETES_SERVICE_HOST="), timeout=5,
                     what="service env in the container")
    assert marks.read_text() == "post-start\n"
    await api.patch(PODS, "hooks", {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}, "default",
                    patch_type="strategic")
    pod = await wait_pod(api, "hooks", lambda p: container_status(p).get("containerID") not in (None, first_id)
                         and "running" in container_status(p).get("state", {}), what="a new container")
    assert container_status(pod)["image"] == "docker.io/library/busybox:1.37"
    assert container_status(pod)["restartCount"] == 1
    assert marks.read_text() == "post-start\npre-stop\npost-start\n"
    events = await events_for(api, "hooks")
    assert any(r == "Killing" and "definition changed" in m for r, _, m in events)


async def test_kubelet_puts_ready_back_after_the_node_was_marked_unknown(start_kubelet, api) -> None:
    k = await start_kubelet()
    node = await api.get(NODES, k.config.node_name)
    for c in node["status"]["conditions"]:
        c.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
    await api.update(NODES, node, subresource="status")
    await wait_until(lambda: _node_ready(api, k.config.node_name), timeout=5, what="Ready True again")


async def _node_ready(api, name: str) -> bool:
    node = await api.get(NODES, name)
    return condition({"status": node["status"]}, "Ready") == "True"


async def test_exec_with_a_tty_over_the_channel_protocol(start_kubelet, api) -> None:
    k = await start_kubelet()
    await api.create(PODS, pod_manifest("tty", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sleep", "300"]}))
    await wait_pod(api, "tty", lambda p: p["status"].get("phase") == "Running", what="Running")
    url = f"{k.url}/exec/default/tty/c?command=sh&stdin=true&stdout=true&tty=true"
    out = b""
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, protocols=["v5.channel.k8s.io"]) as ws:
            assert ws.protocol == "v5.channel.k8s.io"
            await ws.send_bytes(b'\x04{"Width":100,"Height":30}')
            await ws.send_bytes(b"\x00stty size; tty; exit 7\n")
            status = None
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.BINARY:
                    break
                if msg.data[0] == 1:
                    out += msg.data[1:]
                elif msg.data[0] == 3:
                    status = msg.data[1:]
    assert b"30 100" in out and b"/dev/pts/" in out
    assert status is not None and b'"reason":"NonZeroExitCode"' in status and b'"message":"7"' in status


async def test_active_deadline_fails_the_pod(start_kubelet, api) -> None:
    k = await start_kubelet()
    await api.create(PODS, pod_manifest("deadline", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sleep", "300"]},
                                        activeDeadlineSeconds=1))
    pod = await wait_pod(api, "deadline", lambda p: p["status"].get("phase") == "Failed", what="Failed")
    assert pod["status"]["reason"] == "DeadlineExceeded"
    assert "terminated" in container_status(pod)["state"]
    await asyncio.sleep(0.5)
    pod = await api.get(PODS, "deadline", "default")
    assert pod["status"]["reason"] == "DeadlineExceeded"  # it stays, later syncs do not clear it


async def test_host_port_forwards_the_node_ip_to_the_pod(start_kubelet, api) -> None:
    k = await start_kubelet()
    host_port = free_port(k.config.node_ip)
    await api.create(PODS, pod_manifest("hp", k.config.node_name,
                                        {"name": "nginx", "image": "nginx",
                                         "ports": [{"containerPort": 80, "hostPort": host_port}]}))
    await wait_pod(api, "hp", lambda p: condition(p, "Ready") == "True", what="Ready")
    code, body = await get_when_listening(f"http://{k.config.node_ip}:{host_port}/")
    assert code == 200 and "Welcome to nginx!" in body


async def test_a_pod_marked_not_ready_by_someone_else_is_set_right(start_kubelet, api) -> None:
    k = await start_kubelet(sync_frequency=0.5)
    await api.create(PODS, pod_manifest("fixme", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sleep", "300"]}))
    pod = await wait_pod(api, "fixme", lambda p: condition(p, "Ready") == "True", what="Ready")
    for c in pod["status"]["conditions"]:
        if c["type"] == "Ready":
            c.update(status="False", reason="NodeNotReady")  # what the node lifecycle controller does
    await api.update(PODS, pod, subresource="status")
    await wait_pod(api, "fixme", lambda p: condition(p, "Ready") == "True", what="Ready again")


async def test_sidecar_init_container_runs_beside_the_containers(start_kubelet, api) -> None:
    k = await start_kubelet()
    await api.create(PODS, pod_manifest(
        "sidecar", k.config.node_name, {"name": "main", "image": "busybox", "command": ["sleep", "300"]},
        initContainers=[{"name": "proxy", "image": "busybox", "restartPolicy": "Always", "command": ["sleep", "300"]},
                        {"name": "setup", "image": "busybox", "command": ["true"]}]))
    pod = await wait_pod(api, "sidecar", lambda p: condition(p, "Ready") == "True", what="Ready")
    inits = {s["name"]: s for s in pod["status"]["initContainerStatuses"]}
    assert "running" in inits["proxy"]["state"] and inits["setup"]["state"]["terminated"]["exitCode"] == 0
    assert condition(pod, "Initialized") == "True" and pod["status"]["phase"] == "Running"


async def test_volumes_config_map_secret_empty_dir_and_downward_api_are_mounted(start_kubelet, api) -> None:
    from shared.resources import CONFIGMAPS, SECRETS

    k = await start_kubelet()
    where = f"/tmp/kubemu-volume-test-{random.randint(0, 10**9)}"
    await api.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                                  "data": {"greeting": "hello from a configmap"}}, "default")
    await api.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"},
                               "data": {"token": base64.b64encode(b"s3cret").decode()}}, "default")
    script = (f"cat {where}/cfg/greeting; echo; cat {where}/sec/token; echo; cat {where}/info/name; echo; "
              f"echo data > {where}/scratch/file; touch {where}/cfg/nope || echo read-only; sleep 300")
    container = {"name": "c", "image": "busybox", "command": ["sh", "-c", script], "volumeMounts": [
        {"name": "cfg", "mountPath": f"{where}/cfg", "readOnly": True},
        {"name": "sec", "mountPath": f"{where}/sec"},
        {"name": "info", "mountPath": f"{where}/info"},
        {"name": "scratch", "mountPath": f"{where}/scratch"}]}
    volumes = [{"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "sec", "secret": {"secretName": "sec"}},
               {"name": "info", "downwardAPI": {"items": [{"path": "name",
                                                           "fieldRef": {"fieldPath": "metadata.name"}}]}},
               {"name": "scratch", "emptyDir": {}}]
    await api.create(PODS, pod_manifest("vols", k.config.node_name, container, volumes=volumes))
    await wait_pod(api, "vols", lambda p: p["status"].get("phase") == "Running", what="Running")
    await wait_until(lambda: _logs_contain(k.url, "vols", "c", "read-only"), timeout=5, what="the script's output")
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{k.url}/containerLogs/default/vols/c") as r:
            text = await r.text()
    assert "hello from a configmap\ns3cret\nvols\n" in text
    cid = container_status(await api.get(PODS, "vols", "default"))["containerID"].split("//")[1]
    code, out = await k.kubelet.runtime.exec_sync(cid, ["cat", f"{where}/scratch/file"], 5)
    assert (code, out) == (0, b"data\n")  # exec sees the container's mounts
    import os
    assert not os.path.exists(f"{where}/scratch/file")  # the node does not
    shutil.rmtree(where, ignore_errors=True)  # the mount points the container made (empty on the node)


async def test_a_container_over_its_memory_limit_is_oom_killed(start_kubelet, api) -> None:
    k = await start_kubelet()
    if k.kubelet.runtime.memory_cgroup is None:
        pytest.skip("no writable memory cgroup on this machine: memory limits are not enforced")
    hog = {"name": "hog", "image": "python:3.11", "resources": {"limits": {"memory": "64Mi"}},
           "command": ["python", "-c", "x = bytearray(400 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])"]}
    await api.create(PODS, pod_manifest("hog", k.config.node_name, hog, restartPolicy="Never"))
    pod = await wait_pod(api, "hog", lambda p: p["status"].get("phase") == "Failed", what="Failed")
    terminated = container_status(pod)["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137)


async def test_attach_streams_what_the_container_writes_from_now_on(start_kubelet, api) -> None:
    k = await start_kubelet()
    script = "echo before; sleep 0.5; echo out; echo err >&2; sleep 0.3"
    await api.create(PODS, pod_manifest("att", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sh", "-c", script]},
                                        restartPolicy="Never"))
    await wait_pod(api, "att", lambda p: p["status"].get("phase") == "Running", what="Running")
    await wait_until(lambda: _logs_contain(k.url, "att", "c", "before"), timeout=5, what="first line")
    got: dict[int, bytes] = {1: b"", 2: b""}
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{k.url}/attach/default/att/c?stdout=true&stderr=true",
                                protocols=["v4.channel.k8s.io"]) as ws:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.BINARY and msg.data[0] in got:
                    got[msg.data[0]] += msg.data[1:]
    assert got == {1: b"out\n", 2: b"err\n"}


async def test_kubectl_attach_through_the_api_server(start_kubelet, api, apiserver) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("no kubectl on PATH")
    k = await start_kubelet()
    await api.create(PODS, pod_manifest("katt", k.config.node_name,
                                        {"name": "c", "image": "busybox",
                                         "command": ["sh", "-c", "sleep 1; echo attached; sleep 0.3"]},
                                        restartPolicy="Never"))
    await wait_pod(api, "katt", lambda p: p["status"].get("phase") == "Running", what="Running")
    out = await asyncio.to_thread(_kubectl, apiserver, "attach", "katt")
    assert "attached" in out.stdout, out.stderr


async def test_two_python_pods_serve_the_same_port_on_their_own_ips(start_kubelet, api) -> None:
    k = await start_kubelet()
    for name in ("py1", "py2"):
        await api.create(PODS, pod_manifest(name, k.config.node_name,
                                            {"name": "c", "image": "python:3.11",
                                             "command": ["python", "-m", "http.server", "18000"]}))
    ips = []
    for name in ("py1", "py2"):
        pod = await wait_pod(api, name, lambda p: condition(p, "Ready") == "True", what="Ready")
        ips.append(pod["status"]["podIP"])
    for ip in ips:
        code, _ = await get_when_listening(f"http://{ip}:18000/")
        assert code == 200
    for name in ("py1", "py2"):  # each served its own request: neither holds 0.0.0.0:18000
        await wait_until(lambda n=name: _logs_contain(k.url, n, "c", '"GET / HTTP/1.1" 200'), timeout=5,
                         what=f"{name} served a request")
        assert container_status(await api.get(PODS, name, "default"))["restartCount"] == 0
