"""UDP forwarding (the userspace proxier's UDP path).

Guarantees:
- Each client address (ip, port) seen on a Service's UDP listener gets one session: a socket
  connected to the endpoint chosen for it (round-robin or ClientIP affinity, like TCP); its
  datagrams go there, and what the endpoint answers goes back to the client from the Service's
  address, so the client sees replies from the address it sent to.
- A session idle for `idle_timeout` seconds (kube-proxy's --udp-timeout, 250 ms by default) is
  closed; the next datagram from that client picks an endpoint again.
- With no endpoint chosen a datagram is dropped (the proxier closes the listener altogether when
  no endpoint is ready, so the kernel answers "port unreachable" as the REJECT rule would).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from services.proxy.forwarder import Stats
from services.proxy.servicemap import Endpoint

UDP_IDLE_TIMEOUT = 0.25  # kube-proxy userspace --udp-timeout default

Addr = tuple[str, int]


class UdpListener(asyncio.DatagramProtocol):
    def __init__(self, stats: Stats, choose: Callable[[str], Endpoint | None], *,
                 idle_timeout: float = UDP_IDLE_TIMEOUT) -> None:
        self.stats = stats
        self.choose = choose
        self.idle_timeout = idle_timeout
        self.transport: asyncio.DatagramTransport | None = None
        self.sessions: dict[Addr, _UdpSession] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.stats.bytes_to_endpoint += len(data)
        session = self.sessions.get(addr)
        if session is None:
            endpoint = self.choose(addr[0])
            if endpoint is None:
                self.stats.refused += 1
                return
            session = self.sessions[addr] = _UdpSession(self, addr, endpoint)
            self.stats.accepted += 1
            asyncio.get_running_loop().create_task(session.open())
        session.send(data)

    def reply(self, data: bytes, addr: Addr) -> None:
        self.stats.bytes_to_client += len(data)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def forget(self, addr: Addr) -> None:
        self.sessions.pop(addr, None)

    def connection_lost(self, exc: Exception | None) -> None:
        for session in list(self.sessions.values()):
            session.close()
        self.sessions.clear()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _UdpSession(asyncio.DatagramProtocol):
    def __init__(self, listener: UdpListener, client: Addr, endpoint: Endpoint) -> None:
        self.listener, self.client, self.endpoint = listener, client, endpoint
        self.transport: asyncio.DatagramTransport | None = None
        self.queue: list[bytes] = []
        self.closed = False
        self.last_active = asyncio.get_running_loop().time()
        self.timer: asyncio.TimerHandle | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: self, remote_addr=(self.endpoint.ip, self.endpoint.port))
        except OSError:
            self.close()
            return
        if self.closed:
            transport.close()
            return
        for data in self.queue:
            transport.sendto(data)
        self.queue.clear()
        self._arm()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes) -> None:
        self.last_active = asyncio.get_running_loop().time()
        if self.transport is None:
            self.queue.append(data)
        else:
            self.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.last_active = asyncio.get_running_loop().time()
        self.listener.reply(data, self.client)

    def error_received(self, exc: Exception) -> None:
        self.close()  # e.g. the endpoint's port is unreachable: choose again next time

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self.timer = loop.call_at(self.last_active + self.listener.idle_timeout, self._check_idle)

    def _check_idle(self) -> None:
        if asyncio.get_running_loop().time() - self.last_active >= self.listener.idle_timeout:
            self.close()
        else:
            self._arm()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        if self.transport is not None:
            self.transport.close()
        self.listener.forget(self.client)
