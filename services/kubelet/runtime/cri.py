"""The container runtime interface the kubelet talks to, shaped like Kubernetes' CRI.

The kubelet never runs a process itself: it asks a `Runtime` to run a pod sandbox (which gets the
pod's IP, as the CNI plugin gives it under containerd), then to create, start, stop and remove
containers in it, and reads their status back. Runtimes report container exits as events
(`ContainerEvent`, like CRI's `GetContainerEvents`) and also answer `list_containers` for a relist.
Timestamps are nanoseconds since the epoch, as CRI's are.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class ContainerState(enum.Enum):
    CREATED = "CONTAINER_CREATED"
    RUNNING = "CONTAINER_RUNNING"
    EXITED = "CONTAINER_EXITED"
    UNKNOWN = "CONTAINER_UNKNOWN"


class SandboxState(enum.Enum):
    READY = "SANDBOX_READY"
    NOTREADY = "SANDBOX_NOTREADY"


class CRIError(Exception):
    """A runtime call failed; `reason` is what the kubelet puts in the container's waiting state."""

    reason = "RunContainerError"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason


class ImagePullError(CRIError):
    """The image does not exist (or cannot be pulled): the kubelet reports ErrImagePull."""

    reason = "ErrImagePull"


class NotFoundError(CRIError):
    reason = "NotFound"


@dataclass(frozen=True)
class PodSandboxMetadata:
    name: str
    namespace: str
    uid: str
    attempt: int = 0


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    protocol: str = "TCP"
    host_port: int = 0
    host_ip: str = ""


@dataclass
class PodSandboxConfig:
    metadata: PodSandboxMetadata
    hostname: str
    log_directory: str = ""
    host_network: bool = False
    host_ip: str = ""
    port_mappings: list[PortMapping] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class PodSandboxStatus:
    id: str
    metadata: PodSandboxMetadata
    state: SandboxState
    created_at: int
    ip: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerMetadata:
    name: str
    attempt: int = 0


@dataclass(frozen=True)
class Mount:
    """A node path bind-mounted at `container_path` in the container (CRI's Mount)."""

    host_path: str
    container_path: str
    readonly: bool = False


@dataclass
class ContainerConfig:
    """What to run: image, command/args (already `$(VAR)`-expanded), env, working dir, ports."""

    metadata: ContainerMetadata
    image: str
    command: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    envs: list[tuple[str, str]] = field(default_factory=list)
    working_dir: str = ""
    log_path: str = ""  # relative to the sandbox's log_directory, as in CRI
    ports: list[PortMapping] = field(default_factory=list)
    run_as_user: int | None = None
    run_as_group: int | None = None
    mounts: list[Mount] = field(default_factory=list)
    memory_limit: int | None = None  # bytes; enforced with a memory cgroup where the node has one
    stdin: bool = False  # the runtime keeps the container's stdin open for attach (`stdin: true`)
    stdin_once: bool = False  # close it when the first attach session's stdin ends (`stdinOnce: true`)
    tty: bool = False  # the container runs on a pseudo-terminal (`tty: true`)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class ImageRef:
    image: str  # normalized, e.g. docker.io/library/nginx:1.25
    image_id: str  # e.g. docker.io/library/nginx@sha256:...
    size: int = 0


@dataclass
class ContainerStatus:
    id: str
    sandbox_id: str
    metadata: ContainerMetadata
    state: ContainerState
    created_at: int
    image: ImageRef
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    log_path: str = ""
    pid: int = 0
    warning: str = ""  # something the kubelet should tell the user (e.g. a port it cannot bind)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


class ContainerEventType(enum.Enum):
    CREATED = "CONTAINER_CREATED_EVENT"
    STARTED = "CONTAINER_STARTED_EVENT"
    STOPPED = "CONTAINER_STOPPED_EVENT"
    DELETED = "CONTAINER_DELETED_EVENT"


@dataclass(frozen=True)
class ContainerEvent:
    container_id: str
    sandbox_id: str
    pod_uid: str
    type: ContainerEventType


ContainerEventHandler = Callable[[ContainerEvent], None]


@dataclass
class ExecSession:
    """A process started by `exec_start` (kubectl exec): pipes, or a pty master when `tty`."""

    process: Any  # asyncio.subprocess.Process
    pty_master: int | None = None


@dataclass
class AttachSession:
    """A connection to a running container's stdio (its shim's attach socket), for `kubectl attach`.

    `reader` yields the shim's frames (stdout/stderr output from now on) until the container exits;
    `writer` takes stdin, resize and close-stdin frames (`shim.frame`)."""

    reader: Any  # asyncio.StreamReader
    writer: Any  # asyncio.StreamWriter
    tty: bool = False
    stdin_once: bool = False

# Labels the kubelet puts on sandboxes and containers (the real kubelet's names), so a restarted
# kubelet can tell which pod and container each one belongs to.
LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"


class Runtime(Protocol):
    """The CRI-shaped calls the kubelet makes (RuntimeService + ImageService)."""

    name: str

    async def start(self) -> None:
        """Recover state left by an earlier kubelet (sandboxes, running containers)."""

    async def close(self) -> None:
        """Stop watching containers; running containers keep running."""

    def update_runtime_config(self, *, pod_cidr: str) -> None: ...

    def on_container_event(self, handler: ContainerEventHandler) -> None: ...

    # ImageService
    def image_status(self, image: str) -> ImageRef | None: ...

    async def pull_image(self, image: str) -> ImageRef: ...

    # RuntimeService: sandboxes
    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str: ...

    async def stop_pod_sandbox(self, sandbox_id: str) -> None: ...

    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...

    def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus: ...

    def list_pod_sandboxes(self) -> list[PodSandboxStatus]: ...

    # RuntimeService: containers
    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, timeout: float) -> None: ...

    async def remove_container(self, container_id: str) -> None: ...

    def container_status(self, container_id: str) -> ContainerStatus: ...

    def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]: ...

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> tuple[int, bytes]: ...

    async def exec_start(self, container_id: str, cmd: list[str], *, stdin: bool, tty: bool) -> ExecSession: ...

    def log_path(self, container_id: str) -> Path | None: ...

    async def attach(self, container_id: str) -> AttachSession | None:
        """Connect to the container's stdio; None for a container without `stdin` or `tty` (its
        output is then followed in its log)."""
