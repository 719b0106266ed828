"""Container probes (liveness, readiness, startup), as the kubelet's prober runs them.

Guarantees:
- One worker per probe of a running container; it waits `initialDelaySeconds` from the container's
  start, then probes every `periodSeconds` with `timeoutSeconds`, and changes its result only after
  `failureThreshold` failures or `successThreshold` successes in a row.
- Until the startup probe has succeeded, liveness and readiness are not run; once it succeeds it
  stops. Initial results: readiness Failure (not ready), liveness Success, startup Unknown.
- httpGet succeeds on a status in [200, 400); tcpSocket on a connection; exec on exit code 0.
  Failure messages read as Kubernetes' do (`HTTP probe failed with statuscode: 500`,
  `Get "http://...": dial tcp ...: connect: connection refused`).
- Every failed probe is reported through `on_failure` (the kubelet's `Unhealthy` event); a changed
  result through `on_change(pod_uid)`, so the pod worker acts at once (restart, Ready).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from shared.logging import get_logger

log = get_logger()


class Result(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


KINDS = ("startup", "liveness", "readiness")
INITIAL = {"readiness": Result.FAILURE, "liveness": Result.SUCCESS, "startup": Result.UNKNOWN}
ExecFn = Callable[[str, list[str], float], Awaitable[tuple[int, bytes]]]


def _port(value: Any, container: dict[str, Any]) -> int:
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    for p in container.get("ports") or []:
        if p.get("name") == value:
            return int(p["containerPort"])
    raise ValueError(f"invalid port name {value!r}: not a port of the container")


async def http_probe(spec: dict[str, Any], *, host: str, container: dict[str, Any], timeout: float,
                     session: aiohttp.ClientSession) -> tuple[bool, str]:
    scheme = (spec.get("scheme") or "HTTP").lower()
    host = spec.get("host") or host
    port = _port(spec.get("port", 80), container)
    path = spec.get("path") or "/"
    url = f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
    headers = {"User-Agent": "kube-probe/1.32", "Accept": "*/*"}
    headers.update({h["name"]: h["value"] for h in spec.get("httpHeaders") or []})
    try:
        async with session.get(url, headers=headers, ssl=False, allow_redirects=True,
                               timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            await resp.read()
            if 200 <= resp.status < 400:
                return True, ""
            return False, f"HTTP probe failed with statuscode: {resp.status}"
    except TimeoutError:
        return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    except (aiohttp.ClientError, OSError) as exc:
        return False, f'Get "{url}": dial tcp {host}:{port}: connect: {_why(exc)}'


def _why(exc: BaseException) -> str:
    """How Go's net package words a failed dial."""
    err = getattr(exc, "os_error", None) or exc
    if isinstance(err, ConnectionRefusedError) or getattr(err, "errno", None) == errno.ECONNREFUSED:
        return "connection refused"
    if getattr(err, "errno", None) == errno.EHOSTUNREACH:
        return "no route to host"
    return getattr(err, "strerror", None) or str(err)


async def tcp_probe(spec: dict[str, Any], *, host: str, container: dict[str, Any], timeout: float) -> tuple[bool, str]:
    host = spec.get("host") or host
    port = _port(spec.get("port"), container)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return False, f"dial tcp {host}:{port}: i/o timeout"
    except OSError as exc:
        return False, f"dial tcp {host}:{port}: connect: {_why(exc)}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, ""


async def exec_probe(spec: dict[str, Any], *, container_id: str, timeout: float, exec_fn: ExecFn) -> tuple[bool, str]:
    cmd = list(spec.get("command") or [])
    try:
        code, out = await exec_fn(container_id, cmd, timeout)
    except TimeoutError:
        return False, f"command {cmd!r} timed out"
    except Exception as exc:  # the runtime could not exec: the probe fails, it does not crash the worker
        return False, str(exc)
    return code == 0, out.decode(errors="replace")


@dataclass
class ProbeTarget:
    pod_uid: str
    pod_key: str
    container: dict[str, Any]
    container_id: str
    pod_ip: str
    started_at: float  # wall-clock seconds


@dataclass
class _Worker:
    target: ProbeTarget
    kind: str
    spec: dict[str, Any]
    result: Result
    last: Result | None = None
    run_count: int = 0
    task: asyncio.Task | None = None


@dataclass
class ProbeManager:
    exec_fn: ExecFn
    on_change: Callable[[str], None]
    on_failure: Callable[[ProbeTarget, str, str], None]  # (target, kind, message)
    _workers: dict[tuple[str, str], _Worker] = field(default_factory=dict)
    _session: aiohttp.ClientSession | None = None

    def add(self, target: ProbeTarget) -> None:
        """Start the container's probe workers (idempotent per container id)."""
        for kind in KINDS:
            spec = target.container.get(f"{kind}Probe")
            key = (target.container_id, kind)
            if spec and key not in self._workers:
                worker = _Worker(target, kind, spec, INITIAL[kind])
                self._workers[key] = worker
                worker.task = asyncio.create_task(self._run(worker), name=f"probe-{kind}-{target.pod_key}")

    def remove(self, container_id: str) -> None:
        for kind in KINDS:
            worker = self._workers.pop((container_id, kind), None)
            if worker is not None and worker.task is not None:
                worker.task.cancel()

    def result(self, container_id: str, kind: str) -> Result | None:
        """The probe's current result, or None if the container has no such probe."""
        worker = self._workers.get((container_id, kind))
        return worker.result if worker else None

    def started(self, container_id: str) -> bool:
        return self.result(container_id, "startup") in (None, Result.SUCCESS)

    def ready(self, container_id: str) -> bool:
        return self.started(container_id) and self.result(container_id, "readiness") in (None, Result.SUCCESS)

    def liveness_failed(self, container_id: str) -> bool:
        return self.result(container_id, "liveness") is Result.FAILURE

    async def close(self) -> None:
        for cid, kind in list(self._workers):
            self.remove(cid)
        if self._session is not None:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True))
        return self._session

    async def _run(self, w: _Worker) -> None:
        delay = float(w.spec.get("initialDelaySeconds", 0)) - (time.time() - w.target.started_at)
        if delay > 0:
            await asyncio.sleep(delay)
        period = float(w.spec.get("periodSeconds") or 10)
        while True:
            if w.kind == "startup" or self.started(w.target.container_id):
                if not await self._probe_once(w):
                    return
            await asyncio.sleep(period)

    async def _probe_once(self, w: _Worker) -> bool:
        """Probe, update the result; False when this worker's job is over."""
        ok, message = await self.probe(w.spec, w.target)
        outcome = Result.SUCCESS if ok else Result.FAILURE
        w.run_count = w.run_count + 1 if outcome is w.last else 1
        w.last = outcome
        if not ok:
            log.info("probe.failed", key=w.target.pod_key, container=w.target.container["name"], probe=w.kind,
                     message=message.strip()[:200])
            self.on_failure(w.target, w.kind, message)
        threshold = int(w.spec.get("successThreshold" if ok else "failureThreshold") or (1 if ok else 3))
        if w.run_count >= threshold and w.result is not outcome:
            w.result = outcome
            self.on_change(w.target.pod_uid)
        if w.kind == "startup" and w.result is Result.SUCCESS:
            return False
        return not (w.kind == "liveness" and w.result is Result.FAILURE)

    async def probe(self, spec: dict[str, Any], target: ProbeTarget) -> tuple[bool, str]:
        timeout = float(spec.get("timeoutSeconds") or 1)
        try:
            if "httpGet" in spec:
                return await http_probe(spec["httpGet"], host=target.pod_ip, container=target.container,
                                        timeout=timeout, session=self._http())
            if "tcpSocket" in spec:
                return await tcp_probe(spec["tcpSocket"], host=target.pod_ip, container=target.container,
                                       timeout=timeout)
            if "exec" in spec:
                return await exec_probe(spec["exec"], container_id=target.container_id, timeout=timeout,
                                        exec_fn=self.exec_fn)
        except ValueError as exc:
            return False, str(exc)
        return True, ""  # grpc and unknown handlers: not probed, as if they passed
