"""The userspace proxier: one listener per Service port address, reconciled to the desired state.

Guarantees:
- `await proxier.sync(services, slices)` is level-based and idempotent: given the whole current
  set of Services and EndpointSlices it opens, keeps or closes listeners so that afterwards
  * every Service port with at least one ready endpoint listens on `clusterIP:port` (and on each
    NodePort address at `nodePort`, and on its externalIPs) and forwards each new connection to
    one ready endpoint (round-robin, or sticky per client IP with `ClientIP` affinity);
  * a Service port with no ready endpoint has no listener, so a new connection is refused by the
    kernel at once, as kube-proxy's REJECT rule does;
  * endpoint changes apply to the next connection; open connections are left to finish;
  * a deleted Service (or port, or a changed clusterIP/port/nodePort) has its listeners closed.
- A listener that cannot bind (address in use, address not local) is logged and retried at the
  next sync; it never stops the others.
- `sync` returns a `SyncResult` saying what changed, for the caller's logs and metrics.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Protocol

from shared.logging import get_logger

from services.proxy.forwarder import ClientSide, Stats
from services.proxy.loadbalancer import LoadBalancer
from services.proxy.servicemap import Endpoint, ServicePort, ServicePortName, endpoints_map, service_port_map
from services.proxy.udp import UdpListener

log = get_logger()

LISTEN_BACKLOG = 1024


class _Closeable(Protocol):
    def close(self) -> None: ...


@dataclass
class SyncResult:
    added: list[ServicePortName] = field(default_factory=list)
    updated: list[ServicePortName] = field(default_factory=list)
    removed: list[ServicePortName] = field(default_factory=list)
    endpoints_changed: list[ServicePortName] = field(default_factory=list)
    bind_errors: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.endpoints_changed)


class _ServicePortProxy:
    """Listeners and the load balancer of one Service port."""

    def __init__(self, info: ServicePort, stats: Stats, node_addresses: list[str]) -> None:
        self.info = info
        self.stats = stats
        self.node_addresses = node_addresses
        self.lb = LoadBalancer(session_affinity=info.session_affinity, affinity_timeout=info.affinity_timeout)
        self.servers: dict[tuple[str, int], _Closeable] = {}

    def addresses(self) -> list[tuple[str, int]]:
        info = self.info
        wanted = [(info.cluster_ip, info.port)] + [(ip, info.port) for ip in info.external_ips]
        if info.node_port:
            wanted += [(ip, info.node_port) for ip in self.node_addresses]
        return wanted

    async def reconcile(self) -> int:
        """Listen on every address if there are endpoints, on none otherwise; returns bind errors."""
        if not self.lb.endpoints:
            self.close()
            return 0
        errors = 0
        for address in self.addresses():
            if address not in self.servers:
                errors += not await self._listen(address)
        return errors

    async def _listen(self, address: tuple[str, int]) -> bool:
        if self.info.protocol not in ("TCP", "UDP"):
            return True  # SCTP is not proxied; the rules file still shows it
        try:
            self.servers[address] = await self._open(address)
        except OSError as exc:
            log.error("proxy.listen_failed", key=self.info.name.service_key, port=str(self.info.name),
                      address=f"{address[0]}:{address[1]}", error=str(exc))
            return False
        log.info("proxy.listening", key=self.info.name.service_key, port=str(self.info.name),
                 address=f"{address[0]}:{address[1]}")
        return True

    async def _open(self, address: tuple[str, int]) -> _Closeable:
        loop = asyncio.get_running_loop()
        if self.info.protocol == "UDP":
            sock = _udp_socket(address)
            _, listener = await loop.create_datagram_endpoint(
                lambda: UdpListener(self.stats, self.lb.next_endpoint), sock=sock)
            return listener
        return await loop.create_server(lambda: ClientSide(self.stats, self.lb.next_endpoint),
                                        sock=_listening_socket(address))

    def close(self) -> None:
        for (ip, port), server in self.servers.items():
            server.close()
            log.info("proxy.listener_closed", key=self.info.name.service_key, port=str(self.info.name),
                     address=f"{ip}:{port}")
        self.servers.clear()


def _udp_socket(address: tuple[str, int]) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _listening_socket(address: tuple[str, int]) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Proxier:
    """Userspace proxier for every Service; `sync` applies the complete desired state."""

    def __init__(self, *, node_addresses: list[str], affinity_timeout: int | None = None) -> None:
        self.node_addresses = node_addresses
        self.affinity_timeout = affinity_timeout
        self.stats = Stats()
        self.service_map: dict[ServicePortName, ServicePort] = {}
        self.endpoints: dict[ServicePortName, list[Endpoint]] = {}
        self._ports: dict[ServicePortName, _ServicePortProxy] = {}

    async def sync(self, services: list[dict], slices: list[dict]) -> SyncResult:
        desired = service_port_map(services, affinity_timeout=self.affinity_timeout)
        endpoints = endpoints_map(slices)
        result = SyncResult()
        for name in [n for n in self._ports if n not in desired]:
            self._ports.pop(name).close()
            result.removed.append(name)
        for name, info in sorted(desired.items()):
            proxy = self._ports.get(name)
            if proxy is not None and proxy.info != info:
                proxy.close()
                proxy = None
                result.updated.append(name)
            if proxy is None:
                proxy = self._ports[name] = _ServicePortProxy(info, self.stats, self.node_addresses)
                if name not in result.updated:
                    result.added.append(name)
            ready = endpoints.get(name, [])
            if ready != proxy.lb.endpoints:
                proxy.lb.update(ready)
                if name not in result.added:
                    result.endpoints_changed.append(name)
            result.bind_errors += await proxy.reconcile()
        self.service_map = desired
        self.endpoints = {n: endpoints.get(n, []) for n in desired}
        await asyncio.sleep(0)  # let closed transports release their sockets before we report done
        return result

    def listening(self) -> list[tuple[str, int]]:
        """Every address a listener is open on (for tests, logs and /metrics)."""
        return sorted(a for p in self._ports.values() for a in p.servers)

    def close(self) -> None:
        for proxy in self._ports.values():
            proxy.close()
        self._ports.clear()
