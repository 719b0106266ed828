"""Node IPAM controller, range allocator (k8s pkg/controller/nodeipam/ipam/range_allocator.go).

Guarantees:
- every node gets `spec.podCIDR` (and `spec.podCIDRs`) from `--cluster-cidr` (127.244.0.0/16),
  one `/--node-cidr-mask-size` (/24) each, never one already in use;
- node "<name>-N" prefers the N-th subnet (node-1 → 127.244.1.0/24) when free, else gets the
  first free one (index 0, the network's own first subnet, is used last);
- a deleted node's CIDR is released; at start, every CIDR already on a node is marked used before
  anything is allocated (`prepare`);
- no free CIDR: a CIDRNotAvailable event and a retry with backoff.
"""

from __future__ import annotations

import ipaddress
import re

from shared.client import NotFound
from shared.resources import NODES

from shared.logging import get_logger

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.objects import name_of, unwrap_tombstone

log = get_logger()

_TRAILING_NUMBER = re.compile(r"(\d+)$")


class CidrSet:
    """The subnets of one cluster CIDR, and which node holds each."""

    def __init__(self, cluster_cidr: str, mask_size: int) -> None:
        self.network = ipaddress.ip_network(cluster_cidr)
        if mask_size < self.network.prefixlen:
            raise ValueError(f"--node-cidr-mask-size {mask_size} is larger than --cluster-cidr {cluster_cidr}")
        self.mask = mask_size
        self.size = 2 ** (mask_size - self.network.prefixlen)
        self.owner: dict[int, str] = {}
        self.index_of_node: dict[str, int] = {}

    def cidr(self, index: int) -> str:
        base = int(self.network.network_address) + index * 2 ** (self.network.max_prefixlen - self.mask)
        return f"{ipaddress.ip_address(base)}/{self.mask}"

    def index(self, cidr: str) -> int | None:
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return None
        if net.prefixlen != self.mask or not net.subnet_of(self.network):
            return None
        offset = int(net.network_address) - int(self.network.network_address)
        return offset >> (self.network.max_prefixlen - self.mask)

    def occupy(self, node: str, cidr: str) -> bool:
        idx = self.index(cidr)
        if idx is None:
            return False
        self.release(node)
        self.owner[idx] = node
        self.index_of_node[node] = idx
        return True

    def allocate(self, node: str) -> str | None:
        if node in self.index_of_node:
            return self.cidr(self.index_of_node[node])
        idx = self._preferred(node)
        if idx is None:
            idx = next((i for i in [*range(1, self.size), 0] if i not in self.owner), None)
        if idx is None:
            return None
        self.owner[idx] = node
        self.index_of_node[node] = idx
        return self.cidr(idx)

    def _preferred(self, node: str) -> int | None:
        match = _TRAILING_NUMBER.search(node)
        if match is None:
            return None
        idx = int(match.group(1))
        return idx if 0 <= idx < self.size and idx not in self.owner else None

    def release(self, node: str) -> None:
        idx = self.index_of_node.pop(node, None)
        if idx is not None and self.owner.get(idx) == node:
            del self.owner[idx]


class NodeIpamController(Controller):
    name = "node-ipam-controller"
    queue_name = "node_ipam"
    default_workers = 1  # the allocation map is this worker's alone
    recorder_component = "cidrAllocator"

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=1)
        opts = ctx.options
        self.cidrs = CidrSet(getattr(opts, "cluster_cidr", "127.244.0.0/16"), getattr(opts, "node_cidr_mask_size", 24))
        self.recorder = ctx.recorder_factory(self.recorder_component)
        self.node_informer = ctx.informers.informer(NODES)
        self.node_informer.add_event_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                             on_delete=self._on_delete)

    def _on_delete(self, obj: object) -> None:
        node = unwrap_tombstone(obj)
        if node is not None:
            self.queue.add(name_of(node))

    async def prepare(self) -> None:
        for node in self.node_informer.lister.list():
            cidr = (node.get("spec") or {}).get("podCIDR")
            if cidr:
                self.cidrs.occupy(name_of(node), cidr)

    async def sync(self, key: str) -> None:
        node = self.node_informer.lister.get(key)
        if node is None:
            self.cidrs.release(key)
            return
        existing = (node.get("spec") or {}).get("podCIDR")
        if existing:
            self.cidrs.occupy(key, existing)
            return
        cidr = self.cidrs.allocate(key)
        if cidr is None:
            self.recorder.event(node, "Normal", "CIDRNotAvailable", f"Node {key} status is now: CIDRNotAvailable")
            raise RuntimeError(f"no free pod CIDR in {self.cidrs.network} for node {key}")
        log.info("node.cidr_allocated", cidr=cidr)
        try:
            await self.client.patch(NODES, key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except NotFound:
            self.cidrs.release(key)
