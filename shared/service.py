"""The one service runner every component's `__main__` uses (after uvicorn's shape).

Guarantees:
- `add_common_flags` gives every component the same `--log-format`/`--log-level` flags, each with
  an environment equivalent (`KUBEMU_LOG_FORMAT`, `KUBEMU_LOG_LEVEL`).
- `add_flag` adds a flag whose default comes from an environment variable (parsed with the flag's
  own `type`, so env and command line mean the same); its help names the variable and the default.
  `parse_bool` is the `type` for boolean flags ("1"/"true"/"yes"/"on", any case, are true).
  `add_leader_election_flags` adds Kubernetes' `--leader-elect*` flags (env `KUBEMU_LEADER_ELECT*`).
- `run_service` serves an aiohttp application; SIGTERM/SIGINT only set an event, then the
  application is shut down gracefully (its `cleanup_ctx` and `on_shutdown` run) within
  `shutdown_timeout`, after which whatever is left is cancelled.
- `background(...)` turns a long-running coroutine into a `cleanup_ctx` entry: started with the
  app, cancelled and awaited when it stops. A loop that crashes is logged and stops the service,
  so a dead control loop never hides behind a healthy `/healthz`.
- `add_health_routes` adds `/healthz`, `/livez`, `/readyz` and `/metrics` (prometheus-client).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import prometheus_client
from aiohttp import web

from shared.logging import configure_logging, get_logger

log = get_logger()

STOP_EVENT = web.AppKey("stop_event", asyncio.Event)


def env_default(name: str, default: str | None = None) -> str | None:
    """The value of environment variable `name`, or `default` (flags override both)."""
    return os.environ.get(name, default)


def parse_bool(text: object) -> bool:
    """A flag's boolean value: "1", "true", "yes" or "on" (any case) are true, anything else false."""
    return str(text).lower() in ("1", "true", "yes", "on")


def add_flag(
    parser: argparse.ArgumentParser,
    *names: str,
    env: str,
    default: object,
    type: Callable[[str], object] = str,  # argparse's own names, shadowing the builtins on purpose
    help: str = "",
    dest: str | None = None,
) -> None:
    """Add flag `names` to `parser`, defaulting to `type(env or str(default))`.

    The help text gets " (env ENV; default DEFAULT)" appended.
    """
    extra = {"dest": dest} if dest is not None else {}
    parser.add_argument(*names, type=type, default=type(env_default(env, str(default))),
                        help=f"{help} (env {env}; default {default})", **extra)


def add_leader_election_flags(parser: argparse.ArgumentParser, defaults: object, *, leader_elect_help: str) -> None:
    """component-base's leader-election flags; defaults from `defaults`' `leader_elect*` attributes."""
    d = defaults
    add_flag(parser, "--leader-elect", env="KUBEMU_LEADER_ELECT", default=d.leader_elect, type=parse_bool,
             help=leader_elect_help)
    add_flag(parser, "--leader-elect-lease-duration", env="KUBEMU_LEADER_ELECT_LEASE_DURATION",
             default=d.leader_elect_lease_duration, type=float, help="seconds")
    add_flag(parser, "--leader-elect-renew-deadline", env="KUBEMU_LEADER_ELECT_RENEW_DEADLINE",
             default=d.leader_elect_renew_deadline, type=float, help="seconds")
    add_flag(parser, "--leader-elect-retry-period", env="KUBEMU_LEADER_ELECT_RETRY_PERIOD",
             default=d.leader_elect_retry_period, type=float, help="seconds")
    add_flag(parser, "--leader-elect-resource-name", env="KUBEMU_LEADER_ELECT_RESOURCE_NAME",
             default=d.leader_elect_resource_name, help="Lease name")
    add_flag(parser, "--leader-elect-resource-namespace", env="KUBEMU_LEADER_ELECT_RESOURCE_NAMESPACE",
             default=d.leader_elect_resource_namespace, help="Lease namespace")


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=["json", "console"],
        default=env_default("KUBEMU_LOG_FORMAT"),
        help="log line format (default: console on a TTY, json otherwise; env KUBEMU_LOG_FORMAT)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=env_default("KUBEMU_LOG_LEVEL", "info"),
        help="lowest level logged (env KUBEMU_LOG_LEVEL)",
    )


def setup_logging(component: str, args: argparse.Namespace) -> None:
    configure_logging(component, args.log_format, args.log_level)


def background(name: str, factory: Callable[[web.Application], Awaitable[None]]):
    """A `cleanup_ctx` entry running `factory(app)` as a task for the app's lifetime."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(factory(app), name=name)
        task.add_done_callback(lambda t: _on_background_done(app, name, t))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


def _on_background_done(app: web.Application, name: str, task: asyncio.Task) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is None:
        return
    log.error("service.loop_crashed", loop=name, exc_info=exc)
    stop = app.get(STOP_EVENT)
    if stop is not None:
        stop.set()


def add_health_routes(
    app: web.Application,
    *,
    ready: Callable[[], Awaitable[bool] | bool] | None = None,
    registry: prometheus_client.CollectorRegistry = prometheus_client.REGISTRY,
) -> None:
    """Add `/healthz`, `/livez`, `/readyz` (`ready()` decides) and `/metrics` to `app`."""

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        result = ready() if ready is not None else True
        if asyncio.iscoroutine(result):
            result = await result
        return web.Response(text="ok") if result else web.Response(status=503, text="not ready")

    async def metrics(_: web.Request) -> web.Response:
        body = prometheus_client.generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", ok)
    app.router.add_get("/livez", ok)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


async def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None = None,
    shutdown_timeout: float = 10.0,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve `app` until `stop` is set (or SIGTERM/SIGINT arrives), then shut down gracefully."""
    stop = stop or asyncio.Event()
    app[STOP_EVENT] = stop
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
        log.info("service.started", address=f"{'https' if ssl_context else 'http'}://{host}:{port}")
        await stop.wait()
        log.info("service.stopping", timeout_seconds=shutdown_timeout)
    finally:
        try:
            await asyncio.wait_for(runner.cleanup(), shutdown_timeout)
        except TimeoutError:
            log.warning("service.shutdown_timeout", timeout_seconds=shutdown_timeout)
        log.info("service.stopped")


def use_uvloop() -> None:
    """Run the next event loops on uvloop (when installed and KUBEMU_NO_UVLOOP is not 1): for the
    services whose CPU goes to the event loop itself, the API server (TLS, many small requests)
    and kube-proxy (every forwarded byte is a read and a write)."""
    if os.environ.get("KUBEMU_NO_UVLOOP") == "1":
        return
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_service(app: web.Application, **kwargs) -> None:
    """Run `serve(app, **kwargs)` in a fresh event loop; returns when the service has stopped."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(app, **kwargs))
