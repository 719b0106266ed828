"""Byte pipes between a client connection and an endpoint (the userspace proxy's data path).

Guarantees:
- A TCP connection accepted on a listener is paired with one new connection to the endpoint the
  listener's `choose(client_ip)` names; bytes flow both ways unchanged until both sides are done.
- Flow control: when one side's write buffer passes the high-water mark the other side stops
  reading (`pause_reading`) until it drains, so a slow reader never makes the proxy buffer a
  fast writer's whole stream.
- Half-close is forwarded (EOF from one side becomes `write_eof` on the other), so HTTP/1.0-style
  "send, shut down writing, read the answer" clients work; when either side closes or resets, the
  other is closed after its pending bytes are flushed.
- No endpoint, or an endpoint that refuses, closes the client connection at once with a reset
  (SO_LINGER 0), never leaves it hanging.
- `Stats` counts active connections and forwarded bytes, as plain integers cheap to update on
  every chunk; metrics read them at scrape time.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.logging import get_logger

from services.proxy.servicemap import Endpoint

log = get_logger()

CONNECT_TIMEOUT = 5.0  # seconds; kube-proxy userspace tried each endpoint with growing timeouts
READ_BUFFER = 1024 * 1024
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
_LINGER_RESET = struct.pack("ii", 1, 0)


@dataclass
class Stats:
    """Counters for one proxier, read by the metrics collector."""

    active: int = 0
    accepted: int = 0
    refused: int = 0
    bytes_to_endpoint: int = 0
    bytes_to_client: int = 0
    active_by_endpoint: dict[Endpoint, int] = field(default_factory=dict)

    def opened(self, endpoint: Endpoint) -> None:
        self.active += 1
        self.accepted += 1
        self.active_by_endpoint[endpoint] = self.active_by_endpoint.get(endpoint, 0) + 1

    def closed(self, endpoint: Endpoint) -> None:
        self.active -= 1
        left = self.active_by_endpoint.get(endpoint, 1) - 1
        if left > 0:
            self.active_by_endpoint[endpoint] = left
        else:
            self.active_by_endpoint.pop(endpoint, None)


def reset(transport: asyncio.BaseTransport) -> None:
    """Close with RST instead of FIN: the client sees the connection refused/reset at once."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        except OSError:
            pass
    transport.abort()


class _Half(asyncio.BufferedProtocol):
    """One side of a pipe; writes what it reads to `peer`, and throttles the peer's reading.

    A BufferedProtocol: the kernel copies straight into one reusable buffer per side and the
    bytes go out from a view of it (the transport copies only what the socket did not take at
    once), so a chunk is not allocated anew for every read.
    """

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.peer: _Half | None = None
        self.eof = False
        self.closed = False
        self.pending: list[bytes] = []  # read before the peer was connected
        self.buffer = memoryview(bytearray(READ_BUFFER))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)  # type: ignore[attr-defined]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def forward(self, data: memoryview) -> None:
        peer = self.peer
        if peer is not None:
            peer.transport.write(data)  # type: ignore[union-attr]
        else:
            self.pending.append(bytes(data))

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is None:
            return True
        if peer.eof:
            peer.transport.close()  # type: ignore[union-attr]
            return False
        if not peer.closed and peer.transport.can_write_eof():  # type: ignore[union-attr]
            peer.transport.write_eof()  # type: ignore[union-attr]
        return True  # keep our write side open: the peer may still answer

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.transport.pause_reading()  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        if self.peer is not None and not self.peer.closed:
            self.peer.transport.resume_reading()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        peer = self.peer
        if peer is not None and not peer.closed:
            if exc is not None:
                peer.transport.abort()  # type: ignore[union-attr]
            else:
                peer.transport.close()  # type: ignore[union-attr]  # flushes what is buffered first


def link(client: _Half, endpoint: _Half) -> None:
    """Join two connected halves, replaying whatever either saw before the other existed."""
    client.peer, endpoint.peer = endpoint, client
    for half in (client, endpoint):
        for data in half.pending:
            half.peer.transport.write(data)  # type: ignore[union-attr]
        half.pending.clear()
    for half in (client, endpoint):
        if half.closed:
            half.connection_lost(None)
        elif half.eof:
            half.eof_received()


class ClientSide(_Half):
    """The accepted connection; on arrival it picks an endpoint and dials it."""

    def __init__(self, stats: Stats, choose: Callable[[str], Endpoint | None]) -> None:
        super().__init__(stats)
        self.choose = choose
        self.endpoint: Endpoint | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.pause_reading()  # type: ignore[attr-defined]  # until the endpoint answers
        peer = transport.get_extra_info("peername") or ("", 0)
        endpoint = self.choose(peer[0])
        if endpoint is None:
            self.stats.refused += 1
            reset(transport)
            return
        self.endpoint = endpoint
        self.stats.opened(endpoint)
        asyncio.get_running_loop().create_task(self._dial(endpoint))

    def buffer_updated(self, nbytes: int) -> None:
        self.stats.bytes_to_endpoint += nbytes
        self.forward(self.buffer[:nbytes])

    async def _dial(self, endpoint: Endpoint) -> None:
        loop = asyncio.get_running_loop()
        backend = EndpointSide(self.stats)
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: backend, endpoint.ip, endpoint.port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            log.info("proxy.dial_failed", endpoint=str(endpoint), error=str(exc) or type(exc).__name__)
            if not self.closed:
                reset(self.transport)  # type: ignore[arg-type]
            return
        if self.closed:
            backend.transport.close()  # type: ignore[union-attr]
            return
        link(self, backend)
        if not self.closed:
            self.transport.resume_reading()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.endpoint is not None and not self.closed:
            self.stats.closed(self.endpoint)
        super().connection_lost(exc)


class EndpointSide(_Half):
    def buffer_updated(self, nbytes: int) -> None:
        self.stats.bytes_to_client += nbytes
        self.forward(self.buffer[:nbytes])
