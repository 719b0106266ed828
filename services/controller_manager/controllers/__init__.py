"""The controllers kubemu's controller-manager can run, by kube-controller-manager's names.

`--controllers` follows Kubernetes: a comma-separated list where `*` means every controller
enabled by default, `foo` enables and `-foo` disables one; both the current names
(`deployment-controller`) and the short aliases (`deployment`) are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ControllerSpec:
    name: str
    aliases: tuple[str, ...]
    factory: str            # "module:Class", imported only when enabled
    workers_option: str | None = None
    requires_option: str | None = None  # a boolean option that must be true for it to run


SPECS: tuple[ControllerSpec, ...] = (
    ControllerSpec("deployment-controller", ("deployment",), "deployment:DeploymentController",
                   "concurrent_deployment_syncs"),
    ControllerSpec("replicaset-controller", ("replicaset",), "replicaset:ReplicaSetController",
                   "concurrent_replicaset_syncs"),
    ControllerSpec("endpointslice-controller", ("endpointslice",), "endpointslice:EndpointSliceController",
                   "concurrent_service_endpoint_syncs"),
    ControllerSpec("endpoints-controller", ("endpoint",), "endpoints:EndpointsController",
                   "concurrent_service_endpoint_syncs"),
    ControllerSpec("garbage-collector-controller", ("garbagecollector",), "garbagecollector:GarbageCollector",
                   "concurrent_gc_syncs"),
    ControllerSpec("namespace-controller", ("namespace",), "namespace:NamespaceController",
                   "concurrent_namespace_syncs"),
    ControllerSpec("serviceaccount-controller", ("serviceaccount",), "serviceaccount:ServiceAccountController"),
    ControllerSpec("node-lifecycle-controller", ("nodelifecycle",), "nodelifecycle:NodeLifecycleController"),
    ControllerSpec("taint-eviction-controller", ("tainteviction",), "tainteviction:TaintEvictionController"),
    ControllerSpec("node-ipam-controller", ("nodeipam",), "nodeipam:NodeIpamController",
                   requires_option="allocate_node_cidrs"),
    ControllerSpec("pod-garbage-collector-controller", ("podgc",), "podgc:PodGCController"),
    ControllerSpec("job-controller", ("job",), "job:JobController", "concurrent_job_syncs"),
    ControllerSpec("ttl-after-finished-controller", ("ttl-after-finished",),
                   "ttlafterfinished:TTLAfterFinishedController", "concurrent_ttl_after_finished_syncs"),
    ControllerSpec("cronjob-controller", ("cronjob",), "cronjob:CronJobController", "concurrent_cronjob_syncs"),
    ControllerSpec("daemonset-controller", ("daemonset",), "daemonset:DaemonSetController", "concurrent_daemonset_syncs"),
    ControllerSpec("disruption-controller", ("disruption",), "disruption:DisruptionController"),
)
DISABLED_BY_DEFAULT: frozenset[str] = frozenset()


def _names(spec: ControllerSpec) -> set[str]:
    return {spec.name, *spec.aliases}


def selected(flag: str) -> list[ControllerSpec]:
    """The controllers `--controllers=flag` enables (k8s IsControllerEnabled); ValueError on unknown names."""
    items = [item.strip() for item in flag.split(",") if item.strip()]
    known = set().union(*(_names(s) for s in SPECS))
    unknown = [i for i in items if i != "*" and i.lstrip("-") not in known]
    if unknown:
        raise ValueError(f"unknown controllers: {', '.join(unknown)} (known: {', '.join(s.name for s in SPECS)})")
    return [spec for spec in SPECS if _enabled(spec, items)]


def _enabled(spec: ControllerSpec, items: list[str]) -> bool:
    names = _names(spec)
    has_star = False
    for item in items:
        if item in names:
            return True
        if item.startswith("-") and item[1:] in names:
            return False
        has_star = has_star or item == "*"
    return has_star and spec.name not in DISABLED_BY_DEFAULT


def runnable(specs: list[ControllerSpec], options: Any) -> list[ControllerSpec]:
    """The enabled controllers whose required option (e.g. --allocate-node-cidrs) is on."""
    return [s for s in specs if not s.requires_option or getattr(options, s.requires_option, True)]


def build(spec: ControllerSpec, ctx: Any) -> Any:
    import importlib

    module_name, cls_name = spec.factory.split(":")
    cls = getattr(importlib.import_module(f"services.controller_manager.controllers.{module_name}"), cls_name)
    workers = getattr(ctx.options, spec.workers_option, None) if spec.workers_option else None
    return cls(ctx, workers=workers)
