"""Taint eviction controller (k8s pkg/controller/tainteviction, formerly the NoExecute taint manager).

Guarantees, for each pod bound to a node with NoExecute taints:
- a taint the pod does not tolerate evicts (deletes) it at once;
- otherwise it is deleted when the shortest tolerationSeconds of the tolerations used runs out,
  counted from the newest of those taints' timeAdded (tolerations without tolerationSeconds
  tolerate forever); until then the key is requeued for that moment;
- each eviction records TaintManagerEviction "Marking for deletion Pod <ns>/<name>"; a pending
  eviction whose taint goes away records "Cancelling deletion of Pod <ns>/<name>".
It is level-based: a taint that went away simply means nothing is due any more.
"""

from __future__ import annotations

from datetime import datetime

from shared.client import NotFound
from shared.resources import NODES, PODS
from shared.taints import tolerates

from shared.logging import get_logger

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.objects import (
    NODE_NAME_INDEX,
    TERMINAL_PHASES,
    is_being_deleted,
    key_of,
    meta,
    name_of,
    parse_time,
    pod_node_name,
    split_key,
)

log = get_logger()


def matching_tolerations(taints: list[dict], tolerations: list[dict]) -> list[dict] | None:
    """The first toleration for each taint, or None if some taint is not tolerated."""
    used = []
    for taint in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return None
        used.append(match)
    return used


def min_toleration_seconds(tolerations: list[dict]) -> float | None:
    """Shortest tolerationSeconds (≤0 means 0); None: tolerated forever."""
    seconds = [t["tolerationSeconds"] for t in tolerations if t.get("tolerationSeconds") is not None]
    if not seconds:
        return None
    return max(0.0, float(min(seconds)))


def eviction_due(pod: dict, taints: list[dict], now: datetime) -> float | None:
    """Seconds until `pod` must be evicted from a node with NoExecute `taints` (0: now; None: never)."""
    if not taints:
        return None
    used = matching_tolerations(taints, (pod.get("spec") or {}).get("tolerations") or [])
    if used is None:
        return 0.0
    seconds = min_toleration_seconds(used)
    if seconds is None:
        return None
    added = [parse_time(t.get("timeAdded")) for t in taints]
    start = max((a for a in added if a is not None), default=now)
    return max(0.0, (start - now).total_seconds() + seconds)


class TaintEvictionController(Controller):
    name = "taint-eviction-controller"
    queue_name = "taint_eviction"
    default_workers = 8

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self.recorder = ctx.recorder_factory(self.name)
        self.scheduled: set[str] = set()  # pods waiting for their toleration to run out (for the cancel event)
        self.node_informer = ctx.informers.informer(NODES)
        self.pod_informer = ctx.informers.informer(PODS)
        self.pod_informer.add_indexer(NODE_NAME_INDEX, pod_node_name)
        self.node_informer.add_event_handler(on_add=self._on_node, on_update=self._on_node_update)
        self.pod_informer.add_event_handler(on_add=self._on_pod, on_update=lambda o, n: self._on_pod(n))

    def _on_pod(self, pod: dict) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.enqueue(pod)

    def _on_node(self, node: dict) -> None:
        if _no_execute(node):
            self._enqueue_pods_on(name_of(node))

    def _on_node_update(self, old: dict, new: dict) -> None:
        if _no_execute(old) != _no_execute(new):
            self._enqueue_pods_on(name_of(new))

    def _enqueue_pods_on(self, node_name: str) -> None:
        for pod in self.pod_informer.lister.by_index(NODE_NAME_INDEX, node_name):
            self.enqueue(pod)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        pod = self.pod_informer.lister.get(name, namespace)
        if pod is None or is_being_deleted(pod) or (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            self.scheduled.discard(key)
            return
        node = self.node_informer.lister.get((pod.get("spec") or {}).get("nodeName") or "")
        due = eviction_due(pod, _no_execute(node), self.now()) if node is not None else None
        if due is None:
            if key in self.scheduled:  # the taint went away (node back) before the toleration ran out
                self.scheduled.discard(key)
                self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Cancelling deletion of Pod {key}")
            return
        if due > 0:
            self.scheduled.add(key)
            self.queue.add_after(key, due)
            return
        self.scheduled.discard(key)
        self.recorder.event(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key_of(pod)}")
        log.info("pod.evicted", node=(pod.get("spec") or {}).get("nodeName"))
        try:
            await self.client.delete(PODS, name, namespace=namespace, preconditions={"uid": meta(pod).get("uid")})
        except NotFound:
            pass


def _no_execute(node: dict | None) -> list[dict]:
    return [t for t in ((node or {}).get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
