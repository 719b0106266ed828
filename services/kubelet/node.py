"""The kubelet's own Node object and its heartbeats: registration, node status, and the node Lease.

Guarantees, as the kubelet's node status manager and node lease controller:
- `register()` creates the Node (labels kubernetes.io/hostname, kubernetes.io/os=linux,
  kubernetes.io/arch, capacity/allocatable from flags, InternalIP + Hostname addresses,
  daemonEndpoints.kubeletEndpoint.Port, nodeInfo, conditions), or adopts an existing Node of its
  name: the node's `spec.podCIDR` (the IPAM controller's) wins over `--pod-cidr`.
- The Lease `kube-node-lease/<node>` (holder the node, owner the Node) is renewed every
  `node_lease_renew_interval` seconds; a conflict re-reads it, a missing one is created.
- Node status is computed every `node_status_update_frequency` and sent when it changed, or at
  least every `node_status_report_frequency` (5 min), with new lastHeartbeatTime values; a
  condition's lastTransitionTime changes only with its status.
- Ready is False (NetworkPluginNotReady) while the node has no pod CIDR, as a node without a
  working network plugin reports it; MemoryPressure, DiskPressure, PIDPressure are False.
"""

from __future__ import annotations

import asyncio
import platform
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from shared.client import AlreadyExists, ApiError, Conflict, NotFound
from shared.logging import get_logger
from shared.resources import LEASES, NODES
from services.kubelet.config import KUBELET_VERSION

if TYPE_CHECKING:
    from services.kubelet.kubelet import Kubelet

log = get_logger()
LEASE_NAMESPACE = "kube-node-lease"
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
PRESSURE = [
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
]


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def micro_time() -> str:
    """metav1.MicroTime: RFC3339 with microseconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return str(uuid.uuid4())


BOOT_ID = _boot_id()


class NodeManager:
    def __init__(self, kubelet: Kubelet) -> None:
        self.k = kubelet
        self.config = kubelet.config
        self.node: dict[str, Any] | None = None
        self.machine_id = uuid.uuid5(uuid.NAMESPACE_DNS, f"kubemu.{self.config.node_name}").hex
        self._conditions: dict[str, dict[str, Any]] = {}
        self._last_reported: dict[str, Any] | None = None
        self._last_report_at = 0.0
        self.changed = asyncio.Event()

    @property
    def name(self) -> str:
        return self.config.node_name

    def resources(self) -> dict[str, str]:
        return {"cpu": str(self.config.cpu), "memory": str(self.config.memory),
                "ephemeral-storage": self.config.ephemeral_storage, "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                "pods": str(self.config.max_pods)}

    def labels(self) -> dict[str, str]:
        return {"beta.kubernetes.io/arch": ARCH, "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": ARCH,
                "kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux", **self.config.node_labels}

    def build(self) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        if self.config.pod_cidr:
            spec.update(podCIDR=self.config.pod_cidr, podCIDRs=[self.config.pod_cidr])
        if self.config.register_with_taints:
            spec["taints"] = list(self.config.register_with_taints)
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": self.labels(),
                             "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                             "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": spec, "status": self.status()}

    def conditions(self) -> list[dict[str, Any]]:
        now = now_rfc3339()
        wanted = [(t, "False", r, m) for t, r, m in PRESSURE]
        if self.k.pod_cidr or (self.node or {}).get("spec", {}).get("podCIDR") or self.config.pod_cidr:
            wanted.append(("Ready", "True", "KubeletReady", "kubelet is posting ready status"))
        else:
            wanted.append(("Ready", "False", "KubeletNotReady",
                           "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                           "message:Network plugin returns error: no pod CIDR assigned to the node"))
        current = {c["type"]: c for c in ((self.node or {}).get("status") or {}).get("conditions") or []}
        out = []
        for ctype, status, reason, message in wanted:
            old = current.get(ctype) or self._conditions.get(ctype)
            since = old["lastTransitionTime"] if old and old["status"] == status else now
            cond = {"type": ctype, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": since,
                    "reason": reason, "message": message}
            self._conditions[ctype] = cond
            out.append(cond)
        return out

    def status(self) -> dict[str, Any]:
        resources = self.resources()
        images = [{"names": [ref.image_id, ref.image], "sizeBytes": ref.size}
                  for ref in getattr(self.k.runtime, "images", {}).values()]
        return {
            "capacity": resources, "allocatable": dict(resources), "conditions": self.conditions(),
            "addresses": [{"type": "InternalIP", "address": self.k.node_ip}, {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.config.port}},
            "nodeInfo": {
                "machineID": self.machine_id, "systemUUID": str(uuid.UUID(self.machine_id)), "bootID": BOOT_ID,
                "kernelVersion": platform.release(), "osImage": f"kubemu on {platform.system()}",
                "containerRuntimeVersion": f"kubemu-{self.k.runtime.name}://0.1.0", "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION, "operatingSystem": "linux", "architecture": ARCH,
            },
            "images": images,
        }

    # --- registration ---------------------------------------------------------------------------

    async def register(self) -> dict[str, Any]:
        """Create the Node, or adopt the existing one; retried until the API server answers."""
        delay = 0.2
        while True:
            try:
                self.node = await self._register_once()
                log.info("node.registered", key=self.name, pod_cidr=self.node["spec"].get("podCIDR"),
                         node_ip=self.k.node_ip)
                return self.node
            except ApiError as exc:
                log.warning("node.register_failed", key=self.name, error=str(exc), retry_in_seconds=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 7.0)

    async def _register_once(self) -> dict[str, Any]:
        try:
            node = await self.k.client.create(NODES, self.build())
            self._remember(node["status"])
            return node
        except AlreadyExists:
            pass
        existing = await self.k.client.get(NODES, self.name)
        patch: dict[str, Any] = {"metadata": {"labels": self.labels()}}
        if self.config.pod_cidr and not existing["spec"].get("podCIDR"):
            patch["spec"] = {"podCIDR": self.config.pod_cidr, "podCIDRs": [self.config.pod_cidr]}
        elif self.config.pod_cidr and existing["spec"]["podCIDR"] != self.config.pod_cidr:
            log.warning("node.pod_cidr_differs", key=self.name, node=existing["spec"]["podCIDR"],
                        flag=self.config.pod_cidr)
        node = await self.k.client.patch(NODES, self.name, patch)
        self.node = node
        status = self.status()
        node = await self.k.client.patch(NODES, self.name, {"status": status}, subresource="status")
        self._remember(status)
        return node

    def _remember(self, status: dict[str, Any]) -> None:
        self._last_reported = _without_heartbeats(status)
        self._last_report_at = time.monotonic()

    def observe(self, node: dict[str, Any]) -> None:
        """A newer Node from the informer (the IPAM controller may have set spec.podCIDR)."""
        self.node = node

    # --- heartbeats -----------------------------------------------------------------------------

    async def status_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.changed.wait(), self.config.node_status_update_frequency)
            except TimeoutError:
                pass
            self.changed.clear()
            try:
                await self.report_status()
            except ApiError as exc:
                log.warning("node.status_failed", key=self.name, error=str(exc))

    async def report_status(self, *, force: bool = False) -> None:
        """Send the status if it differs from the Node's (as the API has it) or a report is due.

        Compared with the Node from the API, not with what was last sent: when the node lifecycle
        controller has marked the node Unknown, the next pass puts the kubelet's view back."""
        status = self.status()
        plain = _without_heartbeats(status)
        due = time.monotonic() - self._last_report_at >= self.config.node_status_report_frequency
        in_api = _essence((self.node or {}).get("status") or {}) if self.node else None
        if not force and not due and plain == self._last_reported and _essence(status) == in_api:
            return
        self.node = await self.k.client.patch(NODES, self.name, {"status": status}, subresource="status")
        if plain != self._last_reported:
            log.info("node.status_updated", key=self.name, ready=_ready(status))
        self._remember(status)

    async def lease_loop(self) -> None:
        while True:
            try:
                await self.renew_lease()
            except ApiError as exc:
                log.warning("node.lease_failed", key=self.name, error=str(exc))
            await asyncio.sleep(self.config.node_lease_renew_interval)

    def _lease(self) -> dict[str, Any]:
        owner = []
        if self.node and self.node["metadata"].get("uid"):
            owner = [{"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.node["metadata"]["uid"]}]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE, "ownerReferences": owner},
                "spec": {"holderIdentity": self.name,
                         "leaseDurationSeconds": self.config.node_lease_duration_seconds,
                         "renewTime": micro_time()}}

    async def renew_lease(self) -> dict[str, Any]:
        for _ in range(3):
            try:
                lease = await self.k.client.get(LEASES, self.name, LEASE_NAMESPACE)
            except NotFound:
                try:
                    return await self.k.client.create(LEASES, self._lease(), LEASE_NAMESPACE)
                except AlreadyExists:
                    continue
            lease["spec"].update(holderIdentity=self.name, renewTime=micro_time(),
                                 leaseDurationSeconds=self.config.node_lease_duration_seconds)
            try:
                return await self.k.client.update(LEASES, lease, LEASE_NAMESPACE)
            except Conflict:
                continue
        raise Conflict({"code": 409, "reason": "Conflict",
                        "message": f"lease {LEASE_NAMESPACE}/{self.name} kept changing"})


def _without_heartbeats(status: dict[str, Any]) -> dict[str, Any]:
    out = dict(status)
    out["conditions"] = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in status["conditions"]]
    return out


def _essence(status: dict[str, Any]) -> dict[str, Any]:
    """What the kubelet owns in a node status, without timestamps."""
    keys = ("capacity", "allocatable", "addresses", "daemonEndpoints", "nodeInfo")
    out = {k: status.get(k) for k in keys}
    out["conditions"] = sorted((c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
                               for c in status.get("conditions") or [])
    return out


def _ready(status: dict[str, Any]) -> str:
    return next((c["status"] for c in status["conditions"] if c["type"] == "Ready"), "Unknown")


