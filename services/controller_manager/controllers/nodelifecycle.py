"""Node lifecycle controller (k8s pkg/controller/nodelifecycle): notices dead nodes.

Guarantees, for each node:
- it is alive while its Lease in kube-node-lease is renewed (or its Ready heartbeat changes); the
  time we last saw either change is its probe time (a fresh controller gives every node a full
  grace period, as Kubernetes does);
- after `--node-monitor-grace-period` (40 s) without a sign of life, Ready, MemoryPressure,
  DiskPressure and PIDPressure become Unknown (reason NodeStatusUnknown, "Kubelet stopped posting
  node status."; a node that never posted status gets NodeStatusNeverUpdated after
  `--node-startup-grace-period`), a NodeNotReady event is recorded and the node's pods get
  Ready=False at once;
- taints follow the Ready condition: Unknown → node.kubernetes.io/unreachable (NoExecute and
  NoSchedule), False → node.kubernetes.io/not-ready (both), True → neither; plus the NoSchedule
  taints for unschedulable and the pressure conditions. Taints of others are kept; each of ours
  keeps its timeAdded while it stays. The taint-eviction controller acts on the NoExecute ones;
- adding NoExecute taints is rate limited per zone (topology.kubernetes.io/region+zone), as
  Kubernetes' zone tainters: `--node-eviction-rate` (0.1 nodes/s, burst 1) in a Normal zone;
  in a PartialDisruption zone (> 2 and ≥ `--unhealthy-zone-threshold` of its nodes not Ready)
  `--secondary-node-eviction-rate` if the zone is larger than `--large-cluster-size-threshold`,
  else none; and when every zone is fully disrupted (no Ready node at all — more likely the
  controller is cut off than every node dead) no node gets or keeps a NoExecute taint.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from datetime import datetime

from shared.client import NotFound
from shared.controller import run_workers
from shared.resources import LEASES, NODES, PODS

from shared.logging import get_logger

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.objects import (
    NODE_NAME_INDEX,
    format_time,
    get_condition,
    meta,
    name_of,
    pod_node_name,
    unwrap_tombstone,
)

log = get_logger()

NODE_LEASE_NAMESPACE = "kube-node-lease"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
CONDITION_TAINTS = {
    "MemoryPressure": "node.kubernetes.io/memory-pressure",
    "DiskPressure": "node.kubernetes.io/disk-pressure",
    "PIDPressure": "node.kubernetes.io/pid-pressure",
    "NetworkUnavailable": "node.kubernetes.io/network-unavailable",
}
MANAGED_TAINT_KEYS = {UNREACHABLE, NOT_READY, UNSCHEDULABLE, *CONDITION_TAINTS.values()}
UNKNOWN_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


NORMAL, PARTIAL_DISRUPTION, FULL_DISRUPTION = "Normal", "PartialDisruption", "FullDisruption"


@dataclass
class TokenBucket:
    """flowcontrol.NewTokenBucketRateLimiter(qps, burst): `try_accept` takes a token if one is there."""

    qps: float
    burst: int = 1
    tokens: float = 1.0
    last: datetime | None = None

    def _refill(self, now: datetime) -> None:
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.last).total_seconds() * self.qps)
        self.last = now

    def try_accept(self, now: datetime) -> bool:
        if self.qps <= 0:
            return False
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def wait_seconds(self) -> float:
        return (1 - self.tokens) / self.qps if self.qps > 0 else 1.0


def zone_of(node: dict) -> str:
    labels = meta(node).get("labels") or {}
    return f"{labels.get('topology.kubernetes.io/region', '')}:{labels.get('topology.kubernetes.io/zone', '')}"


def zone_state(ready: int, not_ready: int, unhealthy_threshold: float) -> str:
    """ComputeZoneState."""
    if ready == 0 and not_ready > 0:
        return FULL_DISRUPTION
    if not_ready > 2 and not_ready / (ready + not_ready) >= unhealthy_threshold:
        return PARTIAL_DISRUPTION
    return NORMAL


@dataclass
class NodeHealth:
    probe: datetime
    renew_time: str | None
    heartbeat: str | None


def desired_taints(node: dict) -> set[tuple[str, str]]:
    """(key, effect) of the taints this controller wants on `node`, from its conditions and spec."""
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = get_condition(conditions, "Ready")
    wanted: set[tuple[str, str]] = set()
    if ready is not None and ready.get("status") == "Unknown":
        wanted |= {(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")}
    elif ready is not None and ready.get("status") == "False":
        wanted |= {(NOT_READY, "NoExecute"), (NOT_READY, "NoSchedule")}
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.add((UNSCHEDULABLE, "NoSchedule"))
    for ctype, key in CONDITION_TAINTS.items():
        cond = get_condition(conditions, ctype)
        if cond is not None and cond.get("status") == "True":
            wanted.add((key, "NoSchedule"))
    return wanted


def reconcile_taints(current: list[dict], wanted: set[tuple[str, str]], now: datetime) -> list[dict] | None:
    """The node's new taint list, or None if it is already right."""
    have = {(t.get("key"), t.get("effect")) for t in current if t.get("key") in MANAGED_TAINT_KEYS}
    if have == wanted:
        return None
    kept = [t for t in current if t.get("key") not in MANAGED_TAINT_KEYS or (t.get("key"), t.get("effect")) in wanted]
    for key, effect in sorted(wanted - have):
        kept.append({"key": key, "effect": effect, "timeAdded": format_time(now)})
    return kept


def mark_unknown(node: dict, now: datetime) -> bool:
    """Set Ready and the pressure conditions to Unknown (tryUpdateNodeHealth); True if changed."""
    status = node.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    stamp = format_time(now)
    changed = False
    for ctype in UNKNOWN_CONDITIONS:
        cond = get_condition(conditions, ctype)
        if cond is None:
            conditions.append({"type": ctype, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                               "message": "Kubelet never posted node status.",
                               "lastHeartbeatTime": meta(node).get("creationTimestamp"), "lastTransitionTime": stamp})
            changed = True
        elif cond.get("status") != "Unknown":
            cond.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                        lastTransitionTime=stamp)
            changed = True
    return changed


class NodeLifecycleController(Controller):
    name = "node-lifecycle-controller"
    queue_name = "node_lifecycle"
    default_workers = 1
    recorder_component = "node-controller"

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        opts = ctx.options
        self.grace = getattr(opts, "node_monitor_grace_period", 40.0)
        self.startup_grace = getattr(opts, "node_startup_grace_period", 60.0)
        self.period = getattr(opts, "node_monitor_period", 5.0)
        self.eviction_rate = getattr(opts, "node_eviction_rate", 0.1)
        self.secondary_eviction_rate = getattr(opts, "secondary_node_eviction_rate", 0.01)
        self.unhealthy_threshold = getattr(opts, "unhealthy_zone_threshold", 0.55)
        self.large_cluster = getattr(opts, "large_cluster_size_threshold", 50)
        self.limiters: dict[str, TokenBucket] = {}
        self.recorder = ctx.recorder_factory(self.recorder_component)
        self.health: dict[str, NodeHealth] = {}
        self.node_informer = ctx.informers.informer(NODES)
        self.lease_informer = ctx.informers.informer(LEASES, namespace=NODE_LEASE_NAMESPACE)
        self.pod_informer = ctx.informers.informer(PODS)
        self.pod_informer.add_indexer(NODE_NAME_INDEX, pod_node_name)
        self.node_informer.add_event_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                             on_delete=self._on_node_delete)
        self.lease_informer.add_event_handler(on_add=self._on_lease, on_update=lambda o, n: self._on_lease(n))

    def _on_node_delete(self, obj: object) -> None:
        node = unwrap_tombstone(obj)
        if node is not None:
            self.queue.add(name_of(node))

    def _on_lease(self, lease: dict) -> None:
        self.queue.add(name_of(lease))

    async def run(self) -> None:
        await asyncio.gather(run_workers(self.queue, self.timed_sync, workers=self.workers, name=self.queue_name),
                             self._monitor())

    async def _monitor(self) -> None:
        """monitorNodeHealth's period: look at every node now and then, leases or not."""
        while not self.queue.shutting_down:
            for node in self.node_informer.lister.list():
                self.queue.add(name_of(node))
            await asyncio.sleep(self.period)

    def _observe(self, node: dict, now: datetime) -> NodeHealth:
        name = name_of(node)
        lease = self.lease_informer.lister.get(name, NODE_LEASE_NAMESPACE)
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        ready = get_condition((node.get("status") or {}).get("conditions"), "Ready")
        heartbeat = (ready or {}).get("lastHeartbeatTime")
        health = self.health.get(name)
        if health is None:
            health = self.health[name] = NodeHealth(probe=now, renew_time=renew, heartbeat=heartbeat)
        elif renew != health.renew_time or heartbeat != health.heartbeat:
            health.probe, health.renew_time, health.heartbeat = now, renew, heartbeat
        return health

    async def sync(self, key: str) -> None:
        cached = self.node_informer.lister.get(key)
        if cached is None:
            self.health.pop(key, None)
            return
        now = self.now()
        health = self._observe(cached, now)
        before = get_condition((cached.get("status") or {}).get("conditions"), "Ready")
        grace = self.grace if before is not None else self.startup_grace
        elapsed = (now - health.probe).total_seconds()
        node = copy.deepcopy(cached)
        if elapsed > grace and mark_unknown(node, now):
            node = await self._update_status(node)
            if node is None:
                return
            log.warning("node.status_unknown", since_seconds=round(elapsed, 1))
            if before is not None and before.get("status") == "True":
                self.recorder.event(node, "Normal", "NodeNotReady", f"Node {key} status is now: NodeNotReady")
        elif elapsed <= grace:
            self.queue.add_after(key, grace - elapsed + 0.05)  # check again the moment it would expire
        await self._sync_taints(node, now)
        ready = get_condition((node.get("status") or {}).get("conditions"), "Ready")
        if ready is not None and ready.get("status") == "Unknown":
            await self._mark_pods_not_ready(key, now)

    async def _update_status(self, node: dict) -> dict | None:
        try:
            return await self.client.update(NODES, node, subresource="status")
        except NotFound:
            return None

    def _zone_states(self, current: dict) -> dict[str, tuple[str, int]]:
        """zone → (state, number of nodes), from the cached nodes and `current` as we just wrote it."""
        counts: dict[str, list[int]] = {}
        nodes = {name_of(n): n for n in self.node_informer.lister.list()}
        nodes[name_of(current)] = current
        for node in nodes.values():
            ready = get_condition((node.get("status") or {}).get("conditions"), "Ready")
            ready_ok = ready is not None and ready.get("status") == "True"
            counts.setdefault(zone_of(node), [0, 0])[0 if ready_ok else 1] += 1
        return {zone: (zone_state(r, n, self.unhealthy_threshold), r + n) for zone, (r, n) in counts.items()}

    def _limiter(self, zone: str, state: str, size: int) -> TokenBucket:
        qps = self.eviction_rate
        if state == PARTIAL_DISRUPTION:
            qps = self.secondary_eviction_rate if size > self.large_cluster else 0.0
        limiter = self.limiters.get(zone)
        if limiter is None or limiter.qps != qps:
            limiter = self.limiters[zone] = TokenBucket(qps=qps)
        return limiter

    def _allowed_taints(self, node: dict, wanted: set[tuple[str, str]], now: datetime) -> set[tuple[str, str]]:
        """`wanted`, minus NoExecute taints the zone's eviction limiter does not allow (yet)."""
        current = {(t.get("key"), t.get("effect")) for t in (node.get("spec") or {}).get("taints") or []}
        new_no_execute = {t for t in wanted - current if t[1] == "NoExecute"}
        if not new_no_execute and not any(t[1] == "NoExecute" for t in wanted):
            return wanted  # nothing to rate limit or withhold: skip looking at every node
        states = self._zone_states(node)
        if states and all(state == FULL_DISRUPTION for state, _ in states.values()):
            return {t for t in wanted if t[1] != "NoExecute"}
        if not new_no_execute:
            return wanted
        state, size = states.get(zone_of(node), (NORMAL, 1))
        limiter = self._limiter(zone_of(node), state, size)
        if limiter.try_accept(now):
            return wanted
        self.queue.add_after(name_of(node), limiter.wait_seconds())
        return (wanted - new_no_execute) | {t for t in current if t[1] == "NoExecute" and t[0] in MANAGED_TAINT_KEYS}

    async def _sync_taints(self, node: dict, now: datetime) -> None:
        wanted = self._allowed_taints(node, desired_taints(node), now)
        taints = reconcile_taints((node.get("spec") or {}).get("taints") or [], wanted, now)
        if taints is None:
            return
        log.info("node.taints_updated", taints=[f"{t['key']}:{t['effect']}" for t in taints])
        body = copy.deepcopy(node)
        body.setdefault("spec", {})["taints"] = taints
        try:
            await self.client.update(NODES, body)
        except NotFound:
            return

    async def _mark_pods_not_ready(self, node_name: str, now: datetime) -> None:
        """MarkPodsNotReady: a pod on a node that stopped reporting is not ready, whatever it last said."""
        for pod in self.pod_informer.lister.by_index(NODE_NAME_INDEX, node_name):
            ready = get_condition((pod.get("status") or {}).get("conditions"), "Ready")
            if ready is None or ready.get("status") == "False":
                continue
            body = copy.deepcopy(pod)
            cond = get_condition(body["status"]["conditions"], "Ready")
            cond.update(status="False", lastTransitionTime=format_time(now))
            try:
                await self.client.update(PODS, body, subresource="status")
            except NotFound:
                continue
            self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")
            log.info("pod.marked_not_ready", pod=f"{meta(pod).get('namespace')}/{name_of(pod)}")
