"""Fixtures for the kubelet's integration tests: a real API server and kubelets (create_app) on it.

Each kubelet gets a node IP and pod CIDR no other test uses at the same time (127.2xx.<rand>.0/24,
its node IP the CIDR's gateway address .1) and a free port; its containers are stopped at the end.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import free_port


def random_network() -> tuple[str, str]:
    """(node IP, pod CIDR): 127.<200-239>.<0-255>.1 and the /24 around it."""
    a, b = random.randint(200, 239), random.randint(0, 255)
    return f"127.{a}.{b}.1", f"127.{a}.{b}.0/24"


@dataclass
class RunningKubelet:
    app: web.Application
    runner: web.AppRunner
    config: Any
    url: str

    @property
    def kubelet(self):
        from services.kubelet.app import KUBELETS

        return self.app[KUBELETS][0]


@pytest.fixture
async def api(apiserver) -> AsyncIterator[Any]:
    from shared.client import ApiClient

    client = ApiClient(server=apiserver.url, token=apiserver.token, ca_file=str(apiserver.ca_file))
    yield client
    await client.close()


@pytest.fixture
async def start_kubelet(apiserver, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`k = await start_kubelet(**config)`: a kubelet app serving on its node IP; stopped at the end."""
    from shared.client import ApiClient
    from services.kubelet.app import create_app
    from services.kubelet.config import KubeletConfig
    from services.kubelet.runtime.process import shutdown_node

    running: list[RunningKubelet] = []
    roots: set[Path] = set()
    node_ip, pod_cidr = random_network()
    name = f"node-{random.randint(1000, 9999)}"

    async def start(**overrides: Any) -> RunningKubelet:
        base = KubeletConfig(node_name=name, node_ip=node_ip, port=free_port(node_ip), pod_cidr=pod_cidr,
                             root_dir=tmp_path / "kubelet" / name, node_lease_renew_interval=0.5,
                             node_status_update_frequency=0.5, crashloop_backoff_base=0.3,
                             crashloop_backoff_max=2.0, image_pull_backoff_base=0.3, image_pull_backoff_max=2.0,
                             sync_frequency=2.0, minimum_grace_period=0.2)
        config = replace(base, **overrides)
        client = ApiClient(server=apiserver.url, token=apiserver.token, ca_file=str(apiserver.ca_file))
        app = create_app(config, client=client)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, config.node_ip, config.port).start()
        k = RunningKubelet(app, runner, config, f"http://{config.node_ip}:{config.port}")
        running.append(k)
        roots.add(Path(config.root_dir))
        await wait_until(lambda: all(x.ready.is_set() for x in app[_kubelets_key()]), timeout=20)
        return k

    async def stop(k: RunningKubelet) -> None:
        if k in running:
            running.remove(k)
            await k.runner.cleanup()

    start.stop = stop  # type: ignore[attr-defined]
    yield start
    for k in reversed(running):
        await k.runner.cleanup()
    for root in roots:
        if (root / "containers").exists():
            await shutdown_node(root, grace=0)


def _kubelets_key():
    from services.kubelet.app import KUBELETS

    return KUBELETS


async def wait_until(predicate: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.05,
                     what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_pod(api, name: str, predicate: Callable[[dict], bool], *, namespace: str = "default",
                   timeout: float = 15.0, what: str = "pod state") -> dict:
    from shared.client import NotFound
    from shared.resources import PODS

    last: dict = {}

    async def check() -> dict | None:
        nonlocal last
        try:
            last = await api.get(PODS, name, namespace)
        except NotFound:
            return None
        return last if predicate(last) else None

    try:
        return await wait_until(check, timeout=timeout, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last status: {last.get('status')}") from None


def pod_manifest(name: str, node: str, *containers: dict, **spec: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": list(containers), **spec}}


def container_status(pod: dict, name: str | None = None) -> dict:
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    return next((s for s in statuses if name is None or s.get("name") == name), {})


def condition(pod: dict, ctype: str) -> str | None:
    return next((c["status"] for c in (pod.get("status") or {}).get("conditions") or [] if c["type"] == ctype), None)


async def watch_pod(api, name: str, until: Callable[[dict], bool], *, namespace: str = "default",
                    timeout: float = 15.0) -> list[dict]:
    """Every state of the pod from now until `until(pod)` holds (or the pod is deleted)."""
    from shared.resources import PODS

    listed = await api.list(PODS, namespace, field_selector=f"metadata.name={name}")
    seen = list(listed["items"])
    if seen and until(seen[-1]):
        return seen

    async def follow() -> None:
        async for event in api.watch(PODS, namespace, resource_version=listed["metadata"]["resourceVersion"],
                                     field_selector=f"metadata.name={name}"):
            if event["type"] == "DELETED":
                return
            if event["type"] in ("ADDED", "MODIFIED"):
                seen.append(event["object"])
                if until(event["object"]):
                    return

    try:
        await asyncio.wait_for(follow(), timeout)
    except TimeoutError:
        last = seen[-1].get("status") if seen else None
        raise AssertionError(f"timed out after {timeout}s; last status: {last}") from None
    return seen
