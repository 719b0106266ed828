"""shared.service.add_flag / parse_bool / add_leader_election_flags: flags whose defaults come from the environment."""

from __future__ import annotations

import argparse

import pytest

from shared.service import add_flag, add_leader_election_flags, parse_bool


@pytest.mark.parametrize("text", ["1", "true", "True", "YES", "on"])
def test_parse_bool_true(text):
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["0", "false", "no", "off", "", "maybe", False])
def test_parse_bool_false(text):
    assert parse_bool(text) is False


def _parser(**kwargs) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_flag(p, "--retry-period", env="KUBEMU_TEST_RETRY_PERIOD", **kwargs)
    return p


def test_default_when_env_unset(monkeypatch):
    monkeypatch.delenv("KUBEMU_TEST_RETRY_PERIOD", raising=False)
    assert _parser(default=2.0, type=float).parse_args([]).retry_period == 2.0


def test_env_overrides_default_and_is_parsed_with_type(monkeypatch):
    monkeypatch.setenv("KUBEMU_TEST_RETRY_PERIOD", "3.5")
    args = _parser(default=2.0, type=float).parse_args([])
    assert args.retry_period == 3.5


def test_command_line_overrides_env(monkeypatch):
    monkeypatch.setenv("KUBEMU_TEST_RETRY_PERIOD", "3.5")
    assert _parser(default=2.0, type=float).parse_args(["--retry-period", "7"]).retry_period == 7.0


def test_bool_flag_from_env(monkeypatch):
    monkeypatch.setenv("KUBEMU_TEST_RETRY_PERIOD", "off")
    assert _parser(default=True, type=parse_bool).parse_args([]).retry_period is False
    assert _parser(default=True, type=parse_bool).parse_args(["--retry-period", "yes"]).retry_period is True


def test_help_names_env_and_default(monkeypatch):
    monkeypatch.delenv("KUBEMU_TEST_RETRY_PERIOD", raising=False)
    p = _parser(default=2.0, type=float, help="seconds")
    (action,) = [a for a in p._actions if "--retry-period" in a.option_strings]
    assert action.help == "seconds (env KUBEMU_TEST_RETRY_PERIOD; default 2.0)"


def test_aliases_and_dest(monkeypatch):
    monkeypatch.delenv("KUBEMU_TEST_PORT", raising=False)
    p = argparse.ArgumentParser()
    add_flag(p, "--secure-port", "--port", dest="port", env="KUBEMU_TEST_PORT", default=10257, type=int)
    assert p.parse_args([]).port == 10257
    assert p.parse_args(["--port", "1"]).port == 1
    assert p.parse_args(["--secure-port", "2"]).port == 2


class _LeaderDefaults:
    leader_elect = True
    leader_elect_lease_duration = 15.0
    leader_elect_renew_deadline = 10.0
    leader_elect_retry_period = 2.0
    leader_elect_resource_name = "kube-scheduler"
    leader_elect_resource_namespace = "kube-system"


def test_leader_election_flags(monkeypatch):
    monkeypatch.setenv("KUBEMU_LEADER_ELECT_RETRY_PERIOD", "0.5")
    p = argparse.ArgumentParser()
    add_leader_election_flags(p, _LeaderDefaults(), leader_elect_help="run only while holding the Lease")
    args = p.parse_args(["--leader-elect", "false", "--leader-elect-resource-name", "mine"])
    assert args.leader_elect is False
    assert args.leader_elect_lease_duration == 15.0
    assert args.leader_elect_renew_deadline == 10.0
    assert args.leader_elect_retry_period == 0.5
    assert (args.leader_elect_resource_name, args.leader_elect_resource_namespace) == ("mine", "kube-system")
    (action,) = [a for a in p._actions if "--leader-elect" in a.option_strings]
    assert action.help == "run only while holding the Lease (env KUBEMU_LEADER_ELECT; default True)"
