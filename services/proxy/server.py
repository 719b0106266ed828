"""The proxy's sync loop: whatever changed, apply the whole current state, at most every min-sync-period.

Guarantees:
- `request_sync()` (called from informer event handlers; never blocks) makes `run()` call `sync()`
  soon: immediately if the last sync is older than `min_sync_period`, else once that has passed;
  any number of requests in between collapse into one sync (kube-proxy's BoundedFrequencyRunner).
  Without requests, `run()` still syncs every `sync_period`, which retries failed listeners.
- `sync()` reads the complete current Services and EndpointSlices, reconciles the proxier, in
  iptables mode rewrites the rules file, updates metrics and logs one `proxy.synced` line plus one
  line per Service port added, updated, deleted or with changed endpoints.
- `healthz()` follows kube-proxy's healthz server: healthy once synced, unless a requested change
  has waited longer than `health_timeout`; the body carries lastUpdated and currentTime.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from shared.logging import get_logger

from services.proxy.config import ProxyConfig, node_port_ips
from services.proxy.iptables import RulesConfig, RulesFile, render
from services.proxy.metrics import ProxyMetrics
from services.proxy.proxier import Proxier, SyncResult
from services.proxy.servicemap import CHANGE_TRIGGER_ANNOTATION, slice_service

log = get_logger()

Lister = Callable[[], list[dict]]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class ProxyServer:
    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.node_addresses = node_port_ips(config.node_port_addresses, config.node_ips)
        self.proxier = Proxier(node_addresses=self.node_addresses, affinity_timeout=config.session_affinity_timeout)
        self.metrics = ProxyMetrics(self.proxier.stats, self._counts)
        self.rules = RulesFile(config.iptables_rules_file) if config.mode == "iptables" else None
        self.rules_config = RulesConfig(cluster_cidr=config.cluster_cidr, node_port_addresses=self.node_addresses,
                                        masquerade_all=config.masquerade_all)
        self.list_services: Lister = list
        self.list_slices: Lister = list
        self._wake = asyncio.Event()
        self._last_sync = 0.0  # monotonic
        self.last_updated: float | None = None  # wall clock of the last successful sync
        self.pending_since: float | None = None  # monotonic time of the oldest unsynced request
        self.syncs = 0
        self._started = time.time()
        self._trigger_seen: dict[str, str] = {}

    def set_sources(self, services: Lister, slices: Lister) -> None:
        self.list_services, self.list_slices = services, slices

    def request_sync(self) -> None:
        if self.pending_since is None:
            self.pending_since = time.monotonic()
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.sync_period)
            except TimeoutError:
                pass
            delay = self._last_sync + self.config.min_sync_period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._wake.clear()
            try:
                await self.sync()
            except Exception:  # a bad object must not kill forwarding for every other Service
                log.exception("proxy.sync_failed")
                self._wake.set()  # retry, still bounded by min_sync_period

    async def sync(self) -> SyncResult:
        requested_at = self.pending_since
        start = time.perf_counter()
        self._last_sync = asyncio.get_running_loop().time()
        services, slices = self.list_services(), self.list_slices()
        result = await self.proxier.sync(services, slices)
        if self.rules is not None:
            self._write_rules()
        elapsed = time.perf_counter() - start
        self._record(result, slices, elapsed)
        if self.pending_since == requested_at:  # nothing new arrived while we synced
            self.pending_since = None
        return result

    def _write_rules(self) -> None:
        text = render(self.proxier.service_map, self.proxier.endpoints, self.rules_config)
        change = self.rules.write(text)  # type: ignore[union-attr]
        self.metrics.iptables_rules.labels("nat").set(text.split("*nat", 1)[1].count("\n-A "))
        self.metrics.iptables_rules.labels("filter").set(text.split("*nat", 1)[0].count("\n-A "))
        if change.changed:
            log.info("iptables.rules_written", path=str(self.rules.path), chains=change.chains,  # type: ignore[union-attr]
                     rules=change.rules, chains_added=change.chains_added, chains_removed=change.chains_removed,
                     rules_added=change.rules_added, rules_removed=change.rules_removed)

    def _record(self, result: SyncResult, slices: list[dict], elapsed: float) -> None:
        self.syncs += 1
        self.last_updated = time.time()
        m = self.metrics
        m.sync_duration.observe(elapsed)
        m.last_sync.set(self.last_updated)
        m.service_changes.inc(len(result.added) + len(result.updated) + len(result.removed))
        m.endpoint_changes.inc(len(result.endpoints_changed))
        self._observe_programming_latency(slices)
        self._log_changes(result)
        endpoints, listeners = self._counts()
        log.info("proxy.synced", services=len(self.proxier.service_map), endpoints=endpoints, listeners=listeners,
                 changed=result.changed, bind_errors=result.bind_errors, duration_ms=round(elapsed * 1000, 2))

    def _log_changes(self, result: SyncResult) -> None:
        p = self.proxier
        for kind, names in (("service.added", result.added), ("service.updated", result.updated)):
            for name in names:
                sp = p.service_map[name]
                log.info(kind, key=name.service_key, port=str(name), cluster_ip=sp.cluster_ip, service_port=sp.port,
                         node_port=sp.node_port or None, protocol=sp.protocol, affinity=sp.session_affinity,
                         endpoints=[str(e) for e in p.endpoints.get(name, [])])
        for name in result.removed:
            log.info("service.deleted", key=name.service_key, port=str(name))
        for name in result.endpoints_changed:
            log.info("endpoints.changed", key=name.service_key, port=str(name),
                     endpoints=[str(e) for e in p.endpoints.get(name, [])])

    def _observe_programming_latency(self, slices: list[dict]) -> None:
        """kubeproxy_network_programming_duration_seconds: from a slice's last-change-trigger-time to now."""
        now = time.time()
        seen, self._trigger_seen = self._trigger_seen, {}  # forget slices that are gone
        for s in slices:
            value = ((s.get("metadata") or {}).get("annotations") or {}).get(CHANGE_TRIGGER_ANNOTATION)
            if not value or slice_service(s) is None:
                continue
            key = f"{s['metadata'].get('namespace')}/{s['metadata'].get('name')}"
            self._trigger_seen[key] = value
            if seen.get(key) == value:
                continue
            ts = _parse_time(value)
            if ts is not None and ts >= self._started:  # kube-proxy ignores changes before it started
                self.metrics.programming.observe(max(0.0, now - ts))

    def _counts(self) -> tuple[int, int]:
        return sum(len(v) for v in self.proxier.endpoints.values()), len(self.proxier.listening())

    def healthz(self) -> tuple[bool, dict]:
        now = time.time()
        waiting = self.pending_since is not None and time.monotonic() - self.pending_since > self.config.health_timeout
        healthy = self.last_updated is not None and not waiting
        body = {"lastUpdated": _iso(self.last_updated) if self.last_updated else "",
                "currentTime": _iso(now), "nodeEligible": True}
        return healthy, body

    def close(self) -> None:
        self.proxier.close()
