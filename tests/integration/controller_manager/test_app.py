"""The service itself: flags, health/metrics server, leader election on the kube-controller-manager Lease."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import aiohttp
import pytest
from aiohttp import web

from shared.resources import DEPLOYMENTS, EVENTS, LEASES

from services.controller_manager.__main__ import config_from_args, parse_args
from services.controller_manager.app import create_app
from tests.conftest import free_port
from tests.fixtures.apiserver import REPO
from tests.integration.controller_manager.conftest import eventually
from tests.integration.controller_manager.test_deployment_rollout import deployment


def test_flags_reach_the_config():
    args = parse_args(["--controllers", "*,-nodelifecycle", "--node-monitor-grace-period", "7",
                       "--cluster-cidr", "10.0.0.0/16", "--node-cidr-mask-size", "20", "--leader-elect", "false",
                       "--concurrent-deployment-syncs", "2", "--apiserver", "https://127.0.0.1:1"])
    config = config_from_args(args)
    assert config.controllers == "*,-nodelifecycle"
    assert config.node_monitor_grace_period == 7.0
    assert (config.cluster_cidr, config.node_cidr_mask_size) == ("10.0.0.0/16", 20)
    assert config.leader_elect is False and config.concurrent_deployment_syncs == 2
    assert parse_args([]).port == 10257
    assert parse_args(["--secure-port", "1234"]).port == 1234
    with pytest.raises(SystemExit):
        parse_args(["--controllers", "*,bogus"])


async def test_app_leads_serves_health_and_metrics_and_records_events(apiserver, api_client):
    from shared.client import ApiClient

    config = config_from_args(parse_args(["--leader-elect-lease-duration", "4", "--leader-elect-renew-deadline", "3",
                                          "--leader-elect-retry-period", "0.5", "--controllers",
                                          "deployment,replicaset"]))
    client = ApiClient(server=apiserver.url, token=apiserver.token, ca_file=str(apiserver.ca_file))
    app = create_app(config, client=client)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        lease = await eventually(lambda: _lease(api_client), what="the kube-controller-manager Lease")
        assert lease["spec"]["holderIdentity"]
        await api_client.create(DEPLOYMENTS, deployment("evt", 2))

        async def scaled_event():
            items = (await api_client.list(EVENTS, namespace="default"))["items"]
            return [e for e in items if e["reason"] == "ScalingReplicaSet"
                    and e["involvedObject"]["name"] == "evt"]

        [event] = await eventually(scaled_event, what="a ScalingReplicaSet event")
        assert event["message"].startswith("Scaled up replica set evt-") and event["message"].endswith("from 0 to 2")
        assert event["source"]["component"] == "deployment-controller"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200
            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                text = await resp.text()
        assert 'controller_sync_duration_seconds_count{controller="deployment"}' in text
        assert 'workqueue_depth{name="replicaset"}' in text
        assert 'leader_election_master_status{name="kube-controller-manager"} 1.0' in text
    finally:
        await runner.cleanup()


async def _lease(client):
    try:
        lease = await client.get(LEASES, "kube-controller-manager", namespace="kube-system")
    except Exception:
        return None
    return lease if lease["spec"].get("holderIdentity") else None


def test_python_m_starts_and_stops(apiserver, tmp_path):
    port, log_path = free_port(), tmp_path / "controller-manager.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "services.controller_manager", "--kubeconfig",
                                 str(apiserver.kubeconfig), "--secure-port", str(port), "--log-format", "json",
                                 "--leader-elect", "false"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while '"event":"controllers.started"' not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "controllers did not start in 30 s"
            time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            assert resp.status == 200
    finally:
        proc.terminate()
        proc.wait(20)
    assert proc.returncode == 0, log_path.read_text()[-3000:]
    assert '"event":"service.stopped"' in log_path.read_text()


async def test_standby_takes_over_when_the_leader_goes(apiserver, api_client):
    from shared.client import ApiClient

    from services.controller_manager.app import MANAGER

    args = ["--leader-elect-lease-duration", "2", "--leader-elect-renew-deadline", "1.5",
            "--leader-elect-retry-period", "0.3", "--controllers", "deployment,replicaset"]
    runners = []
    for _ in range(2):
        client = ApiClient(server=apiserver.url, token=apiserver.token, ca_file=str(apiserver.ca_file))
        runner = web.AppRunner(create_app(config_from_args(parse_args(args)), client=client))
        await runner.setup()
        runners.append(runner)

    async def leading():
        leaders = [r for r in runners if r.app[MANAGER].controllers]
        return leaders if len(leaders) == 1 else None

    [leader] = await eventually(leading, what="exactly one leader")
    standby = next(r for r in runners if r is not leader)
    await leader.cleanup()  # the leader goes away without releasing: the lease must expire
    await eventually(lambda: _async(bool(standby.app[MANAGER].controllers)), what="the standby to lead")
    await api_client.create(DEPLOYMENTS, deployment("failover", 1))

    async def reconciled():
        d = await api_client.get(DEPLOYMENTS, "failover", namespace="default")
        return (d.get("status") or {}).get("replicas") == 1

    await eventually(reconciled, what="the new leader to reconcile")
    await standby.cleanup()


async def _async(value):
    return value
