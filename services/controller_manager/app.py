"""The controller-manager service: health/metrics server on :10257 (plain HTTP) and the control loops.

With leader election (the default) the controllers run only while this process holds the
`kube-system/kube-controller-manager` Lease; losing it stops the process, as in Kubernetes, so a
replica that is not sure it leads never acts.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from typing import Any

from aiohttp import web

from shared.logging import get_logger
from shared.service import STOP_EVENT, add_health_routes, background

from services.controller_manager.config import ControllerManagerConfig
from services.controller_manager.manager import ControllerManager

log = get_logger()

MANAGER = web.AppKey("manager", ControllerManager)


def identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4()}"


async def run_controllers(app: web.Application, config: ControllerManagerConfig, client: Any) -> None:
    manager = app[MANAGER]
    if not config.leader_elect:
        await manager.run()
        return
    from shared.leaderelection import LeaderElectionConfig, LeaderElector

    def stopped_leading() -> None:
        log.error("leaderelection.lost", lease=config.leader_elect_resource_name)
        stop = app.get(STOP_EVENT)
        if stop is not None:
            stop.set()
        else:  # not served by run_service: nothing else would stop us
            os._exit(1)

    elector = LeaderElector(client, LeaderElectionConfig(
        lease_name=config.leader_elect_resource_name, namespace=config.leader_elect_resource_namespace,
        identity=identity(), lease_duration=config.leader_elect_lease_duration,
        renew_deadline=config.leader_elect_renew_deadline, retry_period=config.leader_elect_retry_period,
    ), on_started_leading=manager.run, on_stopped_leading=stopped_leading)
    await elector.run()


def create_app(config: ControllerManagerConfig, *, client: Any) -> web.Application:
    app = web.Application()
    app[MANAGER] = ControllerManager(config, client)
    add_health_routes(app)

    async def controllers(app: web.Application) -> None:
        try:
            await run_controllers(app, config, client)
        finally:
            await asyncio.shield(client.close())

    app.cleanup_ctx.append(background("controllers", controllers))
    return app
