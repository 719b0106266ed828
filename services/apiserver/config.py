"""The API server's configuration: one dataclass, filled from flags by `__main__` or by tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ApiServerConfig:
    bind_address: str = "127.0.0.1"
    port: int = 6443
    # Store: etcd when `etcd_servers` is set and storage == "etcd", else embedded SQLite in data_dir.
    storage: str = "etcd"  # "etcd" | "embedded"
    etcd_servers: list[str] = field(default_factory=lambda: ["http://127.0.0.1:2379"])
    etcd_prefix: str = "/registry"
    data_dir: Path = Path("/var/lib/kubemu")
    # TLS: serve HTTPS with the given pair, or a self-signed CA + serving cert generated into cert_dir.
    tls: bool = True
    cert_dir: Path = Path("/var/run/kubemu")
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    # Authentication: kube-apiserver's --token-auth-file CSV; None lets every request in as anonymous.
    token_auth_file: Path | None = None
    service_cluster_ip_range: str = "127.96.0.0/16"
    service_node_port_range: str = "30000-32767"
    # The watch cache keeps this many recent events per resource; older resourceVersions get 410.
    watch_cache_size: int = 10000
    bookmark_interval: float = 60.0
    # A store call that takes longer than this answers 504.
    storage_timeout: float = 5.0
    # How long a watch without timeoutSeconds lasts: random in [min, 2*min] like kube-apiserver.
    min_request_timeout: float = 1800.0
    # Kubelets answer logs on this scheme (kubemu's kubelets serve plain HTTP).
    kubelet_scheme: str = "http"
    shutdown_timeout: float = 10.0
    # kube-apiserver's --max-requests-inflight / --max-mutating-requests-inflight (0: no limit).
    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    # kube-apiserver's --authorization-mode: AlwaysAllow (its default), AlwaysDeny, RBAC; a comma
    # list is their union. Members of system:masters are always allowed.
    authorization_mode: str = "AlwaysAllow"
    # Like kube-apiserver's --etcd-compaction-interval: every interval, history older than the
    # previous interval is compacted away (0: never; tests on a shared etcd must not compact).
    compaction_interval: float = 300.0
