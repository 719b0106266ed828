"""Stand-in nodes for controller integration tests: what kubelets and the scheduler would do, minimally.

`FakeNodes` registers Nodes (Ready, with a Lease in kube-node-lease renewed every `lease_period`),
binds unscheduled pods to a node without NoSchedule/NoExecute taints (fewest pods first, through
pods/binding), reports bound pods Running and Ready after `ready_delay` (with an IP from the node's
podCIDR), and finishes the deletion of pods being deleted on its nodes (grace 0), as a kubelet
does. `stop(node)` is a kubelet that died: no more lease renewals, its pods are left as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from shared.client import ApiError, Conflict, NotFound
from shared.resources import LEASES, NODES, PODS

SCHEDULING_TAINTS = {"NoSchedule", "NoExecute"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeNodes:
    def __init__(self, client, names: list[str], *, ready_delay: float = 0.2, lease_period: float = 0.3,
                 bind: bool = True) -> None:
        self.client = client
        self.bind = bind  # False: a real scheduler binds
        self.names = names
        self.alive = set(names)
        self.ready_delay = ready_delay
        self.lease_period = lease_period
        self.seen: dict[str, float] = {}
        self.ips: dict[str, int] = {}
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        for i, name in enumerate(self.names, start=1):
            await self.client.create(NODES, {
                "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                "spec": {}, "status": {"addresses": [{"type": "InternalIP", "address": f"127.0.1.{i}"}],
                                       "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                                       "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"}}})
            await self._post_ready(name)
        self._tasks = [asyncio.create_task(self._leases()), asyncio.create_task(self._pods())]

    async def _post_ready(self, name: str) -> None:
        for _ in range(10):  # others (IPAM, node lifecycle) write the node too
            node = await self.client.get(NODES, name)
            node["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                             "message": "kubelet is posting ready status",
                                             "lastHeartbeatTime": _now(), "lastTransitionTime": _now()}]
            try:
                await self.client.update(NODES, node, subresource="status")
                return
            except Conflict:
                continue

    async def stop(self, name: str) -> None:
        self.alive.discard(name)

    async def restart(self, name: str) -> None:
        await self._renew(name)
        await self._post_ready(name)
        self.alive.add(name)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _leases(self) -> None:
        while True:
            for name in list(self.alive):
                with contextlib.suppress(ApiError):
                    await self._renew(name)
            await asyncio.sleep(self.lease_period)

    async def _renew(self, name: str) -> None:
        try:
            await self.client.patch(LEASES, name, {"spec": {"renewTime": _micro()}}, namespace="kube-node-lease")
        except NotFound:
            await self.client.create(LEASES, {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": _micro()}})

    async def _pods(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(ApiError):
                nodes = {n["metadata"]["name"]: n for n in (await self.client.list(NODES))["items"]}
                pods = (await self.client.list(PODS))["items"]
                for pod in pods:
                    await self._handle(pod, nodes, pods, loop.time())
            await asyncio.sleep(0.05)

    async def _handle(self, pod: dict, nodes: dict, pods: list[dict], now: float) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        node = spec.get("nodeName")
        if not node:
            if self.bind and not meta.get("deletionTimestamp"):
                await self._bind(pod, nodes, pods)
            return
        if node not in self.alive:
            return
        if meta.get("deletionTimestamp"):
            with contextlib.suppress(NotFound):
                await self.client.delete(PODS, meta["name"], namespace=meta["namespace"], grace_period_seconds=0)
            return
        if (pod.get("status") or {}).get("phase") == "Running":
            return
        first = self.seen.setdefault(meta["uid"], now)
        if now - first >= self.ready_delay:
            await self._run(pod, nodes[node])

    async def _bind(self, pod: dict, nodes: dict, pods: list[dict]) -> None:
        def schedulable(n: dict) -> bool:
            return not any(t.get("effect") in SCHEDULING_TAINTS for t in (n.get("spec") or {}).get("taints") or [])

        candidates = [name for name, n in nodes.items() if schedulable(n)]
        if not candidates:
            return
        load = {name: sum(1 for p in pods if (p.get("spec") or {}).get("nodeName") == name) for name in candidates}
        target = min(candidates, key=lambda name: (load[name], name))
        meta = pod["metadata"]
        with contextlib.suppress(ApiError):
            await self.client.create(PODS, {"apiVersion": "v1", "kind": "Binding",
                                            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                                            "target": {"apiVersion": "v1", "kind": "Node", "name": target}},
                                     namespace=meta["namespace"], subresource="binding", name=meta["name"])

    async def _run(self, pod: dict, node: dict) -> None:
        name = node["metadata"]["name"]
        cidr = (node.get("spec") or {}).get("podCIDR") or f"127.244.{self.names.index(name) + 1}.0/24"
        self.ips[name] = self.ips.get(name, 1) + 1
        ip = cidr.rsplit(".", 1)[0] + f".{self.ips[name]}"
        stamp = _now()
        pod["status"] = {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": node["status"]["addresses"][0]["address"],
            "startTime": stamp,
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": stamp}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{"name": c["name"], "image": c.get("image", ""), "ready": True, "restartCount": 0,
                                   "started": True, "state": {"running": {"startedAt": stamp}}}
                                  for c in pod["spec"].get("containers") or []],
        }
        with contextlib.suppress(ApiError):
            await self.client.update(PODS, pod, subresource="status")
