"""Hollow nodes: many fake-runtime kubelets in one process, like kubemark's, for scale tests.

Guarantees: `--hollow-nodes N` runs N kubelets named `<prefix>-<i>` (i from 0), each with its own
Node, Lease, pods and pod workers, on the fake runtime. They share one API client and one pod and
one node watch (instead of 2N), routed by `spec.nodeName` / node name, so N can be in the hundreds.
Each gets its pod CIDR from its Node (the IPAM controller), else the i-th /24 of `--pod-cidr`
(default 127.245.0.0/16) so their pod IPs never collide.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import replace
from pathlib import Path
from typing import Any

from shared.client import ApiClient
from shared.informer import DeletedFinalStateUnknown, SharedInformerFactory
from shared.logging import get_logger
from shared.resources import NODES, PODS
from services.kubelet.config import KubeletConfig
from services.kubelet.kubelet import Kubelet
from services.kubelet.runtime.fake import FakeRuntime

log = get_logger()
DEFAULT_HOLLOW_CIDR = "127.245.0.0/16"


def hollow_configs(base: KubeletConfig) -> list[KubeletConfig]:
    network = ipaddress.ip_network(base.pod_cidr or DEFAULT_HOLLOW_CIDR, strict=False)
    subnets = network.subnets(new_prefix=24) if network.prefixlen < 24 else iter([network])
    configs = []
    for i in range(base.hollow_nodes):
        cidr = str(next(subnets, "")) if network.prefixlen < 24 else ""
        name = f"{base.hollow_node_prefix}-{i}"
        configs.append(replace(base, node_name=name, pod_cidr=cidr, runtime="fake", hollow_nodes=0,
                               root_dir=Path(base.root_dir) / name))
    return configs


class HollowNodes:
    """N kubelets over one shared pod watch and one node watch."""

    def __init__(self, base: KubeletConfig, client: ApiClient) -> None:
        self.factory = SharedInformerFactory(client)
        self.kubelets = [Kubelet(c, client, FakeRuntime(start_delay=c.fake_start_delay), informers=self.factory,
                                 own_informers=False) for c in hollow_configs(base)]
        self.by_node = {k.config.node_name: k for k in self.kubelets}

    def _route(self, name: str) -> Kubelet | None:
        return self.by_node.get(name)

    def _on_pod(self, pod: dict[str, Any]) -> None:
        k = self._route(pod.get("spec", {}).get("nodeName", ""))
        if k is not None:
            k.on_pod(pod)

    def _on_pod_deleted(self, obj: Any) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        k = self._route(pod.get("spec", {}).get("nodeName", ""))
        if k is not None:
            k.on_pod_deleted(obj)

    def _on_node(self, node: dict[str, Any]) -> None:
        k = self._route(node["metadata"]["name"])
        if k is not None:
            k.on_node(node)

    async def run(self) -> None:
        await asyncio.gather(*(k.start() for k in self.kubelets))
        pods = self.factory.informer(PODS)
        pods.add_event_handler(on_add=self._on_pod, on_update=lambda o, n: self._on_pod(n),
                               on_delete=self._on_pod_deleted)
        nodes = self.factory.informer(NODES)
        nodes.add_event_handler(on_add=self._on_node, on_update=lambda o, n: self._on_node(n))
        self.factory.start()
        await self.factory.wait_for_cache_sync()
        for k in self.kubelets:
            await k.cleanup_orphans()
        log.info("hollow_nodes.started", nodes=len(self.kubelets))
        try:
            await asyncio.gather(*(k.wait() for k in self.kubelets))
        finally:
            await asyncio.gather(*(k.stop() for k in self.kubelets), return_exceptions=True)
            await self.factory.stop()
