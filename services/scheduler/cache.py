"""The scheduler's cache: every node with the pods counted on it (kube-scheduler's backend/cache).

Guarantees:
- Pods are counted on their node from the moment they are assumed (the scheduler chose the node
  and has not yet heard back from the API server), so the next cycle already sees the node's
  resources as used.
- A pod's life in the cache: `assume_pod` -> `finish_binding` (the bind call returned) ->
  `add_pod` when the informer delivers the bound pod (it is then confirmed, no longer assumed);
  or `forget_pod` if the bind failed. Pods that arrive already bound go straight to `add_pod`.
- With `assumed_pod_ttl` > 0, an assumed pod whose binding finished that long ago without the
  informer confirming it is expired (its resources released). kube-scheduler runs with a TTL of
  0, never expire (kubernetes#106361: expiry raced with slow binds), and so is kubemu's default.
- `node_infos()` lists the nodes that have a Node object, in a stable order (the order they were
  added), which is what the round-robin start of each cycle indexes into. A node deleted while
  pods are still counted on it is kept, without its Node, until they are gone.
- Invalid transitions (assuming a pod twice, forgetting one that is not assumed) raise
  `CacheError`; the cache is never left half-updated.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.logging import get_logger
from services.scheduler.framework import NodeInfo, PodInfo, pod_key

log = get_logger()


class CacheError(ValueError):
    pass


@dataclass(slots=True)
class _PodState:
    info: PodInfo
    binding_finished: bool = False
    deadline: float | None = None


def _node_name(pod: dict) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


class SchedulerCache:
    def __init__(self, *, assumed_pod_ttl: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = assumed_pod_ttl
        self._clock = clock
        self._nodes: dict[str, NodeInfo] = {}
        self._order: list[str] = []
        self._node_list: list[NodeInfo] | None = None
        self._pods: dict[str, _PodState] = {}
        self._assumed: set[str] = set()
        self._pods_with_affinity = 0

    # nodes -----------------------------------------------------------------------------------

    def add_node(self, node: dict) -> NodeInfo:
        name = node["metadata"]["name"]
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo(name=name)
        if info.node is None:
            self._order.append(name)
            self._node_list = None
        info.set_node(node)
        return info

    def update_node(self, old: dict | None, new: dict) -> NodeInfo:
        return self.add_node(new)

    def remove_node(self, node: dict) -> None:
        name = node["metadata"]["name"]
        info = self._nodes.get(name)
        if info is None or info.node is None:
            return
        info.node = None
        self._order.remove(name)
        self._node_list = None
        if not info.pods:
            del self._nodes[name]

    def node_infos(self) -> list[NodeInfo]:
        """The nodes (with a Node object) in stable order; do not mutate the list."""
        if self._node_list is None:
            self._node_list = [self._nodes[name] for name in self._order]
        return self._node_list

    def pods_with_affinity(self) -> int:
        """How many counted pods (bound or assumed) have pod (anti-)affinity of their own."""
        return self._pods_with_affinity

    def node_count(self) -> int:
        return len(self._order)

    def get_node_info(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    # pods ------------------------------------------------------------------------------------

    def assume_pod(self, pod_info: PodInfo) -> None:
        """Count `pod_info` (whose spec.nodeName is the chosen node) before the bind completes."""
        if pod_info.key in self._pods:
            raise CacheError(f"pod {pod_info.key} is in the cache, so can't be assumed")
        self._add_to_node(pod_info)
        self._pods[pod_info.key] = _PodState(pod_info)
        self._assumed.add(pod_info.key)

    def finish_binding(self, key: str) -> None:
        state = self._pods.get(key)
        if state is None or key not in self._assumed:
            return
        state.binding_finished = True
        if self._ttl > 0:
            state.deadline = self._clock() + self._ttl

    def forget_pod(self, key: str) -> None:
        state = self._pods.get(key)
        if state is None:
            return
        if key not in self._assumed:
            raise CacheError(f"pod {key} was added to the cache, not assumed; only assumed pods can be forgotten")
        self._remove_from_node(state.info)
        del self._pods[key]
        self._assumed.discard(key)

    def add_pod(self, pod: dict) -> None:
        """The informer saw `pod` bound to a node: confirm an assumed pod, or start counting it."""
        key = pod_key(pod)
        state = self._pods.get(key)
        info = PodInfo(pod, previous=state.info if state else None)
        if state is None:
            self._add_to_node(info)
            self._pods[key] = _PodState(info)
            return
        if key not in self._assumed:
            raise CacheError(f"pod {key} was already in added state")
        if state.info.node_name != info.node_name:
            log.info("cache.pod_added_to_other_node", key=key, assumed=state.info.node_name, node=info.node_name)
        self._replace(state, info)
        state.deadline = None
        self._assumed.discard(key)

    def update_pod(self, old: dict, new: dict) -> None:
        key = pod_key(new)
        state = self._pods.get(key)
        if state is None:
            self.add_pod(new)
            return
        if key in self._assumed:
            raise CacheError(f"assumed pod {key} should not be updated")
        self._replace(state, PodInfo(new, previous=state.info))

    def remove_pod(self, pod: dict) -> None:
        key = pod_key(pod)
        state = self._pods.pop(key, None)
        self._assumed.discard(key)
        if state is not None:
            # The cached copy says which node counted it (the deleted object may say another).
            self._remove_from_node(state.info)

    def is_assumed_pod(self, key: str) -> bool:
        return key in self._assumed

    def get_pod(self, key: str) -> PodInfo | None:
        state = self._pods.get(key)
        return state.info if state else None

    def pod_count(self) -> int:
        return len(self._pods)

    def assumed_count(self) -> int:
        return len(self._assumed)

    def cleanup_assumed_pods(self, now: float | None = None) -> list[str]:
        """Expire assumed pods whose binding finished more than the TTL ago; their keys."""
        if self._ttl <= 0:
            return []
        now = self._clock() if now is None else now
        expired = [key for key in self._assumed
                   if self._pods[key].binding_finished and self._pods[key].deadline is not None
                   and now >= self._pods[key].deadline]
        for key in expired:
            log.warning("cache.assumed_pod_expired", key=key, node=self._pods[key].info.node_name)
            self._remove_from_node(self._pods.pop(key).info)
            self._assumed.discard(key)
        return expired

    async def run_cleanup(self, period: float = 1.0) -> None:
        while True:
            await asyncio.sleep(period)
            self.cleanup_assumed_pods()

    # internals -------------------------------------------------------------------------------

    def _replace(self, state: _PodState, info: PodInfo) -> None:
        self._remove_from_node(state.info)
        self._add_to_node(info)
        state.info = info

    def _add_to_node(self, info: PodInfo) -> None:
        name = info.node_name
        node = self._nodes.get(name)
        if node is None:
            node = self._nodes[name] = NodeInfo(name=name)  # the Node may arrive later
        node.add_pod(info)
        self._pods_with_affinity += info.has_pod_affinity

    def _remove_from_node(self, info: PodInfo) -> None:
        node = self._nodes.get(info.node_name)
        if node is None:
            return
        if (removed := node.remove_pod(info.key)) is not None:
            self._pods_with_affinity -= removed.has_pod_affinity
        if node.node is None and not node.pods:
            del self._nodes[info.node_name]
