"""Kubeconfig files and client flags resolve to the server and credentials kubectl would use."""

from __future__ import annotations

import argparse
import base64
from pathlib import Path

import pytest
import yaml

from shared.client import ApiClient, ConfigError, add_client_flags, config_from_args, load_kubeconfig

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def kubeconfig(cluster: dict, user: dict, *, current: str = "ctx", context: str = "ctx") -> dict:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
    }


CASES = {
    "token and CA file (relative to the kubeconfig)": (
        kubeconfig({"server": "https://127.0.0.1:6443/", "certificate-authority": "ca.crt"}, {"token": "abc"}),
        {"server": "https://127.0.0.1:6443", "token": "abc", "ca_file": "DIR/ca.crt"}),
    "token file": (
        kubeconfig({"server": "https://h:1"}, {"tokenFile": "/var/run/token"}),
        {"token": None, "token_file": "/var/run/token"}),
    "CA data": (
        kubeconfig({"server": "https://h:1", "certificate-authority-data": base64.b64encode(PEM.encode()).decode()},
                   {}),
        {"ca_data": PEM.encode(), "ca_file": None}),
    "insecure": (
        kubeconfig({"server": "https://h:1", "insecure-skip-tls-verify": True}, {"token": "t"}),
        {"insecure_skip_tls_verify": True}),
}


@pytest.mark.parametrize(("doc", "want"), CASES.values(), ids=CASES.keys())
def test_load_kubeconfig(tmp_path: Path, doc: dict, want: dict) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    config = load_kubeconfig(path)
    for attr, value in want.items():
        if isinstance(value, str):
            value = value.replace("DIR", str(tmp_path))
        assert getattr(config, attr) == value, attr


BAD = {
    "no current context": kubeconfig({"server": "https://h"}, {}, current=""),
    "unknown context": kubeconfig({"server": "https://h"}, {}, current="other"),
    "cluster without server": kubeconfig({}, {}),
}


@pytest.mark.parametrize("doc", BAD.values(), ids=BAD.keys())
def test_bad_kubeconfig(tmp_path: Path, doc: dict) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError):
        load_kubeconfig(path)


def test_missing_kubeconfig_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_kubeconfig(tmp_path / "nope")


def _args(argv: list[str], env: dict[str, str], monkeypatch) -> argparse.Namespace:
    for name in ("KUBECONFIG", "KUBEMU_APISERVER", "KUBEMU_TOKEN", "KUBEMU_TOKEN_FILE", "KUBEMU_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    parser = argparse.ArgumentParser()
    add_client_flags(parser)
    return parser.parse_args(argv)


FLAGS = {
    "apiserver and token flags": (["--apiserver", "https://a:1", "--token", "t"], {},
                                  {"server": "https://a:1", "token": "t"}),
    "env equivalents": ([], {"KUBEMU_APISERVER": "https://e:2", "KUBEMU_TOKEN": "et", "KUBEMU_CA_FILE": "/ca"},
                        {"server": "https://e:2", "token": "et", "ca_file": "/ca"}),
    "flag beats env": (["--token", "flag"], {"KUBEMU_APISERVER": "https://e:2", "KUBEMU_TOKEN": "env"},
                       {"token": "flag"}),
    "kubeconfig alone": (["--kubeconfig", "KC"], {}, {"server": "https://kc:6443", "token": "kctoken"}),
    "KUBECONFIG env": ([], {"KUBECONFIG": "KC"}, {"server": "https://kc:6443"}),
    "apiserver overrides kubeconfig server": (["--kubeconfig", "KC", "--apiserver", "https://o:1"], {},
                                              {"server": "https://o:1", "token": "kctoken"}),
    "token file flag": (["--apiserver", "http://a:1", "--token-file", "/t"], {}, {"token_file": "/t", "token": None}),
}


@pytest.mark.parametrize(("argv", "env", "want"), FLAGS.values(), ids=FLAGS.keys())
def test_config_from_flags(tmp_path: Path, monkeypatch, argv, env, want) -> None:
    kc = tmp_path / "kc"
    kc.write_text(yaml.safe_dump(kubeconfig({"server": "https://kc:6443"}, {"token": "kctoken"})))
    argv = [str(kc) if a == "KC" else a for a in argv]
    env = {k: str(kc) if v == "KC" else v for k, v in env.items()}
    config = config_from_args(_args(argv, env, monkeypatch))
    for attr, value in want.items():
        assert getattr(config, attr) == value, attr


def test_no_server_is_an_error(monkeypatch) -> None:
    with pytest.raises(ConfigError):
        config_from_args(_args([], {}, monkeypatch))


async def test_client_from_args(monkeypatch) -> None:
    client = ApiClient.from_args(_args(["--apiserver", "http://127.0.0.1:1", "--token", "x"], {}, monkeypatch))
    assert client.server == "http://127.0.0.1:1"
    assert client._headers(None)["Authorization"] == "Bearer x"
    await client.close()
