"""`python -m services.scheduler`: parse kube-scheduler's flags and run."""

from __future__ import annotations

import argparse

from shared.client import ApiClient, add_client_flags
from shared.service import add_common_flags, env_default, run_service, setup_logging
from services.scheduler.app import create_app
from services.scheduler.config import SchedulerConfig


def _bool(text: str) -> bool:
    return str(text).lower() in ("1", "true", "yes", "on")


def _flag(parser: argparse.ArgumentParser, name: str, env: str, default: object, type_=str, help_: str = "") -> None:
    parser.add_argument(name, type=type_, default=type_(env_default(env, str(default))),
                        help=f"{help_} (env {env}; default {default})")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kube-scheduler", description="kubemu's scheduler")
    add_common_flags(p)
    add_client_flags(p)
    d = SchedulerConfig()
    _flag(p, "--scheduler-name", "KUBEMU_SCHEDULER_NAME", d.scheduler_name, str,
          "the profile's name: pods with this spec.schedulerName are scheduled")
    _flag(p, "--percentage-of-nodes-to-score", "KUBEMU_PERCENTAGE_OF_NODES_TO_SCORE", d.percentage_of_nodes_to_score,
          int, "percent of nodes to find feasible before scoring; 0 = adaptive")
    _flag(p, "--bind-address", "KUBEMU_SCHEDULER_BIND_ADDRESS", d.bind_address, str,
          "address of the health/metrics server")
    _flag(p, "--secure-port", "KUBEMU_SCHEDULER_PORT", d.secure_port, int,
          "port of the health/metrics server (kube-scheduler's port; plain HTTP here)")
    _flag(p, "--leader-elect", "KUBEMU_LEADER_ELECT", d.leader_elect, _bool, "schedule only while holding the Lease")
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
    _flag(p, "--pod-initial-backoff-seconds", "KUBEMU_POD_INITIAL_BACKOFF_SECONDS", d.pod_initial_backoff_seconds,
          float, "first backoff of a pod that failed")
    _flag(p, "--pod-max-backoff-seconds", "KUBEMU_POD_MAX_BACKOFF_SECONDS", d.pod_max_backoff_seconds, float,
          "longest backoff of a pod that failed")
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
