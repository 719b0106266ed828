"""Endpoints controller (k8s pkg/controller/endpoint): the legacy Endpoints object per Service.

Guarantees, for each Service with a selector: an Endpoints object of the same name whose subsets
hold ready pods in `addresses` and not-ready ones in `notReadyAddresses` (terminating pods are left
out unless publishNotReadyAddresses), each with ip, nodeName and a Pod targetRef; addresses that
share the same resolved ports share a subset (endpoints.RepackSubsets). It is written only when
it differs, labelled like the Service plus endpointslice.kubernetes.io/skip-mirror=true (the
EndpointSlices are made by their own controller). When the Service is gone, its Endpoints object
is deleted.
"""

from __future__ import annotations

import copy

from shared.client import AlreadyExists, NotFound
from shared.resources import ENDPOINTS

from shared.logging import get_logger

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.controllers.endpoints_util import (
    ServicePodHandlers,
    endpoint_pods,
    manages_endpoints,
    pod_ip,
    service_labels,
    target_ref,
)
from services.controller_manager.objects import (
    is_being_deleted,
    is_pod_ready,
    meta,
    split_key,
)

log = get_logger()


SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"


def _address(pod: dict) -> dict:
    address = {"ip": pod_ip(pod), "targetRef": target_ref(pod)}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        address["nodeName"] = node
    return address


def desired_subsets(service: dict, pods: list[dict]) -> list[dict]:
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    groups: dict[tuple, dict] = {}
    for pod, ports in endpoint_pods(service, pods, include_terminating=publish):
        ports = sorted(ports, key=lambda p: (p["name"], p["port"], p["protocol"]))
        pkey = tuple((p["name"], p["port"], p["protocol"], p.get("appProtocol", "")) for p in ports)
        subset = groups.setdefault(pkey, {"addresses": [], "notReadyAddresses": [], "ports": ports})
        ready = publish or is_pod_ready(pod)
        subset["addresses" if ready else "notReadyAddresses"].append(_address(pod))
    out = []
    for pkey in sorted(groups):
        subset = groups[pkey]
        for field in ("addresses", "notReadyAddresses"):
            subset[field].sort(key=lambda a: (a["ip"], a["targetRef"].get("uid") or ""))
            if not subset[field]:
                del subset[field]
        if not subset["ports"]:
            del subset["ports"]
        out.append(subset)
    return out


def _count(subsets: list[dict], field: str) -> int:
    return sum(len(s.get(field) or []) for s in subsets)


class EndpointsController(ServicePodHandlers, Controller):
    name = "endpoints-controller"
    queue_name = "endpoint"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self._watch_services_and_pods(ctx.informers)
        self.ep_informer = ctx.informers.informer(ENDPOINTS)
        self.ep_informer.add_event_handler(on_delete=self.enqueue_deleted)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.svc_informer.lister.get(name, namespace)
        if service is None:
            await self._delete_endpoints(namespace, name)
            return
        if not manages_endpoints(service) or is_being_deleted(service):
            return  # without a selector, the user manages the Endpoints
        subsets = desired_subsets(service, self.pod_informer.lister.list(namespace=namespace))
        labels = dict(service_labels(service), **{SKIP_MIRROR_LABEL: "true"})  # not for the mirroring controller
        current = self.ep_informer.lister.get(name, namespace)
        if current is not None and (current.get("subsets") or []) == subsets and \
                (meta(current).get("labels") or {}) == labels:
            return
        if current is None:
            body = {"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": name, "namespace": namespace, "labels": labels}}
            if subsets:
                body["subsets"] = subsets
            try:
                await self.client.create(ENDPOINTS, body, namespace=namespace)
            except AlreadyExists:
                raise  # our cache is behind; the retry will update it
            return
        body = copy.deepcopy(current)
        body["metadata"]["labels"] = labels
        body["subsets"] = subsets
        await self.client.update(ENDPOINTS, body, namespace=namespace)
        log.info("endpoints.updated", ready=_count(subsets, "addresses"),
                 not_ready=_count(subsets, "notReadyAddresses"))

    async def _delete_endpoints(self, namespace: str, name: str) -> None:
        if self.ep_informer.lister.get(name, namespace) is None:
            return
        try:
            await self.client.delete(ENDPOINTS, name, namespace=namespace)
        except NotFound:
            pass
