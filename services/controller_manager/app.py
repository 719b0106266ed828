"""The controller-manager service: health/metrics server on :10257 (plain HTTP) and the control loops.

With leader election (the default) the controllers run only while this process holds the
`kube-system/kube-controller-manager` Lease; losing it stops the process, as in Kubernetes, so a
replica that is not sure it leads never acts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from shared.leaderelection import LeaderElectionConfig, LeaderElector, default_identity
from shared.service import add_health_routes, background

from services.controller_manager.config import ControllerManagerConfig
from services.controller_manager.manager import ControllerManager

MANAGER = web.AppKey("manager", ControllerManager)


class LeaderElectionLost(RuntimeError):
    """Raised when the Lease is lost: the loop crashes and the service stops, as kube-controller-manager exits."""


async def run_controllers(app: web.Application, config: ControllerManagerConfig, client: Any) -> None:
    manager = app[MANAGER]
    if not config.leader_elect:
        await manager.run()
        return
    elector = LeaderElector(client, LeaderElectionConfig(
        lease_name=config.leader_elect_resource_name, namespace=config.leader_elect_resource_namespace,
        identity=default_identity(), lease_duration=config.leader_elect_lease_duration,
        renew_deadline=config.leader_elect_renew_deadline, retry_period=config.leader_elect_retry_period,
        release_on_cancel=True,  # a graceful stop hands the Lease over at once (ReleaseOnCancel)
    ), on_started_leading=manager.run)
    await elector.run()
    raise LeaderElectionLost(f"leader election lost: {config.leader_elect_resource_namespace}/"
                             f"{config.leader_elect_resource_name}")


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
