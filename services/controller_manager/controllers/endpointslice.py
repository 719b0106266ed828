"""EndpointSlice controller (k8s pkg/controller/endpointslice).

Guarantees, for each Service with a selector:
- its pods with an IP become endpoints with conditions ready (ready and not terminating, or
  publishNotReadyAddresses), serving (ready) and terminating (deletionTimestamp), nodeName and a
  Pod targetRef;
- endpoints are grouped by their resolved port list (named targetPorts can differ per pod); each
  group fills slices of at most `max_endpoints_per_slice`, named by generateName "<svc>-",
  labelled kubernetes.io/service-name=<svc> and endpointslice.kubernetes.io/managed-by=
  endpointslice-controller.k8s.io, owned by the Service (controller ownerReference); an endpoint
  carries its node's topology.kubernetes.io/zone when the node has one;
- a Service with no endpoints keeps one empty placeholder slice, as Kubernetes does;
- slices are only written when they differ; stale slices (other ports, an older Service with the
  same name) are deleted. A deleted Service's slices go with it through the garbage collector;
- a sync never acts on a cache older than its own writes (endpointSliceTracker): slices are
  created by generateName, so acting on a cache that has not seen them yet would create twice.
  A stale cache is an error and the key is retried with backoff.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from shared.client import NotFound
from shared.resources import ENDPOINTSLICES, NODES

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
    controller_ref,
    is_being_deleted,
    is_pod_ready,
    meta,
    name_of,
    new_controller_ref,
    split_key,
    uid_of,
    unwrap_tombstone,
)

log = get_logger()

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100


def _ports_key(ports: list[dict]) -> tuple:
    return tuple(sorted((p.get("name") or "", p.get("port"), p.get("protocol") or "TCP",
                         p.get("appProtocol") or "") for p in ports or []))


class StaleInformerCache(Exception):
    """EndpointSlice informer cache is out of date (k8s endpointslicepkg.StaleInformerCache)."""


class SliceTracker:
    """The slices this controller wrote, per Service, and the resourceVersion it wrote them at.

    Kubernetes compares generations; kubemu's API server bumps `generation` only on spec changes,
    so the (integer, revision-based) resourceVersion plays that part here.
    """

    DELETED = -1

    def __init__(self) -> None:
        self.expected: dict[str, dict[str, int]] = {}

    def written(self, service_key: str, endpoint_slice: dict) -> None:
        self.expected.setdefault(service_key, {})[name_of(endpoint_slice)] = _rv(endpoint_slice)

    def deleted(self, service_key: str, name: str) -> None:
        self.expected.setdefault(service_key, {})[name] = self.DELETED

    def stale(self, service_key: str, slices: list[dict]) -> bool:
        have = {name_of(s): _rv(s) for s in slices}
        for name, rv in self.expected.get(service_key, {}).items():
            if rv == self.DELETED:
                if name in have:
                    return True
            elif have.get(name, -2) < rv:
                return True
        return False

    def forget(self, service_key: str) -> None:
        self.expected.pop(service_key, None)


def _rv(obj: dict) -> int:
    try:
        return int(meta(obj).get("resourceVersion") or 0)
    except ValueError:
        return 0


ZONE_LABEL = "topology.kubernetes.io/zone"
ZoneOf = Callable[[str], str | None]


def pod_endpoint(service: dict, pod: dict, zone_of: ZoneOf | None = None) -> dict:
    serving = is_pod_ready(pod)
    terminating = is_being_deleted(pod)
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    endpoint = {
        "addresses": [pod_ip(pod)],
        "conditions": {"ready": publish or (serving and not terminating), "serving": serving,
                       "terminating": terminating},
        "targetRef": target_ref(pod),
    }
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        endpoint["nodeName"] = node
        zone = zone_of(node) if zone_of else None
        if zone:
            endpoint["zone"] = zone
    hostname, subdomain = (pod.get("spec") or {}).get("hostname"), (pod.get("spec") or {}).get("subdomain")
    if hostname and subdomain == name_of(service):
        endpoint["hostname"] = hostname
    return endpoint


def desired_groups(service: dict, pods: list[dict], zone_of: ZoneOf | None = None
                   ) -> dict[tuple, tuple[list[dict], list[dict]]]:
    """ports key → (ports, endpoints sorted by pod name)."""
    groups: dict[tuple, tuple[list[dict], list[dict]]] = {}
    in_order = sorted(pods, key=lambda p: (name_of(p), uid_of(p)))
    for pod, ports in endpoint_pods(service, in_order, include_terminating=True):
        group = groups.setdefault(_ports_key(ports), (ports, []))
        group[1].append(pod_endpoint(service, pod, zone_of))
    return groups


def new_slice(service: dict, ports: list[dict], endpoints: list[dict]) -> dict:
    labels = dict(service_labels(service), **{SERVICE_NAME_LABEL: name_of(service), MANAGED_BY_LABEL: CONTROLLER_NAME})
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"generateName": f"{name_of(service)}-", "namespace": meta(service)["namespace"],
                     "labels": labels,
                     "ownerReferences": [new_controller_ref(service, api_version="v1", kind="Service")]},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }


def _slice_differs(existing: dict, wanted: dict) -> bool:
    return (existing.get("endpoints") or []) != wanted["endpoints"] or \
        _ports_key(existing.get("ports")) != _ports_key(wanted["ports"]) or \
        (meta(existing).get("labels") or {}) != wanted["metadata"]["labels"]


def plan(service: dict, pods: list[dict], existing: list[dict], max_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
         zone_of: ZoneOf | None = None) -> tuple[list[dict], list[dict], list[dict]]:
    """(slices to create, slices to update, slices to delete) for one Service."""
    groups = desired_groups(service, pods, zone_of)
    mine = [s for s in existing if (controller_ref(s) or {}).get("uid") == uid_of(service)]
    to_delete = [s for s in existing if s not in mine]
    if not groups:
        groups = {(): ([], [])}  # the placeholder slice
    by_ports: dict[tuple, list[dict]] = {}
    for s in sorted(mine, key=name_of):
        by_ports.setdefault(_ports_key(s.get("ports")), []).append(s)
    creates, updates = [], []
    for pkey, (ports, endpoints) in groups.items():
        chunks = [endpoints[i:i + max_per_slice] for i in range(0, len(endpoints), max_per_slice)] or [[]]
        reusable = by_ports.pop(pkey, [])
        for i, chunk in enumerate(chunks):
            wanted = new_slice(service, ports, chunk)
            if i < len(reusable):
                if _slice_differs(reusable[i], wanted):
                    updates.append(_rewritten(reusable[i], wanted))
            else:
                creates.append(wanted)
        to_delete.extend(reusable[len(chunks):])
    for leftovers in by_ports.values():
        to_delete.extend(leftovers)
    # As the reconciler's finalize(): a slice to create and one of this Service's slices to delete
    # become one update of the latter (the placeholder turning into the first real slice, ports
    # changing), so watchers see a slice change rather than one appear and another vanish.
    for stale in [s for s in to_delete if any(s is m for m in mine)]:
        if not creates:
            break
        updates.append(_rewritten(stale, creates.pop()))
        to_delete = [s for s in to_delete if s is not stale]
    return creates, updates, to_delete


def _rewritten(existing: dict, wanted: dict) -> dict:
    """`existing` (name, uid, resourceVersion kept) holding what `wanted` holds."""
    updated = copy.deepcopy(existing)
    updated["metadata"]["labels"] = wanted["metadata"]["labels"]
    updated.update(endpoints=wanted["endpoints"], ports=wanted["ports"], addressType=wanted["addressType"])
    return updated


class EndpointSliceController(ServicePodHandlers, Controller):
    name = "endpointslice-controller"
    queue_name = "endpoint_slice"
    default_workers = 5

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self.max_per_slice = getattr(ctx.options, "max_endpoints_per_slice", MAX_ENDPOINTS_PER_SLICE)
        self.tracker = SliceTracker()
        self._watch_services_and_pods(ctx.informers)
        self.slice_informer = ctx.informers.informer(ENDPOINTSLICES)
        self.node_informer = ctx.informers.informer(NODES)
        self.slice_informer.add_event_handler(on_add=self._on_slice, on_update=lambda o, n: self._on_slice(n),
                                              on_delete=self._on_slice_delete)

    def _on_slice(self, endpoint_slice: dict) -> None:
        """Someone changed one of our slices: put it back as it should be."""
        labels = meta(endpoint_slice).get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME and labels.get(SERVICE_NAME_LABEL):
            self.queue.add(f"{meta(endpoint_slice).get('namespace')}/{labels[SERVICE_NAME_LABEL]}")

    def _on_slice_delete(self, obj: object) -> None:
        endpoint_slice = unwrap_tombstone(obj)
        if endpoint_slice is not None:
            self._on_slice(endpoint_slice)

    def _zone_of(self, node_name: str) -> str | None:
        node = self.node_informer.lister.get(node_name)
        return (meta(node).get("labels") or {}).get(ZONE_LABEL) if node else None

    def _existing_slices(self, namespace: str, service_name: str) -> list[dict]:
        return [s for s in self.slice_informer.lister.list(namespace=namespace)
                if (meta(s).get("labels") or {}).get(SERVICE_NAME_LABEL) == service_name
                and (meta(s).get("labels") or {}).get(MANAGED_BY_LABEL) == CONTROLLER_NAME]

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.svc_informer.lister.get(name, namespace)
        if service is None or not manages_endpoints(service):
            self.tracker.forget(key)
            return  # deleted (its slices are garbage collected) or not ours to manage
        if is_being_deleted(service):
            return
        existing = self._existing_slices(namespace, name)
        if self.tracker.stale(key, existing):
            raise StaleInformerCache("EndpointSlice informer cache is out of date")
        pods = self.pod_informer.lister.list(namespace=namespace)
        creates, updates, deletes = plan(service, pods, existing, self.max_per_slice, self._zone_of)
        for body in creates:
            created = await self.client.create(ENDPOINTSLICES, body, namespace=namespace)
            self.tracker.written(key, created)
            log.info("endpointslice.created", slice=name_of(created), endpoints=len(body["endpoints"]))
        for body in updates:
            updated = await self.client.update(ENDPOINTSLICES, body, namespace=namespace)
            self.tracker.written(key, updated)
            log.info("endpointslice.updated", slice=name_of(body), endpoints=len(body["endpoints"]))
        for stale in deletes:
            log.info("endpointslice.deleted", slice=name_of(stale))
            self.tracker.deleted(key, name_of(stale))
            try:
                await self.client.delete(ENDPOINTSLICES, name_of(stale), namespace=namespace)
            except NotFound:
                pass
