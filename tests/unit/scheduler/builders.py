"""Plain-dict pods and nodes for the scheduler's unit tests."""

from __future__ import annotations

from typing import Any

from services.scheduler.framework import Code, CycleState, NodeInfo, NodeScore, PodInfo


def make_pod(name: str = "p", namespace: str = "default", *, cpu: str | None = None, memory: str | None = None,
             node_name: str | None = None, priority: int | None = None, created: str = "2026-01-01T00:00:00Z",
             **spec: object) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: dict = {"name": "c", "image": "nginx"}
    if requests:
        container["resources"] = {"requests": requests}
    pod_spec: dict = {"containers": [container], "schedulerName": "default-scheduler", **spec}
    if node_name:
        pod_spec["nodeName"] = node_name
    if priority is not None:
        pod_spec["priority"] = priority
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}",
                         "creationTimestamp": created, "resourceVersion": "1"},
            "spec": pod_spec, "status": {"phase": "Pending"}}


def make_node(name: str = "n", *, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
              labels: dict | None = None, taints: list | None = None, unschedulable: bool = False,
              ephemeral_storage: str | None = None) -> dict:
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods}
    if ephemeral_storage:
        allocatable["ephemeral-storage"] = ephemeral_storage
    spec: dict = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
            "spec": spec, "status": {"allocatable": allocatable, "capacity": dict(allocatable)}}


def node_info(node: dict, *pods: dict) -> NodeInfo:
    info = NodeInfo(node)
    for pod in pods:
        info.add_pod(PodInfo(pod))
    return info


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict:
    out = {"key": key, "effect": effect}
    if value:
        out["value"] = value
    return out


class FakeRecorder:
    """An EventRecorder that keeps (ns/name, type, reason, message) tuples."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj, event_type, reason, message):
        meta = obj["metadata"]
        self.events.append((f"{meta['namespace']}/{meta['name']}", event_type, reason, message))


def terminating(pod: dict) -> dict:
    """`pod`, marked for deletion."""
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return pod


def run_filter(plugin: Any, pod_info: PodInfo, nodes: list[NodeInfo]) -> dict[str, Any] | str:
    """`plugin`'s Filter status for each node after its PreFilter, or "skip" when PreFilter skips."""
    state = CycleState()
    _, status = plugin.pre_filter(state, pod_info, nodes)
    if status is not None and status.code == Code.SKIP:
        return "skip"
    assert status is None, status
    return {node.name: plugin.filter(state, pod_info, node) for node in nodes}


def run_scores(plugin: Any, pod_info: PodInfo, nodes: list[NodeInfo], feasible: list[str] | None = None
               ) -> list[int] | str:
    """`plugin`'s normalized scores for the `feasible` nodes (default: all) after its PreFilter over
    all `nodes` and its PreScore, or "skip" when PreScore skips."""
    state = CycleState()
    plugin.pre_filter(state, pod_info, nodes)
    filtered = [n for n in nodes if feasible is None or n.name in feasible]
    status = plugin.pre_score(state, pod_info, filtered)
    if status is not None and status.code == Code.SKIP:
        return "skip"
    assert status is None, status
    scores = [NodeScore(n.name, plugin.score(state, pod_info, n)[0]) for n in filtered]
    plugin.normalize_score(state, pod_info, scores)
    return [s.score for s in scores]

