"""The iptables-save rules kube-proxy would program, checked against a hand-reviewed golden file.

The golden file (golden/iptables-nginx.rules) was compared line by line with kube-proxy's
pkg/proxy/iptables/proxier.go syncProxyRules and its proxier_test.go expectations: chain names,
argument order, comments, probabilities, affinity and REJECT rules. Regenerate it with
`KUBEMU_UPDATE_GOLDEN=1 pytest tests/unit/proxy/test_proxy_iptables.py` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.proxy.iptables import (RulesConfig, RulesFile, diff, endpoint_chain, external_chain, probability,
                                     render, service_chain)
from services.proxy.servicemap import ServicePortName, endpoints_map, service_port_map
from tests.unit.proxy.helpers import service

GOLDEN = Path(__file__).parent / "golden" / "iptables-nginx.rules"


@pytest.mark.parametrize("name, protocol, chain", [
    # Chain names seen on real clusters / in kube-proxy's own tests.
    (ServicePortName("default", "kubernetes", "https"), "tcp", "KUBE-SVC-NPX46M4PTMTKRN6Y"),
    (ServicePortName("kube-system", "kube-dns", "dns"), "udp", "KUBE-SVC-TCOU7JCQXEZGVUNU"),
    (ServicePortName("kube-system", "kube-dns", "dns-tcp"), "tcp", "KUBE-SVC-ERIFXISQEP7F7OF4"),
    (ServicePortName("kube-system", "kube-dns", "metrics"), "tcp", "KUBE-SVC-JD5MR3NA4I4DYORP"),
    (ServicePortName("ns1", "svc1", "p80"), "tcp", "KUBE-SVC-XPGD46QRK7WJZT7O"),
    (ServicePortName("default", "nginx"), "TCP", "KUBE-SVC-2CMXP7HKUVJN7L6M"),
])
def test_service_chain_names_match_kube_proxy(name: ServicePortName, protocol: str, chain: str) -> None:
    assert service_chain(name, protocol) == chain


def test_endpoint_and_external_chain_names_match_kube_proxy() -> None:
    assert endpoint_chain(ServicePortName("ns1", "svc1", "p80"), "tcp", "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    assert external_chain(ServicePortName("ns2", "svc2", "p80"), "tcp") == "KUBE-EXT-GNZBNJ2PO5MGZ6GT"


@pytest.mark.parametrize("n, p", [(1, "1.0000000000"), (2, "0.5000000000"), (3, "0.3333333333")])
def test_probability_format(n: int, p: str) -> None:
    assert probability(n) == p


def _slice(svc: str, port_name: str, port: int, eps: list[tuple[str, bool]], namespace: str = "default") -> dict:
    return {"metadata": {"name": f"{svc}-x", "namespace": namespace, "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": r}} for ip, r in eps]}


def golden_input() -> tuple[list[dict], list[dict]]:
    services = [
        # A NodePort Service with three endpoints, one of them not ready.
        service("nginx", "127.96.0.10", 80, node_port=30080),
        # ClientIP affinity with a custom timeout.
        service("sticky", "127.96.0.11", 8080, port_name="web", affinity="ClientIP", timeout=600),
        # No endpoints at all: REJECT in the filter table, nothing in nat.
        service("empty", "127.96.0.12", 80, node_port=30081),
    ]
    slices = [
        _slice("nginx", "http", 80, [("127.244.1.2", True), ("127.244.2.2", True), ("127.244.1.3", False)]),
        _slice("sticky", "web", 8080, [("127.244.1.7", True), ("127.244.2.7", True)]),
    ]
    return services, slices


def render_golden() -> str:
    services, slices = golden_input()
    config = RulesConfig(cluster_cidr="127.244.0.0/16", node_port_addresses=["127.0.1.1"])
    return render(service_port_map(services), endpoints_map(slices), config)


def test_rules_match_golden_file() -> None:
    text = render_golden()
    if os.environ.get("KUBEMU_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_rules_shape() -> None:
    text = render_golden()
    assert "-m statistic --mode random --probability 0.5000000000" in text  # two ready nginx endpoints
    assert "127.244.1.3" not in text  # the unready one is not programmed
    assert '"default/empty:http has no endpoints"' in text
    assert "--rcheck --seconds 600 --reap" in text
    assert text.count("COMMIT") == 2


def test_rules_file_is_replaced_atomically_and_reports_changes(tmp_path: Path) -> None:
    path = tmp_path / "iptables.rules"
    rules = RulesFile(path)
    first = rules.write(render_golden())
    assert path.read_text() == render_golden() and first.chains_added
    services, slices = golden_input()
    slices[0]["endpoints"][1]["conditions"]["ready"] = False  # nginx loses an endpoint
    change = rules.write(render(service_port_map(services), endpoints_map(slices), RulesConfig()))
    gone = endpoint_chain(ServicePortName("default", "nginx", "http"), "tcp", "127.244.2.2:80")
    assert change.chains_removed == [gone]
    assert change.rules_removed > 0
    assert not rules.write(path.read_text()).changed
    assert [p.name for p in tmp_path.iterdir()] == ["iptables.rules"]  # no temp file left behind


def test_diff_counts() -> None:
    d = diff(":A - [0:0]\n-A A -j X\n", ":A - [0:0]\n:B - [0:0]\n-A A -j Y\n")
    assert (d.chains_added, d.chains_removed, d.rules_added, d.rules_removed) == (["B"], [], 1, 1)
