"""The `fake` runtime: containers that only report state, for simulated nodes (like KWOK/kubemark).

Guarantees:
- The same calls and the same status shapes as the process runtime, all in memory, no process.
- A started container is RUNNING at once, or after `start_delay` seconds (CREATED meanwhile).
- It runs until stopped (exit code 0, `Completed`) or until a test ends it with `exit_container`.
- Images named in `missing_images` fail to pull (ErrImagePull); every other name exists.
- Sandboxes get IPs from the pod CIDR like real ones (in-memory host-local IPAM).
- `exec_sync` answers exit code 0 unless `exec_results` says otherwise for that command.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from services.kubelet.runtime.cri import (
    ContainerConfig,
    ContainerEvent,
    ContainerEventHandler,
    ContainerEventType,
    ContainerState,
    ContainerStatus,
    CRIError,
    ImagePullError,
    ImageRef,
    LABEL_POD_UID,
    NotFoundError,
    PodSandboxConfig,
    PodSandboxStatus,
    SandboxState,
)
from services.kubelet.runtime.images import parse_reference
from services.kubelet.runtime.ipam import HostLocalIPAM, IPAMError


@dataclass
class _FakeContainer:
    status: ContainerStatus
    sandbox_id: str
    pod_uid: str
    start_handle: asyncio.TimerHandle | None = None
    exited: asyncio.Event = field(default_factory=asyncio.Event)


class FakeRuntime:
    name = "fake"

    def __init__(self, *, start_delay: float = 0.0, missing_images: set[str] | None = None) -> None:
        self.start_delay = start_delay
        self.missing_images = set(missing_images or ())
        self.exec_results: dict[tuple[str, ...], tuple[int, bytes]] = {}
        self.ipam = HostLocalIPAM(None)
        self.sandboxes: dict[str, PodSandboxStatus] = {}
        self.containers: dict[str, _FakeContainer] = {}
        self.images: dict[str, ImageRef] = {}
        self._handlers: list[ContainerEventHandler] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for c in self.containers.values():
            if c.start_handle:
                c.start_handle.cancel()

    def update_runtime_config(self, *, pod_cidr: str) -> None:
        self.ipam.set_cidr(pod_cidr)

    def on_container_event(self, handler: ContainerEventHandler) -> None:
        self._handlers.append(handler)

    def _emit(self, c: _FakeContainer, kind: ContainerEventType) -> None:
        event = ContainerEvent(c.status.id, c.sandbox_id, c.pod_uid, kind)
        for handler in self._handlers:
            handler(event)

    # images

    def _ref(self, image: str) -> ImageRef:
        ref = parse_reference(image)
        if image in self.missing_images or ref.path.rsplit("/", 1)[-1] in self.missing_images:
            raise ImagePullError(f'failed to pull and unpack image "{ref.full}": not found')
        digest = "sha256:" + hashlib.sha256(ref.full.encode()).hexdigest()
        return ImageRef(ref.full, f"{ref.registry}/{ref.path}@{digest}", 1_000_000)

    def image_status(self, image: str) -> ImageRef | None:
        try:
            return self.images.get(self._ref(image).image)
        except ImagePullError:
            return None

    async def pull_image(self, image: str) -> ImageRef:
        ref = self._ref(image)
        self.images[ref.image] = ref
        return ref

    # sandboxes

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        sid = secrets.token_hex(32)
        try:
            ip = config.host_ip if config.host_network else self.ipam.allocate(sid)
        except IPAMError as exc:
            raise CRIError(str(exc), reason="FailedCreatePodSandBox") from exc
        self.sandboxes[sid] = PodSandboxStatus(sid, config.metadata, SandboxState.READY, time.time_ns(), ip,
                                               dict(config.labels))
        return sid

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        sb = self.sandboxes.get(sandbox_id)
        if sb is None:
            return
        for c in [c for c in self.containers.values() if c.sandbox_id == sandbox_id]:
            await self.stop_container(c.status.id, 0)
        self.ipam.release(sandbox_id)
        self.sandboxes[sandbox_id] = replace(sb, state=SandboxState.NOTREADY)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        await self.stop_pod_sandbox(sandbox_id)
        for c in [c for c in self.containers.values() if c.sandbox_id == sandbox_id]:
            await self.remove_container(c.status.id)
        self.sandboxes.pop(sandbox_id, None)

    def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        if sandbox_id not in self.sandboxes:
            raise NotFoundError(f"sandbox {sandbox_id!r} not found")
        return self.sandboxes[sandbox_id]

    def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return list(self.sandboxes.values())

    # containers

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        sb = self.sandboxes.get(sandbox_id)
        if sb is None or sb.state is not SandboxState.READY:
            raise CRIError(f"sandbox {sandbox_id[:12]} is not ready", reason="CreateContainerError")
        cid = secrets.token_hex(32)
        status = ContainerStatus(cid, sandbox_id, config.metadata, ContainerState.CREATED, time.time_ns(),
                                 self._ref(config.image), labels=dict(config.labels),
                                 annotations=dict(config.annotations))
        c = _FakeContainer(status, sandbox_id, config.labels.get(LABEL_POD_UID, ""))
        self.containers[cid] = c
        self._emit(c, ContainerEventType.CREATED)
        return cid

    async def start_container(self, container_id: str) -> None:
        c = self._get(container_id)
        if self.start_delay > 0:
            c.start_handle = asyncio.get_running_loop().call_later(self.start_delay, self._run, c)
        else:
            self._run(c)

    def _run(self, c: _FakeContainer) -> None:
        c.start_handle = None
        if c.status.state is ContainerState.CREATED:
            c.status = replace(c.status, state=ContainerState.RUNNING, started_at=time.time_ns())
            self._emit(c, ContainerEventType.STARTED)

    def exit_container(self, container_id: str, exit_code: int, *, reason: str = "") -> None:
        """For tests: the container's process ends with `exit_code`."""
        c = self._get(container_id)
        if c.status.state is ContainerState.EXITED:
            return
        if c.start_handle:
            c.start_handle.cancel()
        c.status = replace(c.status, state=ContainerState.EXITED, finished_at=time.time_ns(), exit_code=exit_code,
                           reason=reason or ("Completed" if exit_code == 0 else "Error"),
                           started_at=c.status.started_at or time.time_ns())
        c.exited.set()
        self._emit(c, ContainerEventType.STOPPED)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        c = self._get(container_id)
        if c.status.state is not ContainerState.EXITED:
            self.exit_container(container_id, 0 if timeout > 0 else 137)

    async def remove_container(self, container_id: str) -> None:
        c = self.containers.pop(container_id, None)
        if c is not None:
            if c.start_handle:
                c.start_handle.cancel()
            self._emit(c, ContainerEventType.DELETED)

    def _get(self, container_id: str) -> _FakeContainer:
        if container_id not in self.containers:
            raise NotFoundError(f"container {container_id!r} not found")
        return self.containers[container_id]

    def container_status(self, container_id: str) -> ContainerStatus:
        return self._get(container_id).status

    def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        return [c.status for c in self.containers.values() if sandbox_id in (None, c.sandbox_id)]

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> tuple[int, bytes]:
        self._get(container_id)
        return self.exec_results.get(tuple(cmd), (0, b""))

    async def exec_start(self, container_id: str, cmd: list[str], *, stdin: bool, tty: bool):
        raise CRIError("the fake runtime has no processes to exec in", reason="ExecError")

    def log_path(self, container_id: str) -> Path | None:
        return None

    async def attach(self, container_id: str) -> None:
        return None  # no process, no stdio: attach follows the (empty) log
