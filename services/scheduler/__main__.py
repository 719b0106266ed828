"""`python -m services.scheduler`: parse kube-scheduler's flags and run."""

from __future__ import annotations

import argparse

from shared.client import ApiClient, add_client_flags
from shared.service import add_common_flags, add_flag, add_leader_election_flags, run_service, setup_logging
from services.scheduler.app import create_app
from services.scheduler.config import SchedulerConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kube-scheduler", description="kubemu's scheduler")
    add_common_flags(p)
    add_client_flags(p)
    d = SchedulerConfig()
    add_flag(p, "--scheduler-name", env="KUBEMU_SCHEDULER_NAME", default=d.scheduler_name,
             help="the profile's name: pods with this spec.schedulerName are scheduled")
    add_flag(p, "--percentage-of-nodes-to-score", env="KUBEMU_PERCENTAGE_OF_NODES_TO_SCORE",
             default=d.percentage_of_nodes_to_score, type=int,
             help="percent of nodes to find feasible before scoring; 0 = adaptive")
    add_flag(p, "--bind-address", env="KUBEMU_SCHEDULER_BIND_ADDRESS", default=d.bind_address,
             help="address of the health/metrics server")
    add_flag(p, "--secure-port", env="KUBEMU_SCHEDULER_PORT", default=d.secure_port, type=int,
             help="port of the health/metrics server (kube-scheduler's port; plain HTTP here)")
    add_leader_election_flags(p, d, leader_elect_help="schedule only while holding the Lease")
    add_flag(p, "--pod-initial-backoff-seconds", env="KUBEMU_POD_INITIAL_BACKOFF_SECONDS",
             default=d.pod_initial_backoff_seconds, type=float, help="first backoff of a pod that failed")
    add_flag(p, "--pod-max-backoff-seconds", env="KUBEMU_POD_MAX_BACKOFF_SECONDS",
             default=d.pod_max_backoff_seconds, type=float, help="longest backoff of a pod that failed")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SchedulerConfig:
    fields = SchedulerConfig.__dataclass_fields__
    return SchedulerConfig(**{name: getattr(args, name) for name in fields if hasattr(args, name)})


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging("scheduler", args)
    config = config_from_args(args)
    app = create_app(config, client=ApiClient.from_args(args))
    run_service(app, host=config.bind_address, port=config.secure_port)


if __name__ == "__main__":
    main()
