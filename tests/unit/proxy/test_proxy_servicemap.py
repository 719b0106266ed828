"""Services and EndpointSlices reduced to service ports and ready endpoints, as kube-proxy does."""

from __future__ import annotations

import pytest

from services.proxy.servicemap import (Endpoint, ServicePortName, endpoints_map, service_port_map,
                                       service_ports)
from tests.unit.proxy.helpers import service


def _slice(name: str, ports: list[dict], endpoints: list[dict], *, service_name: str = "web",
           address_type: str = "IPv4") -> dict:
    return {"metadata": {"name": name, "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": address_type, "ports": ports, "endpoints": endpoints}


def _ep(ip: str, ready: bool | None = True, node: str = "") -> dict:
    conditions = {} if ready is None else {"ready": ready}
    return {"addresses": [ip], "conditions": conditions, "nodeName": node}


@pytest.mark.parametrize("spec_update, expected", [
    ({}, 1),
    ({"clusterIP": "None"}, 0),          # headless
    ({"clusterIP": ""}, 0),              # not allocated yet
    ({"type": "ExternalName", "externalName": "example.com"}, 0),
])
def test_only_services_with_a_cluster_ip_are_proxied(spec_update: dict, expected: int) -> None:
    svc = service("web", "127.96.0.10", 80)
    svc["spec"].update(spec_update)
    assert len(service_ports(svc)) == expected


def test_service_port_fields() -> None:
    svc = service("web", "127.96.0.10", 80, node_port=30080, affinity="ClientIP", timeout=60)
    [sp] = service_ports(svc)
    assert sp.name == ServicePortName("default", "web", "http", "TCP")
    assert str(sp.name) == "default/web:http"
    assert (sp.cluster_ip, sp.port, sp.node_port) == ("127.96.0.10", 80, 30080)
    assert (sp.session_affinity, sp.affinity_timeout) == ("ClientIP", 60)


def test_affinity_timeout_defaults_to_three_hours_and_can_be_overridden() -> None:
    svc = service("web", "127.96.0.10", 80, affinity="ClientIP")
    assert service_ports(svc)[0].affinity_timeout == 10800
    assert service_ports(svc, affinity_timeout=2)[0].affinity_timeout == 2


def test_node_port_ignored_for_cluster_ip_services() -> None:
    svc = service("web", "127.96.0.10", 80, node_port=30080)
    svc["spec"]["type"] = "ClusterIP"
    assert service_ports(svc)[0].node_port == 0


def test_unnamed_port_name_string_has_no_colon() -> None:
    svc = service("web", "127.96.0.10", 80, port_name="")
    assert str(service_ports(svc)[0].name) == "default/web"


@pytest.mark.parametrize("ready, included", [(True, True), (None, True), (False, False)])
def test_only_ready_endpoints(ready: bool | None, included: bool) -> None:
    slices = [_slice("web-1", [{"name": "http", "port": 8080, "protocol": "TCP"}], [_ep("127.244.1.5", ready)])]
    got = endpoints_map(slices)[ServicePortName("default", "web", "http")]
    assert got == ([Endpoint("127.244.1.5", 8080)] if included else [])


def _terminating(ip: str, serving: bool | None) -> dict:
    conditions = {"ready": False, "terminating": True, **({} if serving is None else {"serving": serving})}
    return {"addresses": [ip], "conditions": conditions}


def test_serving_terminating_endpoints_are_used_only_when_no_endpoint_is_ready() -> None:
    http = [{"name": "http", "port": 8080, "protocol": "TCP"}]
    name = ServicePortName("default", "web", "http")
    old, new = _terminating("127.244.1.5", True), _ep("127.244.1.6", True)
    assert endpoints_map([_slice("web-1", http, [old, new])])[name] == [Endpoint("127.244.1.6", 8080)]
    assert endpoints_map([_slice("web-1", http, [old, _ep("127.244.1.6", False)])])[name] == \
        [Endpoint("127.244.1.5", 8080)]
    # A terminating endpoint that no longer serves (its readiness failed) is never a fallback.
    assert endpoints_map([_slice("web-1", http, [_terminating("127.244.1.5", False)])])[name] == []
    assert endpoints_map([_slice("web-1", http, [_terminating("127.244.1.5", None)])])[name] == []


def test_slice_ports_resolve_by_name_across_slices_sorted_and_deduplicated() -> None:
    ports = [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9090, "protocol": "TCP"}]
    slices = [
        _slice("web-1", ports, [_ep("127.244.2.9"), _ep("127.244.1.5")]),
        _slice("web-2", ports, [_ep("127.244.1.5"), _ep("127.244.1.10")]),
    ]
    got = endpoints_map(slices)
    http = got[ServicePortName("default", "web", "http")]
    assert [str(e) for e in http] == ["127.244.1.10:8080", "127.244.1.5:8080", "127.244.2.9:8080"]
    assert {e.port for e in got[ServicePortName("default", "web", "metrics")]} == {9090}


def test_slices_without_service_label_or_not_ipv4_are_ignored() -> None:
    ports = [{"name": "http", "port": 8080, "protocol": "TCP"}]
    unlabeled = _slice("x", ports, [_ep("127.244.1.5")])
    unlabeled["metadata"]["labels"] = {}
    fqdn = _slice("y", ports, [_ep("example.com")], address_type="FQDN")
    assert endpoints_map([unlabeled, fqdn]) == {}


def test_service_port_map_keys_by_service_port_name() -> None:
    svc = service("web", "127.96.0.10", 80)
    svc["spec"]["ports"].append({"name": "dns", "port": 53, "protocol": "UDP"})
    got = service_port_map([svc])
    assert set(got) == {ServicePortName("default", "web", "http", "TCP"), ServicePortName("default", "web", "dns", "UDP")}
