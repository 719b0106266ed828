"""`python -m services.proxy`: parse kube-proxy's flags and run it."""

from __future__ import annotations

import argparse
import os
import socket

from shared.client import add_client_flags
from shared.service import add_common_flags, env_default, run_service, setup_logging, use_uvloop

from services.proxy.app import create_app
from services.proxy.config import ProxyConfig, parse_duration, split_host_port


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _default_rules_file() -> str:
    return os.path.join(env_default("KUBEMU_STATE_DIR", ".") or ".", "kube-proxy", "iptables.rules")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m services.proxy", description="kubemu kube-proxy")
    add_common_flags(p)
    add_client_flags(p)
    p.add_argument("--hostname-override", "--node-name", dest="node_name",
                   default=env_default("KUBEMU_NODE_NAME", socket.gethostname()),
                   help="this node's name (env KUBEMU_NODE_NAME)")
    p.add_argument("--node-ip", default=env_default("KUBEMU_NODE_IP", ""),
                   help="the node's InternalIP(s), comma-separated (env KUBEMU_NODE_IP)")
    p.add_argument("--nodeport-addresses", default=env_default("KUBEMU_NODEPORT_ADDRESSES", ""),
                   help="IPs or CIDRs NodePorts listen on, comma-separated; 0.0.0.0/0 = all "
                        "(default: the node IPs, else all; env KUBEMU_NODEPORT_ADDRESSES)")
    p.add_argument("--mode", choices=["userspace", "iptables"], default=env_default("KUBEMU_PROXY_MODE", "userspace"),
                   help="iptables: also write the rules kube-proxy's iptables mode would program (env KUBEMU_PROXY_MODE)")
    p.add_argument("--iptables-rules-file", default=env_default("KUBEMU_PROXY_RULES_FILE", _default_rules_file()),
                   help="where --mode iptables keeps the iptables-save rules (env KUBEMU_PROXY_RULES_FILE)")
    p.add_argument("--cluster-cidr", default=env_default("KUBEMU_CLUSTER_CIDR", "127.244.0.0/16"),
                   help="pod CIDR; traffic to a ClusterIP from outside it is masqueraded (env KUBEMU_CLUSTER_CIDR)")
    p.add_argument("--masquerade-all", action="store_true", help="SNAT all Service traffic (iptables rules)")
    p.add_argument("--healthz-bind-address", default=env_default("KUBEMU_PROXY_HEALTHZ_ADDRESS", "127.0.0.1:10256"),
                   help="host:port of /healthz (env KUBEMU_PROXY_HEALTHZ_ADDRESS)")
    p.add_argument("--metrics-bind-address", default=env_default("KUBEMU_PROXY_METRICS_ADDRESS", "127.0.0.1:10249"),
                   help="host:port of /metrics (env KUBEMU_PROXY_METRICS_ADDRESS)")
    p.add_argument("--min-sync-period", type=parse_duration, default=env_default("KUBEMU_PROXY_MIN_SYNC_PERIOD", "1s"),
                   help="at most one sync per this period, e.g. 1s or 50ms (env KUBEMU_PROXY_MIN_SYNC_PERIOD)")
    p.add_argument("--sync-period", type=parse_duration, default=env_default("KUBEMU_PROXY_SYNC_PERIOD", "30s"),
                   help="full resync at least this often (env KUBEMU_PROXY_SYNC_PERIOD)")
    p.add_argument("--session-affinity-timeout", type=int, default=env_default("KUBEMU_PROXY_AFFINITY_TIMEOUT"),
                   help="override every Service's ClientIP affinity timeout, seconds (tests)")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> ProxyConfig:
    return ProxyConfig(
        client_args=args, kubeconfig=args.kubeconfig, apiserver=args.apiserver, token=args.token,
        ca_file=args.certificate_authority,
        node_name=args.node_name, node_ips=_list(args.node_ip), node_port_addresses=_list(args.nodeport_addresses),
        mode=args.mode, iptables_rules_file=args.iptables_rules_file, cluster_cidr=args.cluster_cidr or None,
        masquerade_all=args.masquerade_all, healthz_bind_address=args.healthz_bind_address,
        metrics_bind_address=args.metrics_bind_address, min_sync_period=args.min_sync_period,
        sync_period=args.sync_period, session_affinity_timeout=args.session_affinity_timeout,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging("kube-proxy", args)
    config = config_from_args(args)
    host, port = split_host_port(config.healthz_bind_address)
    use_uvloop()
    run_service(create_app(config), host=host, port=port)


if __name__ == "__main__":
    main()
