"""Tokens and kubeconfigs for the launcher's cluster, kept in the state dir and reused.

Every component gets its own identity, as in a kubeadm cluster: the admin user (group
system:masters), system:kube-scheduler, system:kube-controller-manager, system:kube-proxy and
system:node:<name> for each kubelet. The API server reads them from a kube-apiserver
`--token-auth-file` CSV; each component reads its own kubeconfig.
"""

from __future__ import annotations

import base64
import csv
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Identity:
    name: str  # file stem: admin, scheduler, node-1 ...
    user: str
    groups: tuple[str, ...]


def identities(nodes: list[str]) -> list[Identity]:
    fixed = [
        Identity("admin", "kubernetes-admin", ("system:masters",)),
        Identity("scheduler", "system:kube-scheduler", ()),
        Identity("controller-manager", "system:kube-controller-manager", ()),
        Identity("proxy", "system:kube-proxy", ()),
    ]
    return fixed + [Identity(n, f"system:node:{n}", ("system:nodes",)) for n in nodes]


def ensure_token_file(path: Path, wanted: list[Identity]) -> dict[str, str]:
    """Read the token file, add a token for every missing identity; returns user → token."""
    tokens: dict[str, str] = {}
    rows: list[list[str]] = []
    if path.exists():
        with path.open(newline="") as f:
            for row in csv.reader(f):
                if len(row) >= 3:
                    rows.append(row)
                    tokens[row[1]] = row[0]
    for ident in wanted:
        if ident.user not in tokens:
            token = secrets.token_hex(16)
            tokens[ident.user] = token
            rows.append([token, ident.user, ident.user, ",".join(ident.groups)])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    path.chmod(0o600)
    return tokens


def write_kubeconfig(path: Path, *, server: str, ca_file: Path, user: str, token: str) -> None:
    ca_data = base64.b64encode(ca_file.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubemu", "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "kubemu", "context": {"cluster": "kubemu", "user": user}}],
        "current-context": "kubemu",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
