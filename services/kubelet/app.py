"""The kubelet service: one kubelet (or N hollow ones) and its HTTP server on --node-ip:--port.

Guarantees: `create_app(config, client=...)` returns an aiohttp app serving /healthz, /livez,
/readyz (ready once every kubelet registered its Node and synced its pods), /metrics, and the
kubelet API (server.py); the kubelet(s) run as a background loop for the app's lifetime, and a
crashed loop stops the service. On shutdown containers keep running; events are flushed.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from shared.client import ApiClient
from shared.service import add_health_routes, background
from services.kubelet import metrics
from services.kubelet.config import KubeletConfig
from services.kubelet.hollow import HollowNodes
from services.kubelet.kubelet import Kubelet
from services.kubelet.runtime import create_runtime
from services.kubelet.server import STOPPING, create_routes

KUBELETS = web.AppKey("kubelets", list)
CLIENT = web.AppKey("client", ApiClient)


def create_app(config: KubeletConfig, *, client: ApiClient) -> web.Application:
    app = web.Application()
    app[CLIENT] = client
    if config.hollow_nodes > 0:
        hollow = HollowNodes(config, client)
        app[KUBELETS] = hollow.kubelets
        run = hollow.run
    else:
        runtime = create_runtime(config.runtime, root=config.root_dir, start_delay=config.fake_start_delay)
        kubelet = Kubelet(config, client, runtime)
        app[KUBELETS] = [kubelet]
        run = kubelet.run
    for k in app[KUBELETS]:
        metrics.NODE_NAME.labels(node=k.config.node_name).set(1)
    add_health_routes(app, ready=lambda: all(k.ready.is_set() for k in app[KUBELETS]))
    app.add_routes(create_routes(lambda: app[KUBELETS]))
    app[STOPPING] = asyncio.Event()
    app.on_shutdown.append(_stopping)
    app.cleanup_ctx.append(background("kubelet", lambda _app: run()))
    app.on_cleanup.append(lambda _app: client.close())
    return app


async def _stopping(app: web.Application) -> None:
    app[STOPPING].set()
