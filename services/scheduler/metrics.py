"""kube-scheduler's own metrics, under the same names, in a registry per scheduler instance.

Guarantees: `scheduler_schedule_attempts_total{result,profile}` counts attempts by result
("scheduled", "unschedulable", "error"); `scheduler_scheduling_attempt_duration_seconds{result,profile}`
observes each attempt from pop to bind outcome (kube-scheduler's buckets: 1 ms doubling, 15 of
them); `scheduler_pending_pods{queue}` reads the queue's sizes (active, backoff, unschedulable,
gated) and `scheduler_cache_size{type}` the cache's nodes, pods and assumed pods, when scraped;
`leader_election_master_status{name}` is client-go's 1-while-leading gauge. A registry per
instance lets two schedulers live in one test process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

SCHEDULED, UNSCHEDULABLE, ERROR = "scheduled", "unschedulable", "error"


class SchedulerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.schedule_attempts = Counter(
            "scheduler_schedule_attempts_total",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be "
            "scheduled, while 'error' means an internal scheduler problem.",
            ["result", "profile"], registry=self.registry)
        self.attempt_duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            ["result", "profile"], buckets=[0.001 * 2**i for i in range(15)],
            registry=self.registry)
        self.pending_pods = Gauge(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' "
            "means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that "
            "the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that "
            "the scheduler never attempted to schedule because they are gated.",
            ["queue"], registry=self.registry)
        self.cache_size = Gauge(
            "scheduler_cache_size", "Number of nodes, pods, and assumed (bound) pods in the scheduler cache.",
            ["type"], registry=self.registry)
        self.leader = Gauge(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. "
            "'name' is the string used to identify the lease.", ["name"], registry=self.registry)

    def observe_attempt(self, result: str, profile: str, seconds: float) -> None:
        self.schedule_attempts.labels(result=result, profile=profile).inc()
        self.attempt_duration.labels(result=result, profile=profile).observe(seconds)

    def watch_queue(self, pending: Callable[[], dict[str, int]]) -> None:
        for queue in ("active", "backoff", "unschedulable"):
            self.pending_pods.labels(queue=queue).set_function(lambda q=queue: pending().get(q, 0))
        self.pending_pods.labels(queue="gated").set(0)  # kubemu has no scheduling gates

    def watch_cache(self, cache: Any) -> None:
        self.cache_size.labels(type="nodes").set_function(cache.node_count)
        self.cache_size.labels(type="pods").set_function(cache.pod_count)
        self.cache_size.labels(type="assumed_pods").set_function(cache.assumed_count)
