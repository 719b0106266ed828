"""What a Service's endpoints are (k8s pkg/controller/util/endpoint and endpointslice util).

Guarantees: the same inclusion rules for both controllers — a pod with no IP or in a terminal
phase is never an endpoint; named targetPorts resolve per pod from its container ports (a pod
without the name is left out of that port, and a pod none of a Service's ports resolve on is not
an endpoint of it); pods and services are matched in one namespace. `ServicePodHandlers` gives
both controllers the same Service and Pod watches: a Service's change syncs it, a pod's change
syncs every Service that selects it, before or after the change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from shared.resources import PODS, SERVICES

from services.controller_manager.labels import map_selector_matches
from services.controller_manager.objects import TERMINAL_PHASES, is_being_deleted, key_of, labels_of, meta, \
    unwrap_tombstone

HEADLESS_LABEL = "service.kubernetes.io/headless"


def pod_ip(pod: Mapping) -> str:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or [] if p.get("ip")]
    return status.get("podIP") or (ips[0] if ips else "")


def should_pod_be_in_endpoints(pod: Mapping, *, include_terminating: bool) -> bool:
    if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
        return False
    if not pod_ip(pod):
        return False
    return include_terminating or not is_being_deleted(pod)


def find_port(pod: Mapping, service_port: Mapping) -> int | None:
    """podutil.FindPort: an int targetPort as is; a name looked up in the pod's containers."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def endpoint_ports(service: Mapping, pod: Mapping) -> list[dict]:
    out = []
    for sp in (service.get("spec") or {}).get("ports") or []:
        number = find_port(pod, sp)
        if number is None:
            continue
        port = {"name": sp.get("name") or "", "port": number, "protocol": sp.get("protocol") or "TCP"}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def service_selects(service: Mapping, pod: Mapping) -> bool:
    return map_selector_matches((service.get("spec") or {}).get("selector"), labels_of(pod))


def endpoint_pods(service: Mapping, pods: Iterable[dict], *, include_terminating: bool
                  ) -> Iterator[tuple[dict, list[dict]]]:
    """(pod, its resolved ports) for each of `pods`, in order, that is an endpoint of `service`."""
    has_ports = bool((service.get("spec") or {}).get("ports"))
    for pod in pods:
        if not service_selects(service, pod) or not should_pod_be_in_endpoints(
                pod, include_terminating=include_terminating):
            continue
        ports = endpoint_ports(service, pod)
        if has_ports and not ports:
            continue  # none of the service's ports resolve on this pod
        yield pod, ports


class ServicePodHandlers:
    """The watches of a controller keyed by Service (a Controller subclass): a Service's change
    enqueues it; a pod's change enqueues every Service selecting the pod, before or after
    (k8s endpointutil's GetPodServiceMemberships)."""

    queue: Any
    enqueue: Callable[[dict], None]
    enqueue_deleted: Callable[[object], None]

    def _watch_services_and_pods(self, informers: Any) -> None:
        """The Service and Pod informers, with the handlers this class guarantees."""
        self.svc_informer = informers.informer(SERVICES)
        self.pod_informer = informers.informer(PODS)
        self.svc_informer.add_event_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                            on_delete=self.enqueue_deleted)
        self.pod_informer.add_event_handler(on_add=self._on_pod, on_update=self._on_pod_update,
                                            on_delete=self._on_pod_delete)

    def _services_for(self, pod: dict) -> list[dict]:
        services = self.svc_informer.lister.list(namespace=meta(pod).get("namespace"))
        return [s for s in services if service_selects(s, pod)]

    def _on_pod(self, pod: dict) -> None:
        for svc in self._services_for(pod):
            self.enqueue(svc)

    def _on_pod_update(self, old: dict, new: dict) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        for key in {key_of(s) for s in self._services_for(old) + self._services_for(new)}:
            self.queue.add(key)

    def _on_pod_delete(self, obj: object) -> None:
        pod = unwrap_tombstone(obj)
        if pod is not None:
            self._on_pod(pod)


def manages_endpoints(service: Mapping) -> bool:
    """Endpoints are computed for Services with a selector, except ExternalName ones."""
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def is_headless(service: Mapping) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def service_labels(service: Mapping) -> dict[str, str]:
    labels = dict(labels_of(service))
    labels.pop(HEADLESS_LABEL, None)
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    return labels


def target_ref(pod: Mapping) -> dict:
    m = meta(pod)
    return {"kind": "Pod", "namespace": m.get("namespace"), "name": m.get("name"), "uid": m.get("uid")}
