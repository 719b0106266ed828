"""The scheduler's configuration (KubeSchedulerConfiguration's fields kubemu uses), with kube-scheduler's defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SchedulerConfig:
    scheduler_name: str = "default-scheduler"  # the profile: pods with this spec.schedulerName are ours
    percentage_of_nodes_to_score: int = 0  # 0: adaptive (50 - nodes/125 %, at least 5 %)
    bind_address: str = "127.0.0.1"
    secure_port: int = 10259  # health and metrics; plain HTTP in kubemu
    leader_elect: bool = True
    leader_elect_lease_duration: float = 15.0
    leader_elect_renew_deadline: float = 10.0
    leader_elect_retry_period: float = 2.0
    leader_elect_resource_name: str = "kube-scheduler"
    leader_elect_resource_namespace: str = "kube-system"
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0
    pod_max_in_unschedulable_pods_seconds: float = 300.0
    backoff_flush_period: float = 1.0  # kube-scheduler flushes backoffQ every second
    assumed_pod_ttl: float = 0.0  # 0: never expire, as kube-scheduler since kubernetes#106361

    def __post_init__(self) -> None:
        if not 0 <= self.percentage_of_nodes_to_score <= 100:
            raise ValueError("percentageOfNodesToScore must be in the range [0, 100]")
        if self.leader_elect and not (self.leader_elect_lease_duration > self.leader_elect_renew_deadline
                                      > self.leader_elect_retry_period > 0):
            raise ValueError("leader election needs lease duration > renew deadline > retry period > 0")
