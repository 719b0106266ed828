"""The API server as a process: metrics, pods/log through the kubelet, restarts, the store going away."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request

import pytest
from aiohttp import web

from tests.conftest import free_port
from tests.fixtures.apiserver import ApiServerHandle
from tests.integration.apiserver.helpers import Raw, pod

PODS = "/api/v1/namespaces/default/pods"


async def test_metrics_count_requests_and_watchers(apiserver: ApiServerHandle) -> None:
    raw = Raw(apiserver)
    try:
        await raw.post(PODS, pod("a"))
        await raw.get(f"{PODS}/a")
        await raw.get(f"{PODS}/missing")
        _, listed = await raw.get(PODS)
        watch = raw.watch(PODS, {"resourceVersion": listed["metadata"]["resourceVersion"], "timeoutSeconds": "3"})
        task = asyncio.ensure_future(watch.__anext__())
        for _ in range(50):  # until the watch is registered
            code, text = await raw.get("/metrics")
            if 'apiserver_registered_watchers{resource="pods"} 1.0' in text:
                break
            await asyncio.sleep(0.1)
        assert code == 200
        assert 'apiserver_request_total{code="201",resource="pods",verb="POST"} 1.0' in text
        assert 'apiserver_request_total{code="404",resource="pods",verb="GET"} 1.0' in text
        assert 'apiserver_registered_watchers{resource="pods"} 1.0' in text
        assert "apiserver_request_duration_seconds_bucket" in text
        task.cancel()
    finally:
        await raw.close()


async def test_pod_logs_are_streamed_from_the_kubelet(apiserver: ApiServerHandle) -> None:
    seen: dict = {}

    async def container_logs(request: web.Request) -> web.StreamResponse:
        seen.update(path=request.path, query=dict(request.query))
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"line one\n")
        await resp.write(b"line two\n")
        return resp

    kubelet = web.Application()
    kubelet.router.add_get("/containerLogs/{ns}/{pod}/{container}", container_logs)
    runner = web.AppRunner(kubelet)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    raw = Raw(apiserver)
    try:
        node = {"metadata": {"name": "node-1"},
                "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                           "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}
        assert (await raw.post("/api/v1/nodes", node))[0] == 201
        await raw.post(PODS, pod("a", node="node-1"))
        code, text = await raw.get(f"{PODS}/a/log", params={"tailLines": "10", "follow": "true"})
        assert code == 200 and text == "line one\nline two\n"
        assert seen["path"] == "/containerLogs/default/a/c"
        assert seen["query"] == {"tailLines": "10", "follow": "true"}
        await raw.post(PODS, pod("unbound"))
        code, status = await raw.get(f"{PODS}/unbound/log")
        assert code == 400 and "does not have a host assigned" in status["message"]
        code, status = await raw.get(f"{PODS}/a/log", params={"container": "nope"})
        assert code == 400
    finally:
        await raw.close()
        await runner.cleanup()


def _get(handle: ApiServerHandle, path: str, timeout: float = 5) -> tuple[int, dict | str]:
    req = urllib.request.Request(handle.url + path, headers={"Authorization": f"Bearer {handle.token}"})
    try:
        with urllib.request.urlopen(req, context=handle.ssl_context(), timeout=timeout) as resp:
            body = resp.read().decode()
            return resp.status, json.loads(body) if body.startswith("{") else body
    except urllib.error.HTTPError as err:
        body = err.read().decode()
        return err.code, json.loads(body) if body.startswith("{") else body


def _post(handle: ApiServerHandle, path: str, obj: dict, timeout: float = 5) -> tuple[int, dict]:
    req = urllib.request.Request(handle.url + path, data=json.dumps(obj).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {handle.token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=handle.ssl_context(), timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_subprocess_restart_keeps_objects_and_allocations(apiserver_process) -> None:
    proc = apiserver_process()
    h = proc.handle
    svc = {"metadata": {"name": "a"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    code, created = _post(h, "/api/v1/namespaces/default/services", svc)
    assert code == 201
    proc.restart()
    code, got = _get(h, "/api/v1/namespaces/default/services/a")
    assert code == 200 and got["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    clash = {"metadata": {"name": "b"}, "spec": {"clusterIP": created["spec"]["clusterIP"], "ports": [{"port": 1}]}}
    code, status = _post(h, "/api/v1/namespaces/default/services", clash)
    assert code == 422 and "already allocated" in status["message"]
    logs = proc.log_path.read_text()
    assert '"event":"apiserver.request"' in logs and '"user":"admin"' in logs


@pytest.mark.etcd
def test_store_down_answers_503_then_recovers(apiserver_process, private_etcd) -> None:
    proc = apiserver_process(etcd_servers=private_etcd.endpoint)
    h = proc.handle
    assert _post(h, PODS, pod("before"))[0] == 201
    watcher = subprocess.Popen(
        ["curl", "-sN", "--cacert", str(h.ca_file), "-H", f"Authorization: Bearer {h.token}",
         f"{h.url}{PODS}?watch=true&timeoutSeconds=60"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        private_etcd.stop()
        started = time.monotonic()
        code, status = _post(h, PODS, pod("during"), timeout=30)
        assert code in (503, 504) and status["kind"] == "Status"
        assert time.monotonic() - started < 15
        code, _ = _get(h, "/readyz", timeout=30)
        assert code != 200
        assert watcher.wait(30) == 0  # the watch stream ended cleanly
        private_etcd.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            code, _ = _get(h, "/readyz", timeout=10)
            if code == 200:
                break
            time.sleep(0.3)
        assert code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            code, _ = _post(h, PODS, pod("after"), timeout=10)
            if code == 201:
                break
            time.sleep(0.3)
        assert code == 201
        code, listed = _get(h, PODS)
        assert sorted(p["metadata"]["name"] for p in listed["items"]) == ["after", "before"]
    finally:
        watcher.kill()


@pytest.mark.etcd
def test_history_is_compacted_every_interval(apiserver_process, private_etcd) -> None:
    proc = apiserver_process(etcd_servers=private_etcd.endpoint, extra_args=["--etcd-compaction-interval", "0.5"])
    h = proc.handle
    _, created = _post(h, PODS, pod("a"))
    old_rv = created["metadata"]["resourceVersion"]
    _post(h, PODS, pod("b"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        code, body = _get(h, f"{PODS}?resourceVersion={old_rv}&resourceVersionMatch=Exact")
        if code == 410:
            break
        time.sleep(0.2)
    assert code == 410 and body["reason"] == "Expired"
    code, listed = _get(h, PODS)
    assert code == 200 and len(listed["items"]) == 2
