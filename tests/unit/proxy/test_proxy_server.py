"""The sync loop without an API server: sources are plain lists, as an informer's lister gives."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from services.proxy.config import ProxyConfig, node_port_ips, parse_duration
from services.proxy.server import ProxyServer
from tests.unit.proxy.helpers import Backend, eventually, free_port, http_get, random_ip, service, slices_for


@pytest.fixture
async def backend():
    b = await Backend("a").start()
    yield b
    await b.stop()


def _server(tmp_path: Path, **kw) -> ProxyServer:
    kw = {"node_port_addresses": [random_ip("127.0.1")], "min_sync_period": 0.05,
          "iptables_rules_file": str(tmp_path / "rules" / "iptables.rules"), **kw}
    config = ProxyConfig(**kw)
    return ProxyServer(config)


async def test_changes_are_applied_by_the_loop_and_bursts_collapse(tmp_path: Path, backend: Backend) -> None:
    server = _server(tmp_path, min_sync_period=0.2)
    services: list[dict] = []
    server.set_sources(lambda: services, lambda: slices_for("web", [backend]))
    loop = asyncio.create_task(server.run())
    try:
        ip, port = random_ip(), free_port()
        server.request_sync()
        assert await eventually(lambda: server.syncs == 1)
        services.append(service("web", ip, port))
        for _ in range(50):
            server.request_sync()
        assert await eventually(lambda: server.proxier.listening() == [(ip, port)])
        assert await http_get(ip, port) == "a"
        await asyncio.sleep(0.3)
        assert server.syncs == 2  # fifty requests, one sync
    finally:
        loop.cancel()
        server.close()


async def test_iptables_mode_writes_rules_and_metrics(tmp_path: Path, backend: Backend) -> None:
    server = _server(tmp_path, mode="iptables")
    ip, port = random_ip(), free_port()
    server.set_sources(lambda: [service("web", ip, port)], lambda: slices_for("web", [backend]))
    try:
        await server.sync()
        await http_get(ip, port)
        rules = (tmp_path / "rules" / "iptables.rules").read_text()
        assert f"-d {ip} --dport {port} -j KUBE-SVC-" in rules
        assert f"--to-destination {backend.ip}:{backend.port}" in rules
        metrics = generate_latest(server.metrics.registry).decode()
        assert "kubeproxy_sync_proxy_rules_duration_seconds_count 1.0" in metrics
        assert "kubeproxy_sync_proxy_rules_endpoints 1.0" in metrics
        assert 'kubeproxy_sync_proxy_rules_iptables_total{table="nat"}' in metrics
        assert 'kubeproxy_userspace_forwarded_bytes_total{direction="to_client"}' in metrics
        assert "kubeproxy_userspace_connections_total 1.0" in metrics
    finally:
        server.close()


async def test_userspace_mode_writes_no_rules_file(tmp_path: Path) -> None:
    server = _server(tmp_path)
    await server.sync()
    assert not (tmp_path / "rules").exists()


async def test_healthz_unhealthy_until_first_sync_and_when_changes_wait_too_long(tmp_path: Path) -> None:
    server = _server(tmp_path, health_timeout=0.05)
    assert server.healthz()[0] is False
    await server.sync()
    healthy, body = server.healthz()
    assert healthy and body["lastUpdated"].endswith("Z") and body["nodeEligible"] is True
    server.request_sync()  # nobody runs the loop: the change waits
    await asyncio.sleep(0.1)
    assert server.healthz()[0] is False
    await server.sync()
    assert server.healthz()[0] is True


async def test_programming_latency_observed_once_per_trigger_time(tmp_path: Path, backend: Backend) -> None:
    server = _server(tmp_path)
    slices = slices_for("web", [backend])
    slices[0]["metadata"]["annotations"] = {"endpoints.kubernetes.io/last-change-trigger-time": "2999-01-01T00:00:00Z"}
    server.set_sources(lambda: [service("web", random_ip(), free_port())], lambda: slices)
    try:
        await server.sync()
        await server.sync()
        metrics = generate_latest(server.metrics.registry).decode()
        assert "kubeproxy_network_programming_duration_seconds_count 1.0" in metrics
    finally:
        server.close()


@pytest.mark.parametrize("flag, node_ips, expected", [
    ([], ["127.0.1.1"], ["127.0.1.1"]),
    ([], [], ["0.0.0.0"]),
    (["0.0.0.0/0"], ["127.0.1.1"], ["0.0.0.0"]),
    (["127.0.1.1", "127.0.1.2"], [], ["127.0.1.1", "127.0.1.2"]),
    (["127.0.1.0/24"], ["127.0.1.3", "10.0.0.1"], ["127.0.1.3"]),
    (["127.0.1.5/32"], [], ["127.0.1.5"]),
])
def test_node_port_ips(flag: list[str], node_ips: list[str], expected: list[str]) -> None:
    assert node_port_ips(flag, node_ips) == expected


@pytest.mark.parametrize("text, seconds", [("1s", 1.0), ("50ms", 0.05), ("0.05", 0.05), ("1m30s", 90.0)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_parse_duration_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_duration("1x")


async def test_a_failing_sync_is_retried_not_fatal(tmp_path: Path) -> None:
    server = _server(tmp_path)
    calls = []

    def flaky() -> list[dict]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return []

    server.set_sources(flaky, list)
    loop = asyncio.create_task(server.run())
    try:
        server.request_sync()
        assert await eventually(lambda: server.syncs == 1)
        assert len(calls) == 2 and not loop.done()
    finally:
        loop.cancel()
        server.close()
