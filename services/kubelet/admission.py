"""Pod admission on the node, as the kubelet's predicate admit handler decides it.

Guarantees: `admit(pod, node, active_pods, max_pods)` returns None when the pod may run, else
(reason, message) as Kubernetes reports a rejected pod:
- too many pods: `OutOfpods`, "Node didn't have enough resource: pods, requested: 1, used: 110, capacity: 110";
- not enough allocatable CPU/memory/ephemeral-storage for the pod's requests (the larger of the
  sum of its containers' and the largest init container's, plus overhead): `OutOfcpu`,
  `OutOfmemory`... with the same message shape (cpu in millicores, the rest in bytes);
- a hostPort another admitted pod holds: `NodePorts`, "Predicate NodePorts failed: node(s) didn't
  have free ports for the requested pod ports";
- a nodeSelector the node's labels do not match: `NodeAffinity`.
Also `qos_class(pod)`: Guaranteed, Burstable or BestEffort, as Kubernetes computes it.
"""

from __future__ import annotations

from typing import Any

from services.kubelet import quantity

RESOURCES = ("cpu", "memory", "ephemeral-storage")


def _container_requests(container: dict[str, Any]) -> dict[str, int]:
    res = container.get("resources") or {}
    requests = {**(res.get("limits") or {}), **(res.get("requests") or {})}  # a limit alone is the request
    return {r: quantity.value(r, v) for r, v in requests.items() if r in RESOURCES}


def pod_requests(pod: dict[str, Any]) -> dict[str, int]:
    spec = pod.get("spec", {})
    total = {r: 0 for r in RESOURCES}
    for c in spec.get("containers", []):
        for r, v in _container_requests(c).items():
            total[r] += v
    for c in spec.get("initContainers", []) or []:
        for r, v in _container_requests(c).items():
            total[r] = max(total[r], v)
    for r, v in (spec.get("overhead") or {}).items():
        if r in total:
            total[r] += quantity.value(r, v)
    return total


def host_ports(pod: dict[str, Any]) -> set[tuple[str, str, int]]:
    ports = set()
    for c in pod.get("spec", {}).get("containers", []):
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                ports.add((p.get("hostIP") or "0.0.0.0", p.get("protocol", "TCP"), int(p["hostPort"])))
    return ports


def _ports_conflict(want: set, used: set) -> bool:
    for ip, proto, port in want:
        for uip, uproto, uport in used:
            if (proto, port) == (uproto, uport) and (ip == uip or "0.0.0.0" in (ip, uip)):
                return True
    return False


def _too_many(name: str, requested: int, used: int, capacity: int) -> tuple[str, str]:
    return (f"OutOf{name}",
            f"Node didn't have enough resource: {name}, requested: {requested}, used: {used}, capacity: {capacity}")


def admit(pod: dict[str, Any], node: dict[str, Any], active_pods: list[dict[str, Any]],
          max_pods: int) -> tuple[str, str] | None:
    if len(active_pods) + 1 > max_pods:
        return _too_many("pods", 1, len(active_pods), max_pods)
    selector = pod.get("spec", {}).get("nodeSelector") or {}
    labels = node.get("metadata", {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return "NodeAffinity", "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
    allocatable = node.get("status", {}).get("allocatable") or {}
    want = pod_requests(pod)
    for r in RESOURCES:
        if not want[r] or r not in allocatable:
            continue
        used = sum(pod_requests(p)[r] for p in active_pods)
        capacity = quantity.value(r, allocatable[r])
        if used + want[r] > capacity:
            return _too_many(r, want[r], used, capacity)
    used_ports = set().union(*(host_ports(p) for p in active_pods)) if active_pods else set()
    if _ports_conflict(host_ports(pod), used_ports):
        return "NodePorts", "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports"
    return None


def qos_class(pod: dict[str, Any]) -> str:
    spec = pod.get("spec", {})
    containers = spec.get("containers", []) + (spec.get("initContainers") or [])
    requests: dict[str, int] = {}
    limits: dict[str, int] = {}
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        lim = {r: quantity.value(r, v) for r, v in (res.get("limits") or {}).items() if r in ("cpu", "memory")}
        req = {r: quantity.value(r, v) for r, v in (res.get("requests") or {}).items() if r in ("cpu", "memory")}
        req = {**lim, **req}
        for r, v in req.items():
            requests[r] = requests.get(r, 0) + v
        for r, v in lim.items():
            limits[r] = limits.get(r, 0) + v
        if set(lim) != {"cpu", "memory"} or any(req.get(r) != lim.get(r) for r in lim):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
