"""`python -m services.controller_manager`: parse kube-controller-manager's flags and run."""

from __future__ import annotations

import argparse

from shared.client import ApiClient, add_client_flags
from shared.service import add_common_flags, env_default, run_service, setup_logging

from services.controller_manager import controllers as registry
from services.controller_manager.app import create_app
from services.controller_manager.config import ControllerManagerConfig


def _flag(parser: argparse.ArgumentParser, name: str, env: str, default: object, type_=str, help_: str = "") -> None:
    parser.add_argument(name, type=type_, default=type_(env_default(env, str(default))),
                        help=f"{help_} (env {env}; default {default})")


def _bool(text: str) -> bool:
    return str(text).lower() in ("1", "true", "yes", "on")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kube-controller-manager", description="kubemu's controller-manager")
    add_common_flags(p)
    add_client_flags(p)
    d = ControllerManagerConfig()
    _flag(p, "--controllers", "KUBEMU_CONTROLLERS", d.controllers, str,
          'controllers to run: "*" = all, "foo" enables, "-foo" disables')
    _flag(p, "--bind-address", "KUBEMU_CM_BIND_ADDRESS", d.bind_address, str, "address of the health/metrics server")
    p.add_argument("--secure-port", "--port", dest="port", type=int,
                   default=int(env_default("KUBEMU_CM_PORT", str(d.port))),
                   help=f"health/metrics port, plain HTTP in kubemu (env KUBEMU_CM_PORT; default {d.port})")
    _flag(p, "--node-monitor-period", "KUBEMU_NODE_MONITOR_PERIOD", d.node_monitor_period, float,
          "seconds between node health checks")
    _flag(p, "--node-monitor-grace-period", "KUBEMU_NODE_MONITOR_GRACE_PERIOD", d.node_monitor_grace_period, float,
          "seconds without a Lease renewal before a node is marked Unknown")
    _flag(p, "--node-startup-grace-period", "KUBEMU_NODE_STARTUP_GRACE_PERIOD", d.node_startup_grace_period, float,
          "seconds a new node may take to post its first status")
    _flag(p, "--node-eviction-rate", "KUBEMU_NODE_EVICTION_RATE", d.node_eviction_rate, float,
          "nodes per second whose pods may be evicted (NoExecute taint) in a healthy zone")
    _flag(p, "--secondary-node-eviction-rate", "KUBEMU_SECONDARY_NODE_EVICTION_RATE", d.secondary_node_eviction_rate,
          float, "the same in a partially disrupted zone larger than --large-cluster-size-threshold")
    _flag(p, "--unhealthy-zone-threshold", "KUBEMU_UNHEALTHY_ZONE_THRESHOLD", d.unhealthy_zone_threshold, float,
          "fraction of not-ready nodes (at least 3) that makes a zone partially disrupted")
    _flag(p, "--large-cluster-size-threshold", "KUBEMU_LARGE_CLUSTER_SIZE_THRESHOLD", d.large_cluster_size_threshold,
          int, "zones larger than this keep evicting at the secondary rate when partially disrupted")
    _flag(p, "--allocate-node-cidrs", "KUBEMU_ALLOCATE_NODE_CIDRS", d.allocate_node_cidrs, _bool,
          "give each node a spec.podCIDR from --cluster-cidr")
    _flag(p, "--cluster-cidr", "KUBEMU_CLUSTER_CIDR", d.cluster_cidr, str, "CIDR of all pods")
    _flag(p, "--node-cidr-mask-size", "KUBEMU_NODE_CIDR_MASK_SIZE", d.node_cidr_mask_size, int,
          "prefix length of each node's pod CIDR")
    for opt in ("concurrent_deployment_syncs", "concurrent_replicaset_syncs", "concurrent_service_endpoint_syncs",
                "concurrent_gc_syncs", "concurrent_namespace_syncs", "max_endpoints_per_slice",
                "terminated_pod_gc_threshold"):
        _flag(p, "--" + opt.replace("_", "-"), "KUBEMU_" + opt.upper(), getattr(d, opt), int, opt.replace("_", " "))
    _flag(p, "--leader-elect", "KUBEMU_LEADER_ELECT", d.leader_elect, _bool, "run only while holding the Lease")
    _flag(p, "--leader-elect-lease-duration", "KUBEMU_LEADER_ELECT_LEASE_DURATION", d.leader_elect_lease_duration,
          float, "seconds")
    _flag(p, "--leader-elect-renew-deadline", "KUBEMU_LEADER_ELECT_RENEW_DEADLINE", d.leader_elect_renew_deadline,
          float, "seconds")
    _flag(p, "--leader-elect-retry-period", "KUBEMU_LEADER_ELECT_RETRY_PERIOD", d.leader_elect_retry_period,
          float, "seconds")
    _flag(p, "--leader-elect-resource-name", "KUBEMU_LEADER_ELECT_RESOURCE_NAME", d.leader_elect_resource_name,
          str, "Lease name")
    _flag(p, "--leader-elect-resource-namespace", "KUBEMU_LEADER_ELECT_RESOURCE_NAMESPACE",
          d.leader_elect_resource_namespace, str, "Lease namespace")
    args = p.parse_args(argv)
    try:
        registry.selected(args.controllers)
    except ValueError as err:
        p.error(f"--controllers: {err}")
    return args


def config_from_args(args: argparse.Namespace) -> ControllerManagerConfig:
    fields = ControllerManagerConfig.__dataclass_fields__
    return ControllerManagerConfig(**{name: getattr(args, name) for name in fields if hasattr(args, name)})


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging("controller-manager", args)
    config = config_from_args(args)
    app = create_app(config, client=ApiClient.from_args(args))
    run_service(app, host=config.bind_address, port=config.port)


if __name__ == "__main__":
    main()
