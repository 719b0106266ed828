"""The kubelet's HTTP API (port 10250): container logs for `kubectl logs`, its pods, health, metrics.

Guarantees:
- `GET /containerLogs/{namespace}/{pod}/{container}` answers text/plain with the container's log
  lines (`tailLines`, `timestamps`, `sinceSeconds`, `sinceTime`, `limitBytes`, `previous`), as the
  API server's `pods/log` expects to proxy; with `follow=true` it streams new lines until the
  container stops or the client goes away.
- Errors are plain text with the kubelet's wording: unknown pod or container 404, a container that
  has not started `container "web" in pod "nginx" is waiting to start: ContainerCreating` (400),
  no previous container `previous terminated container "web" in pod "nginx" not found` (400).
- Logs, exec and attach take any container of the pod: a container, an init container or an
  ephemeral container (`kubectl debug` attaches to its ephemeral container, `kubectl logs -c` reads it).
- `GET /pods` answers a PodList of the pods this process runs (every hollow node's).
- One server serves every kubelet of the process (hollow nodes share it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from services.kubelet import logs, streaming
from services.kubelet.kubelet import Kubelet
from services.kubelet.pod_worker import all_containers
from services.kubelet.runtime.cri import ContainerState, ContainerStatus, CRIError
from shared.logging import get_logger

log = get_logger()

KubeletsFn = Callable[[], list[Kubelet]]
STOPPING = web.AppKey("kubelet_server_stopping", asyncio.Event)  # set on shutdown: follow streams end


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


def _since_ns(query: Any) -> int | None:
    if query.get("sinceSeconds"):
        return int((time.time() - int(query["sinceSeconds"])) * 1e9)
    if query.get("sinceTime"):
        when = dt.datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00"))
        return int(when.timestamp() * 1e9)
    return None


def find_container(kubelets: list[Kubelet], namespace: str, pod: str, container: str,
                   previous: bool) -> tuple[Kubelet, ContainerStatus] | tuple[None, str, int]:
    for k in kubelets:
        worker = k.worker_for(namespace, pod)
        if worker is None or worker.pod is None:
            continue
        if container not in [c["name"] for c in all_containers(worker.pod)]:
            return None, f'container {container} is not valid for pod {pod}', 400
        history = worker.containers_by_name().get(container, [])
        if previous:  # the instance before the current one, as `kubectl logs --previous` means
            if len(history) < 2:
                return None, f'previous terminated container "{container}" in pod "{pod}" not found', 400
            return k, history[-2]
        if not history or history[-1].state is ContainerState.CREATED:
            reason = worker.waiting.get(container, ("ContainerCreating", ""))[0]
            return None, f'container "{container}" in pod "{pod}" is waiting to start: {reason}', 400
        return k, history[-1]
    return None, f'pod "{pod}" in namespace "{namespace}" not found', 404


def create_routes(kubelets: KubeletsFn) -> list[web.RouteDef]:
    async def container_logs(request: web.Request) -> web.StreamResponse:
        m, q = request.match_info, request.query
        found = find_container(kubelets(), m["namespace"], m["pod"], m["container"], _bool(q.get("previous")))
        if found[0] is None:
            return web.Response(status=found[2], text=found[1], content_type="text/plain")
        kubelet, container = found
        path = kubelet.runtime.log_path(container.id)
        opts = dict(tail_lines=_int(q.get("tailLines")), timestamps=_bool(q.get("timestamps")),
                    since_ns=_since_ns(q))
        if path is None:
            return web.Response(text="", content_type="text/plain")
        if not _bool(q.get("follow")) or _bool(q.get("previous")):
            body = logs.read_log(path, limit_bytes=_int(q.get("limitBytes")), **opts)
            return web.Response(body=body, content_type="text/plain", charset="utf-8")
        return await _follow(request, kubelet, container, path, opts)

    async def pods(_: web.Request) -> web.Response:
        items = [w.pod for k in kubelets() for w in k.workers.values() if w.pod is not None]
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def exec_(request: web.Request) -> web.StreamResponse:
        m, q = request.match_info, request.query
        found = find_container(kubelets(), m["namespace"], m["pod"], m["container"], False)
        if found[0] is None:
            return web.Response(status=found[2], text=found[1], content_type="text/plain")
        kubelet, container = found
        if container.state is not ContainerState.RUNNING:
            return web.Response(status=400, text=f'container {m["container"]} is not running', content_type="text/plain")
        cmd = q.getall("command", [])
        ws = web.WebSocketResponse(protocols=streaming.PROTOCOLS)
        await ws.prepare(request)
        try:
            session = await kubelet.runtime.exec_start(container.id, cmd, stdin=_bool(q.get("stdin")),
                                                       tty=_bool(q.get("tty")))
        except (CRIError, OSError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            await streaming.send_status(ws, streaming.failure(f"failed to exec in container: {message}"))
            return ws
        log.info("container.exec", key=f"{m['namespace']}/{m['pod']}", container=m["container"], command=cmd)
        await streaming.stream_exec(ws, session, cmd)
        return ws

    async def attach(request: web.Request) -> web.StreamResponse:
        m = request.match_info
        found = find_container(kubelets(), m["namespace"], m["pod"], m["container"], False)
        if found[0] is None:
            return web.Response(status=found[2], text=found[1], content_type="text/plain")
        kubelet, container = found
        path = kubelet.runtime.log_path(container.id)
        if container.state is not ContainerState.RUNNING or path is None:
            return web.Response(status=400, text=f'container {m["container"]} is not running', content_type="text/plain")
        try:
            session = await kubelet.runtime.attach(container.id)
        except CRIError as exc:
            return web.Response(status=400, text=exc.message, content_type="text/plain")
        ws = web.WebSocketResponse(protocols=streaming.PROTOCOLS)
        await ws.prepare(request)
        if session is not None:
            q = request.query
            await streaming.stream_attach_stdio(ws, session, stdin=_bool(q.get("stdin")), stdout=_bool(q.get("stdout")),
                                                stderr=_bool(q.get("stderr")))
            return ws

        def running() -> bool:
            stopping = STOPPING in request.app and request.app[STOPPING].is_set()
            return not stopping and kubelet.runtime.container_status(container.id).state is ContainerState.RUNNING

        await streaming.stream_attach(ws, path, running)
        return ws

    return [web.get("/containerLogs/{namespace}/{pod}/{container}", container_logs), web.get("/pods", pods),
            web.get("/attach/{namespace}/{pod}/{container}", attach),
            web.post("/attach/{namespace}/{pod}/{container}", attach),
            web.get("/pods/", pods), web.get("/exec/{namespace}/{pod}/{container}", exec_),
            web.post("/exec/{namespace}/{pod}/{container}", exec_)]


async def _follow(request: web.Request, kubelet: Kubelet, container: ContainerStatus, path, opts) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    await resp.prepare(request)

    def running() -> bool:
        """Keep following while the container runs, the client listens and the server is not stopping."""
        if request.transport is None or request.transport.is_closing() or (STOPPING in request.app and request.app[STOPPING].is_set()):
            return False
        try:
            return kubelet.runtime.container_status(container.id).state is ContainerState.RUNNING
        except Exception:
            return False

    try:
        async for chunk in logs.follow_log(path, running, **opts):
            await resp.write(chunk)
    except (ConnectionResetError, RuntimeError):
        return resp
    await resp.write_eof()
    return resp
