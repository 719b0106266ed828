"""`python -m services.scheduler`'s flags map onto SchedulerConfig, with kube-scheduler's defaults."""

from __future__ import annotations

from services.scheduler.__main__ import config_from_args, parse_args
from services.scheduler.config import SchedulerConfig


def test_defaults_are_kube_schedulers():
    config = config_from_args(parse_args([]))
    assert config == SchedulerConfig()
    assert (config.scheduler_name, config.secure_port, config.leader_elect) == ("default-scheduler", 10259, True)
    assert (config.leader_elect_lease_duration, config.leader_elect_renew_deadline,
            config.leader_elect_retry_period) == (15.0, 10.0, 2.0)
    assert (config.leader_elect_resource_namespace, config.leader_elect_resource_name) == ("kube-system",
                                                                                           "kube-scheduler")


def test_flags_override(monkeypatch):
    monkeypatch.setenv("KUBEMU_PERCENTAGE_OF_NODES_TO_SCORE", "30")
    config = config_from_args(parse_args(["--leader-elect", "false", "--secure-port", "12345",
                                          "--scheduler-name", "my-scheduler", "--leader-elect-lease-duration", "4"]))
    assert config.leader_elect is False and config.secure_port == 12345
    assert config.scheduler_name == "my-scheduler" and config.leader_elect_lease_duration == 4.0
    assert config.percentage_of_nodes_to_score == 30  # from the environment
