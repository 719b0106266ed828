"""kube-proxy against a real API server: Services and hand-made EndpointSlices drive real forwarding.

The API server picks the ClusterIPs and NodePorts; the backends are real HTTP servers on pod-like
loopback addresses; the EndpointSlices are written by the test, as the EndpointSlice controller
would write them.
"""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from shared.resources import ENDPOINTSLICES, SERVICES

from services.proxy.app import SERVER
from tests.conftest import free_port
from tests.integration.proxy.conftest import eventually, refused
from tests.unit.proxy.helpers import Backend, http_get, random_ip, service, slices_for


async def _create(api_client, svc: dict, backends: list[Backend]) -> dict:
    svc = copy.deepcopy(svc)
    del svc["spec"]["clusterIP"], svc["spec"]["clusterIPs"]  # the API server allocates them
    svc["spec"]["ports"][0].pop("nodePort", None)
    created = await api_client.create(SERVICES, svc, namespace="default")
    for s in slices_for(svc["metadata"]["name"], backends):
        await api_client.create(ENDPOINTSLICES, s, namespace="default")
    return created


async def test_service_answers_on_cluster_ip_and_node_port_and_follows_endpoints(
        proxy: web.Application, api_client, backends: list[Backend]) -> None:
    server = proxy[SERVER]
    svc = await _create(api_client, service("web", "x", free_port(), node_port=1), backends)
    ip, port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["port"]
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert ip.startswith("127.96.") and 30000 <= node_port <= 32767

    await eventually(lambda: http_get(ip, port), what="the ClusterIP to answer")
    answers = Counter([await http_get(ip, port) for _ in range(10)])
    assert set(answers) == {"a", "b"} and max(answers.values()) <= 6  # spread, round-robin
    node_ip = server.config.node_ips[0]
    assert {await http_get(node_ip, node_port) for _ in range(4)} == {"a", "b"}

    # Backend "a" becomes unready: new connections go to "b" only.
    [slice_a] = [s for s in (await api_client.list(ENDPOINTSLICES, namespace="default"))["items"]
                 if s["endpoints"][0]["addresses"] == [backends[0].ip]]
    slice_a["endpoints"][0]["conditions"]["ready"] = False
    await api_client.update(ENDPOINTSLICES, slice_a, namespace="default")

    async def only_b() -> bool:
        return {await http_get(ip, port) for _ in range(4)} == {"b"}

    await eventually(only_b, what="traffic to follow the endpoint change")

    # Scale to zero: every slice gone, so connections are refused (kube-proxy's REJECT).
    for s in (await api_client.list(ENDPOINTSLICES, namespace="default"))["items"]:
        await api_client.delete(ENDPOINTSLICES, s["metadata"]["name"], namespace="default")
    await eventually(lambda: refused(ip, port), what="connections to be refused")
    assert await refused(node_ip, node_port)

    # Rules file, healthz and metrics reflect what happened.
    rules = Path(server.config.iptables_rules_file).read_text()
    assert f'"default/web:http has no endpoints" -m tcp -p tcp -d {ip} --dport {port} -j REJECT' in rules
    async with aiohttp.ClientSession() as session:
        health_url = f"http://{server.config.healthz_bind_address}/healthz"
        async with session.get(health_url) as resp:
            assert resp.status == 200 and "lastUpdated" in await resp.json()
        async with session.get(f"http://{server.config.metrics_bind_address}/metrics") as resp:
            metrics = await resp.text()
    assert "kubeproxy_sync_proxy_rules_duration_seconds_count" in metrics
    assert "kubeproxy_sync_proxy_rules_endpoint_changes_total" in metrics

    # Deleting the Service closes its listeners.
    for s in slices_for("web", backends):
        await api_client.create(ENDPOINTSLICES, s, namespace="default")
    await eventually(lambda: http_get(ip, port), what="endpoints to come back")
    await api_client.delete(SERVICES, "web", namespace="default")
    await eventually(lambda: server.proxier.listening() == [], what="listeners to close")
    assert await refused(ip, port)


async def test_client_ip_affinity_holds(proxy: web.Application, api_client, backends: list[Backend]) -> None:
    svc = await _create(api_client, service("sticky", "x", free_port(), affinity="ClientIP"), backends)
    ip, port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["port"]
    await eventually(lambda: http_get(ip, port), what="the ClusterIP to answer")
    client_ip = random_ip("127.0.2")
    seen = {await http_get(ip, port, local_addr=(client_ip, 0)) for _ in range(8)}
    assert len(seen) == 1
    [chosen] = [b for b in backends if b.name in seen]
    assert chosen.requests >= 8  # all eight from this client (plus maybe the first probe)


def test_flags_reach_the_config() -> None:
    from services.proxy.__main__ import config_from_args, parse_args

    config = config_from_args(parse_args([
        "--apiserver", "https://127.0.0.1:1", "--node-name", "node-2", "--node-ip", "127.0.1.2",
        "--nodeport-addresses", "127.0.1.2,127.0.1.3", "--mode", "iptables", "--iptables-rules-file", "/tmp/r",
        "--min-sync-period", "50ms", "--sync-period", "1m", "--session-affinity-timeout", "5",
        "--healthz-bind-address", "127.0.0.1:1", "--metrics-bind-address", "127.0.0.1:2"]))
    assert (config.node_name, config.node_ips, config.node_port_addresses) == (
        "node-2", ["127.0.1.2"], ["127.0.1.2", "127.0.1.3"])
    assert (config.mode, config.iptables_rules_file) == ("iptables", "/tmp/r")
    assert (config.min_sync_period, config.sync_period, config.session_affinity_timeout) == (0.05, 60.0, 5)
    defaults = config_from_args(parse_args([]))
    assert (defaults.healthz_bind_address, defaults.metrics_bind_address) == ("127.0.0.1:10256", "127.0.0.1:10249")
    assert (defaults.mode, defaults.min_sync_period, defaults.sync_period) == ("userspace", 1.0, 30.0)


async def test_python_m_services_proxy_runs_and_reports_healthy(apiserver, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.fixtures.apiserver import REPO

    healthz, metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    log = (tmp_path / "proxy.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.proxy", "--kubeconfig", str(apiserver.kubeconfig),
         "--nodeport-addresses", random_ip("127.0.1"), "--healthz-bind-address", healthz,
         "--metrics-bind-address", metrics, "--log-format", "json"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        async def healthy() -> bool:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://{healthz}/healthz") as resp:
                    return resp.status == 200

        await eventually(healthy, timeout=20, what="/healthz to report a sync")
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{metrics}/metrics") as resp:
                assert "kubeproxy_sync_proxy_rules_last_timestamp_seconds" in await resp.text()
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
    assert b'"event":"proxy.synced"' in (tmp_path / "proxy.log").read_bytes()
