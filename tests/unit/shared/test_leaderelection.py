"""Leader election on a Lease in a fake API server: acquire, CAS races, deadlines, release."""

from __future__ import annotations

import asyncio
import re

import pytest

from shared.client import ApiClient
from shared.client.errors import connection_error
from shared.leaderelection import LeaderElectionConfig, LeaderElector

LEASES_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
MICROTIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def config(identity: str, **kw) -> LeaderElectionConfig:
    base = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.1}
    return LeaderElectionConfig(lease_name="test-lock", identity=identity, **{**base, **kw})


class FlakyClient(ApiClient):
    """A client whose connection to the API server can be cut."""

    broken = False

    async def request(self, *args, **kwargs):
        if self.broken:
            raise connection_error("cut by the test")
        return await super().request(*args, **kwargs)


class Candidate:
    def __init__(self, url: str, identity: str, **kw) -> None:
        self.client = FlakyClient(url, max_retries=0)
        self.log: list[str] = []
        self.elector = LeaderElector(self.client, config(identity, **kw),
                                     on_started_leading=self._lead, on_stopped_leading=self._stop)
        self.task: asyncio.Task | None = None
        self.leading = asyncio.Event()
        self.stopped = asyncio.Event()

    async def _lead(self) -> None:
        self.log.append("started")
        self.leading.set()
        await asyncio.Event().wait()

    def _stop(self) -> None:
        self.log.append("stopped")
        self.stopped.set()

    def start(self) -> Candidate:
        self.task = asyncio.create_task(self.elector.run())
        return self

    async def kill(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task

    async def close(self) -> None:
        if self.task and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()


@pytest.fixture
async def candidates(fake_api):
    made: list[Candidate] = []

    def make(identity: str, **kw) -> Candidate:
        made.append(Candidate(fake_api[1], identity, **kw))
        return made[-1]

    yield make
    for c in made:
        await c.close()


def lease(api) -> dict:
    return api.objects[LEASES_PATH]["test-lock"]


BAD_CONFIGS = {
    "renew deadline not under lease duration": {"lease_duration": 1.0, "renew_deadline": 1.0},
    "retry period too long for renew deadline": {"renew_deadline": 0.6, "retry_period": 0.5},
    "no identity": {"identity": ""},
}


@pytest.mark.parametrize("kw", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_config_validation(kw: dict) -> None:
    with pytest.raises(ValueError):
        config(**{"identity": "a", **kw})


async def test_first_candidate_creates_the_lease(fake_api, candidates) -> None:
    api, _ = fake_api
    a = candidates("a").start()
    await asyncio.wait_for(a.leading.wait(), 5)
    assert a.elector.is_leader and a.elector.leader == "a"
    spec = lease(api)["spec"]
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 0
    assert MICROTIME.match(spec["acquireTime"]) and MICROTIME.match(spec["renewTime"])


async def test_leader_renews_with_compare_and_swap(fake_api, candidates) -> None:
    api, _ = fake_api
    a = candidates("a").start()
    await asyncio.wait_for(a.leading.wait(), 5)
    first = lease(api)["spec"]
    await asyncio.sleep(0.35)
    spec = lease(api)["spec"]
    assert spec["renewTime"] > first["renewTime"]
    assert (spec["acquireTime"], spec["leaseTransitions"]) == (first["acquireTime"], 0)
    puts = [b for b in api.bodies if isinstance(b, dict) and b.get("kind") == "Lease" and "resourceVersion"
            in b.get("metadata", {})]
    assert puts, "renewals are updates carrying the resourceVersion read"


async def test_exactly_one_of_two_leads_and_the_other_takes_over(fake_api, candidates) -> None:
    api, _ = fake_api
    a, b = candidates("a").start(), candidates("b").start()
    done, _ = await asyncio.wait([asyncio.create_task(a.leading.wait()), asyncio.create_task(b.leading.wait())],
                                 timeout=5, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.sleep(0.5)
    leaders = [c for c in (a, b) if c.elector.is_leader]
    assert len(leaders) == 1
    leader, other = leaders[0], (b if leaders[0] is a else a)
    assert not other.leading.is_set()
    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    await leader.kill()
    await asyncio.wait_for(other.leading.wait(), 5)
    # the lease duration, plus one jittered retry period, plus slack for a loaded machine
    assert loop.time() - killed_at <= 1.0 + 0.1 * 2.2 + 0.3, "taken over within the lease duration"
    spec = lease(api)["spec"]
    assert spec["holderIdentity"] == other.elector.config.identity
    assert spec["leaseTransitions"] == 1


async def test_leader_that_cannot_renew_stops_before_another_may_lead(fake_api, candidates) -> None:
    a = candidates("a").start()
    await asyncio.wait_for(a.leading.wait(), 5)
    b = candidates("b").start()
    await asyncio.sleep(0.2)
    a.client.broken = True
    await asyncio.wait_for(a.stopped.wait(), 5)
    assert not b.elector.is_leader, "a stopped leading before b could take the lease"
    assert a.log == ["started", "stopped"]
    await asyncio.wait_for(a.task, 1)  # run() returns once leadership is lost
    assert not a.elector.is_leader
    await asyncio.wait_for(b.leading.wait(), 5)


async def test_release_on_cancel_lets_a_successor_in_at_once(fake_api, candidates) -> None:
    api, _ = fake_api
    a = candidates("a", lease_duration=30.0, renew_deadline=0.6).start()
    await asyncio.wait_for(a.leading.wait(), 5)
    a.elector.config = LeaderElectionConfig(**{**a.elector.config.__dict__, "release_on_cancel": True})
    b = candidates("b", lease_duration=30.0).start()
    await asyncio.sleep(0.2)
    await a.kill()
    assert a.log == ["started", "stopped"]
    assert lease(api)["spec"]["holderIdentity"] in ("", "b")
    await asyncio.wait_for(b.leading.wait(), 3)  # far sooner than the 30 s lease


async def test_candidate_waits_while_the_lease_is_held(fake_api, candidates) -> None:
    api, _ = fake_api
    api.put(LEASES_PATH, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                          "metadata": {"name": "test-lock", "namespace": "kube-system"},
                          "spec": {"holderIdentity": "someone", "leaseDurationSeconds": 1,
                                   "leaseTransitions": 4}})
    a = candidates("a").start()
    await asyncio.sleep(0.5)
    assert not a.elector.is_leader and a.elector.leader == "someone"
    await asyncio.wait_for(a.leading.wait(), 5)  # nobody renewed it for a lease duration
    assert lease(api)["spec"]["leaseTransitions"] == 5


async def test_crashed_leader_gives_up_leadership(fake_api) -> None:
    client = ApiClient(fake_api[1], max_retries=0)
    stopped = []

    async def crash() -> None:
        raise RuntimeError("leader bug")

    elector = LeaderElector(client, config("a"), on_started_leading=crash, on_stopped_leading=lambda: stopped.append(1))
    try:
        await asyncio.wait_for(elector.run(), 5)
    finally:
        await client.close()
    assert stopped == [1] and not elector.is_leader
