"""`python -m services.controller_manager`: parse kube-controller-manager's flags and run."""

from __future__ import annotations

import argparse

from shared.client import ApiClient, add_client_flags
from shared.service import add_common_flags, add_flag, add_leader_election_flags, parse_bool, run_service, \
    setup_logging

from services.controller_manager import controllers as registry
from services.controller_manager.app import create_app
from services.controller_manager.config import ControllerManagerConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kube-controller-manager", description="kubemu's controller-manager")
    add_common_flags(p)
    add_client_flags(p)
    d = ControllerManagerConfig()
    add_flag(p, "--controllers", env="KUBEMU_CONTROLLERS", default=d.controllers,
             help='controllers to run: "*" = all, "foo" enables, "-foo" disables')
    add_flag(p, "--bind-address", env="KUBEMU_CM_BIND_ADDRESS", default=d.bind_address,
             help="address of the health/metrics server")
    add_flag(p, "--secure-port", "--port", dest="port", env="KUBEMU_CM_PORT", default=d.port, type=int,
             help="health/metrics port, plain HTTP in kubemu")
    add_flag(p, "--node-monitor-period", env="KUBEMU_NODE_MONITOR_PERIOD", default=d.node_monitor_period,
             type=float, help="seconds between node health checks")
    add_flag(p, "--node-monitor-grace-period", env="KUBEMU_NODE_MONITOR_GRACE_PERIOD",
             default=d.node_monitor_grace_period, type=float,
             help="seconds without a Lease renewal before a node is marked Unknown")
    add_flag(p, "--node-startup-grace-period", env="KUBEMU_NODE_STARTUP_GRACE_PERIOD",
             default=d.node_startup_grace_period, type=float,
             help="seconds a new node may take to post its first status")
    add_flag(p, "--node-eviction-rate", env="KUBEMU_NODE_EVICTION_RATE", default=d.node_eviction_rate, type=float,
             help="nodes per second whose pods may be evicted (NoExecute taint) in a healthy zone")
    add_flag(p, "--secondary-node-eviction-rate", env="KUBEMU_SECONDARY_NODE_EVICTION_RATE",
             default=d.secondary_node_eviction_rate, type=float,
             help="the same in a partially disrupted zone larger than --large-cluster-size-threshold")
    add_flag(p, "--unhealthy-zone-threshold", env="KUBEMU_UNHEALTHY_ZONE_THRESHOLD",
             default=d.unhealthy_zone_threshold, type=float,
             help="fraction of not-ready nodes (at least 3) that makes a zone partially disrupted")
    add_flag(p, "--large-cluster-size-threshold", env="KUBEMU_LARGE_CLUSTER_SIZE_THRESHOLD",
             default=d.large_cluster_size_threshold, type=int,
             help="zones larger than this keep evicting at the secondary rate when partially disrupted")
    add_flag(p, "--allocate-node-cidrs", env="KUBEMU_ALLOCATE_NODE_CIDRS", default=d.allocate_node_cidrs,
             type=parse_bool, help="give each node a spec.podCIDR from --cluster-cidr")
    add_flag(p, "--cluster-cidr", env="KUBEMU_CLUSTER_CIDR", default=d.cluster_cidr, help="CIDR of all pods")
    add_flag(p, "--node-cidr-mask-size", env="KUBEMU_NODE_CIDR_MASK_SIZE", default=d.node_cidr_mask_size, type=int,
             help="prefix length of each node's pod CIDR")
    for opt in ("concurrent_deployment_syncs", "concurrent_replicaset_syncs", "concurrent_service_endpoint_syncs",
                "concurrent_gc_syncs", "concurrent_namespace_syncs", "concurrent_job_syncs",
                "concurrent_ttl_after_finished_syncs", "concurrent_cronjob_syncs", "concurrent_daemonset_syncs",
                "max_endpoints_per_slice", "terminated_pod_gc_threshold"):
        add_flag(p, "--" + opt.replace("_", "-"), env="KUBEMU_" + opt.upper(), default=getattr(d, opt), type=int,
                 help=opt.replace("_", " "))
    add_flag(p, "--job-sync-batch-period", env="KUBEMU_JOB_SYNC_BATCH_PERIOD", default=d.job_sync_batch_period,
             type=float, help="seconds the Job controller batches pod events (kubemu's; fixed in Kubernetes)")
    add_flag(p, "--job-pod-failure-backoff", env="KUBEMU_JOB_POD_FAILURE_BACKOFF", default=d.job_pod_failure_backoff,
             type=float, help="seconds before a Job replaces its first failed pod, doubling after each failure "
                              "(kubemu's; 10 s in Kubernetes)")
    add_flag(p, "--job-pod-failure-backoff-max", env="KUBEMU_JOB_POD_FAILURE_BACKOFF_MAX",
             default=d.job_pod_failure_backoff_max, type=float,
             help="the longest that pod failure backoff gets (kubemu's; 10 min in Kubernetes)")
    add_leader_election_flags(p, d, leader_elect_help="run only while holding the Lease")
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
