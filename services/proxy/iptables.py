"""The rules kube-proxy's iptables mode would program, rendered in iptables-save form (not applied).

Guarantees:
- `render(service_map, endpoints, config)` returns the `*filter` and `*nat` tables kube-proxy's
  `syncProxyRules` hands to `iptables-restore` for the same Services and ready endpoints: the same
  chains (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, KUBE-POSTROUTING, KUBE-MARK-MASQ,
  KUBE-SVC-*, KUBE-EXT-*, KUBE-SEP-*), the same rule arguments in the same order, the same
  comments, `-m statistic --mode random --probability` spreading with kube-proxy's `%0.10f`
  probabilities, `-m recent` rules for ClientIP affinity, REJECT for ports without endpoints, and
  the jump rules kube-proxy ensures in the built-in chains.
- Chain names are kube-proxy's: "KUBE-SVC-"/"KUBE-EXT-" + the first 16 characters of
  base32(sha256(servicePortName + protocol)), "KUBE-SEP-" + the same of
  servicePortName + protocol + "ip:port" (protocol lower-case), so they match a real node's.
- Output is deterministic: service ports sorted by name (kube-proxy iterates a Go map, so its order
  varies run to run; the rules are the same).
- `RulesFile.write(text)` replaces the file atomically (write to a temp file, then rename), so a
  reader never sees half a ruleset, and says which chains and how many rules changed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.proxy.servicemap import Endpoint, ServicePort, ServicePortName

MASQUERADE_MARK = "0x4000"  # 1 << --iptables-masquerade-bit (default 14)
NODEPORTS_COMMENT = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"'

# The jumps kube-proxy ensures from the built-in chains (iptablesJumpChains + the kubelet firewall):
# (table, built-in chain, extra args, comment, target).
_CONNTRACK_NEW = "-m conntrack --ctstate NEW"
JUMP_RULES: list[tuple[str, str, str, str, str]] = [
    ("filter", "INPUT", _CONNTRACK_NEW, "kubernetes externally-visible service portals", "KUBE-EXTERNAL-SERVICES"),
    ("filter", "FORWARD", _CONNTRACK_NEW, "kubernetes externally-visible service portals", "KUBE-EXTERNAL-SERVICES"),
    ("filter", "INPUT", "", "kubernetes health check service ports", "KUBE-NODEPORTS"),
    ("filter", "FORWARD", _CONNTRACK_NEW, "kubernetes service portals", "KUBE-SERVICES"),
    ("filter", "OUTPUT", _CONNTRACK_NEW, "kubernetes service portals", "KUBE-SERVICES"),
    ("filter", "FORWARD", "", "kubernetes forwarding rules", "KUBE-FORWARD"),
    ("filter", "INPUT", _CONNTRACK_NEW, "kubernetes load balancer firewall", "KUBE-PROXY-FIREWALL"),
    ("filter", "OUTPUT", _CONNTRACK_NEW, "kubernetes load balancer firewall", "KUBE-PROXY-FIREWALL"),
    ("filter", "FORWARD", _CONNTRACK_NEW, "kubernetes load balancer firewall", "KUBE-PROXY-FIREWALL"),
    ("filter", "INPUT", "", "", "KUBE-FIREWALL"),
    ("filter", "OUTPUT", "", "", "KUBE-FIREWALL"),
    ("nat", "OUTPUT", "", "kubernetes service portals", "KUBE-SERVICES"),
    ("nat", "PREROUTING", "", "kubernetes service portals", "KUBE-SERVICES"),
    ("nat", "POSTROUTING", "", "kubernetes postrouting rules", "KUBE-POSTROUTING"),
]
BUILTIN_CHAINS = {"filter": ["INPUT", "FORWARD", "OUTPUT"], "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]}


@dataclass(frozen=True)
class RulesConfig:
    # --cluster-cidr: traffic to a ClusterIP from outside it is masqueraded (LocalTrafficDetector).
    cluster_cidr: str | None = None
    # --nodeport-addresses as node IPs; empty or containing 0.0.0.0 means "every local address".
    node_port_addresses: Sequence[str] = ()
    masquerade_all: bool = False


def _hash16(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def service_chain(name: ServicePortName, protocol: str) -> str:
    """servicePortPolicyClusterChain: KUBE-SVC-<portProtoHash>."""
    return "KUBE-SVC-" + _hash16(str(name) + protocol.lower())


def external_chain(name: ServicePortName, protocol: str) -> str:
    """serviceExternalChainName: KUBE-EXT-<portProtoHash>."""
    return "KUBE-EXT-" + _hash16(str(name) + protocol.lower())


def endpoint_chain(name: ServicePortName, protocol: str, endpoint: str) -> str:
    """servicePortEndpointChainName: KUBE-SEP-<hash of name + protocol + "ip:port">."""
    return "KUBE-SEP-" + _hash16(str(name) + protocol.lower() + endpoint)


def probability(n: int) -> str:
    return f"{1.0 / n:0.10f}"


def _chain_line(chain: str) -> str:
    return f":{chain} - [0:0]"


@dataclass
class _Tables:
    filter_chains: list[str] = field(default_factory=list)
    filter_rules: list[str] = field(default_factory=list)
    nat_chains: list[str] = field(default_factory=list)
    nat_rules: list[str] = field(default_factory=list)


def render(service_map: Mapping[ServicePortName, ServicePort], endpoints: Mapping[ServicePortName, Sequence[Endpoint]],
           config: RulesConfig = RulesConfig()) -> str:
    t = _Tables()
    _write_static(t)
    for name in sorted(service_map):
        _write_service_port(t, service_map[name], list(endpoints.get(name, ())), config)
    _write_nodeports_jump(t, config)
    _write_forward_rules(t)
    return _assemble(t)


def _write_static(t: _Tables) -> None:
    for chain in ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"):
        t.filter_chains.append(_chain_line(chain))
    for chain in ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"):
        t.nat_chains.append(_chain_line(chain))
    mark = f"{MASQUERADE_MARK}/{MASQUERADE_MARK}"
    t.nat_rules += [
        f"-A KUBE-POSTROUTING -m mark ! --mark {mark} -j RETURN",
        f"-A KUBE-POSTROUTING -j MARK --xor-mark {MASQUERADE_MARK}",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
        f"-A KUBE-MARK-MASQ -j MARK --or-mark {MASQUERADE_MARK}",
    ]
    # localhostNodePorts (the default) opens route_localnet; kube-proxy closes the hole it makes.
    t.filter_chains.append(_chain_line("KUBE-FIREWALL"))
    t.filter_rules.append(
        '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 '
        "! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")


def _write_service_port(t: _Tables, sp: ServicePort, eps: list[Endpoint], config: RulesConfig) -> None:
    name, proto = str(sp.name), sp.protocol.lower()
    svc_chain, ext_chain = service_chain(sp.name, proto), external_chain(sp.name, proto)
    match = f"-m {proto} -p {proto}"
    has_endpoints = bool(eps)
    no_endpoints = f'"{name} has no endpoints"'
    cluster_ip = f"{match} -d {sp.cluster_ip} --dport {sp.port}"
    if has_endpoints:
        t.nat_rules.append(f'-A KUBE-SERVICES -m comment --comment "{name} cluster IP" {cluster_ip} -j {svc_chain}')
    else:
        t.filter_rules.append(f"-A KUBE-SERVICES -m comment --comment {no_endpoints} {cluster_ip} -j REJECT")
    for ip in sp.external_ips:
        dest = f"{match} -d {ip} --dport {sp.port}"
        if has_endpoints:
            t.nat_rules.append(f'-A KUBE-SERVICES -m comment --comment "{name} external IP" {dest} -j {ext_chain}')
        else:
            t.filter_rules.append(f"-A KUBE-EXTERNAL-SERVICES -m comment --comment {no_endpoints} {dest} -j REJECT")
    if sp.node_port:
        if has_endpoints:
            t.nat_rules.append(f"-A KUBE-NODEPORTS -m comment --comment {name} {match} --dport {sp.node_port} -j {ext_chain}")
        else:
            t.filter_rules.append(f"-A KUBE-EXTERNAL-SERVICES -m comment --comment {no_endpoints} "
                                  f"-m addrtype --dst-type LOCAL {match} --dport {sp.node_port} -j REJECT")
    if not has_endpoints:
        return  # no nat chains at all for a service port without endpoints
    masq = f'-A {svc_chain} -m comment --comment "{name} cluster IP" {cluster_ip}'
    if config.masquerade_all:
        t.nat_rules.append(f"{masq} -j KUBE-MARK-MASQ")
    elif config.cluster_cidr:
        t.nat_rules.append(f"{masq} ! -s {config.cluster_cidr} -j KUBE-MARK-MASQ")
    if sp.node_port or sp.external_ips:
        t.nat_chains.append(_chain_line(ext_chain))
        t.nat_rules += [
            f'-A {ext_chain} -m comment --comment "masquerade traffic for {name} external destinations" -j KUBE-MARK-MASQ',
            f"-A {ext_chain} -j {svc_chain}",
        ]
    t.nat_chains.append(_chain_line(svc_chain))
    _write_service_to_endpoint_rules(t, sp, eps, svc_chain)
    for ep in eps:
        _write_endpoint_chain(t, sp, ep)


def _write_service_to_endpoint_rules(t: _Tables, sp: ServicePort, eps: list[Endpoint], svc_chain: str) -> None:
    name, proto = str(sp.name), sp.protocol.lower()
    if sp.session_affinity == "ClientIP":
        for ep in eps:
            sep = endpoint_chain(sp.name, proto, str(ep))
            t.nat_rules.append(f'-A {svc_chain} -m comment --comment "{name} -> {ep}" -m recent --name {sep} '
                               f"--rcheck --seconds {sp.affinity_timeout} --reap -j {sep}")
    for i, ep in enumerate(eps):
        sep = endpoint_chain(sp.name, proto, str(ep))
        spread = f" -m statistic --mode random --probability {probability(len(eps) - i)}" if i < len(eps) - 1 else ""
        t.nat_rules.append(f'-A {svc_chain} -m comment --comment "{name} -> {ep}"{spread} -j {sep}')


def _write_endpoint_chain(t: _Tables, sp: ServicePort, ep: Endpoint) -> None:
    name, proto = str(sp.name), sp.protocol.lower()
    sep = endpoint_chain(sp.name, proto, str(ep))
    t.nat_chains.append(_chain_line(sep))
    recent = f" -m recent --name {sep} --set" if sp.session_affinity == "ClientIP" else ""
    t.nat_rules += [
        f"-A {sep} -m comment --comment {name} -s {ep.ip} -j KUBE-MARK-MASQ",
        f"-A {sep} -m comment --comment {name}{recent} -m {proto} -p {proto} -j DNAT --to-destination {ep}",
    ]


def _write_nodeports_jump(t: _Tables, config: RulesConfig) -> None:
    addresses = list(config.node_port_addresses)
    if not addresses or "0.0.0.0" in addresses:
        t.nat_rules.append(f"-A KUBE-SERVICES -m comment --comment {NODEPORTS_COMMENT} "
                           "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
        return
    for ip in addresses:
        t.nat_rules.append(f"-A KUBE-SERVICES -m comment --comment {NODEPORTS_COMMENT} -d {ip} -j KUBE-NODEPORTS")


def _write_forward_rules(t: _Tables) -> None:
    t.filter_rules += [
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" '
        f"-m mark --mark {MASQUERADE_MARK}/{MASQUERADE_MARK} -j ACCEPT",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]


def _jumps(table: str) -> list[str]:
    lines = []
    for tbl, chain, extra, comment, target in JUMP_RULES:
        if tbl != table:
            continue
        parts = [f"-A {chain}", extra, f'-m comment --comment "{comment}"' if comment else "", f"-j {target}"]
        lines.append(" ".join(p for p in parts if p))
    return lines


def _assemble(t: _Tables) -> str:
    out = ["# Generated by kubemu kube-proxy: the rules its iptables mode would program (not applied)"]
    for table, chains, rules in (("filter", t.filter_chains, t.filter_rules), ("nat", t.nat_chains, t.nat_rules)):
        out.append(f"*{table}")
        out += [f":{c} ACCEPT [0:0]" for c in BUILTIN_CHAINS[table]]
        out += chains
        out += _jumps(table)
        out += rules
        out.append("COMMIT")
    return "\n".join(out) + "\n"


@dataclass
class RulesDiff:
    chains_added: list[str]
    chains_removed: list[str]
    rules_added: int
    rules_removed: int
    chains: int
    rules: int

    @property
    def changed(self) -> bool:
        return bool(self.chains_added or self.chains_removed or self.rules_added or self.rules_removed)


def _chains_and_rules(text: str) -> tuple[list[str], list[str]]:
    lines = text.splitlines()
    chains = [line[1:].split(" ", 1)[0] for line in lines if line.startswith(":") and line.endswith(" - [0:0]")]
    rules = [line for line in lines if line.startswith("-A ")]
    return chains, rules


def diff(old: str, new: str) -> RulesDiff:
    old_chains, old_rules = _chains_and_rules(old)
    new_chains, new_rules = _chains_and_rules(new)
    old_set, new_set = set(old_rules), set(new_rules)
    return RulesDiff(
        chains_added=[c for c in new_chains if c not in set(old_chains)],
        chains_removed=[c for c in old_chains if c not in set(new_chains)],
        rules_added=len(new_set - old_set),
        rules_removed=len(old_set - new_set),
        chains=len(new_chains),
        rules=len(new_rules),
    )


class RulesFile:
    """The iptables-save file kept current at each sync."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.current = ""

    def write(self, text: str) -> RulesDiff:
        change = diff(self.current, text)
        if text != self.current or not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(text)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self.current = text
        return change
