"""Where the API server is and who we are to it: kubeconfig files and command-line flags.

Guarantees:
- `load_kubeconfig(path, context=None)` reads a kubeconfig as kubectl does: the given or
  `current-context` context, its cluster (`server`, `certificate-authority` (relative to the
  kubeconfig's directory) or `certificate-authority-data`, `insecure-skip-tls-verify`) and its user
  (`token`, `tokenFile`, `client-certificate(-data)` + `client-key(-data)`). A missing context,
  cluster or user is a `ConfigError` naming it.
- `add_client_flags(parser)` adds the flags every component takes: `--kubeconfig` (env KUBECONFIG),
  `--apiserver` (env KUBEMU_APISERVER), `--token` (env KUBEMU_TOKEN), `--token-file` (env
  KUBEMU_TOKEN_FILE), `--certificate-authority` (env KUBEMU_CA_FILE).
- `config_from_args(args)`: the kubeconfig if given, then `--apiserver`, `--token`/`--token-file`
  and `--certificate-authority` override its server and credentials (as `--master` overrides a
  kubeconfig's server in Kubernetes). No server at all is a `ConfigError`.
- `ClientConfig.ssl_context()` verifies the server against the configured CA (the system's when
  none), or not at all with `insecure_skip_tls_verify`; `None` for plain http.
"""

from __future__ import annotations

import argparse
import base64
import ssl
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from shared.service import env_default


class ConfigError(ValueError):
    """A kubeconfig or set of flags that does not say how to reach the API server."""


@dataclass(frozen=True)
class ClientConfig:
    server: str
    token: str | None = None
    token_file: str | None = None
    ca_file: str | None = None
    ca_data: bytes | None = None
    insecure_skip_tls_verify: bool = False
    client_cert_file: str | None = None
    client_key_file: str | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https://"):
            return None
        if self.insecure_skip_tls_verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            cadata = self.ca_data.decode() if self.ca_data else None
            ctx = ssl.create_default_context(cafile=self.ca_file, cadata=cadata)
        if self.client_cert_file:
            ctx.load_cert_chain(self.client_cert_file, self.client_key_file)
        return ctx


def _named(entries: list[dict[str, Any]] | None, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            return entry.get(what) or {}
    raise ConfigError(f'{what} "{name}" not found in kubeconfig')


def _relative(base: Path, path: str | None) -> str | None:
    return None if not path else str(base / Path(path).expanduser())


def _data_file(data: str, suffix: str) -> str:
    """client-certificate-data and client-key-data as files: `ssl` loads chains from files only."""
    with tempfile.NamedTemporaryFile("wb", suffix=suffix, delete=False) as f:
        f.write(base64.b64decode(data))
    return f.name


def load_kubeconfig(path: str | Path, context: str | None = None) -> ClientConfig:
    path = Path(path).expanduser()
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    context = context or doc.get("current-context")
    if not context:
        raise ConfigError(f"kubeconfig {path} has no current-context")
    ctx = _named(doc.get("contexts"), context, "context")
    cluster = _named(doc.get("clusters"), ctx.get("cluster", ""), "cluster")
    user = _named(doc.get("users"), ctx["user"], "user") if ctx.get("user") else {}
    if not cluster.get("server"):
        raise ConfigError(f'cluster "{ctx.get("cluster")}" in kubeconfig {path} has no server')
    base = path.parent
    ca_data = cluster.get("certificate-authority-data")
    cert_data, key_data = user.get("client-certificate-data"), user.get("client-key-data")
    return ClientConfig(
        server=cluster["server"].rstrip("/"),
        token=user.get("token"),
        token_file=_relative(base, user.get("tokenFile")),
        ca_file=_relative(base, cluster.get("certificate-authority")),
        ca_data=base64.b64decode(ca_data) if ca_data else None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
        client_cert_file=_data_file(cert_data, ".crt") if cert_data
        else _relative(base, user.get("client-certificate")),
        client_key_file=_data_file(key_data, ".key") if key_data else _relative(base, user.get("client-key")),
    )


def add_client_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("API server connection")
    group.add_argument("--kubeconfig", default=env_default("KUBECONFIG"),
                       help="kubeconfig file with the API server's address and credentials (env KUBECONFIG)")
    group.add_argument("--apiserver", default=env_default("KUBEMU_APISERVER"),
                       help="API server URL, e.g. https://127.0.0.1:6443; overrides the kubeconfig's "
                            "server (env KUBEMU_APISERVER)")
    group.add_argument("--token", default=env_default("KUBEMU_TOKEN"),
                       help="bearer token (env KUBEMU_TOKEN)")
    group.add_argument("--token-file", default=env_default("KUBEMU_TOKEN_FILE"),
                       help="file holding the bearer token, re-read when it changes (env KUBEMU_TOKEN_FILE)")
    group.add_argument("--certificate-authority", default=env_default("KUBEMU_CA_FILE"),
                       help="CA certificate file to verify the API server with (env KUBEMU_CA_FILE)")


def config_from_args(args: argparse.Namespace) -> ClientConfig:
    kubeconfig = getattr(args, "kubeconfig", None)
    server = getattr(args, "apiserver", None)
    if not kubeconfig and not server:
        raise ConfigError("no API server given: use --kubeconfig or --apiserver (or KUBECONFIG / KUBEMU_APISERVER)")
    config = load_kubeconfig(kubeconfig) if kubeconfig else ClientConfig(server=server.rstrip("/"))
    overrides: dict[str, Any] = {}
    if server:
        overrides["server"] = server.rstrip("/")
    if getattr(args, "token", None):
        overrides.update(token=args.token, token_file=None)
    elif getattr(args, "token_file", None):
        overrides.update(token=None, token_file=args.token_file)
    if getattr(args, "certificate_authority", None):
        overrides.update(ca_file=args.certificate_authority, ca_data=None)
    return replace(config, **overrides)
