"""Leader election and the event recorder against a real kubemu API server."""

from __future__ import annotations

import asyncio

from shared.client import ApiClient
from shared.events import EventRecorder
from shared.leaderelection import LeaderElectionConfig, LeaderElector
from shared.resources import EVENTS, LEASES, PODS


class Candidate:
    def __init__(self, client: ApiClient, identity: str) -> None:
        self.leading = asyncio.Event()
        self.stopped = asyncio.Event()
        config = LeaderElectionConfig(lease_name="kube-scheduler", identity=identity, lease_duration=2.0,
                                      renew_deadline=1.5, retry_period=0.2)
        self.elector = LeaderElector(client, config, on_started_leading=self._lead,
                                     on_stopped_leading=self.stopped.set)
        self.task = asyncio.create_task(self.elector.run())

    async def _lead(self) -> None:
        self.leading.set()
        await asyncio.Event().wait()

    async def kill(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_two_candidates_one_leader_then_takeover(apiserver) -> None:
    async with ApiClient.from_kubeconfig(apiserver.kubeconfig) as c1, \
            ApiClient.from_kubeconfig(apiserver.kubeconfig) as c2:
        a, b = Candidate(c1, "host-a_1234"), Candidate(c2, "host-b_5678")
        try:
            await asyncio.wait([asyncio.create_task(a.leading.wait()), asyncio.create_task(b.leading.wait())],
                               timeout=10, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.sleep(1.0)  # several renew periods: still exactly one
            leaders = [c for c in (a, b) if c.elector.is_leader]
            assert len(leaders) == 1
            leader, other = leaders[0], (b if leaders[0] is a else a)
            lease = await c1.get(LEASES, "kube-scheduler", namespace="kube-system")
            assert lease["spec"]["holderIdentity"] == leader.elector.config.identity
            assert lease["spec"]["leaseDurationSeconds"] == 2
            first_acquire = lease["spec"]["acquireTime"]

            loop = asyncio.get_running_loop()
            killed = loop.time()
            await leader.kill()  # killed: no release, the lease must run out
            await asyncio.wait_for(other.leading.wait(), 10)
            # the lease duration, plus one jittered retry period, plus slack for a loaded machine
            assert loop.time() - killed <= 2.0 + 0.2 * 2.2 + 0.3, "taken over within the lease duration"
            lease = await c1.get(LEASES, "kube-scheduler", namespace="kube-system")
            assert lease["spec"]["holderIdentity"] == other.elector.config.identity
            assert lease["spec"]["leaseTransitions"] == 1
            assert lease["spec"]["acquireTime"] > first_acquire
        finally:
            await a.kill()
            await b.kill()


async def test_events_are_written_and_aggregated(apiserver) -> None:
    async with ApiClient.from_kubeconfig(apiserver.kubeconfig) as client:
        pod = await client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                         "metadata": {"name": "nginx", "namespace": "default"},
                                         "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}})
        recorder = EventRecorder(client, component="default-scheduler", host="test-host")
        recorder.event(pod, "Warning", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.")
        recorder.event(pod, "Warning", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.")
        recorder.event(pod, "Normal", "Scheduled", "Successfully assigned default/nginx to node-1")
        await recorder.close()
        items = (await client.list(EVENTS, namespace="default"))["items"]
        got = {e["reason"]: e for e in items if e["involvedObject"].get("name") == "nginx"}
        assert set(got) == {"FailedScheduling", "Scheduled"}
        failed = got["FailedScheduling"]
        assert failed["count"] == 2
        assert failed["involvedObject"]["uid"] == pod["metadata"]["uid"]
        assert failed["source"] == {"component": "default-scheduler", "host": "test-host"}
        # what `kubectl get events --field-selector involvedObject.name=nginx` relies on
        selected = await client.list(EVENTS, namespace="default", field_selector="involvedObject.name=nginx")
        assert len(selected["items"]) == 2
