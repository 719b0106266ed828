"""The kubelet of one node: its Node and Lease, the pods bound to it, and their pod workers.

Guarantees:
- It learns its pods only from a watch of `fieldSelector=spec.nodeName=<node>` (through a shared
  informer), and its Node from a watch of its own name; one pod worker per pod UID (pod_worker.py).
- The pod CIDR is the Node's `spec.podCIDR` (the controller-manager's IPAM), else `--pod-cidr`;
  the runtime gets it as CRI's UpdateRuntimeConfig does, as soon as it is known.
- Container exits reported by the runtime wake the pod's worker at once (an evented PLEG); every
  worker also re-syncs every `sync_frequency` seconds.
- Sandboxes of pods the API server no longer has (deleted while the kubelet was down) are killed
  and removed once the pod informer has synced, and again at each housekeeping pass.
- `run()` returns only when cancelled; `stop()` leaves containers running (they outlive the
  kubelet, as with containerd) and flushes events.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from shared.client import ApiClient, ApiError, NotFound
from shared.events import EventRecorder
from shared.informer import DeletedFinalStateUnknown, SharedInformerFactory
from shared.logging import get_logger
from shared.resources import CONFIGMAPS, NODES, PODS, SECRETS, SERVICES
from services.kubelet import metrics
from services.kubelet.backoff import Backoff
from services.kubelet.config import KubeletConfig
from services.kubelet.node import NodeManager
from services.kubelet.pod_worker import PodWorker, is_terminal
from services.kubelet.probes import ProbeManager, ProbeTarget
from services.kubelet.runtime.cri import (
    LABEL_POD_UID,
    ContainerEvent,
    ContainerEventType,
    ContainerState,
    CRIError,
    PodSandboxStatus,
    Runtime,
    SandboxState,
)

log = get_logger()
HOUSEKEEPING_SECONDS = 10.0
SERVICE_ENV_TTL = 30.0


class Kubelet:
    def __init__(self, config: KubeletConfig, client: ApiClient, runtime: Runtime, *,
                 recorder: EventRecorder | None = None, informers: SharedInformerFactory | None = None,
                 own_informers: bool = True) -> None:
        self.config = config
        self.client = client
        self.runtime = runtime
        self.recorder = recorder or EventRecorder(client, component="kubelet", host=config.node_name)
        self.factory = informers or SharedInformerFactory(client)
        self.own_informers = own_informers
        self.node = NodeManager(self)
        self.workers: dict[str, PodWorker] = {}
        self.finished_uids: OrderedDict[str, None] = OrderedDict()
        self.crash_backoff = Backoff(config.crashloop_backoff_base, config.crashloop_backoff_max)
        self.image_backoff = Backoff(config.image_pull_backoff_base, config.image_pull_backoff_max)
        self.pull_failures: dict[str, float] = {}
        self.probes = ProbeManager(exec_fn=self.runtime.exec_sync, on_change=self.wake_pod,
                                   on_failure=self._on_probe_failure)
        self.pod_cidr = ""
        self.runtime.on_container_event(self._on_container_event)
        self.ready = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._service_env: dict[str, str] = {}
        self._service_env_at = -SERVICE_ENV_TTL

    @property
    def node_ip(self) -> str:
        return self.config.node_ip

    # --- start and stop -------------------------------------------------------------------------

    async def run(self) -> None:
        await self.start()
        try:
            await self.wait()
        finally:
            await self.stop()

    async def wait(self) -> None:
        """Until the kubelet's loops end (they end only when cancelled, or by crashing)."""
        await asyncio.gather(*self._tasks)

    async def start(self) -> None:
        await self.runtime.start()
        node = await self.node.register()
        if self._set_pod_cidr(node):
            self.node.changed.set()
        if self.own_informers:
            self.watch_pods(self.factory.informer(PODS, field_selector=f"spec.nodeName={self.config.node_name}"))
            self.watch_node(self.factory.informer(NODES, field_selector=f"metadata.name={self.config.node_name}"))
            self.factory.start()
            await self.factory.wait_for_cache_sync()
            await self.cleanup_orphans()
        self._tasks += [asyncio.create_task(self.node.status_loop(), name=f"node-status-{self.config.node_name}"),
                        asyncio.create_task(self.node.lease_loop(), name=f"node-lease-{self.config.node_name}"),
                        asyncio.create_task(self._housekeeping(), name=f"housekeeping-{self.config.node_name}")]
        self.ready.set()
        log.info("kubelet.started", key=self.config.node_name, runtime=self.runtime.name, pod_cidr=self.pod_cidr)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for worker in list(self.workers.values()):
            if worker.task is not None:
                worker.task.cancel()
        for task in [*self._tasks, *(w.task for w in self.workers.values() if w.task)]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.probes.close()
        if self.own_informers:
            await self.factory.stop()
        await self.recorder.close()
        await self.runtime.close()

    def watch_pods(self, informer: Any) -> None:
        informer.add_event_handler(on_add=self.on_pod, on_update=lambda old, new: self.on_pod(new),
                                   on_delete=self.on_pod_deleted)

    def watch_node(self, informer: Any) -> None:
        informer.add_event_handler(on_add=self.on_node, on_update=lambda old, new: self.on_node(new))

    # --- what the informers tell ----------------------------------------------------------------

    def on_pod(self, pod: dict[str, Any]) -> None:
        if pod.get("spec", {}).get("nodeName") != self.config.node_name:
            return
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        if uid in self.finished_uids:
            return
        worker = self.workers[uid] = PodWorker(self, uid, pod)
        worker.start()

    def on_pod_deleted(self, obj: Any) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        worker = self.workers.get(pod["metadata"]["uid"])
        if worker is not None:
            worker.update(gone=True)

    def on_node(self, node: dict[str, Any]) -> None:
        if node["metadata"]["name"] != self.config.node_name:
            return
        self.node.observe(node)
        if self._set_pod_cidr(node):
            self.node.changed.set()
            for worker in self.workers.values():
                worker.update()

    def _set_pod_cidr(self, node: dict[str, Any]) -> bool:
        cidr = (node.get("spec") or {}).get("podCIDR") or self.config.pod_cidr
        if not cidr or cidr == self.pod_cidr:
            return False
        self.pod_cidr = cidr
        self.runtime.update_runtime_config(pod_cidr=cidr)
        log.info("node.pod_cidr", key=self.config.node_name, pod_cidr=cidr)
        return True

    def _on_container_event(self, event: ContainerEvent) -> None:
        worker = self.workers.get(event.pod_uid)
        if event.type is ContainerEventType.STOPPED and worker is not None:
            with contextlib.suppress(CRIError):
                c = self.runtime.container_status(event.container_id)
                log.info("container.exited", key=worker.key, container=c.metadata.name, exit_code=c.exit_code,
                         reason=c.reason, attempt=c.metadata.attempt)
        self.wake_pod(event.pod_uid)

    def wake_pod(self, uid: str) -> None:
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update()

    def worker_done(self, worker: PodWorker) -> None:
        if self.workers.get(worker.uid) is worker:
            del self.workers[worker.uid]
        self.finished_uids[worker.uid] = None
        while len(self.finished_uids) > 10_000:
            self.finished_uids.popitem(last=False)

    # --- what pod workers ask -------------------------------------------------------------------

    def node_object(self) -> dict[str, Any]:
        return self.node.node or self.node.build()

    def allocatable(self) -> dict[str, str]:
        return self.node.resources()

    def active_pods(self, *, exclude: str = "") -> list[dict[str, Any]]:
        return [w.pod for w in self.workers.values()
                if w.uid != exclude and w.admitted and w.pod is not None and not is_terminal(w.pod)
                and not w.terminated]

    def find_sandbox(self, uid: str) -> PodSandboxStatus | None:
        """The pod's newest sandbox, a ready one first."""
        mine = [sb for sb in self.runtime.list_pod_sandboxes() if sb.labels.get(LABEL_POD_UID) == uid]
        mine.sort(key=lambda sb: (sb.state is SandboxState.READY, sb.created_at))
        return mine[-1] if mine else None

    def log_directory(self, namespace: str, name: str, uid: str) -> str:
        return str(Path(self.config.root_dir) / "pods" / f"{namespace}_{name}_{uid}")

    async def lookup_config(self, kind: str, namespace: str, name: str) -> dict[str, str] | None:
        ref = CONFIGMAPS if kind == "configmap" else SECRETS
        try:
            obj = await self.client.get(ref, name, namespace)
        except NotFound:
            return None
        data = dict(obj.get("data") or {})
        if kind == "secret":
            data = {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
            data.update(obj.get("stringData") or {})
        return data

    async def service_env(self) -> dict[str, str]:
        """The `kubernetes` Service's variables every container gets (KUBERNETES_SERVICE_HOST...)."""
        now = time.monotonic()
        if now - self._service_env_at < SERVICE_ENV_TTL:
            return self._service_env
        self._service_env_at = now
        try:
            svc = await self.client.get(SERVICES, "kubernetes", "default")
        except ApiError:
            return self._service_env
        ip = svc["spec"].get("clusterIP", "")
        port = next((p for p in svc["spec"].get("ports") or [] if p.get("name") == "https"),
                    (svc["spec"].get("ports") or [{}])[0])
        if ip and ip != "None" and port.get("port"):
            number, proto = port["port"], port.get("protocol", "TCP")
            base = f"KUBERNETES_PORT_{number}_{proto}"
            self._service_env = {
                "KUBERNETES_SERVICE_HOST": ip, "KUBERNETES_SERVICE_PORT": str(number),
                "KUBERNETES_SERVICE_PORT_HTTPS": str(number), "KUBERNETES_PORT": f"{proto.lower()}://{ip}:{number}",
                base: f"{proto.lower()}://{ip}:{number}", f"{base}_PROTO": proto.lower(),
                f"{base}_PORT": str(number), f"{base}_ADDR": ip,
            }
        return self._service_env

    def event(self, pod: dict[str, Any], type_: str, reason: str, message: str, *, field_path: str = "") -> None:
        meta = pod["metadata"]
        ref = {"kind": "Pod", "apiVersion": "v1", "namespace": meta.get("namespace", "default"),
               "name": meta["name"], "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")}
        if field_path:
            ref["fieldPath"] = field_path
        self.recorder.event({k: v for k, v in ref.items() if v}, type_, reason, message)

    def _on_probe_failure(self, target: ProbeTarget, kind: str, message: str) -> None:
        worker = self.workers.get(target.pod_uid)
        if worker is None or worker.pod is None:
            return
        self.event(worker.pod, "Warning", "Unhealthy", f"{kind.capitalize()} probe failed: {message}",
                   field_path=f"spec.containers{{{target.container['name']}}}")

    def worker_for(self, namespace: str, name: str) -> PodWorker | None:
        for worker in self.workers.values():
            if worker.namespace == namespace and worker.name == name:
                return worker
        return None

    def update_gauges(self) -> None:
        node = self.config.node_name
        ready = [sb for sb in self.runtime.list_pod_sandboxes() if sb.state is SandboxState.READY]
        metrics.RUNNING_PODS.labels(node=node).set(len(ready))
        running = [c for c in self.runtime.list_containers() if c.state is ContainerState.RUNNING]
        metrics.RUNNING_CONTAINERS.labels(node=node).set(len(running))

    # --- housekeeping ---------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            try:
                self.update_gauges()
                await self.cleanup_orphans()
            except (ApiError, OSError) as exc:
                log.warning("kubelet.housekeeping_failed", key=self.config.node_name, error=str(exc))

    async def cleanup_orphans(self) -> None:
        """Kill and remove sandboxes whose pod is gone (deleted while this kubelet was away)."""
        known = set(self.workers) | {p["metadata"]["uid"] for p in self._informer_pods()}
        for sb in self.runtime.list_pod_sandboxes():
            uid = sb.labels.get(LABEL_POD_UID, "")
            if uid and uid not in known:
                log.info("pod.orphan_removed", key=f"{sb.metadata.namespace}/{sb.metadata.name}", uid=uid)
                for c in self.runtime.list_containers(sb.id):
                    self.probes.remove(c.id)
                    await self.runtime.stop_container(c.id, self.config.minimum_grace_period)
                await self.runtime.remove_pod_sandbox(sb.id)

    def _informer_pods(self) -> list[dict[str, Any]]:
        pods: list[dict[str, Any]] = []
        for inf in self.factory.informers():
            if inf.ref == PODS:
                pods += [p for p in inf.lister.list() if p["spec"].get("nodeName") == self.config.node_name]
        return pods


__all__ = ["Kubelet"]
