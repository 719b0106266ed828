"""ServiceAccount controller (k8s pkg/controller/serviceaccount): a "default" ServiceAccount per namespace.

Guarantees: every active namespace has a ServiceAccount named "default"; it is recreated if
deleted; nothing is created in a namespace that is being deleted.
"""

from __future__ import annotations

from shared.client import AlreadyExists, ApiError
from shared.resources import NAMESPACES, SERVICEACCOUNTS

from shared.logging import get_logger

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.objects import is_being_deleted, meta, status_cause, unwrap_tombstone

log = get_logger()

DEFAULT_NAME = "default"


class ServiceAccountController(Controller):
    name = "serviceaccount-controller"
    queue_name = "serviceaccount"
    default_workers = 1

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self.ns_informer = ctx.informers.informer(NAMESPACES)
        self.sa_informer = ctx.informers.informer(SERVICEACCOUNTS)
        self.ns_informer.add_event_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n))
        self.sa_informer.add_event_handler(on_delete=self._on_sa_delete)

    def _on_sa_delete(self, obj: object) -> None:
        sa = unwrap_tombstone(obj)
        if sa is not None and meta(sa).get("name") == DEFAULT_NAME:
            self.queue.add(meta(sa).get("namespace", ""))

    async def sync(self, key: str) -> None:
        ns = self.ns_informer.lister.get(key)
        if ns is None or is_being_deleted(ns) or (ns.get("status") or {}).get("phase") == "Terminating":
            return
        if self.sa_informer.lister.get(DEFAULT_NAME, key) is not None:
            return
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT_NAME, "namespace": key}}
        log.info("serviceaccount.created", serviceaccount=f"{key}/{DEFAULT_NAME}")
        try:
            await self.client.create(SERVICEACCOUNTS, body, namespace=key)
        except AlreadyExists:
            pass
        except ApiError as err:
            if not status_cause(err, "NamespaceTerminating"):
                raise
