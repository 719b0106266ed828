"""Per-controller metrics (the workqueue_* families come from shared.workqueue)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SYNC_DURATION = Histogram(
    "controller_sync_duration_seconds",
    "How long one sync(key) of a controller took.",
    ["controller"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SYNC_TOTAL = Counter(
    "controller_sync_total",
    "sync(key) calls of a controller, by result (success or error).",
    ["controller", "result"],
)
