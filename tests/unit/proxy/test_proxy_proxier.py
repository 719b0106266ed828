"""The userspace proxier with real sockets on loopback: listeners, spreading, affinity, refusal."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import Counter

import pytest

from services.proxy.proxier import Proxier
from tests.unit.proxy.helpers import (Backend, endpoint_slice, eventually, free_port, http_get, random_ip,
                                      read_response, service, slices_for)


@pytest.fixture
async def backends():
    started = [await Backend("a").start(), await Backend("b").start()]
    yield started
    for b in started:
        await b.stop()


@pytest.fixture
async def proxier():
    node_ip = random_ip("127.0.1")
    p = Proxier(node_addresses=[node_ip])
    yield p
    p.close()


async def _refused(host: str, port: int) -> bool:
    try:
        await http_get(host, port, timeout=2)
    except (ConnectionRefusedError, ConnectionResetError, asyncio.IncompleteReadError):
        return True
    return False


async def test_cluster_ip_forwards_and_spreads_round_robin(proxier: Proxier, backends: list[Backend]) -> None:
    ip, port = random_ip(), free_port()
    result = await proxier.sync([service("web", ip, port)], slices_for("web", backends))
    assert [str(n) for n in result.added] == ["default/web:http"]
    answers = Counter([await http_get(ip, port) for _ in range(10)])
    assert answers == {"a": 5, "b": 5}


async def test_node_port_listens_on_node_addresses(proxier: Proxier, backends: list[Backend]) -> None:
    ip, port, node_port = random_ip(), free_port(), free_port()
    await proxier.sync([service("web", ip, port, node_port=node_port)], slices_for("web", backends))
    node_ip = proxier.node_addresses[0]
    assert (node_ip, node_port) in proxier.listening()
    assert {await http_get(node_ip, node_port) for _ in range(4)} == {"a", "b"}


async def test_client_ip_affinity_keeps_a_client_on_one_endpoint(proxier: Proxier, backends: list[Backend]) -> None:
    ip, port = random_ip(), free_port()
    await proxier.sync([service("web", ip, port, affinity="ClientIP")], slices_for("web", backends))
    client_a, client_b = random_ip("127.0.2"), random_ip("127.0.3")
    seen_a = {await http_get(ip, port, local_addr=(client_a, 0)) for _ in range(6)}
    seen_b = {await http_get(ip, port, local_addr=(client_b, 0)) for _ in range(6)}
    assert len(seen_a) == 1 and len(seen_b) == 1
    assert seen_a != seen_b  # the second client was given the next endpoint in turn


async def test_no_ready_endpoint_refuses_new_connections(proxier: Proxier, backends: list[Backend]) -> None:
    ip, port = random_ip(), free_port()
    unready = endpoint_slice("web", [(backends[0].ip, backends[0].port, False)])
    await proxier.sync([service("web", ip, port)], [unready])
    assert await _refused(ip, port)
    await proxier.sync([service("web", ip, port)], slices_for("web", backends[:1]))
    assert await http_get(ip, port) == "a"
    await proxier.sync([service("web", ip, port)], [])  # scaled to zero
    assert await _refused(ip, port)


async def test_removed_endpoint_gets_no_new_connections_but_open_ones_finish(
        proxier: Proxier, backends: list[Backend]) -> None:
    ip, port = random_ip(), free_port()
    await proxier.sync([service("web", ip, port)], slices_for("web", backends))
    # A keep-alive connection opened before the change.
    reader, writer = await asyncio.open_connection(ip, port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await read_response(reader)
    staying = [b for b in backends if b.name != first]
    result = await proxier.sync([service("web", ip, port)], slices_for("web", staying))
    assert result.endpoints_changed and not result.added
    assert {await http_get(ip, port) for _ in range(5)} == {staying[0].name}
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await read_response(reader) == first
    assert await eventually(lambda: proxier.stats.active == 1)  # the short ones are gone, this one lives
    writer.close()


async def test_deleted_service_closes_its_listeners(proxier: Proxier, backends: list[Backend]) -> None:
    ip, port, node_port = random_ip(), free_port(), free_port()
    await proxier.sync([service("web", ip, port, node_port=node_port)], slices_for("web", backends))
    assert len(proxier.listening()) == 2
    result = await proxier.sync([], slices_for("web", backends))
    assert [str(n) for n in result.removed] == ["default/web:http"]
    assert proxier.listening() == []
    assert await _refused(ip, port)


async def test_changed_port_moves_the_listener(proxier: Proxier, backends: list[Backend]) -> None:
    ip, port, new_port = random_ip(), free_port(), free_port()
    await proxier.sync([service("web", ip, port)], slices_for("web", backends))
    result = await proxier.sync([service("web", ip, new_port)], slices_for("web", backends))
    assert result.updated and proxier.listening() == [(ip, new_port)]
    assert await http_get(ip, new_port) in {"a", "b"}
    assert await _refused(ip, port)


async def test_dead_endpoint_resets_the_client_instead_of_hanging(proxier: Proxier) -> None:
    ip, port, dead_port = random_ip(), free_port(), free_port()
    dead = endpoint_slice("web", [(random_ip("127.244"), dead_port, True)])
    await proxier.sync([service("web", ip, port)], [dead])
    assert await _refused(ip, port)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()  # after the client's EOF: the half-close reached us through the proxy


async def test_large_stream_round_trips_intact_with_half_close(proxier: Proxier) -> None:
    echo_ip = random_ip("127.244")
    server = await asyncio.start_server(_echo, echo_ip, 0)
    echo_port = server.sockets[0].getsockname()[1]
    ip, port = random_ip(), free_port()
    await proxier.sync([service("echo", ip, port)], [endpoint_slice("echo", [(echo_ip, echo_port, True)])])
    payload = os.urandom(8 * 1024 * 1024)
    reader, writer = await asyncio.open_connection(ip, port)

    async def send() -> None:
        for i in range(0, len(payload), 256 * 1024):
            writer.write(payload[i:i + 256 * 1024])
            await writer.drain()
        writer.write_eof()

    sender = asyncio.create_task(send())
    echoed = await asyncio.wait_for(reader.read(-1), 30)
    await sender
    writer.close()
    server.close()
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()
    assert proxier.stats.bytes_to_endpoint == len(payload) == proxier.stats.bytes_to_client


async def test_slow_reader_stops_the_proxy_reading_from_the_endpoint(proxier: Proxier) -> None:
    total = 64 * 1024 * 1024

    async def firehose(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chunk = b"z" * (1024 * 1024)
        for _ in range(total // len(chunk)):
            writer.write(chunk)
            await writer.drain()
        writer.close()

    src_ip = random_ip("127.244")
    server = await asyncio.start_server(firehose, src_ip, 0)
    ip, port = random_ip(), free_port()
    await proxier.sync([service("big", ip, port)],
                       [endpoint_slice("big", [(src_ip, server.sockets[0].getsockname()[1], True)])])
    reader, writer = await asyncio.open_connection(ip, port, limit=1024)
    writer.transport.pause_reading()  # a client that does not read

    async def stalled() -> bool:
        before = proxier.stats.bytes_to_client
        await asyncio.sleep(0.2)
        return proxier.stats.bytes_to_client == before

    for _ in range(100):
        if await stalled():
            break
    assert proxier.stats.bytes_to_client < total  # the proxy stopped reading instead of buffering it all
    writer.transport.resume_reading()

    async def read_all() -> int:
        received = 0
        while data := await reader.read(1024 * 1024):
            received += len(data)
        return received

    assert await asyncio.wait_for(read_all(), 30) == total
    writer.close()
    server.close()


async def test_finished_connections_leave_no_file_descriptors_behind(proxier: Proxier, backends: list[Backend]) -> None:
    ip, port = random_ip(), free_port()
    await proxier.sync([service("web", ip, port)], slices_for("web", backends))
    await http_get(ip, port)
    await eventually(lambda: proxier.stats.active == 0)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        await http_get(ip, port)
    assert await eventually(lambda: proxier.stats.active == 0)
    await asyncio.sleep(0.05)
    assert len(os.listdir("/proc/self/fd")) <= before
