"""Fixtures for kube-proxy against a real API server: a running proxy app and helpers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from services.proxy.app import create_app
from services.proxy.config import ProxyConfig
from tests.conftest import free_port
from tests.unit.proxy.helpers import Backend, http_get, random_ip


async def eventually(check, *, timeout: float = 10.0, what: str = "condition"):
    """Poll `check()` (sync or async) until it returns something truthy without raising."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
        except (OSError, asyncio.IncompleteReadError, AssertionError) as exc:
            last = exc
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what} (last error: {last!r})")


async def refused(host: str, port: int) -> bool:
    try:
        await http_get(host, port, timeout=2)
    except (ConnectionRefusedError, ConnectionResetError, asyncio.IncompleteReadError):
        return True
    return False


@pytest.fixture
async def backends():
    started = [await Backend("a").start(), await Backend("b").start()]
    yield started
    for b in started:
        await b.stop()


@pytest.fixture
async def proxy(apiserver, tmp_path: Path):
    from shared.client import ApiClient

    node_ip = random_ip("127.0.1")
    config = ProxyConfig(node_name="node-1", node_ips=[node_ip], mode="iptables",
                         iptables_rules_file=str(tmp_path / "iptables.rules"), min_sync_period=0.05,
                         healthz_bind_address=f"127.0.0.1:{free_port()}",
                         metrics_bind_address=f"127.0.0.1:{free_port()}")
    client = ApiClient(server=apiserver.url, token=apiserver.token, ca_file=str(apiserver.ca_file))
    app = create_app(config, client=client)
    runner = web.AppRunner(app)
    await runner.setup()
    host, port = config.healthz_bind_address.split(":")
    await web.TCPSite(runner, host, int(port)).start()
    try:
        yield app
    finally:
        await runner.cleanup()
        await client.close()
