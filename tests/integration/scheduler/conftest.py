"""Fixtures for the scheduler's integration tests: a real API server and schedulers started on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import free_port


@pytest.fixture
async def start_scheduler(apiserver) -> AsyncIterator[Callable[..., Any]]:
    """`state = await start_scheduler(**config)`: an in-process scheduler (create_app) on `apiserver`."""
    from shared.client import ApiClient
    from services.scheduler.app import STATE, create_app
    from services.scheduler.config import SchedulerConfig

    runners: list[web.AppRunner] = []

    async def start(**overrides: Any):
        config = SchedulerConfig(**{"leader_elect": False, "secure_port": free_port(), **overrides})
        client = ApiClient(server=apiserver.url, token=apiserver.token, ca_file=str(apiserver.ca_file))
        app = create_app(config, client=client)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", config.secure_port).start()
        runners.append(runner)
        state = app[STATE]
        import asyncio

        await asyncio.wait_for(state.synced.wait(), 20)
        return state

    yield start
    for runner in reversed(runners):
        await runner.cleanup()
