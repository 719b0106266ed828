"""The controller-manager's options (kube-controller-manager's flags that kubemu implements)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ControllerManagerConfig:
    controllers: str = "*"
    bind_address: str = "127.0.0.1"
    port: int = 10257
    # node lifecycle and taint eviction
    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 40.0
    node_startup_grace_period: float = 60.0
    node_eviction_rate: float = 0.1
    secondary_node_eviction_rate: float = 0.01
    unhealthy_zone_threshold: float = 0.55
    large_cluster_size_threshold: int = 50
    # node IPAM
    allocate_node_cidrs: bool = True
    cluster_cidr: str = "127.244.0.0/16"
    node_cidr_mask_size: int = 24
    # concurrency (workers per controller)
    concurrent_deployment_syncs: int = 5
    concurrent_replicaset_syncs: int = 5
    concurrent_service_endpoint_syncs: int = 5
    concurrent_gc_syncs: int = 20
    concurrent_namespace_syncs: int = 10
    concurrent_job_syncs: int = 5
    concurrent_ttl_after_finished_syncs: int = 5
    concurrent_cronjob_syncs: int = 5
    concurrent_daemonset_syncs: int = 2
    max_endpoints_per_slice: int = 100
    terminated_pod_gc_threshold: int = 12500
    # Job controller timings, constants in kube-controller-manager (configurable so tests run fast)
    job_sync_batch_period: float = 1.0         # pod events wait this long, so one sync sees several
    job_pod_failure_backoff: float = 10.0      # a replacement after the first pod failure waits this,
    job_pod_failure_backoff_max: float = 600.0  # doubling with each further failure up to this
    # leader election (the kube-controller-manager Lease in kube-system)
    leader_elect: bool = True
    leader_elect_lease_duration: float = 15.0
    leader_elect_renew_deadline: float = 10.0
    leader_elect_retry_period: float = 2.0
    leader_elect_resource_name: str = "kube-controller-manager"
    leader_elect_resource_namespace: str = "kube-system"
