"""Byte pipes between a client connection and an endpoint (the userspace proxy's data path).

Guarantees:
- A TCP connection accepted on a listener is paired with one new connection to the endpoint the
  listener's `choose(client_ip)` names; bytes flow both ways unchanged until both sides are done.
- Flow control: when one side's socket does not take all that the other side read, the reading
  side stops reading (`pause_reading`) until the socket is writable again and the rest is sent,
  so a slow reader never makes the proxy buffer more than one read buffer per direction.
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
import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.logging import get_logger

from services.proxy.servicemap import Endpoint

log = get_logger()

CONNECT_TIMEOUT = 5.0  # seconds; kube-proxy userspace tried each endpoint with growing timeouts
READ_BUFFER = 256 * 1024
HIGH_WATER = 256 * 1024  # only reached when a closing side hands its unsent tail to the transport
LOW_WATER = 64 * 1024
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
    """One side of a pipe; writes what it reads to `peer`, and stops reading while the peer is full.

    The data path is as short as asyncio allows: the kernel copies each read into one reusable
    buffer per side (BufferedProtocol), and the bytes go out with one `os.write` on the peer's
    socket straight from that buffer. Whatever the peer's socket does not take at once stays in
    the buffer (a view, not a copy): this side stops reading and waits for the peer's socket to
    become writable, then resumes. So per connection and direction at most one buffer of bytes
    is in flight, and the transport's own write buffer (which, in Python 3.11, copies and
    memmoves) is used only to hand over the tail when a side closes.
    """

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.transport: asyncio.Transport | None = None
        self.write_fd = -1  # a dup of our socket's fd: the peer writes and waits on it
        self.peer: _Half | None = None
        self.eof = False
        self.closed = False
        self.pending: list[bytes] = []  # read before the peer was connected
        self.unsent: memoryview | None = None  # read, not yet taken by the peer's socket
        self.buffer = memoryview(bytearray(READ_BUFFER))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)  # type: ignore[attr-defined]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # asyncio refuses add_writer() on a transport's own fd; a duplicate refers to the same
            # socket and is ours to wait on.
            self.write_fd = os.dup(sock.fileno())
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def forward(self, data: memoryview) -> None:
        peer = self.peer
        if peer is None:
            self.pending.append(bytes(data))
            return
        try:
            sent = os.write(peer.write_fd, data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._broken(exc)
            return
        if sent < len(data):
            self.unsent = data[sent:]
            self.transport.pause_reading()  # type: ignore[union-attr]
            asyncio.get_running_loop().add_writer(peer.write_fd, self._drain)

    def _drain(self) -> None:
        peer = self.peer
        try:
            sent = os.write(peer.write_fd, self.unsent)  # type: ignore[union-attr, arg-type]
        except BlockingIOError:
            return
        except OSError as exc:
            self._broken(exc)
            return
        self.unsent = self.unsent[sent:]  # type: ignore[index]
        if len(self.unsent):
            return
        self.unsent = None
        asyncio.get_running_loop().remove_writer(peer.write_fd)  # type: ignore[union-attr]
        if self.eof:
            self._pass_eof()
        elif not self.closed:
            self.transport.resume_reading()  # type: ignore[union-attr]

    def _hand_over(self) -> None:
        """Give bytes not yet written to the peer's transport, which flushes them before closing."""
        if self.unsent is not None:
            asyncio.get_running_loop().remove_writer(self.peer.write_fd)  # type: ignore[union-attr]
            if not self.peer.closed:  # type: ignore[union-attr]
                self.peer.transport.write(bytes(self.unsent))  # type: ignore[union-attr]
            self.unsent = None

    def _broken(self, exc: Exception) -> None:
        if self.peer is not None:
            if self.unsent is not None:
                asyncio.get_running_loop().remove_writer(self.peer.write_fd)
            self.peer.transport.abort()
        self.unsent = None  # type: ignore[union-attr]
        self.transport.abort()  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        self.eof = True
        if self.peer is not None and self.unsent is None:
            return self._pass_eof()
        return True  # the peer gets our EOF once it has taken everything before it

    def _pass_eof(self) -> bool:
        peer = self.peer
        if peer.eof:  # type: ignore[union-attr]
            peer._hand_over()  # type: ignore[union-attr]
            peer.transport.close()  # type: ignore[union-attr]
            self.transport.close()  # type: ignore[union-attr]
            return False
        if not peer.closed and peer.transport.can_write_eof():  # type: ignore[union-attr]
            peer.transport.write_eof()  # type: ignore[union-attr]
        return True  # keep our write side open: the peer may still answer

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.transport.pause_reading()  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        if self.peer is not None and not self.peer.closed and self.peer.unsent is None:
            self.peer.transport.resume_reading()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        peer = self.peer
        if peer is not None:
            self._unlink(peer, exc)
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def _unlink(self, peer: _Half, exc: Exception | None) -> None:
        loop = asyncio.get_running_loop()
        if peer.unsent is not None:  # the peer was waiting to write into our (now closed) socket
            loop.remove_writer(self.write_fd)
            peer.unsent = None
        if peer.closed:
            return
        if exc is None:
            self._hand_over()
            peer.transport.close()  # type: ignore[union-attr]  # flushes what is buffered first
            return
        if self.unsent is not None:
            loop.remove_writer(peer.write_fd)
            self.unsent = None
        peer.transport.abort()  # type: ignore[union-attr]


def link(client: _Half, endpoint: _Half) -> None:
    """Join two connected halves, replaying whatever either saw before the other existed."""
    client.peer, endpoint.peer = endpoint, client
    for half in (client, endpoint):
        if half.pending:
            data, half.pending = b"".join(half.pending), []
            half.forward(memoryview(data))
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
        if not self.closed and self.unsent is None:
            self.transport.resume_reading()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.endpoint is not None and not self.closed:
            self.stats.closed(self.endpoint)
        super().connection_lost(exc)


class EndpointSide(_Half):
    def buffer_updated(self, nbytes: int) -> None:
        self.stats.bytes_to_client += nbytes
        self.forward(self.buffer[:nbytes])
