"""What the scheduler knows of a pod and of a node (kube-scheduler's PodInfo and NodeInfo).

Guarantees:
- `PodInfo` wraps a pod dict (read-only: it may be an informer's cached object) with what is
  computed from it once: its key "ns/name", its requests and its non-zero requests.
- `NodeInfo` is a node plus the pods the scheduler counts on it (bound or assumed), with the sums
  `requested` and `non_zero_requested` kept up to date by `add_pod`/`remove_pod`, so a filter
  compares integers and never walks the node's pods. Its `node` may be None while pods of a node
  the scheduler has not seen (or has seen deleted) are still accounted for. `clone()` copies
  the pods and the sums (the rest is shared, read-only), for dry runs on a node.
- `ClusterEvent` names a change in the cluster the way kube-scheduler's queue uses it to decide
  which unschedulable pods are worth retrying.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from services.scheduler.util import taints as taintutil
from services.scheduler.util.resources import Resource, non_zero_requests, pod_requests


def pod_key(pod: dict) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


_REQUEST_FIELDS = ("containers", "initContainers", "overhead")


class PodInfo:
    __slots__ = ("pod", "spec", "key", "node_name", "requests", "non_zero_requests", "has_pod_affinity")

    def __init__(self, pod: dict, *, previous: PodInfo | None = None) -> None:
        """`previous`: an earlier PodInfo of the same pod, whose requests are reused if its containers
        are unchanged (comparing dicts is much cheaper than parsing quantities again)."""
        self.pod = pod
        self.spec: dict = pod.get("spec") or {}
        self.key = pod_key(pod)
        self.node_name: str = self.spec.get("nodeName") or ""
        affinity = self.spec.get("affinity")
        # Pod (anti-)affinity of its own: the cache counts such pods, so that InterPodAffinity
        # can skip in O(1) in a cluster with none (kube-scheduler's HavePodsWithAffinityList).
        self.has_pod_affinity = bool(isinstance(affinity, dict)
                                     and (affinity.get("podAffinity") or affinity.get("podAntiAffinity")))
        if previous is not None and all(self.spec.get(f) == previous.spec.get(f) for f in _REQUEST_FIELDS):
            self.requests, self.non_zero_requests = previous.requests, previous.non_zero_requests
        else:
            self.requests: Resource = pod_requests(pod)
            self.non_zero_requests: Resource = non_zero_requests(pod)

    def with_node(self, node_name: str) -> PodInfo:
        """A copy bound to `node_name` (the assumed pod), sharing the computed requests."""
        clone = PodInfo.__new__(PodInfo)
        clone.spec = {**self.spec, "nodeName": node_name}
        clone.pod = {**self.pod, "spec": clone.spec}
        clone.key, clone.node_name = self.key, node_name
        clone.has_pod_affinity = self.has_pod_affinity
        clone.requests, clone.non_zero_requests = self.requests, self.non_zero_requests
        return clone

    @property
    def priority(self) -> int:
        return self.spec.get("priority") or 0

    @property
    def uid(self) -> str:
        return (self.pod.get("metadata") or {}).get("uid", "")

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


class NodeInfo:
    __slots__ = ("node", "name", "pods", "requested", "non_zero_requested", "allocatable",
                 "labels", "taints", "no_schedule_taints", "unschedulable")

    def __init__(self, node: dict | None = None, *, name: str = "") -> None:
        self.pods: dict[str, PodInfo] = {}
        self.requested = Resource()
        self.non_zero_requested = Resource()
        self.node: dict | None = None
        self.name = name
        self.allocatable = Resource()
        self.labels: dict[str, str] = {}
        self.taints: list[dict] = []
        self.no_schedule_taints: list[dict] = []
        self.unschedulable = False
        if node is not None:
            self.set_node(node)

    def set_node(self, node: dict) -> None:
        meta, spec = node.get("metadata") or {}, node.get("spec") or {}
        self.node = node
        self.name = meta.get("name", "")
        self.labels = meta.get("labels") or {}
        self.allocatable = Resource.from_list((node.get("status") or {}).get("allocatable"))
        self.taints = spec.get("taints") or []
        # Precomputed because TaintToleration's filter runs for every node of every cycle.
        self.no_schedule_taints = [t for t in self.taints if t.get("effect") in taintutil.DO_NOT_SCHEDULE]
        self.unschedulable = bool(spec.get("unschedulable"))

    def add_pod(self, pod_info: PodInfo) -> None:
        self.pods[pod_info.key] = pod_info
        self.requested.add(pod_info.requests)
        self.non_zero_requested.milli_cpu += pod_info.non_zero_requests.milli_cpu
        self.non_zero_requested.memory += pod_info.non_zero_requests.memory

    def remove_pod(self, key: str) -> PodInfo | None:
        pod_info = self.pods.pop(key, None)
        if pod_info is not None:
            self.requested.sub(pod_info.requests)
            self.non_zero_requested.milli_cpu -= pod_info.non_zero_requests.milli_cpu
            self.non_zero_requested.memory -= pod_info.non_zero_requests.memory
        return pod_info

    def clone(self) -> NodeInfo:
        """A copy whose pods and sums may be changed without touching this one's (NodeInfo.Snapshot)."""
        copy = NodeInfo.__new__(NodeInfo)
        for slot in NodeInfo.__slots__:
            setattr(copy, slot, getattr(self, slot))
        copy.pods = dict(self.pods)
        copy.requested, copy.non_zero_requested = self.requested.copy(), self.non_zero_requested.copy()
        return copy

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"


class ActionType(enum.Flag):
    ADD = enum.auto()
    DELETE = enum.auto()
    UPDATE_NODE_ALLOCATABLE = enum.auto()
    UPDATE_NODE_LABEL = enum.auto()
    UPDATE_NODE_TAINT = enum.auto()
    UPDATE_NODE_CONDITION = enum.auto()
    UPDATE_POD = enum.auto()
    UPDATE = UPDATE_NODE_ALLOCATABLE | UPDATE_NODE_LABEL | UPDATE_NODE_TAINT | UPDATE_NODE_CONDITION | UPDATE_POD
    ALL = ADD | DELETE | UPDATE


NODE, POD, WILDCARD = "Node", "Pod", "*"


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    resource: str
    action: ActionType
    label: str = ""

    def matches(self, registered: ClusterEvent) -> bool:
        """True if a plugin that registered `registered` cares about this event."""
        if WILDCARD in (self.resource, registered.resource):
            return True
        return self.resource == registered.resource and bool(self.action & registered.action)


NODE_ADD = ClusterEvent(NODE, ActionType.ADD, "NodeAdd")
ASSIGNED_POD_ADD = ClusterEvent(POD, ActionType.ADD, "AssignedPodAdd")
ASSIGNED_POD_DELETE = ClusterEvent(POD, ActionType.DELETE, "AssignedPodDelete")
UNSCHEDULABLE_TIMEOUT = ClusterEvent(WILDCARD, ActionType.ALL, "UnschedulableTimeout")


def node_update_event(old: dict, new: dict) -> ClusterEvent | None:
    """The ClusterEvent for a node update, or None when nothing a filter reads has changed."""
    action = ActionType(0)
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    old_status, new_status = old.get("status") or {}, new.get("status") or {}
    if old_status.get("allocatable") != new_status.get("allocatable"):
        action |= ActionType.UPDATE_NODE_ALLOCATABLE
    if old_meta.get("labels") != new_meta.get("labels"):
        action |= ActionType.UPDATE_NODE_LABEL
    taint_fields = ("taints", "unschedulable")
    if [old_spec.get(f) for f in taint_fields] != [new_spec.get(f) for f in taint_fields]:
        action |= ActionType.UPDATE_NODE_TAINT
    if _condition_statuses(old_status) != _condition_statuses(new_status):
        action |= ActionType.UPDATE_NODE_CONDITION
    if not action:
        return None
    return ClusterEvent(NODE, action, "NodeUpdate")


def _condition_statuses(status: dict) -> dict:
    # Heartbeat timestamps change every update; only type -> status says something changed.
    return {c.get("type"): c.get("status") for c in status.get("conditions") or []}
