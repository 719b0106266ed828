"""The `process` runtime: every container is a real process, run by its own shim (shim.py).

Guarantees:
- A sandbox is the pod's network identity: an IP from the node's pod CIDR (host-local IPAM), or
  the node's IP with hostNetwork. Stopping it kills what still runs in it and frees the IP.
- A started container runs detached under its shim, in its own session and process group, with
  its image's env merged under the container's env, `HOSTNAME` = the pod's hostname, and its
  output in a CRI-format log file. It keeps running when the kubelet stops.
- Everything is on disk under the root dir (`sandboxes/`, `containers/<id>/`, `images.json`,
  `networks/`): `start()` in a new kubelet finds running containers again (by pid and process
  start time, so a reused pid is never mistaken for one) and watches them, and never starts a
  container twice.
- A container's exit is seen as it happens (a pidfd on its shim), recorded with its exit code,
  and reported to `on_container_event` handlers.
- `stop_container(id, timeout)` sends the image's stop signal to the container's main process
  (SIGQUIT for nginx, SIGTERM otherwise), then SIGKILL to its process group after `timeout`.
- A container with `stdin` keeps its stdin open (held by its shim), one with `tty` runs on a pty
  (`TERM=xterm`, as containerd's WithTTY); `attach` connects to either through the shim's socket.
- Volumes (`ContainerConfig.mounts`) are bind-mounted in a mount namespace of the container's own
  (root only), which `exec` joins; a memory limit is enforced by a cgroup v1 memory cgroup when
  this process may create one (else not enforced), and an OOM kill is reported as OOMKilled.
- hostPorts of a sandbox are forwarded from the node IP to the pod IP (portmap.py).
- A container that declares a port below `net.ipv4.ip_unprivileged_port_start` but will run
  without root or CAP_NET_BIND_SERVICE gets a plain message saying so (`port_problem`), which
  becomes its terminated message if it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import fcntl
import functools
import json
import os
import pty
import secrets
import shutil
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from shared.logging import get_logger
from services.kubelet.runtime import images, shim
from services.kubelet.runtime.ipam import HostLocalIPAM, IPAMError
from services.kubelet.runtime.portmap import PortMapper
from services.kubelet.runtime.cri import (
    AttachSession,
    ContainerConfig,
    ContainerEvent,
    ContainerEventHandler,
    ContainerEventType,
    ContainerMetadata,
    ContainerState,
    ContainerStatus,
    CRIError,
    ExecSession,
    ImagePullError,
    ImageRef,
    LABEL_POD_UID,
    Mount,
    NotFoundError,
    PodSandboxConfig,
    PodSandboxMetadata,
    PodSandboxStatus,
    PortMapping,
    SandboxState,
)

log = get_logger()
SHIM = Path(__file__).resolve().parent / "shim.py"
KILL_WAIT_SECONDS = 10.0
CAP_NET_BIND_SERVICE = 10
CLONE_NEWNS = 0x00020000


@dataclass
class _Sandbox:
    id: str
    config: PodSandboxConfig
    ip: str
    state: SandboxState
    created_at: int

    def status(self) -> PodSandboxStatus:
        return PodSandboxStatus(self.id, self.config.metadata, self.state, self.created_at, self.ip,
                                dict(self.config.labels))


@dataclass
class _Container:
    id: str
    sandbox_id: str
    config: ContainerConfig
    image: ImageRef
    created_at: int
    log_path: str
    stop_signal: int
    port_problem: str = ""
    started: dict | None = None
    exit: dict | None = None
    exited: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def state(self) -> ContainerState:
        if self.exit is not None:
            return ContainerState.EXITED
        return ContainerState.RUNNING if self.started else ContainerState.CREATED

    def status(self) -> ContainerStatus:
        ex = self.exit or {}
        code = ex.get("exitCode", 0)
        reason = ex.get("reason") or ("" if not ex else "Completed" if code == 0 else "Error")
        message = ex.get("message", "") or (self.port_problem if ex and code != 0 else "")
        return ContainerStatus(
            id=self.id, sandbox_id=self.sandbox_id, metadata=self.config.metadata, state=self.state,
            created_at=self.created_at, image=self.image,
            started_at=ex.get("startedAt") or (self.started or {}).get("startedAt", 0),
            finished_at=ex.get("finishedAt", 0), exit_code=code, reason=reason, message=message,
            log_path=self.log_path, pid=(self.started or {}).get("pid", 0), warning=self.port_problem,
            labels=dict(self.config.labels), annotations=dict(self.config.annotations),
        )


class ProcessRuntime:
    name = "process"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.sandboxes_dir = self.root / "sandboxes"
        self.containers_dir = self.root / "containers"
        self.ipam = HostLocalIPAM(self.root / "networks" / "kubemu")
        self.ports = PortMapper()
        self.memory_cgroup: Path | None = None
        self.sandboxes: dict[str, _Sandbox] = {}
        self.containers: dict[str, _Container] = {}
        self.images: dict[str, ImageRef] = {}
        self._handlers: list[ContainerEventHandler] = []
        self._pidfds: dict[str, int] = {}
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="process-runtime")
        self._loop: asyncio.AbstractEventLoop | None = None

    # lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for d in (self.sandboxes_dir, self.containers_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._load_images()
        self.memory_cgroup = find_memory_cgroup(self.root)
        for path in self.sandboxes_dir.glob("*.json"):
            sb = _load_sandbox(path)
            self.sandboxes[sb.id] = sb
            if sb.state is SandboxState.READY and not sb.config.host_network:
                with contextlib.suppress(OSError):
                    await self.ports.open(sb.id, sb.config.host_ip, sb.config.port_mappings, sb.ip)
        for cdir in self.containers_dir.iterdir():
            c = _load_container(cdir)
            if c is not None:
                self.containers[c.id] = c
                self._recover(c)
        running = sum(1 for c in self.containers.values() if c.state is ContainerState.RUNNING)
        log.info("runtime.recovered", runtime=self.name, sandboxes=len(self.sandboxes),
                 containers=len(self.containers), running=running)

    def _recover(self, c: _Container) -> None:
        cdir = self.containers_dir / c.id
        if c.exit is None and c.started is None and (cdir / "started.json").exists():
            c.started = _read_json(cdir / "started.json")
        if c.exit is not None or c.started is None:
            if c.exit is not None:
                c.exited.set()
            return
        if _alive(c.started["shimPid"], c.started["shimStart"]):
            self._watch(c)
        else:
            self._on_shim_gone(c)

    async def close(self) -> None:
        self.ports.close_all()
        if self.memory_cgroup is not None:
            with contextlib.suppress(OSError):
                self.memory_cgroup.rmdir()  # only when no container cgroup is left in it
        for cid in list(self._pidfds):
            self._unwatch(cid)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def update_runtime_config(self, *, pod_cidr: str) -> None:
        self.ipam.set_cidr(pod_cidr)

    def on_container_event(self, handler: ContainerEventHandler) -> None:
        self._handlers.append(handler)

    def _emit(self, c: _Container, kind: ContainerEventType) -> None:
        event = ContainerEvent(c.id, c.sandbox_id, c.config.labels.get(LABEL_POD_UID, ""), kind)
        for handler in self._handlers:
            handler(event)

    # images

    def _load_images(self) -> None:
        path = self.root / "images.json"
        if path.exists():
            self.images = {k: ImageRef(**v) for k, v in _read_json(path).items()}

    def image_status(self, image: str) -> ImageRef | None:
        try:
            _, ref = images.lookup(image)
        except ImagePullError:
            return None
        return self.images.get(ref.image)

    async def pull_image(self, image: str) -> ImageRef:
        _, ref = images.lookup(image)
        if ref.image not in self.images:
            self.images[ref.image] = ref
            _write_json(self.root / "images.json", {k: dataclasses.asdict(v) for k, v in self.images.items()})
        return ref

    # sandboxes

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        sid = secrets.token_hex(32)
        try:
            ip = config.host_ip if config.host_network else self.ipam.allocate(sid)
        except IPAMError as exc:
            raise CRIError(f"failed to setup network for sandbox {sid[:12]}: {exc}",
                           reason="FailedCreatePodSandBox") from exc
        if config.log_directory:
            Path(config.log_directory).mkdir(parents=True, exist_ok=True)
        sb = _Sandbox(sid, config, ip, SandboxState.READY, time.time_ns())
        try:
            if not config.host_network:  # with the host's network the container binds the port itself
                await self.ports.open(sid, config.host_ip, config.port_mappings, ip)
        except OSError as exc:
            self.ipam.release(sid)
            raise CRIError(f"failed to set up the sandbox's host ports: {exc.strerror or exc}",
                           reason="FailedCreatePodSandBox") from exc
        self.sandboxes[sid] = sb
        self._save_sandbox(sb)
        return sid

    def _save_sandbox(self, sb: _Sandbox) -> None:
        _write_json(self.sandboxes_dir / f"{sb.id}.json", {
            "id": sb.id, "config": dataclasses.asdict(sb.config), "ip": sb.ip,
            "state": sb.state.value, "createdAt": sb.created_at,
        })

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        sb = self.sandboxes.get(sandbox_id)
        if sb is None:
            return
        running = [c for c in self.containers.values()
                   if c.sandbox_id == sandbox_id and c.state is ContainerState.RUNNING]
        await asyncio.gather(*(self.stop_container(c.id, 0) for c in running))
        self.ports.close(sandbox_id)
        self.ipam.release(sandbox_id)
        sb.state = SandboxState.NOTREADY
        self._save_sandbox(sb)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        sb = self.sandboxes.get(sandbox_id)
        if sb is None:
            return
        await self.stop_pod_sandbox(sandbox_id)
        for c in [c for c in self.containers.values() if c.sandbox_id == sandbox_id]:
            await self.remove_container(c.id)
        del self.sandboxes[sandbox_id]
        (self.sandboxes_dir / f"{sandbox_id}.json").unlink(missing_ok=True)
        if sb.config.log_directory:
            shutil.rmtree(sb.config.log_directory, ignore_errors=True)

    def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        sb = self.sandboxes.get(sandbox_id)
        if sb is None:
            raise NotFoundError(f"an error occurred when try to find sandbox {sandbox_id!r}: not found")
        return sb.status()

    def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return [sb.status() for sb in self.sandboxes.values()]

    # containers

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        sb = self.sandboxes.get(sandbox_id)
        if sb is None or sb.state is not SandboxState.READY:
            raise CRIError(f"sandbox {sandbox_id[:12]} is not ready", reason="CreateContainerError")
        try:
            entry, ref = images.lookup(config.image)
        except ImagePullError as exc:
            raise CRIError(str(exc), reason="CreateContainerError") from exc
        cid = secrets.token_hex(32)
        cdir = self.containers_dir / cid
        (cdir / "rootfs").mkdir(parents=True)
        os.chmod(cdir / "rootfs", 0o1777)
        log_path = str(Path(sb.config.log_directory or cdir) / (config.log_path or "container.log"))
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        c = _Container(cid, sandbox_id, config, ref, time.time_ns(), log_path, int(entry.stop_signal),
                       port_problem=privileged_port_problem(config))
        _write_json(cdir / "spec.json", self._spec(c, entry, sb, cdir))
        _write_json(cdir / "container.json", _container_record(c))
        self.containers[cid] = c
        self._emit(c, ContainerEventType.CREATED)
        return cid

    def _spec(self, c: _Container, entry: images.Image, sb: _Sandbox, cdir: Path) -> dict:
        cfg = c.config
        tcp = [p.container_port for p in cfg.ports if p.protocol.upper() == "TCP"]
        argv = images.resolve_argv(entry, cfg.command, cfg.args)
        argv = images.host_argv(entry, argv, listen=f"{sb.ip}:{tcp[0] if tcp else 80}")
        uid = cfg.run_as_user if cfg.run_as_user is not None else os.geteuid()
        env = {"PATH": images.PATH, **dict(entry.env), "HOSTNAME": sb.config.hostname,
               "HOME": "/root" if uid == 0 else "/", **({"TERM": "xterm"} if cfg.tty else {}), **dict(cfg.envs)}
        if entry.binds_pod_ip and not sb.config.host_network:
            env["KUBEMU_POD_IP"] = sb.ip
        cwd = cfg.working_dir or str(cdir / "rootfs")
        if cfg.working_dir:
            with contextlib.suppress(OSError):
                Path(cfg.working_dir).mkdir(parents=True, exist_ok=True)
        return {"argv": argv, "env": env, "cwd": cwd, "logPath": c.log_path, "cgroup": self._cgroup(c),
                "user": cfg.run_as_user, "group": cfg.run_as_group, "stdin": cfg.stdin, "tty": cfg.tty,
                "mounts": [[m.host_path, m.container_path, m.readonly] for m in cfg.mounts]}

    def _cgroup(self, c: _Container) -> str | None:
        """A memory cgroup limiting the container to its memory limit (none where cgroups are not ours)."""
        if not c.config.memory_limit or self.memory_cgroup is None:
            return None
        path = self.memory_cgroup / c.id
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / "memory.limit_in_bytes").write_text(str(c.config.memory_limit))
        except OSError as exc:
            log.warning("runtime.cgroup_failed", container=c.id[:12], error=str(exc))
            return None
        return str(path)

    async def start_container(self, container_id: str) -> None:
        c = self._get(container_id)
        if c.state is not ContainerState.CREATED:
            raise CRIError(f"container {container_id[:12]} is in {c.state.value} state, not created",
                           reason="RunContainerError")
        cdir = self.containers_dir / container_id
        report = await asyncio.get_running_loop().run_in_executor(self._executor, _launch_shim, cdir)
        if "error" in report or "pid" not in report:
            c.exit = _read_json(cdir / "exit.json") if (cdir / "exit.json").exists() else _lost_exit(report)
            c.exited.set()
            self._emit(c, ContainerEventType.STOPPED)
            raise CRIError(c.exit.get("message") or report.get("error", "shim failed"), reason="RunContainerError")
        c.started = report
        self._emit(c, ContainerEventType.STARTED)
        self._watch(c)

    def _watch(self, c: _Container) -> None:
        try:
            fd = os.pidfd_open(c.started["shimPid"])
        except ProcessLookupError:
            self._on_shim_gone(c)
            return
        self._pidfds[c.id] = fd
        asyncio.get_running_loop().add_reader(fd, self._on_shim_exit, c.id)

    def _unwatch(self, cid: str) -> None:
        fd = self._pidfds.pop(cid, None)
        if fd is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(fd)
            os.close(fd)

    def _on_shim_exit(self, cid: str) -> None:
        self._unwatch(cid)
        c = self.containers.get(cid)
        if c is not None and c.exit is None:
            self._on_shim_gone(c)

    def _on_shim_gone(self, c: _Container) -> None:
        """The shim is gone: its exit.json says how the container ended (else it died itself)."""
        path = self.containers_dir / c.id / "exit.json"
        if path.exists():
            c.exit = _read_json(path)
        else:
            if _alive(c.started["pid"], c.started["pidStart"]):
                _kill_group(c.started["pid"])
            c.exit = {"exitCode": 255, "reason": "Unknown", "startedAt": c.started.get("startedAt", 0),
                      "finishedAt": time.time_ns(), "message": "the container's shim exited unexpectedly"}
            _write_json(path, c.exit)
        c.exited.set()
        self._emit(c, ContainerEventType.STOPPED)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        c = self._get(container_id)
        if c.state is not ContainerState.RUNNING:
            return
        pid, start = c.started["pid"], c.started["pidStart"]
        if timeout > 0 and _alive(pid, start):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, c.stop_signal)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(c.exited.wait(), timeout)
        if c.exit is None:
            if _alive(pid, start):
                _kill_group(pid)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(c.exited.wait(), KILL_WAIT_SECONDS)

    async def remove_container(self, container_id: str) -> None:
        c = self.containers.get(container_id)
        if c is None:
            return
        if c.state is ContainerState.RUNNING:
            await self.stop_container(container_id, 0)
        self._unwatch(container_id)
        del self.containers[container_id]
        Path(c.log_path).unlink(missing_ok=True)
        shutil.rmtree(self.containers_dir / container_id, ignore_errors=True)
        self._emit(c, ContainerEventType.DELETED)

    def _get(self, container_id: str) -> _Container:
        c = self.containers.get(container_id)
        if c is None:
            raise NotFoundError(f"an error occurred when try to find container {container_id!r}: not found")
        return c

    def container_status(self, container_id: str) -> ContainerStatus:
        return self._get(container_id).status()

    def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        return [c.status() for c in self.containers.values() if sandbox_id in (None, c.sandbox_id)]

    def log_path(self, container_id: str) -> Path | None:
        c = self.containers.get(container_id)
        return Path(c.log_path) if c else None

    async def attach(self, container_id: str) -> AttachSession | None:
        """Connect to the shim of a running container with `stdin` or `tty` (its attach socket)."""
        c = self._get(container_id)
        if not (c.config.stdin or c.config.tty):
            return None
        if c.state is not ContainerState.RUNNING:
            raise CRIError(f"container {container_id[:12]} is not running", reason="AttachError")
        dir_fd = os.open(self.containers_dir / container_id, os.O_PATH | os.O_DIRECTORY)
        try:
            reader, writer = await asyncio.open_unix_connection(shim.socket_path(dir_fd))
        except OSError as exc:  # the container has just exited, taking its socket with it
            raise CRIError(f"failed to attach to container {container_id[:12]}: {exc}", reason="AttachError") from exc
        finally:
            os.close(dir_fd)
        return AttachSession(reader, writer, tty=c.config.tty, stdin_once=c.config.stdin_once)

    def _exec_argv(self, container_id: str, cmd: list[str]) -> tuple[list[str], dict]:
        c = self._get(container_id)
        if c.state is not ContainerState.RUNNING:
            raise CRIError(f"container {container_id[:12]} is not running", reason="ExecError")
        spec = _read_json(self.containers_dir / container_id / "spec.json")
        spec["_pid"] = c.started["pid"] if spec.get("mounts") else None
        entry, _ = images.lookup(c.config.image)
        return images.host_argv(entry, list(cmd), listen=""), spec

    async def exec_start(self, container_id: str, cmd: list[str], *, stdin: bool, tty: bool) -> ExecSession:
        """Start `cmd` in the container's env, working dir and user, for `kubectl exec` to stream."""
        argv, spec = self._exec_argv(container_id, cmd)
        ids = {"user": spec.get("user"), "group": spec.get("group")}
        if not tty:
            with _mount_namespace_of(spec["_pid"]) as enter:
                proc = await asyncio.create_subprocess_exec(
                    *argv, env=spec["env"], cwd=spec["cwd"], start_new_session=True, **ids,
                    stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, preexec_fn=enter)
            return ExecSession(proc)
        master, slave = pty.openpty()
        try:
            with _mount_namespace_of(spec["_pid"]) as enter:
                proc = await asyncio.create_subprocess_exec(
                    *argv, env={"TERM": "xterm", **spec["env"]}, cwd=spec["cwd"], start_new_session=True, **ids,
                    stdin=slave, stdout=slave, stderr=slave, preexec_fn=_tty_child(enter))
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        return ExecSession(proc, pty_master=master)

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> tuple[int, bytes]:
        """Run `cmd` as `kubectl exec` would: the container's env, working dir and user."""
        argv, spec = self._exec_argv(container_id, cmd)
        try:
            with _mount_namespace_of(spec["_pid"]) as enter:
                proc = await asyncio.create_subprocess_exec(
                    *argv, env=spec["env"], cwd=spec["cwd"], stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                    user=spec.get("user"), group=spec.get("group"), preexec_fn=enter,
                )
        except OSError as exc:
            return 126 if isinstance(exc, PermissionError) else 127, str(exc).encode()
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            _kill_group(proc.pid)
            await proc.wait()
            raise
        return proc.returncode, out


def find_memory_cgroup(root: Path) -> Path | None:
    """Where container memory cgroups go: a `kubemu-<hash of root>` child of our own cgroup v1 memory
    cgroup, when we may create it (made with the first limited container); else None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    mine = next((line.split(":", 2)[2] for line in lines if line.split(":")[1] == "memory"), None)
    mount = Path("/sys/fs/cgroup/memory")
    if mine is None or not (mount / "memory.limit_in_bytes").exists():
        return None
    import hashlib

    parent = mount / mine.lstrip("/")
    if not os.access(parent, os.W_OK):
        return None
    return parent / f"kubemu-{hashlib.sha256(str(root).encode()).hexdigest()[:12]}"


def _controlling_tty() -> None:
    """In the exec'd child (a new session): make the pty on stdin its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def _mount_namespace_of(pid: int | None) -> Iterator[Callable[[], None] | None]:
    """A preexec_fn joining the container's mount namespace (it has volumes), or None.

    Everything that can take a lock (dlopen, open) happens here, in the parent: the kubelet has
    other threads (gRPC, executors), and a child forked from it may only make plain system calls.
    """
    if not pid:
        yield None
        return
    libc = _libc()
    fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)

    def enter() -> None:
        if libc.setns(fd, CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "setns into the container's mount namespace failed")

    try:
        yield enter
    finally:
        os.close(fd)

    return enter


def _tty_child(enter: Callable[[], None] | None) -> Callable[[], None]:
    def child() -> None:
        if enter is not None:
            enter()
        _controlling_tty()

    return child


def privileged_port_problem(config: ContainerConfig) -> str:
    """A plain sentence if the container cannot bind a port it declares below 1024, else ""."""
    start = _unprivileged_port_start()
    low = sorted(p.container_port for p in config.ports if p.container_port < start)
    if not low:
        return ""
    uid = config.run_as_user if config.run_as_user is not None else os.geteuid()
    if (uid == 0 and os.geteuid() == 0) or (uid == os.geteuid() and _has_cap(CAP_NET_BIND_SERVICE)):
        return ""
    ports = ", ".join(str(p) for p in low)
    return (f"containerPort {ports} is below {start} (net.ipv4.ip_unprivileged_port_start): binding it "
            f"needs root or CAP_NET_BIND_SERVICE, and this container runs as uid {uid} without it")


def _unprivileged_port_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        return 1024


def _has_cap(bit: int) -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> bit & 1)
    return False


def _launch_shim(cdir: Path) -> dict:
    """Start the shim for `cdir` and wait for its report: {"pid", ...} or {"error"}. Blocking."""
    r, w = os.pipe()
    try:
        with open(cdir / "shim.log", "ab") as shim_log:
            proc = subprocess.Popen(
                [sys.executable, "-S", "-I", str(SHIM), str(cdir), str(w)],
                pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=shim_log, stderr=shim_log,
                start_new_session=True,
            )
        os.close(w)
        w = -1
        proc.wait()
        with os.fdopen(r, "rb") as f:
            r = -1
            data = f.read()
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)
    if not data.strip():
        return {"error": f"the shim exited without reporting; see {cdir / 'shim.log'}"}
    return json.loads(data)


def _lost_exit(report: dict) -> dict:
    now = time.time_ns()
    return {"exitCode": 128, "reason": "StartError", "message": report.get("error", ""),
            "startedAt": now, "finishedAt": now}


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of a process, or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], int(fields[19])


def _alive(pid: int, start_ticks: int) -> bool:
    stat = proc_stat(pid)
    return stat is not None and stat[1] == start_ticks and stat[0] not in ("Z", "X")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


# persistence


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _container_record(c: _Container) -> dict:
    return {"id": c.id, "sandboxId": c.sandbox_id, "config": dataclasses.asdict(c.config),
            "image": dataclasses.asdict(c.image), "createdAt": c.created_at, "logPath": c.log_path,
            "stopSignal": c.stop_signal, "portProblem": c.port_problem}


def _container_config(d: dict) -> ContainerConfig:
    return ContainerConfig(**{**d, "metadata": ContainerMetadata(**d["metadata"]),
                              "ports": [PortMapping(**p) for p in d["ports"]],
                              "envs": [tuple(e) for e in d["envs"]],
                              "mounts": [Mount(**m) for m in d.get("mounts", [])]})


def _load_container(cdir: Path) -> _Container | None:
    try:
        rec = _read_json(cdir / "container.json")
    except (OSError, ValueError):
        return None
    c = _Container(rec["id"], rec["sandboxId"], _container_config(rec["config"]), ImageRef(**rec["image"]),
                   rec["createdAt"], rec["logPath"], rec["stopSignal"], rec.get("portProblem", ""))
    if (cdir / "exit.json").exists():
        c.exit = _read_json(cdir / "exit.json")
    if (cdir / "started.json").exists():
        c.started = _read_json(cdir / "started.json")
    return c


def _load_sandbox(path: Path) -> _Sandbox:
    rec = _read_json(path)
    cfg = rec["config"]
    config = PodSandboxConfig(**{**cfg, "metadata": PodSandboxMetadata(**cfg["metadata"]),
                                 "port_mappings": [PortMapping(**p) for p in cfg["port_mappings"]]})
    return _Sandbox(rec["id"], config, rec["ip"], SandboxState(rec["state"]), rec["createdAt"])


async def shutdown_node(root: Path, *, grace: float = 10.0) -> list[str]:
    """A node shutdown: stop every container still running under `root`; one line per container."""
    runtime = ProcessRuntime(root)
    await runtime.start()
    running = [c for c in runtime.containers.values() if c.state is ContainerState.RUNNING]
    await asyncio.gather(*(runtime.stop_container(c.id, grace) for c in running))
    await runtime.close()
    return [f"stopped container {c.config.metadata.name} ({c.id[:12]}) exit code {(c.exit or {}).get('exitCode')}"
            for c in running]
