"""Services and EndpointSlices, reduced to what a proxy programs (kube-proxy's ServicePortMap/EndpointsMap).

Guarantees:
- `service_ports(service)` gives one `ServicePort` per entry of `spec.ports` of a Service that has a
  cluster IP; headless (`clusterIP: None`) and ExternalName Services give none, as in kube-proxy.
- `endpoints_map(slices)` gives, per `ServicePortName`, the *ready* endpoints of every EndpointSlice
  that names the Service in its `kubernetes.io/service-name` label; when a port has none, its
  serving terminating endpoints instead (kube-proxy's CategorizeEndpoints fallback, GA in 1.28: a
  rolling update or scale-down does not drop traffic while the old pods still answer). Slice ports are matched to
  Service ports by name (and protocol), exactly how kube-proxy ties them: the Service's
  `targetPort` is never consulted, the EndpointSlice already carries the resolved port number.
- Endpoint lists are deduplicated and sorted by "ip:port" (kube-proxy sorts them the same way), so
  equal inputs always give equal maps and a diff means a real change.
- Nothing here does I/O; everything takes and returns plain data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds; v1.DefaultClientIPServiceAffinitySeconds
CHANGE_TRIGGER_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"


@dataclass(frozen=True, slots=True, order=True)
class ServicePortName:
    """One port of one Service: what kube-proxy keys everything by."""

    namespace: str
    name: str
    port: str = ""
    protocol: str = "TCP"

    def __str__(self) -> str:
        # proxy.ServicePortName.String(): "ns/name:port", or "ns/name" for an unnamed port.
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port}" if self.port else base

    @property
    def service_key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class ServicePort:
    """What a proxy needs to serve one Service port; equal values mean nothing to reprogram."""

    name: ServicePortName
    cluster_ip: str
    port: int
    protocol: str = "TCP"
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    session_affinity: str = "None"  # or "ClientIP"
    affinity_timeout: int = DEFAULT_AFFINITY_TIMEOUT


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    ip: str
    port: int
    node_name: str = ""

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


def _sort_key(ep: Endpoint) -> str:
    return str(ep)


def is_proxyable(service: dict) -> bool:
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return False
    return spec.get("clusterIP") not in (None, "", "None")


def service_ports(service: dict, *, affinity_timeout: int | None = None) -> list[ServicePort]:
    """The ports of `service` to proxy; `affinity_timeout` overrides the Service's own value."""
    if not is_proxyable(service):
        return []
    meta, spec = service["metadata"], service["spec"]
    affinity = spec.get("sessionAffinity") or "None"
    timeout = affinity_timeout or _affinity_timeout(spec)
    with_node_ports = spec.get("type") in ("NodePort", "LoadBalancer")
    return [
        ServicePort(
            name=ServicePortName(meta.get("namespace", "default"), meta["name"], p.get("name") or "",
                                 p.get("protocol") or "TCP"),
            cluster_ip=spec["clusterIP"],
            port=int(p["port"]),
            protocol=p.get("protocol") or "TCP",
            node_port=int(p.get("nodePort") or 0) if with_node_ports else 0,
            external_ips=tuple(spec.get("externalIPs") or ()),
            session_affinity=affinity,
            affinity_timeout=timeout,
        )
        for p in spec.get("ports") or ()
    ]


def _affinity_timeout(spec: dict) -> int:
    config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    return int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)


def service_port_map(services: Iterable[dict], *, affinity_timeout: int | None = None
                     ) -> dict[ServicePortName, ServicePort]:
    return {sp.name: sp for svc in services for sp in service_ports(svc, affinity_timeout=affinity_timeout)}


def slice_service(slice_: dict) -> tuple[str, str] | None:
    """(namespace, service name) an EndpointSlice belongs to, from its service-name label."""
    meta = slice_.get("metadata") or {}
    name = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not name:
        return None
    return meta.get("namespace", "default"), name


def is_ready(endpoint: dict) -> bool:
    # EndpointConditions.ready: "nil should be interpreted as ready" (discovery/v1).
    return (endpoint.get("conditions") or {}).get("ready") is not False


def is_serving_terminating(endpoint: dict) -> bool:
    # serving: nil means ready's value; terminating: nil means false (discovery/v1).
    conditions = endpoint.get("conditions") or {}
    serving = conditions.get("serving")
    return conditions.get("terminating") is True and (serving is True or (serving is None and is_ready(endpoint)))


def endpoints_map(slices: Iterable[dict]) -> dict[ServicePortName, list[Endpoint]]:
    """Ready endpoints per Service port name, across all slices of each Service; the serving
    terminating ones for a port that has no ready endpoint."""
    ready: dict[ServicePortName, set[Endpoint]] = {}
    terminating: dict[ServicePortName, set[Endpoint]] = {}
    for slice_ in slices:
        owner = slice_service(slice_)
        if owner is None or slice_.get("addressType", "IPv4") != "IPv4":
            continue
        for port in slice_.get("ports") or ():
            if port.get("port") is None:
                continue
            name = ServicePortName(owner[0], owner[1], port.get("name") or "", port.get("protocol") or "TCP")
            eps = ready.setdefault(name, set())
            for ep in slice_.get("endpoints") or ():
                if not ep.get("addresses"):
                    continue
                # kube-proxy uses the first address: all of them are fungible by API contract.
                endpoint = Endpoint(ep["addresses"][0], int(port["port"]), ep.get("nodeName") or "")
                if is_ready(ep):
                    eps.add(endpoint)
                elif is_serving_terminating(ep):
                    terminating.setdefault(name, set()).add(endpoint)
    return {name: sorted(eps or terminating.get(name, ()), key=_sort_key) for name, eps in ready.items()}
