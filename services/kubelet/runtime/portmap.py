"""hostPort forwarding for pod sandboxes, after the CNI `portmap` plugin (in userspace).

Guarantees: `open(sandbox_id, host_ip, mappings, pod_ip)` listens on host_ip:hostPort (the node's
IP when the mapping names none, so several nodes on one machine do not collide) for each TCP
mapping with a hostPort, and copies bytes both ways to pod_ip:containerPort, one connection per
client connection. `close(sandbox_id)` stops listening and drops its connections. A port already
taken raises OSError naming it. The forwarding lives in the kubelet process: it is re-opened by
the runtime on recovery, so a kubelet restart interrupts hostPorts briefly (containers keep running).
"""

from __future__ import annotations

import asyncio
import contextlib

from shared.logging import get_logger
from services.kubelet.runtime.cri import PortMapping

log = get_logger()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class PortMapper:
    def __init__(self) -> None:
        self.servers: dict[str, list[asyncio.Server]] = {}

    async def open(self, sandbox_id: str, host_ip: str, mappings: list[PortMapping], pod_ip: str) -> None:
        servers = []
        try:
            for m in mappings:
                if m.host_port and m.protocol.upper() == "TCP":
                    servers.append(await self._listen(m, host_ip, pod_ip))
        except OSError:
            for server in servers:
                server.close()
            raise
        if servers:
            self.servers[sandbox_id] = servers

    async def _listen(self, m: PortMapping, host_ip: str, pod_ip: str) -> asyncio.Server:
        target = (pod_ip, m.container_port)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection(*target)
            except OSError:
                writer.close()
                return
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

        address = m.host_ip if m.host_ip and m.host_ip != "0.0.0.0" else host_ip
        try:
            server = await asyncio.start_server(handle, address, m.host_port, reuse_address=True)
        except OSError as exc:
            raise OSError(exc.errno, f"hostPort {address}:{m.host_port} is not free: {exc.strerror}") from exc
        log.info("portmap.opened", host=f"{address}:{m.host_port}", target=f"{pod_ip}:{m.container_port}")
        return server

    def close(self, sandbox_id: str) -> None:
        for server in self.servers.pop(sandbox_id, []):
            server.close()

    def close_all(self) -> None:
        for sandbox_id in list(self.servers):
            self.close(sandbox_id)
