"""The API server's Prometheus metrics (kube-apiserver's names), one registry per app."""

from __future__ import annotations

import prometheus_client as prom


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = prom.CollectorRegistry()
        self.requests = prom.Counter("apiserver_request_total", "Requests by verb, resource and HTTP code.",
                                     ["verb", "resource", "code"], registry=self.registry)
        self.duration = prom.Histogram(
            "apiserver_request_duration_seconds", "Request latency by verb and resource (watches excluded).",
            ["verb", "resource"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2, 3, 5, 10, 30, 60))
        self.watchers = prom.Gauge("apiserver_registered_watchers", "Watchers registered, by resource.",
                                   ["resource"], registry=self.registry)
        self._children: dict[tuple[str, str, int], tuple] = {}

    def observe(self, verb: str, resource: str, code: int, seconds: float) -> None:
        key = (verb, resource, code)
        children = self._children.get(key)
        if children is None:  # labels() is slow: keep each label set's children
            children = (self.requests.labels(verb, resource, str(code)), self.duration.labels(verb, resource))
            self._children[key] = children
        children[0].inc()
        if verb != "WATCH":
            children[1].observe(seconds)

    def track_inflight(self, current: dict[str, int]) -> None:
        """apiserver_current_inflight_requests{request_kind}: read from `current` at scrape time."""
        gauge = prom.Gauge("apiserver_current_inflight_requests",
                           "Requests being served, by kind (readOnly, mutating), against the max-in-flight limits.",
                           ["request_kind"], registry=self.registry)
        for kind in current:
            gauge.labels(kind).set_function(lambda kind=kind: current[kind])

    def set_watchers(self, resource: str, count: int) -> None:
        self.watchers.labels(resource).set(count)
