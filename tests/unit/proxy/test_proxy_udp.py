"""UDP Services: datagrams forwarded per client address, replies come back from the Service address."""

from __future__ import annotations

import asyncio
import socket

import pytest

from services.proxy.proxier import Proxier
from tests.unit.proxy.helpers import free_port, random_ip


class _Echo(asyncio.DatagramProtocol):
    def __init__(self, name: str) -> None:
        self.name = name.encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(self.name + b":" + data, addr)


@pytest.fixture
async def echoes():
    loop = asyncio.get_running_loop()
    started = []
    for name in ("a", "b"):
        transport, _ = await loop.create_datagram_endpoint(lambda n=name: _Echo(n), local_addr=(random_ip("127.244"), 0))
        started.append(transport)
    yield [t.get_extra_info("sockname") for t in started]
    for t in started:
        t.close()


def _udp_service(ip: str, port: int) -> dict:
    return {"metadata": {"name": "dns", "namespace": "kube-system"},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "ports": [{"name": "dns", "port": port, "protocol": "UDP"}]}}


def _udp_slices(addrs: list[tuple[str, int]]) -> list[dict]:
    return [{"metadata": {"name": f"dns-{i}", "namespace": "kube-system",
                          "labels": {"kubernetes.io/service-name": "dns"}},
             "addressType": "IPv4", "ports": [{"name": "dns", "port": port, "protocol": "UDP"}],
             "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}]} for i, (ip, port) in enumerate(addrs)]


async def _ask(ip: str, port: int, payload: bytes, sock: socket.socket | None = None) -> bytes:
    own = sock is None
    sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.connect((ip, port))  # connected: replies must come from the Service address
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(sock, payload)
        return await asyncio.wait_for(loop.sock_recv(sock, 65536), 3)
    finally:
        if own:
            sock.close()


async def test_udp_forwards_and_spreads_per_client(echoes: list[tuple[str, int]]) -> None:
    proxier = Proxier(node_addresses=[])
    ip, port = random_ip(), free_port()
    try:
        await proxier.sync([_udp_service(ip, port)], _udp_slices(echoes))
        answers = {await _ask(ip, port, b"q") for _ in range(4)}
        assert answers == {b"a:q", b"b:q"}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # one client: one session
            replies = {await _ask(ip, port, f"q{i}".encode(), sock) for i in range(3)}
        assert len({r.split(b":")[0] for r in replies}) == 1
    finally:
        proxier.close()


async def test_udp_without_endpoints_is_port_unreachable(echoes: list[tuple[str, int]]) -> None:
    proxier = Proxier(node_addresses=[])
    ip, port = random_ip(), free_port()
    try:
        await proxier.sync([_udp_service(ip, port)], _udp_slices(echoes))
        assert (await _ask(ip, port, b"x")).endswith(b":x")
        await proxier.sync([_udp_service(ip, port)], [])
        with pytest.raises(ConnectionRefusedError):
            await _ask(ip, port, b"x")
    finally:
        proxier.close()


async def test_idle_udp_sessions_are_closed(echoes: list[tuple[str, int]]) -> None:
    proxier = Proxier(node_addresses=[])
    ip, port = random_ip(), free_port()
    try:
        await proxier.sync([_udp_service(ip, port)], _udp_slices(echoes))
        [listener] = [srv for p in proxier._ports.values() for srv in p.servers.values()]
        await _ask(ip, port, b"x")
        assert len(listener.sessions) == 1
        deadline = asyncio.get_running_loop().time() + 5
        while listener.sessions and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert listener.sessions == {}  # closed after kube-proxy's 250 ms --udp-timeout
    finally:
        proxier.close()
