"""Start, watch and stop every process of a local kubemu cluster, in Kubernetes' order.

Start: etcd (when an `etcd` binary is on PATH, else the API server's embedded store) → apiserver
→ controller-manager and scheduler → one kubelet per node → proxy, each only after the one before
answers its health check. Stop (Ctrl-C, SIGTERM, `make down`): the reverse order, each process
given a grace period before SIGKILL; then the nodes' pod processes are stopped too, as a node
shutdown would, so nothing is left running or listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from services.launcher import credentials
from services.launcher.console import Console

STOP_GRACE_SECONDS = 15.0
HEALTH_TIMEOUT_SECONDS = 60.0


@dataclass
class Settings:
    state_dir: Path
    nodes: int = 2
    api_port: int = 6443
    etcd_port: int = 2379
    etcd_peer_port: int = 2380
    store: str = "auto"  # auto | etcd | embedded
    python: str = sys.executable

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            state_dir=Path(env.get("KUBEMU_STATE_DIR", ".kubemu")).absolute(),
            nodes=int(env.get("KUBEMU_NODES", "2")),
            api_port=int(env.get("KUBEMU_API_PORT", "6443")),
            etcd_port=int(env.get("KUBEMU_ETCD_PORT", "2379")),
            etcd_peer_port=int(env.get("KUBEMU_ETCD_PEER_PORT", str(int(env.get("KUBEMU_ETCD_PORT", "2379")) + 1))),
            store=env.get("KUBEMU_STORE", "auto"),
        )

    @property
    def node_names(self) -> list[str]:
        return [f"node-{i}" for i in range(1, self.nodes + 1)]

    @property
    def use_etcd(self) -> bool:
        if self.store == "auto":
            return shutil.which("etcd") is not None
        return self.store == "etcd"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def ca_file(self) -> Path:
        return self.state_dir / "pki" / "ca.crt"

    def kubeconfig(self, identity: str) -> Path:
        return self.state_dir / ("kubeconfig" if identity == "admin" else f"{identity}.kubeconfig")


@dataclass
class Component:
    name: str
    argv: list[str]
    health_url: str | None
    listens: list[tuple[str, int]] = field(default_factory=list)  # must be free before it starts
    proc: asyncio.subprocess.Process | None = None
    pumps: list[asyncio.Task] = field(default_factory=list)


def components(s: Settings) -> list[list[Component]]:
    """The cluster's processes in start order; each inner list starts together."""
    py = [s.python, "-m"]
    common = ["--log-format", "json"]
    store = (
        ["--etcd-servers", f"http://127.0.0.1:{s.etcd_port}"]
        if s.use_etcd
        else ["--storage", "embedded", "--data-dir", str(s.state_dir / "store")]
    )
    stages: list[list[Component]] = []
    if s.use_etcd:
        peer = f"http://127.0.0.1:{s.etcd_peer_port}"
        client = f"http://127.0.0.1:{s.etcd_port}"
        stages.append([Component("etcd", [
            "etcd", "--name", "kubemu", "--data-dir", str(s.state_dir / "etcd"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"kubemu={peer}", "--logger", "zap", "--log-outputs", "stderr",
        ], f"{client}/health", [("127.0.0.1", s.etcd_port), ("127.0.0.1", s.etcd_peer_port)])])
    stages.append([Component("apiserver", [
        *py, "services.apiserver", *store, *common,
        "--bind-address", "127.0.0.1", "--port", str(s.api_port),
        "--token-auth-file", str(s.state_dir / "tokens.csv"), "--cert-dir", str(s.state_dir / "pki"),
        # as kubeadm clusters run (kube-apiserver's own default is AlwaysAllow)
        "--authorization-mode", os.environ.get("KUBEMU_AUTHORIZATION_MODE", "RBAC"),
    ], f"{s.server}/readyz", [("127.0.0.1", s.api_port)])])
    stages.append([
        Component("controller-manager", [
            *py, "services.controller_manager", *common, "--kubeconfig", str(s.kubeconfig("controller-manager")),
        ], "http://127.0.0.1:10257/healthz", [("127.0.0.1", 10257)]),
        Component("scheduler", [
            *py, "services.scheduler", *common, "--kubeconfig", str(s.kubeconfig("scheduler")),
        ], "http://127.0.0.1:10259/healthz", [("127.0.0.1", 10259)]),
    ])
    stages.append([  # an empty stage when KUBEMU_NODES=0: a control plane only
        Component(f"kubelet-{node}", [
            *py, "services.kubelet", *common, "--kubeconfig", str(s.kubeconfig(node)),
            "--node-name", node, "--node-ip", f"127.0.1.{i}", "--root-dir", str(s.state_dir / "kubelet" / node),
        ], f"http://127.0.1.{i}:10250/healthz", [(f"127.0.1.{i}", 10250)])
        for i, node in enumerate(s.node_names, start=1)
    ])
    stages.append([Component("proxy", [
        *py, "services.proxy", *common, "--kubeconfig", str(s.kubeconfig("proxy")),
        "--nodeport-addresses", ",".join(f"127.0.1.{i}" for i in range(1, s.nodes + 1)),
        # forward in userspace, and also write the rules iptables mode would program, to read them
        "--mode", "iptables", "--iptables-rules-file", str(s.state_dir / "kube-proxy" / "iptables.rules"),
    ], "http://127.0.0.1:10256/healthz", [("127.0.0.1", 10256), ("127.0.0.1", 10249)])])
    return stages


def ensure_tokens(s: Settings) -> dict[str, str]:
    return credentials.ensure_token_file(s.state_dir / "tokens.csv", credentials.identities(s.node_names))


def write_kubeconfigs(s: Settings, tokens: dict[str, str]) -> None:
    for ident in credentials.identities(s.node_names):
        credentials.write_kubeconfig(
            s.kubeconfig(ident.name), server=s.server, ca_file=s.ca_file, user=ident.user, token=tokens[ident.user]
        )


def _check_free(c: Component) -> None:
    for host, port in c.listens:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                raise RuntimeError(f"{host}:{port}, where {c.name} listens, is already in use — another kubemu "
                                   "cluster (`make down` stops one started with DETACH=1), or set the "
                                   "KUBEMU_*_PORT variables") from None


class Cluster:
    def __init__(self, settings: Settings, console: Console) -> None:
        self.s = settings
        self.console = console
        self.stages = components(settings)
        self.started: list[Component] = []
        self._ssl: ssl.SSLContext | None = None

    async def start(self) -> None:
        s = self.s
        s.logs_dir.mkdir(parents=True, exist_ok=True)
        (s.state_dir / "pids").mkdir(exist_ok=True)
        tokens = ensure_tokens(s)
        if not s.use_etcd:
            why = "KUBEMU_STORE=embedded" if s.store == "embedded" else "no etcd binary on PATH"
            self.console.say(f"{why}: using the API server's embedded store (SQLite)")
        for stage in self.stages:
            for c in stage:
                _check_free(c)
            if any(c.name == "controller-manager" for c in stage):
                write_kubeconfigs(s, tokens)
            await asyncio.gather(*(self._start(c) for c in stage))
            await asyncio.gather(*(self._wait_healthy(c) for c in stage))

    async def _start(self, c: Component) -> None:
        log_file = (self.s.logs_dir / f"{c.name}.log").open("ab")
        c.proc = await asyncio.create_subprocess_exec(
            *c.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
        )
        (self.s.state_dir / "pids" / f"{c.name}.pid").write_text(f"{c.proc.pid}\n")
        self.started.append(c)
        self.console.say(f"started {c.name} (pid {c.proc.pid}): {' '.join(c.argv[1:4])} ...")
        c.pumps = [asyncio.create_task(self._pump(c, stream, log_file)) for stream in (c.proc.stdout, c.proc.stderr)]

    async def _pump(self, c: Component, stream: asyncio.StreamReader, log_file) -> None:
        async for raw in stream:
            log_file.write(raw)
            log_file.flush()
            self.console.line(c.name, raw.decode(errors="replace"))

    async def _wait_healthy(self, c: Component) -> None:
        deadline = asyncio.get_running_loop().time() + HEALTH_TIMEOUT_SECONDS
        async with aiohttp.ClientSession() as session:
            while True:
                if c.proc.returncode is not None:
                    raise RuntimeError(f"{c.name} exited with code {c.proc.returncode}; see {self.s.logs_dir / (c.name + '.log')}")
                tls = self._ssl_for(c.health_url)
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    if tls is not None:  # https: only once our own CA exists, so no other server passes
                        async with session.get(c.health_url, ssl=tls, timeout=aiohttp.ClientTimeout(total=2)) as r:
                            if r.status == 200:
                                self.console.say(f"{c.name} is healthy ({c.health_url})")
                                return
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"{c.name} did not become healthy in {HEALTH_TIMEOUT_SECONDS:.0f} s ({c.health_url})")
                await asyncio.sleep(0.2)

    def _ssl_for(self, url: str) -> ssl.SSLContext | bool | None:
        """False for http; for https the context trusting this cluster's CA, None until it exists."""
        if not url.startswith("https"):
            return False
        if self._ssl is None and self.s.ca_file.exists():
            self._ssl = ssl.create_default_context(cafile=str(self.s.ca_file))
        return self._ssl

    async def wait_stopped(self, stop: asyncio.Event) -> None:
        """Wait for `stop`; report components that exit on their own meanwhile (not fatal)."""
        watchers = {asyncio.create_task(c.proc.wait()): c for c in self.started}
        stop_task = asyncio.create_task(stop.wait())
        while not stop.is_set():
            done, _ = await asyncio.wait([stop_task, *watchers], return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stop_task}:
                c = watchers.pop(task)
                self.console.say(f"{c.name} exited with code {c.proc.returncode}")
        for task in watchers:
            task.cancel()

    async def stop(self) -> None:
        for c in reversed(self.started):
            await self._stop(c)
        await self._stop_pods()

    async def _stop(self, c: Component) -> None:
        if c.proc.returncode is None:
            self.console.say(f"stopping {c.name}")
            with contextlib.suppress(ProcessLookupError):
                c.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(c.proc.wait(), STOP_GRACE_SECONDS)
            except TimeoutError:
                self.console.say(f"{c.name} did not stop in {STOP_GRACE_SECONDS:.0f} s: killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(c.proc.pid, signal.SIGKILL)
                await c.proc.wait()
        await asyncio.gather(*c.pumps, return_exceptions=True)
        (self.s.state_dir / "pids" / f"{c.name}.pid").unlink(missing_ok=True)

    async def _stop_pods(self) -> None:
        """A node shutdown: stop the containers each kubelet left running (they outlive the kubelet)."""
        for node in self.s.node_names:
            root = self.s.state_dir / "kubelet" / node
            if not root.exists():
                continue
            proc = await asyncio.create_subprocess_exec(
                self.s.python, "-m", "services.kubelet", "shutdown-node", "--root-dir", str(root),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )
            out, _ = await proc.communicate()
            for line in out.decode(errors="replace").splitlines():
                self.console.line(f"kubelet-{node}", line)
