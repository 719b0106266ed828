"""Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection package.

Guarantees:
- Candidates race for one Lease (`namespace/lease_name`, kube-system by default). A candidate
  takes it when it does not exist, when it was released (empty `holderIdentity`), or when its
  record has not changed for `leaseDurationSeconds` as observed on the candidate's own clock (so
  clocks need not agree). Every write is an update carrying the read `resourceVersion`
  (compare-and-swap): of two candidates at once, exactly one wins.
- The Lease spec is Kubernetes': `holderIdentity`, `leaseDurationSeconds`, `acquireTime`,
  `renewTime` (MicroTime, `2006-01-02T15:04:05.000000Z`) and `leaseTransitions` (+1 whenever the
  holder changes).
- The leader renews every `retry_period`. If it has not renewed successfully for `renew_deadline`
  (< `lease_duration`), it stops leading: the `on_started_leading` task is cancelled and
  `on_stopped_leading` is called — before any other candidate may take the lease.
- `run()` returns once leadership is lost (as client-go's `Run`: the caller usually exits), or
  once `on_started_leading` has raised (a broken leader must not keep the lease). If
  `run()` is cancelled while leading, `on_stopped_leading` is called, and with
  `release_on_cancel` the lease is released so a successor need not wait out the lease.
- `leader_election_master_status{name}` (prometheus-client default registry) is 1 while leading.
- `default_identity()` is what Kubernetes components use: `<hostname>_<uuid>`.
- Logs `leaderelection.acquired`, `leaderelection.lost`, `leaderelection.released` and
  `leaderelection.new_leader`, each with `identity` and the lease `key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from prometheus_client import Gauge

from shared.client import AlreadyExists, ApiClient, ApiError, NotFound
from shared.logging import get_logger
from shared.resources import LEASES

log = get_logger()

MICROTIME = "%Y-%m-%dT%H:%M:%S.%fZ"
JITTER_FACTOR = 1.2

MASTER_STATUS = Gauge(
    "leader_election_master_status",
    "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. "
    "'name' is the string used to identify the lease. Please make sure to group by name.",
    ["name"],
)


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def now_microtime() -> str:
    return datetime.now(timezone.utc).strftime(MICROTIME)


@dataclass(frozen=True)
class LeaderElectionConfig:
    lease_name: str
    identity: str
    namespace: str = "kube-system"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = False

    def __post_init__(self) -> None:
        if not self.identity:
            raise ValueError("leader election needs an identity")
        if not self.lease_duration > self.renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if not self.renew_deadline > JITTER_FACTOR * self.retry_period:
            raise ValueError("renew_deadline must be greater than retry_period*1.2")


class LeaderElector:
    def __init__(self, client: ApiClient, config: LeaderElectionConfig, *,
                 on_started_leading: Callable[[], Awaitable[Any]] | None = None,
                 on_stopped_leading: Callable[[], Any] | None = None,
                 on_new_leader: Callable[[str], Any] | None = None) -> None:
        self.client, self.config = client, config
        self.on_started_leading, self.on_stopped_leading = on_started_leading, on_stopped_leading
        self.on_new_leader = on_new_leader
        self._is_leader = False
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0  # monotonic time the observed record last changed
        self._observed_rv: str | None = None
        self._last_renew = 0.0
        self._leader_task: asyncio.Task | None = None
        self.key = f"{config.namespace}/{config.lease_name}"

    @property
    def is_leader(self) -> bool:
        return self._is_leader

    @property
    def leader(self) -> str:
        """The holder of the lease as last observed ("" if none)."""
        return (self._observed_spec or {}).get("holderIdentity") or ""

    async def run(self) -> None:
        """Campaign, lead until the lease cannot be renewed, then return."""
        cancelled = False
        try:
            await self._acquire()
            self._start_leading()
            await self._renew_until_lost()
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            await self._finish(release=cancelled and self.config.release_on_cancel)

    # --- campaigning ------------------------------------------------------------------------------

    async def _acquire(self) -> None:
        while not await self._try(self.config.retry_period * 2):
            period = self.config.retry_period
            await asyncio.sleep(period * (1 + random.random() * JITTER_FACTOR))

    def _start_leading(self) -> None:
        self._is_leader = True
        MASTER_STATUS.labels(self.config.lease_name).set(1)
        self._last_renew = time.monotonic()
        log.info("leaderelection.acquired", identity=self.config.identity, key=self.key)
        if self.on_started_leading is not None:
            self._leader_task = asyncio.create_task(self.on_started_leading(), name=f"leading-{self.key}")

    async def _renew_until_lost(self) -> None:
        cfg = self.config
        while True:
            await asyncio.sleep(cfg.retry_period)
            if self._leading_failed():
                return
            while True:
                remaining = self._last_renew + cfg.renew_deadline - time.monotonic()
                if remaining <= 0:
                    log.info("leaderelection.lost", identity=cfg.identity, key=self.key,
                             reason="failed to renew lease within renew deadline")
                    return
                if await self._try(remaining):
                    break
                if not self._is_holder():
                    log.info("leaderelection.lost", identity=cfg.identity, key=self.key,
                             reason=f"lease taken by {self.leader}")
                    return
                await asyncio.sleep(min(cfg.retry_period, max(remaining, 0)))

    def _leading_failed(self) -> bool:
        """A crashed `on_started_leading` must not keep holding the lease while doing nothing."""
        task = self._leader_task
        if task is None or not task.done() or task.cancelled() or task.exception() is None:
            return False
        log.error("leaderelection.leading_failed", identity=self.config.identity, key=self.key,
                  exc_info=task.exception())
        return True

    async def _finish(self, *, release: bool) -> None:
        was_leader = self._is_leader
        self._is_leader = False
        MASTER_STATUS.labels(self.config.lease_name).set(0)
        if self._leader_task is not None:
            self._leader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._leader_task
            self._leader_task = None
        if not was_leader:
            return
        if release:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release())
        if self.on_stopped_leading is not None:
            result = self.on_stopped_leading()
            if inspect.isawaitable(result):
                await result

    # --- one attempt --------------------------------------------------------------------------------

    async def _try(self, timeout: float) -> bool:
        """tryAcquireOrRenew, bounded by `timeout`; True if we hold the lease afterwards."""
        try:
            return await asyncio.wait_for(self._try_acquire_or_renew(), timeout)
        except (ApiError, TimeoutError) as exc:
            log.debug("leaderelection.attempt_failed", identity=self.config.identity, key=self.key,
                      error=f"{type(exc).__name__}: {exc}")
            return False

    async def _try_acquire_or_renew(self) -> bool:
        cfg, now = self.config, now_microtime()
        try:
            lease = await self.client.get(LEASES, cfg.lease_name, namespace=cfg.namespace)
        except NotFound:
            return await self._create(now)
        spec = lease.get("spec") or {}
        self._observe(spec, lease["metadata"].get("resourceVersion"))
        holder = spec.get("holderIdentity") or ""
        if holder and holder != cfg.identity and not self._expired(spec):
            return False
        if holder == cfg.identity:
            new_spec = {**spec, "renewTime": now, "leaseDurationSeconds": self._duration_seconds()}
        else:
            new_spec = {"holderIdentity": cfg.identity, "leaseDurationSeconds": self._duration_seconds(),
                        "acquireTime": now, "renewTime": now,
                        "leaseTransitions": int(spec.get("leaseTransitions") or 0) + 1}
        lease["spec"] = new_spec
        updated = await self.client.update(LEASES, lease)
        self._observe(updated.get("spec") or new_spec, updated["metadata"].get("resourceVersion"))
        self._last_renew = time.monotonic()
        return True

    async def _create(self, now: str) -> bool:
        cfg = self.config
        body = {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": cfg.lease_name, "namespace": cfg.namespace},
            "spec": {"holderIdentity": cfg.identity, "leaseDurationSeconds": self._duration_seconds(),
                     "acquireTime": now, "renewTime": now, "leaseTransitions": 0},
        }
        try:
            created = await self.client.create(LEASES, body)
        except AlreadyExists:
            return False
        self._observe(created.get("spec") or body["spec"], created["metadata"].get("resourceVersion"))
        self._last_renew = time.monotonic()
        return True

    async def _release(self) -> None:
        """Give the lease up (ReleaseOnCancel): empty holder, 1 s duration, so a successor need not wait."""
        cfg = self.config
        lease = await self.client.get(LEASES, cfg.lease_name, namespace=cfg.namespace)
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") != cfg.identity:
            return
        now = now_microtime()
        lease["spec"] = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": now,
                         "renewTime": now}
        await self.client.update(LEASES, lease)
        log.info("leaderelection.released", identity=cfg.identity, key=self.key)

    # --- what we have seen ----------------------------------------------------------------------------

    def _observe(self, spec: dict[str, Any], resource_version: str | None) -> None:
        if spec != self._observed_spec:
            old_holder = self.leader
            self._observed_spec, self._observed_at = dict(spec), time.monotonic()
            holder = self.leader
            if holder and holder != old_holder:
                log.info("leaderelection.new_leader", identity=self.config.identity, key=self.key, leader=holder)
                if self.on_new_leader is not None:
                    self.on_new_leader(holder)
        self._observed_rv = resource_version

    def _expired(self, spec: dict[str, Any]) -> bool:
        duration = float(spec.get("leaseDurationSeconds") or self.config.lease_duration)
        return self._observed_at + duration <= time.monotonic()

    def _is_holder(self) -> bool:
        return self.leader == self.config.identity

    def _duration_seconds(self) -> int:
        return max(1, round(self.config.lease_duration))
