"""Namespace controller (k8s pkg/controller/namespace): empties a Terminating namespace.

Guarantees, for a namespace with a deletionTimestamp and the `kubernetes` spec finalizer:
- every namespaced object of every kind kubemu serves in it is deleted (those already being deleted
  are left to finish);
- while objects remain (pods terminating gracefully, finalizers), status conditions say so
  (NamespaceContentRemaining: "Some resources are remaining: pods. has 2 resource instances") and
  the namespace is looked at again shortly;
- once nothing remains, the `kubernetes` finalizer is removed through the `finalize` subresource
  (falling back to a plain update if the API server has no such subresource), after which the API
  server deletes the namespace.
"""

from __future__ import annotations

import copy

from shared.client import ApiError, NotFound
from shared.resources import ALL, NAMESPACES

from shared.logging import get_logger

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.objects import format_time, get_condition, is_being_deleted, meta, name_of

log = get_logger()

FINALIZER = "kubernetes"
REMAINING_REQUEUE_SECONDS = 1.0
NAMESPACED = tuple(r for r in ALL if r.namespaced)


def content_conditions(remaining: dict[str, int], finalizers: dict[str, int], now: str,
                       old: list[dict] | None) -> list[dict]:
    """The namespace deletion conditions Kubernetes reports, keeping lastTransitionTime when unchanged."""
    def cond(ctype: str, true: bool, reason_true: str, reason_false: str, message: str) -> dict:
        status = "True" if true else "False"
        previous = get_condition(old, ctype)
        since = previous.get("lastTransitionTime") if previous and previous.get("status") == status else now
        return {"type": ctype, "status": status, "lastTransitionTime": since,
                "reason": reason_true if true else reason_false, "message": message}

    left = ", ".join(f"{res} has {n} resource instances" for res, n in sorted(remaining.items()))
    fin = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))
    return [
        cond("NamespaceDeletionDiscoveryFailure", False, "DiscoveryFailed", "ResourcesDiscovered",
             "All resources successfully discovered"),
        cond("NamespaceDeletionGroupVersionParsingFailure", False, "GroupVersionParsingFailed", "ParsedGroupVersions",
             "All legacy kube types successfully parsed"),
        cond("NamespaceDeletionContentFailure", False, "ContentDeletionFailed", "ContentDeleted",
             "All content successfully deleted, may be waiting on finalization"),
        cond("NamespaceContentRemaining", bool(remaining), "SomeResourcesRemain", "ContentRemoved",
             f"Some resources are remaining: {left}" if remaining else "All content successfully removed"),
        cond("NamespaceFinalizersRemaining", bool(finalizers), "SomeFinalizersRemain", "ContentHasNoFinalizers",
             f"Some content in the namespace has finalizers remaining: {fin}" if finalizers
             else "All content-preserving finalizers finished"),
    ]


class NamespaceController(Controller):
    name = "namespace-controller"
    queue_name = "namespace"
    default_workers = 10

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self.ns_informer = ctx.informers.informer(NAMESPACES)
        self.ns_informer.add_event_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n))

    async def sync(self, key: str) -> None:
        cached = self.ns_informer.lister.get(key)
        if cached is None or not is_being_deleted(cached):
            return
        if FINALIZER not in ((cached.get("spec") or {}).get("finalizers") or []):
            await self._delete_if_finalized(cached)
            return
        remaining, finalizers = await self._delete_all_content(key)
        await self._update_conditions(cached, remaining, finalizers)
        if remaining:
            log.info("namespace.content_remaining", remaining=remaining)
            self.queue.add_after(key, REMAINING_REQUEUE_SECONDS)
            return
        await self._finalize(cached)
        log.info("namespace.finalized")

    async def _delete_all_content(self, namespace: str) -> tuple[dict[str, int], dict[str, int]]:
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for ref in NAMESPACED:
            items = (await self.client.list(ref, namespace=namespace)).get("items") or []
            for item in items:
                if not is_being_deleted(item):
                    try:
                        await self.client.delete(ref, name_of(item), namespace=namespace)
                    except NotFound:
                        continue
                for f in meta(item).get("finalizers") or []:
                    finalizers[f] = finalizers.get(f, 0) + 1
            if not items:
                continue
            left = (await self.client.list(ref, namespace=namespace)).get("items") or []
            if left:
                remaining[ref.group_resource] = len(left)
        return remaining, finalizers

    async def _update_conditions(self, ns: dict, remaining: dict[str, int], finalizers: dict[str, int]) -> None:
        old = (ns.get("status") or {}).get("conditions")
        conditions = content_conditions(remaining, finalizers, format_time(self.now()), old)
        if conditions == old:
            return
        body = copy.deepcopy(ns)
        body.setdefault("status", {})["conditions"] = conditions
        try:
            await self.client.update(NAMESPACES, body, subresource="status")
        except NotFound:
            pass
        except ApiError:
            pass  # conditions are informative; never let them block the deletion

    async def _finalize(self, ns: dict) -> None:
        body = copy.deepcopy(ns)
        body["spec"]["finalizers"] = [f for f in body["spec"].get("finalizers") or [] if f != FINALIZER]
        body["metadata"].pop("resourceVersion", None)
        try:
            result = await self.client.update(NAMESPACES, body, subresource="finalize")
        except NotFound:
            try:  # no finalize subresource, or the namespace is gone
                result = await self.client.update(NAMESPACES, body)
            except NotFound:
                return
        await self._delete_if_finalized(result)

    async def _delete_if_finalized(self, ns: dict) -> None:
        """An API server that does not delete a finalized namespace by itself gets a second DELETE."""
        if not ns or (ns.get("spec") or {}).get("finalizers") or meta(ns).get("finalizers"):
            return
        try:
            await self.client.delete(NAMESPACES, name_of(ns))
        except NotFound:
            pass
