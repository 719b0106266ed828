"""The max-in-flight filter: what counts, who is limited, and the 429 a client gets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import orjson
import pytest
from aiohttp import web

from services.apiserver.app import create_app
from services.apiserver.config import ApiServerConfig
from services.apiserver.inflight import MUTATING, READ_ONLY, MaxInFlight, request_kind
from tests.conftest import free_port
from tests.unit.apiserver.memstore import MemoryBackend


@pytest.mark.parametrize("method, path, query, kind", [
    ("GET", "/api/v1/namespaces/default/pods", {}, READ_ONLY),
    ("GET", "/api/v1/namespaces/default/pods/web", {}, READ_ONLY),
    ("GET", "/healthz", {}, READ_ONLY),
    ("POST", "/api/v1/namespaces/default/pods", {}, MUTATING),
    ("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale", {}, MUTATING),
    ("DELETE", "/api/v1/nodes/node-1", {}, MUTATING),
    ("POST", "/api/v1/namespaces/default/pods/web/binding", {}, MUTATING),
    # long-running: never counted
    ("GET", "/api/v1/namespaces/default/pods", {"watch": "true"}, None),
    ("GET", "/api/v1/watch/namespaces/default/pods", {}, None),
    ("GET", "/apis/apps/v1/watch/deployments", {}, None),
    ("GET", "/api/v1/namespaces/default/pods/web/log", {"follow": "true"}, None),
    ("POST", "/api/v1/namespaces/default/pods/web/exec", {}, None),
    ("POST", "/api/v1/namespaces/default/pods/web/attach", {}, None),
    ("GET", "/api/v1/nodes/node-1/proxy/metrics", {}, None),
    # names that look like verbs or subresources are just names
    ("GET", "/api/v1/namespaces/watch", {}, READ_ONLY),
    ("GET", "/api/v1/namespaces/default/pods/log", {}, READ_ONLY),
])
def test_request_kind(method: str, path: str, query: dict, kind: str | None) -> None:
    assert request_kind(SimpleNamespace(method=method, path=path, query=query)) == kind


def test_limits_per_kind_masters_always_served_zero_is_unlimited() -> None:
    limiter = MaxInFlight(read_only=1, mutating=0)
    release = limiter.admit(READ_ONLY, ("system:authenticated",))
    assert release is not None
    assert limiter.admit(READ_ONLY, ("system:authenticated",)) is None
    masters = limiter.admit(READ_ONLY, ("system:masters", "system:authenticated"))
    assert masters is not None and limiter.current[READ_ONLY] == 2  # served, and counted
    assert all(limiter.admit(MUTATING, ()) is not None for _ in range(50))
    assert limiter.admit(None, ()) is not None and limiter.current[READ_ONLY] == 2
    release()
    masters()
    assert limiter.admit(READ_ONLY, ()) is not None


class GatedBackend(MemoryBackend):
    """Creates of keys containing "slow" wait until `gate` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def create(self, key: str, value: bytes) -> int:
        if "slow" in key:
            self.waiting.set()
            await self.gate.wait()
        return await super().create(key, value)


async def test_a_mutating_request_over_the_limit_gets_429_with_retry_after(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('admin-token,admin,1,"system:masters"\nnode-token,system:node:n1,2,"system:nodes"\n')
    config = ApiServerConfig(port=free_port(), tls=False, token_auth_file=tokens, compaction_interval=0,
                             max_requests_inflight=0, max_mutating_requests_inflight=1)
    backend = GatedBackend()
    runner = web.AppRunner(create_app(config, backend=backend))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", config.port).start()
    url = f"http://127.0.0.1:{config.port}/api/v1/namespaces/default/configmaps"

    async def create(session: aiohttp.ClientSession, name: str, token: str) -> tuple[int, str, dict]:
        async with session.post(url, data=orjson.dumps({"metadata": {"name": name}}),
                                headers={"Authorization": f"Bearer {token}",
                                         "Content-Type": "application/json"}) as resp:
            return resp.status, await resp.text(), dict(resp.headers)

    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):  # the default namespace exists once the server has bootstrapped
                if (await create(session, "ready", "admin-token"))[0] == 201:
                    break
                await asyncio.sleep(0.05)
            slow = asyncio.create_task(create(session, "slow", "node-token"))
            await asyncio.wait_for(backend.waiting.wait(), 5)

            status, body, headers = await create(session, "second", "node-token")
            assert (status, body) == (429, "Too many requests, please try again later.\n")
            assert headers["Retry-After"] == "1"
            # system:masters is always served; reads are another kind and not limited here.
            assert (await create(session, "by-admin", "admin-token"))[0] == 201
            async with session.get(url, headers={"Authorization": "Bearer node-token"}) as resp:
                assert resp.status == 200
            async with session.get(f"http://127.0.0.1:{config.port}/metrics",
                                   headers={"Authorization": "Bearer admin-token"}) as resp:
                metrics = await resp.text()
            assert 'apiserver_current_inflight_requests{request_kind="mutating"} 1.0' in metrics
            assert 'apiserver_request_total{code="429",resource="",verb="POST"} 1.0' in metrics

            backend.gate.set()
            assert (await slow)[0] == 201
            assert (await create(session, "third", "node-token"))[0] == 201
    finally:
        await runner.cleanup()
