"""kube-proxy's metrics (the `kubeproxy_` subsystem), in a registry of the proxy's own.

Guarantees: each `ProxyMetrics` has its own `CollectorRegistry` (several proxies may run in one
test process); the sync metrics keep kube-proxy's names; data-path counters are read from the
proxier's `Stats` at scrape time, so forwarding never pays for a metric update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from services.proxy.forwarder import Stats

# kube-proxy: metrics.ExponentialBuckets(0.001, 2, 15)
SYNC_BUCKETS = tuple(0.001 * 2**i for i in range(15))
# kube-proxy: network programming latency buckets (0.25 s .. 300 s, plus finer ones below 1 s)
PROGRAMMING_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 10, 15, 30, 60, 120, 300)


class _DataPathCollector(Collector):
    def __init__(self, stats: Stats, counts: Callable[[], tuple[int, int]]) -> None:
        self.stats = stats
        self.counts = counts  # () -> (ready endpoints, open listeners)

    def collect(self) -> Iterator:
        s = self.stats
        yield GaugeMetricFamily("kubeproxy_userspace_active_connections",
                                "Connections being forwarded right now", value=s.active)
        yield CounterMetricFamily("kubeproxy_userspace_connections", "Connections accepted and forwarded",
                                  value=s.accepted)
        yield CounterMetricFamily("kubeproxy_userspace_connections_refused",
                                  "Connections reset because no endpoint was ready", value=s.refused)
        forwarded = CounterMetricFamily("kubeproxy_userspace_forwarded_bytes", "Bytes forwarded",
                                        labels=["direction"])
        forwarded.add_metric(["to_endpoint"], s.bytes_to_endpoint)
        forwarded.add_metric(["to_client"], s.bytes_to_client)
        yield forwarded
        endpoints, listeners = self.counts()
        yield GaugeMetricFamily("kubeproxy_sync_proxy_rules_endpoints",
                                "Ready endpoints programmed, over all service ports", value=endpoints)
        yield GaugeMetricFamily("kubeproxy_userspace_listeners", "Open listening sockets", value=listeners)


class ProxyMetrics:
    def __init__(self, stats: Stats, counts: Callable[[], tuple[int, int]]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sync_duration = Histogram("kubeproxy_sync_proxy_rules_duration_seconds",
                                       "SyncProxyRules latency in seconds", buckets=SYNC_BUCKETS, registry=r)
        self.last_sync = Gauge("kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                               "The last time proxy rules were successfully synced", registry=r)
        self.programming = Histogram("kubeproxy_network_programming_duration_seconds",
                                     "In Cluster Network Programming Latency in seconds",
                                     buckets=PROGRAMMING_BUCKETS, registry=r)
        self.service_changes = Counter("kubeproxy_sync_proxy_rules_service_changes",
                                       "Cumulative proxy rules Service changes", registry=r)
        self.endpoint_changes = Counter("kubeproxy_sync_proxy_rules_endpoint_changes",
                                        "Cumulative proxy rules Endpoint changes", registry=r)
        self.iptables_rules = Gauge("kubeproxy_sync_proxy_rules_iptables_total",
                                    "Total number of iptables rules owned by kube-proxy", ["table"], registry=r)
        r.register(_DataPathCollector(stats, counts))
