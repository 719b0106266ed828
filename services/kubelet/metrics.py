"""The kubelet's Prometheus metrics, named as the real kubelet's (`kubelet_*`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

NODE_NAME = Gauge("kubelet_node_name", "The node's name. The count is always 1.", ["node"])
RUNNING_PODS = Gauge("kubelet_running_pods", "Number of pods that have a running pod sandbox", ["node"])
RUNNING_CONTAINERS = Gauge("kubelet_running_containers", "Number of containers currently running", ["node"])
STARTED_CONTAINERS = Counter("kubelet_started_containers_total", "Cumulative number of containers started",
                             ["node"])
STARTED_CONTAINER_ERRORS = Counter("kubelet_started_containers_errors_total",
                                   "Cumulative number of errors when starting containers", ["node", "code"])
POD_START_DURATION = Histogram(
    "kubelet_pod_start_duration_seconds",
    "Duration in seconds from the kubelet seeing a pod for the first time to the pod starting to run",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
POD_WORKER_DURATION = Histogram("kubelet_pod_worker_duration_seconds",
                                "Duration in seconds to sync a single pod", ["operation"],
                                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
