"""The kubelet's configuration: one dataclass, filled from flags by __main__ (or by tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shared.version import KUBERNETES_VERSION

KUBELET_VERSION = f"{KUBERNETES_VERSION}-kubemu"


@dataclass
class KubeletConfig:
    node_name: str = "node-1"
    node_ip: str = "127.0.1.1"
    port: int = 10250
    pod_cidr: str = ""  # used when the Node has no spec.podCIDR (the IPAM controller's)
    max_pods: int = 110
    cpu: str = "4"
    memory: str = "8Gi"
    ephemeral_storage: str = "100Gi"
    root_dir: Path = field(default_factory=lambda: Path(".kubemu/kubelet/node-1"))
    runtime: str = "process"  # process | fake
    fake_start_delay: float = 0.0  # seconds a fake container takes to be Running
    node_labels: dict[str, str] = field(default_factory=dict)
    register_with_taints: list[dict] = field(default_factory=list)
    node_status_update_frequency: float = 10.0  # how often the status is computed
    node_status_report_frequency: float = 300.0  # how often it is sent when nothing changed
    node_lease_duration_seconds: int = 40
    node_lease_renew_interval: float = 10.0  # Kubernetes: a quarter of the lease duration
    crashloop_backoff_base: float = 10.0
    crashloop_backoff_max: float = 300.0
    image_pull_backoff_base: float = 10.0
    image_pull_backoff_max: float = 300.0
    sync_frequency: float = 10.0  # every pod worker re-syncs at least this often
    minimum_grace_period: float = 2.0  # the kubelet's minimumGracePeriodInSeconds
    hollow_nodes: int = 0  # >0: run that many fake-runtime nodes in this process
    hollow_node_prefix: str = "hollow-node"

    @property
    def backoff_reset_after(self) -> float:
        """A container that ran this long without failing starts its backoff over (2 x max)."""
        return 2 * self.crashloop_backoff_max
