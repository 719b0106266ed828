"""kube-proxy's configuration (KubeProxyConfiguration, the parts kubemu implements).

Guarantees: `ProxyConfig` is plain data with kube-proxy's defaults; `node_port_ips` turns
`--nodeport-addresses` (IPs or CIDRs, as kube-proxy takes them) into the addresses to listen on.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
from dataclasses import dataclass, field

ALL_ADDRESSES = "0.0.0.0"


@dataclass
class ProxyConfig:
    # API access (shared.client): the parsed client flags, or a kubeconfig, or server + token + CA.
    client_args: argparse.Namespace | None = None
    kubeconfig: str | None = None
    apiserver: str | None = None
    token: str | None = None
    ca_file: str | None = None

    node_name: str = ""
    node_ips: list[str] = field(default_factory=list)  # --node-ip (the node's InternalIPs)
    node_port_addresses: list[str] = field(default_factory=list)  # IPs or CIDRs; empty: node IPs, else all
    mode: str = "userspace"  # "userspace" | "iptables" (iptables also writes the rules file)
    iptables_rules_file: str = "iptables.rules"
    cluster_cidr: str | None = "127.244.0.0/16"
    masquerade_all: bool = False
    healthz_bind_address: str = "127.0.0.1:10256"
    metrics_bind_address: str = "127.0.0.1:10249"
    min_sync_period: float = 1.0  # seconds between syncs at most once (BoundedFrequencyRunner minInterval)
    sync_period: float = 30.0  # a full resync at least this often (retries listeners that failed to bind)
    session_affinity_timeout: int | None = None  # overrides every Service's timeoutSeconds (tests)
    health_timeout: float = 60.0  # /healthz fails if a change has waited this long unsynced


def node_port_ips(addresses: list[str], node_ips: list[str]) -> list[str]:
    """The local addresses NodePorts listen on.

    An IP stands for itself; `0.0.0.0/0` (or `0.0.0.0`) for every address; another CIDR for the
    node IPs inside it (loopback has no per-address interfaces to enumerate). With no flag,
    the node's IPs, or every address when the node IP is not known (kube-proxy's old default).
    """
    if not addresses:
        return list(node_ips) or [ALL_ADDRESSES]
    result: list[str] = []
    for item in addresses:
        net = ipaddress.ip_network(item, strict=False)
        if net.prefixlen == 0:
            return [ALL_ADDRESSES]
        if net.num_addresses == 1:
            result.append(str(net.network_address))
        else:
            result += [ip for ip in node_ips if ipaddress.ip_address(ip) in net]
    return list(dict.fromkeys(result))


def parse_duration(text: str) -> float:
    """Seconds from "1s", "500ms", "2m", "1m30s" or a bare number of seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def split_host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "0.0.0.0", int(port)
