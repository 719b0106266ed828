"""Garbage collector (k8s pkg/controller/garbagecollector): deletes what has no owner left.

A graph builder keeps, from informers on every kind kubemu serves, which object owns which
(uid → node with its ownerReferences, and owner uid → dependents). Two queues act on it:

- attempt-to-delete (key: an object's uid). For an object whose owners may be gone it asks the
  API server about each owner: all owners gone (or waiting for a foreground deletion) → delete the
  object (background, or as its own finalizers say); some owners still there → only remove the
  references to the gone ones. For an owner being deleted in the foreground (`foregroundDeletion`
  finalizer): delete its dependents that block it (blockOwnerDeletion), and once none remain, remove
  the finalizer so the API server can delete it.
- attempt-to-orphan (key: uid): an owner deleted with propagationPolicy=Orphan (`orphan`
  finalizer) has the ownerReferences to it removed from its dependents, then the finalizer.

Guarantees: an owner is only considered absent after a live read from the API server says
NotFound (or another uid), so a cache that lags never gets anything deleted (an owner present
and alive in the caches is taken as present without asking); deletes carry a uid
precondition; kinds kubemu does not serve are never treated as absent owners.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from shared.client import Conflict, NotFound
from shared.controller import run_workers
from shared.logging import get_logger
from shared.resources import (
    CONFIGMAPS,
    CONTROLLERREVISIONS,
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTS,
    ENDPOINTSLICES,
    JOBS,
    LEASES,
    NODES,
    PODS,
    REPLICASETS,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
    for_kind,
)
from shared.workqueue import RateLimitingQueue

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.objects import is_being_deleted, meta, unwrap_tombstone

log = get_logger()

GC_RESOURCES = (PODS, REPLICASETS, DEPLOYMENTS, DAEMONSETS, CONTROLLERREVISIONS, JOBS, CRONJOBS, SERVICES, ENDPOINTS,
                ENDPOINTSLICES, CONFIGMAPS, SECRETS, SERVICEACCOUNTS, NODES, LEASES)
FOREGROUND = "foregroundDeletion"
ORPHAN_QUEUE = "garbage_collector_attempt_to_orphan"
ORPHAN = "orphan"


@dataclass
class GraphNode:
    ref: object
    namespace: str
    name: str
    uid: str
    owners: list[dict] = field(default_factory=list)
    finalizers: list[str] = field(default_factory=list)
    being_deleted: bool = False

    @property
    def deleting_dependents(self) -> bool:
        return self.being_deleted and FOREGROUND in self.finalizers

    @property
    def key(self) -> str:
        return f"{self.ref.group_resource} {self.namespace + '/' if self.namespace else ''}{self.name}"

    def blocks(self, owner_uid: str) -> bool:
        return any(r.get("uid") == owner_uid and r.get("blockOwnerDeletion") for r in self.owners)


class GarbageCollector(Controller):
    name = "garbage-collector-controller"
    queue_name = "garbage_collector_attempt_to_delete"
    default_workers = 20

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self.orphan_queue = RateLimitingQueue(name=ORPHAN_QUEUE)
        self.nodes: dict[str, GraphNode] = {}
        self.dependents: dict[str, set[str]] = {}
        for ref in GC_RESOURCES:
            ctx.informers.informer(ref).add_event_handler(
                on_add=lambda obj, ref=ref: self._upsert(ref, obj),
                on_update=lambda old, new, ref=ref: self._upsert(ref, new),
                on_delete=lambda obj, ref=ref: self._remove(unwrap_tombstone(obj)),
            )

    # --- graph builder (event handlers: bookkeeping and enqueue only) ---

    def _upsert(self, ref: object, obj: dict) -> None:
        m = meta(obj)
        uid = m.get("uid")
        if not uid:
            return
        old = self.nodes.get(uid)
        node = GraphNode(ref=ref, namespace=m.get("namespace") or "", name=m.get("name", ""), uid=uid,
                         owners=list(m.get("ownerReferences") or []), finalizers=list(m.get("finalizers") or []),
                         being_deleted=is_being_deleted(obj))
        self.nodes[uid] = node
        old_owner_uids = {r.get("uid") for r in old.owners} if old else set()
        new_owner_uids = {r.get("uid") for r in node.owners}
        for owner_uid in old_owner_uids - new_owner_uids:
            self.dependents.get(owner_uid, set()).discard(uid)
        for owner_uid in new_owner_uids:
            self.dependents.setdefault(owner_uid, set()).add(uid)
        self._enqueue_changes(old, node)

    def _enqueue_changes(self, old: GraphNode | None, node: GraphNode) -> None:
        owners = [self.nodes.get(r.get("uid")) for r in node.owners]
        if any(o is None or o.deleting_dependents for o in owners):
            self.queue.add(node.uid)  # an owner we have not seen (maybe gone), or one waiting for us
        if old is not None:
            for ref in old.owners:  # a dependent stopped blocking an owner waiting for it
                owner = self.nodes.get(ref.get("uid"))
                if owner is not None and owner.deleting_dependents and not node.blocks(owner.uid):
                    self.queue.add(owner.uid)
        if node.deleting_dependents:
            self.queue.add(node.uid)
            for dep in self.dependents.get(node.uid, ()):
                self.queue.add(dep)
        if node.being_deleted and ORPHAN in node.finalizers:
            self.orphan_queue.add(node.uid)

    def _remove(self, obj: dict | None) -> None:
        if obj is None:
            return
        uid = meta(obj).get("uid")
        node = self.nodes.pop(uid, None)
        if node is None:
            return
        for ref in node.owners:
            self.dependents.get(ref.get("uid"), set()).discard(uid)
            owner = self.nodes.get(ref.get("uid"))
            if owner is not None and owner.deleting_dependents:
                self.queue.add(owner.uid)
        for dep in self.dependents.get(uid, ()):
            self.queue.add(dep)  # their owner is gone: collect them

    # --- workers ---

    async def run(self) -> None:
        await asyncio.gather(
            run_workers(self.queue, self.timed_sync, workers=self.workers, name=self.queue_name),
            run_workers(self.orphan_queue, lambda uid: self.timed(self.orphan, uid, ORPHAN_QUEUE), workers=1,
                        name=ORPHAN_QUEUE),
        )

    def shutdown(self) -> None:
        super().shutdown()
        self.orphan_queue.shutdown()

    async def _get(self, node: GraphNode) -> dict | None:
        try:
            obj = await self.client.get(node.ref, node.name, namespace=node.namespace or None)
        except NotFound:
            return None
        return obj if meta(obj).get("uid") == node.uid else None

    async def sync(self, uid: str) -> None:
        """attemptToDeleteItem."""
        node = self.nodes.get(uid)
        if node is None:
            return
        latest = await self._get(node)
        if latest is None:
            return
        if is_being_deleted(latest) and FOREGROUND not in (meta(latest).get("finalizers") or []):
            return  # already on its way out
        if is_being_deleted(latest):
            await self._process_deleting_dependents(node, latest)
            return
        owners = meta(latest).get("ownerReferences") or []
        if not owners:
            return
        solid, dangling, waiting = await self._classify(node, owners)
        if solid:
            if dangling or waiting:
                await self._remove_owner_refs(node, latest, {r["uid"] for r in dangling + waiting})
            return
        if waiting and self.dependents.get(uid):
            await self._unblock_dependents(node)
            await self._delete(node, latest, "Foreground")
            return
        finalizers = meta(latest).get("finalizers") or []
        policy = "Orphan" if ORPHAN in finalizers else "Foreground" if FOREGROUND in finalizers else "Background"
        await self._delete(node, latest, policy)

    async def _classify(self, node: GraphNode, owners: list[dict]) -> tuple[list, list, list]:
        solid, dangling, waiting = [], [], []
        for ref in owners:
            state = await self._owner_state(node, ref)
            {"solid": solid, "dangling": dangling, "waiting": waiting}[state].append(ref)
        return solid, dangling, waiting

    async def _owner_state(self, node: GraphNode, ref: dict) -> str:
        resource = for_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        if resource is None:
            return "solid"  # a kind we do not serve: never assume it is gone
        namespace = node.namespace if resource.namespaced else None
        if resource.namespaced and not node.namespace:
            return "solid"  # a cluster-scoped object cannot have a namespaced owner; leave it alone
        known = self.nodes.get(ref.get("uid", ""))
        if known is not None and known.ref == resource and not known.being_deleted:
            return "solid"  # in our caches and alive: no need to ask the API server
        try:
            owner = await self.client.get(resource, ref.get("name", ""), namespace=namespace)
        except NotFound:
            return "dangling"
        if meta(owner).get("uid") != ref.get("uid"):
            return "dangling"
        if is_being_deleted(owner) and FOREGROUND in (meta(owner).get("finalizers") or []):
            return "waiting"
        return "solid"

    async def _remove_owner_refs(self, node: GraphNode, latest: dict, uids: set[str]) -> None:
        refs = [r for r in meta(latest).get("ownerReferences") or [] if r.get("uid") not in uids]
        log.info("gc.owner_references_removed", object=node.key, owners=sorted(uids))
        await self._patch(node, {"metadata": {"ownerReferences": refs or None, "uid": node.uid,
                                              "resourceVersion": meta(latest).get("resourceVersion")}})

    async def _unblock_dependents(self, node: GraphNode) -> None:
        for dep_uid in list(self.dependents.get(node.uid, ())):
            dep = self.nodes.get(dep_uid)
            if dep is None or not dep.blocks(node.uid):
                continue
            refs = [dict(r, blockOwnerDeletion=False) if r.get("uid") == node.uid else r for r in dep.owners]
            await self._patch(dep, {"metadata": {"ownerReferences": refs, "uid": dep.uid}})

    async def _delete(self, node: GraphNode, latest: dict, policy: str) -> None:
        log.info("gc.deleting", object=node.key, propagation_policy=policy)
        try:
            await self.client.delete(node.ref, node.name, namespace=node.namespace or None,
                                     propagation_policy=policy, preconditions={"uid": node.uid})
        except (NotFound, Conflict):
            pass  # gone already, or replaced by a new object of that name

    async def _patch(self, node: GraphNode, patch: dict) -> None:
        try:
            await self.client.patch(node.ref, node.name, patch, namespace=node.namespace or None)
        except NotFound:
            pass

    async def _process_deleting_dependents(self, node: GraphNode, latest: dict) -> None:
        blocking = [self.nodes[d] for d in self.dependents.get(node.uid, ()) if d in self.nodes
                    and self.nodes[d].blocks(node.uid)]
        if not blocking:
            await self._remove_finalizer(node, latest, FOREGROUND)
            return
        for dep in blocking:
            if not dep.being_deleted:
                self.queue.add(dep.uid)

    async def _remove_finalizer(self, node: GraphNode, latest: dict, finalizer: str) -> None:
        rest = [f for f in meta(latest).get("finalizers") or [] if f != finalizer]
        log.info("gc.finalizer_removed", object=node.key, finalizer=finalizer)
        await self._patch(node, {"metadata": {"finalizers": rest or None,
                                              "resourceVersion": meta(latest).get("resourceVersion")}})

    async def orphan(self, uid: str) -> None:
        """attemptToOrphan: drop the ownerReferences to this owner, then its `orphan` finalizer."""
        node = self.nodes.get(uid)
        if node is None:
            return
        latest = await self._get(node)
        if latest is None or not is_being_deleted(latest) or ORPHAN not in (meta(latest).get("finalizers") or []):
            return
        for dep_uid in list(self.dependents.get(uid, ())):
            dep = self.nodes.get(dep_uid)
            current = await self._get(dep) if dep else None
            if current is None:
                continue
            refs = [r for r in meta(current).get("ownerReferences") or [] if r.get("uid") != uid]
            await self._patch(dep, {"metadata": {"ownerReferences": refs or None, "uid": dep.uid,
                                                 "resourceVersion": meta(current).get("resourceVersion")}})
        await self._remove_finalizer(node, latest, ORPHAN)
