"""The launcher's pieces: port checks, credentials that survive a restart, console rendering."""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import pytest
import yaml

from services.launcher import credentials
from services.launcher.cluster import Component, Settings, _check_free, components
from services.launcher.console import render


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{port}, where apiserver listens, is already in use"):
            _check_free(Component("apiserver", [], None, [("127.0.0.1", port)]))


def test_free_ports_pass() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _check_free(Component("apiserver", [], None, [("127.0.0.1", port)]))


@pytest.mark.parametrize(("store", "first"), [("etcd", "etcd"), ("embedded", "apiserver")])
def test_start_order_follows_kubernetes(tmp_path: Path, store: str, first: str) -> None:
    stages = components(Settings(state_dir=tmp_path, nodes=2, store=store))
    names = [[c.name for c in stage] for stage in stages]
    assert names[0] == [first]
    assert names[-3:] == [["controller-manager", "scheduler"], ["kubelet-node-1", "kubelet-node-2"], ["proxy"]]
    kubelet = stages[-2][1]
    assert kubelet.argv[kubelet.argv.index("--node-ip") + 1] == "127.0.1.2"


def test_tokens_are_kept_and_missing_ones_added(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    first = credentials.ensure_token_file(path, credentials.identities(["node-1"]))
    again = credentials.ensure_token_file(path, credentials.identities(["node-1", "node-2"]))
    assert {k: again[k] for k in first} == first
    assert "system:node:node-2" in again and len(set(again.values())) == len(again)
    rows = list(csv.reader(path.open()))
    assert ["system:masters"] == [r[3] for r in rows if r[1] == "kubernetes-admin"]


def test_kubeconfig_carries_the_ca_and_token(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    credentials.write_kubeconfig(tmp_path / "kc", server="https://127.0.0.1:6443", ca_file=ca, user="u", token="t")
    config = yaml.safe_load((tmp_path / "kc").read_text())
    assert config["clusters"][0]["cluster"]["certificate-authority-data"] == "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="
    assert config["users"][0]["user"] == {"token": "t"}


@pytest.mark.parametrize(("raw", "shown"), [
    ('{"event": "pod.scheduled", "key": "default/a", "node": "node-1", "level": "info", '
     '"timestamp": "2026-11-29T06:23:20.898Z", "component": "scheduler", "path": null}',
     "06:23:20 info    pod.scheduled key=default/a node=node-1"),
    ('{"level": "info", "ts": "2026-11-29T05:31:23.1Z", "caller": "x.go:1", "msg": "ready to serve"}',
     "05:31:23 info    ready to serve"),
    ("not json at all", "not json at all"),
])
def test_console_renders_json_lines(raw: str, shown: str) -> None:
    assert render(raw) == shown
