"""Runs the selected controllers over one shared informer factory (kube-controller-manager's core).

Guarantees: every controller's informers are registered before any informer starts, so one watch
per resource feeds them all; workers start only after every cache has synced; a controller's
`prepare()` hook (e.g. IPAM marking the CIDRs already in use) runs between the two. `stop()` shuts
every queue down and stops the informers; recorders are flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from shared.events import EventRecorder
from shared.informer import SharedInformerFactory
from shared.logging import get_logger

from services.controller_manager import controllers as registry
from services.controller_manager.base import ControllerContext
from services.controller_manager.config import ControllerManagerConfig

log = get_logger()


class ControllerManager:
    def __init__(self, config: ControllerManagerConfig, client: Any, *, informer_factory: Any = None,
                 recorder_factory: Any = None) -> None:
        self.config = config
        self.client = client
        self.specs = registry.runnable(registry.selected(config.controllers), config)
        self._factory = informer_factory
        self._recorder_factory = recorder_factory
        self._recorders: list[Any] = []
        self.controllers: list[Any] = []
        self._tasks: list[asyncio.Task] = []

    def _make_recorder(self, component: str) -> Any:
        if self._recorder_factory is not None:
            recorder = self._recorder_factory(component)
        else:
            recorder = EventRecorder(self.client, component=component, host=None)
        self._recorders.append(recorder)
        return recorder

    def build(self) -> None:
        if self._factory is None:
            self._factory = SharedInformerFactory(self.client, resync_period=0)
        ctx = ControllerContext(client=self.client, informers=self._factory,
                                recorder_factory=self._make_recorder, options=self.config)
        self.controllers = [registry.build(spec, ctx) for spec in self.specs]

    async def run(self) -> None:
        """Start informers, wait for their caches, run every controller until cancelled."""
        if not self.controllers:
            self.build()
        log.info("controllers.starting", controllers=[c.name for c in self.controllers])
        self._factory.start()
        try:
            await self._factory.wait_for_cache_sync()
            for controller in self.controllers:
                await controller.prepare()
            self._tasks = [asyncio.create_task(c.run(), name=c.name) for c in self.controllers]
            log.info("controllers.started", count=len(self._tasks))
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def stop(self) -> None:
        for controller in self.controllers:
            controller.shutdown()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._factory is not None:
            with contextlib.suppress(Exception):
                await self._factory.stop()
        for recorder in self._recorders:
            with contextlib.suppress(Exception):
                await recorder.close()
