"""kube-proxy as an aiohttp application: informers on Services and EndpointSlices driving the proxier.

Guarantees:
- `create_app(config)` serves kube-proxy's healthz (`/healthz`, `/livez`; JSON with lastUpdated, 503
  until the first sync or while a change waits too long) on the app's own address, and starts a
  second server on `config.metrics_bind_address` with `/metrics` (and `/healthz`).
- Its background loop lists and watches Services and EndpointSlices through one shared informer
  factory, waits for both caches, then syncs on every change (bounded by `min_sync_period`) and
  every `sync_period`. EndpointSlices are tied to Services by their `kubernetes.io/service-name`
  label, as kube-proxy does.
- On shutdown the listeners close, the informers stop and the API client is closed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from shared.client import ApiClient
from shared.informer import SharedInformerFactory
from shared.logging import get_logger
from shared.resources import ENDPOINTSLICES, SERVICES
from shared.service import add_health_routes, background

from services.proxy.config import ProxyConfig, split_host_port
from services.proxy.server import ProxyServer

log = get_logger()

SERVER = web.AppKey("proxy_server", ProxyServer)
CLIENT = web.AppKey("proxy_client", object)


def create_app(config: ProxyConfig, *, client: ApiClient | None = None) -> web.Application:
    """The proxy app; `client` (an ApiClient the caller owns) replaces the one built from config."""
    app = web.Application()
    app[SERVER] = ProxyServer(config)
    app[CLIENT] = client
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/livez", _healthz)
    app.cleanup_ctx.append(_metrics_server)
    app.cleanup_ctx.append(background("proxy-sync", _run))
    return app


async def _healthz(request: web.Request) -> web.Response:
    healthy, body = request.app[SERVER].healthz()
    return web.json_response(body, status=200 if healthy else 503)


async def _metrics_server(app: web.Application) -> AsyncIterator[None]:
    server = app[SERVER]
    metrics_app = web.Application()
    add_health_routes(metrics_app, registry=server.metrics.registry)
    runner = web.AppRunner(metrics_app, access_log=None)
    await runner.setup()
    host, port = split_host_port(server.config.metrics_bind_address)
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("proxy.metrics_serving", address=f"http://{host}:{port}/metrics")
    except OSError as exc:  # kube-proxy logs and carries on without metrics
        log.error("proxy.metrics_bind_failed", address=server.config.metrics_bind_address, error=str(exc))
    yield
    await runner.cleanup()


def _client_from_config(config: ProxyConfig) -> ApiClient:
    if config.client_args is not None:
        return ApiClient.from_args(config.client_args)
    if config.kubeconfig:
        return ApiClient.from_kubeconfig(config.kubeconfig)
    return ApiClient(server=config.apiserver, token=config.token, ca_file=config.ca_file)


async def _run(app: web.Application) -> None:
    server: ProxyServer = app[SERVER]
    own = app[CLIENT] is None
    client = _client_from_config(server.config) if own else app[CLIENT]
    factory = SharedInformerFactory(client, resync_period=0)
    services = factory.informer(SERVICES)
    slices = factory.informer(ENDPOINTSLICES)
    for informer in (services, slices):
        informer.add_event_handler(on_add=lambda obj: server.request_sync(),
                                   on_update=lambda old, new: server.request_sync(),
                                   on_delete=lambda obj: server.request_sync())
    server.set_sources(lambda: services.lister.list(), lambda: slices.lister.list())
    log.info("proxy.starting", node=server.config.node_name or None, mode=server.config.mode,
             node_port_addresses=server.node_addresses, min_sync_period=server.config.min_sync_period)
    factory.start()
    try:
        await factory.wait_for_cache_sync()
        log.info("proxy.caches_synced")
        server.request_sync()
        await server.run()
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await factory.stop()
        if own:
            await client.close()
