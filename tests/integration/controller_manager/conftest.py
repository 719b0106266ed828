"""Fixtures: the controller-manager (in this test's event loop) against a real API server, plus nodes."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from shared.events import EventRecorder
from shared.informer import SharedInformerFactory

from services.controller_manager.base import ControllerContext
from services.controller_manager.config import ControllerManagerConfig
from services.controller_manager.manager import ControllerManager
from tests.conftest import free_port
from tests.fixtures.apiserver import REPO
from tests.helpers import eventually  # noqa: F401 (re-exported to this suite's tests)
from tests.integration.controller_manager.nodes import FakeNodes


def fast_config(**overrides: Any) -> ControllerManagerConfig:
    base = dict(leader_elect=False, node_monitor_period=0.3, node_monitor_grace_period=2.0, node_eviction_rate=100.0,
                node_startup_grace_period=5.0)
    base.update(overrides)
    return ControllerManagerConfig(**base)


@pytest.fixture
async def controller_manager(api_client) -> AsyncIterator[Callable[..., Awaitable[ControllerManager]]]:
    """`await controller_manager(**config)`: a running ControllerManager; stopped at the end."""
    started: list[tuple[ControllerManager, asyncio.Task]] = []

    async def start(**overrides: Any) -> ControllerManager:
        manager = ControllerManager(fast_config(**overrides), api_client)
        task = asyncio.create_task(manager.run())
        started.append((manager, task))
        return manager

    yield start
    for manager, task in started:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@pytest.fixture
async def nodes(api_client) -> AsyncIterator[Callable[..., Awaitable[FakeNodes]]]:
    made: list[FakeNodes] = []

    async def start(names: list[str], **kwargs: Any) -> FakeNodes:
        fake = FakeNodes(api_client, names, **kwargs)
        await fake.start()
        made.append(fake)
        return fake

    yield start
    for fake in made:
        await fake.close()




@contextlib.asynccontextmanager
async def running_controller(cls: type, client: Any, *, workers: int | None = None,
                             **context: Any) -> AsyncIterator[Any]:
    """One controller as the controller-manager runs it (shared informers, an event recorder),
    built directly so a test can give its context a clock."""
    factory = SharedInformerFactory(client, resync_period=0)
    recorder = EventRecorder(client, component=cls.name, host=None)
    ctx = ControllerContext(client=client, informers=factory, recorder_factory=lambda _: recorder, **context)
    controller = cls(ctx, workers=workers)
    factory.start()
    await factory.wait_for_cache_sync()
    task = asyncio.create_task(controller.run())
    try:
        yield controller
    finally:
        controller.shutdown()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await factory.stop()
        await recorder.close()


@pytest.fixture
def scheduler(apiserver, tmp_path):
    """The real kube-scheduler process, binding pods on this test's API server."""
    log = (tmp_path / "scheduler.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "services.scheduler", "--kubeconfig", str(apiserver.kubeconfig),
                             "--secure-port", str(free_port()), "--leader-elect", "false", "--log-format", "json"],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    yield proc
    proc.terminate()
    proc.wait(20)
