"""The scheduler service: health/metrics on :10259 (plain HTTP) and the scheduling loop.

Guarantees:
- Informers on pods and nodes start at once, leader or not, so a standby replica's cache and
  queue are warm; the scheduling loop starts only after they synced and, with leader election
  (the default), only while this process holds the `kube-system/kube-scheduler` Lease. Losing
  the Lease stops the scheduling loop at once and then the service (LeadershipLost), as
  kube-scheduler exits, so two replicas never both bind.
- `/readyz` is ready once the informers synced; `/metrics` serves this scheduler's metrics.
- On shutdown the queue closes, binds in flight get a moment to finish, and events are flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from shared.events import EventRecorder
from shared.informer import SharedInformerFactory
from shared.leaderelection import LeaderElectionConfig, LeaderElector, default_identity
from shared.logging import get_logger
from shared.resources import NODES, PODDISRUPTIONBUDGETS, PODS
from shared.service import add_health_routes, background
from services.scheduler.algorithm import Algorithm
from services.scheduler.cache import SchedulerCache
from services.scheduler.config import SchedulerConfig
from services.scheduler.eventhandlers import EventHandlers
from services.scheduler.metrics import SchedulerMetrics
from services.scheduler.plugins import DefaultPreemption, default_framework
from services.scheduler.queue import SchedulingQueue
from services.scheduler.scheduler import Scheduler

log = get_logger()
SHUTDOWN_BIND_GRACE = 5.0


@dataclass
class SchedulerState:
    """Everything one scheduler instance holds (exposed on the app for tests and benchmarks)."""

    config: SchedulerConfig
    scheduler: Scheduler
    handlers: EventHandlers
    metrics: SchedulerMetrics
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    leading: bool = False


STATE = web.AppKey("scheduler_state", SchedulerState)


def build_scheduler(config: SchedulerConfig, *, client: Any = None, recorder: Any = None,
                    metrics: SchedulerMetrics | None = None,
                    rng: random.Random | None = None) -> tuple[Scheduler, EventHandlers]:
    """The scheduler's parts, wired, without informers: what the app and tests share."""
    cache = SchedulerCache(assumed_pod_ttl=config.assumed_pod_ttl)
    framework = default_framework(client, profile_name=config.scheduler_name, recorder=recorder,
                                  node_lister=cache.node_infos, pods_with_affinity=cache.pods_with_affinity)
    queue = SchedulingQueue(
        events_to_register=framework.events_to_register(),
        initial_backoff=config.pod_initial_backoff_seconds, max_backoff=config.pod_max_backoff_seconds,
        max_in_unschedulable=config.pod_max_in_unschedulable_pods_seconds,
        backoff_flush_period=config.backoff_flush_period)
    framework.pod_nominator = queue.nominator  # the Handle's PodNominator is the queue's, as in kube-scheduler
    algorithm = Algorithm(percentage_of_nodes_to_score=config.percentage_of_nodes_to_score, rng=rng)
    scheduler = Scheduler(framework=framework, cache=cache, queue=queue, client=client, recorder=recorder,
                          algorithm=algorithm, metrics=metrics)
    for plugin in framework.post_filter_plugins:
        if isinstance(plugin, DefaultPreemption):
            plugin.spawn = scheduler.spawn  # its API calls are the loop's tasks, awaited on shutdown as binds are
    handlers = EventHandlers(cache=cache, queue=queue, scheduler_names=[config.scheduler_name])
    return scheduler, handlers


def create_app(config: SchedulerConfig, *, client: Any) -> web.Application:
    app = web.Application()
    metrics = SchedulerMetrics()
    recorder = EventRecorder(client, component=config.scheduler_name)
    scheduler, handlers = build_scheduler(config, client=client, recorder=recorder, metrics=metrics)
    metrics.watch_queue(scheduler.queue.pending_pods)
    metrics.watch_cache(scheduler.cache)
    metrics.leader.labels(name=config.leader_elect_resource_name).set(0)
    state = app[STATE] = SchedulerState(config, scheduler, handlers, metrics)
    add_health_routes(app, ready=state.synced.is_set, registry=metrics.registry)

    async def run(app: web.Application) -> None:
        try:
            await _run(state, client)
        finally:
            await asyncio.shield(_close(state, recorder, client))

    app.cleanup_ctx.append(background("scheduler", run))
    return app


async def _run(state: SchedulerState, client: Any) -> None:
    factory = SharedInformerFactory(client)
    pods, nodes = factory.informer(PODS), factory.informer(NODES)
    budgets = factory.informer(PODDISRUPTIONBUDGETS)  # for preemption, as kube-scheduler's PDB lister
    for plugin in state.scheduler.framework.post_filter_plugins:
        if isinstance(plugin, DefaultPreemption):
            plugin.pdb_lister = budgets.lister.list
    h = state.handlers
    nodes.add_event_handler(on_add=h.on_node_add, on_update=h.on_node_update, on_delete=h.on_node_delete)
    pods.add_event_handler(on_add=h.on_pod_add, on_update=h.on_pod_update, on_delete=h.on_pod_delete)
    state.scheduler.pod_lister = lambda namespace, name: pods.lister.get(name, namespace=namespace)
    factory.start()
    loops: list[asyncio.Task] = []
    try:
        await factory.wait_for_cache_sync()
        state.synced.set()
        log.info("scheduler.caches_synced", nodes=state.scheduler.cache.node_count(),
                 pending=sum(state.scheduler.queue.pending_pods().values()))
        loops = [asyncio.create_task(state.scheduler.queue.run(), name="scheduling-queue"),
                 asyncio.create_task(state.scheduler.cache.run_cleanup(), name="assumed-pod-cleanup")]
        await _schedule(state, client)
    finally:
        for task in loops:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*loops, return_exceptions=True)
        await factory.stop()


class LeadershipLost(RuntimeError):
    """Raised when this replica stopped leading: the service stops, as kube-scheduler exits."""


async def _schedule(state: SchedulerState, client: Any) -> None:
    config = state.config
    if not config.leader_elect:
        await _lead(state)
        return
    lease = f"{config.leader_elect_resource_namespace}/{config.leader_elect_resource_name}"
    elector = LeaderElector(client, LeaderElectionConfig(
        lease_name=config.leader_elect_resource_name, namespace=config.leader_elect_resource_namespace,
        identity=default_identity(), lease_duration=config.leader_elect_lease_duration,
        renew_deadline=config.leader_elect_renew_deadline, retry_period=config.leader_elect_retry_period,
        release_on_cancel=True,  # a graceful stop hands the Lease over at once (ReleaseOnCancel)
    ), on_started_leading=lambda: _lead(state),
        on_stopped_leading=lambda: log.info("scheduler.stopped_leading", lease=lease))
    await elector.run()
    # run() returns only once leadership is lost (or the leading loop crashed). A crashed
    # background loop stops the service (shared.service.background), which is kube-scheduler's exit.
    raise LeadershipLost(f"leaderelection lost: {lease}")


async def _lead(state: SchedulerState) -> None:
    state.leading = True
    leader = state.metrics.leader.labels(name=state.config.leader_elect_resource_name)
    leader.set(1)
    log.info("scheduler.leading", profile=state.config.scheduler_name, lease_held=state.config.leader_elect)
    try:
        await state.scheduler.run()
    finally:
        state.leading = False
        leader.set(0)


async def _close(state: SchedulerState, recorder: Any, client: Any) -> None:
    state.scheduler.queue.close()
    try:
        await asyncio.wait_for(state.scheduler.wait_for_tasks(), SHUTDOWN_BIND_GRACE)
    except TimeoutError:
        log.warning("scheduler.binds_unfinished", timeout_seconds=SHUTDOWN_BIND_GRACE)
    with contextlib.suppress(Exception):
        await recorder.close()
    with contextlib.suppress(Exception):
        await client.close()
