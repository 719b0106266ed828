"""The pods nominated to nodes by preemption (kube-scheduler 1.32's nominator, smaller).

Guarantees:
- A pod is nominated to at most one node. `add_nominated_pod(pod_info, override)` first drops any
  nomination of the pod, then nominates it to `override` when one is given (ModeOverride: the node
  DefaultPreemption just chose, or "" to clear), else to its own `status.nominatedNodeName`
  (ModeNoop). An empty node name nominates nothing; a pod with `spec.nodeName` is never nominated.
- `update_nominated_pod(old, new_info)` refreshes the stored PodInfo; if neither the old nor the
  new pod carries a `nominatedNodeName`, the nomination made in memory is kept (the API update
  that writes it may come after other updates of the pod), else the new pod's field decides.
- `nominated_pods` maps node name -> {pod key -> PodInfo} and holds no empty entries, so "is any
  pod nominated to this node?" is one dict lookup, and "to any node?" is a truth test.
- Pods are keyed by "ns/name", as the queue and the cache key them (kube-scheduler uses the UID).
"""

from __future__ import annotations

from services.scheduler.framework import PodInfo, pod_key


def nominated_node_name(pod: dict) -> str:
    return (pod.get("status") or {}).get("nominatedNodeName") or ""


class PodNominator:
    def __init__(self) -> None:
        self.nominated_pods: dict[str, dict[str, PodInfo]] = {}
        self.nominated_pod_to_node: dict[str, str] = {}

    def add_nominated_pod(self, pod_info: PodInfo, override: str | None = None) -> None:
        self._delete(pod_info.key)
        node_name = nominated_node_name(pod_info.pod) if override is None else override
        if not node_name or pod_info.node_name:
            return
        self.nominated_pod_to_node[pod_info.key] = node_name
        self.nominated_pods.setdefault(node_name, {})[pod_info.key] = pod_info

    def update_nominated_pod(self, old: dict | None, new_info: PodInfo) -> None:
        override = None
        if (old is None or not nominated_node_name(old)) and not nominated_node_name(new_info.pod):
            override = self.nominated_pod_to_node.get(new_info.key)  # keep what was nominated in memory
        self.add_nominated_pod(new_info, override)

    def delete_nominated_pod_if_exists(self, pod: dict) -> None:
        self._delete(pod_key(pod))

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return list(self.nominated_pods.get(node_name, {}).values())

    def nominated_node(self, key: str) -> str | None:
        return self.nominated_pod_to_node.get(key)

    def _delete(self, key: str) -> None:
        node_name = self.nominated_pod_to_node.pop(key, None)
        if node_name is None:
            return
        pods = self.nominated_pods[node_name]
        del pods[key]
        if not pods:
            del self.nominated_pods[node_name]
