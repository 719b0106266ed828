"""Test helpers for the proxy: tiny HTTP backends, a raw HTTP client, Service/EndpointSlice dicts."""

from __future__ import annotations

import asyncio
import random

from tests.conftest import free_port


def random_ip(prefix: str = "127.96") -> str:
    """A loopback address unlikely to be used by a concurrent test run."""
    missing = 4 - len(prefix.split("."))
    return ".".join([prefix] + [str(random.randint(100, 250)) for _ in range(missing - 1)]
                    + [str(random.randint(2, 250))])


class Backend:
    """An HTTP/1.1 server (keep-alive) that answers every request with its own name."""

    def __init__(self, name: str, ip: str | None = None, port: int = 0) -> None:
        self.name = name
        self.ip = ip or random_ip("127.244")
        self.port = port
        self.requests = 0
        self.server: asyncio.base_events.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> Backend:
        self.server = await asyncio.start_server(self._serve, self.ip, self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = _content_length(head)
                body = await reader.readexactly(length) if length else b""
                self.requests += 1
                reply = self.name.encode() + (b":" + str(len(body)).encode() if body else b"")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for w in list(self.writers):
                w.close()
            await self.server.wait_closed()


async def eventually(check, timeout: float = 5.0) -> bool:
    """Poll the plain predicate `check()` until true; False if `timeout` passes first."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


async def http_get(host: str, port: int, *, local_addr: tuple[str, int] | None = None,
                   timeout: float = 5.0) -> str:
    """One request on a fresh connection; returns the body. Raises ConnectionError if refused."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, local_addr=local_addr), timeout)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return await asyncio.wait_for(read_response(reader), timeout)
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> str:
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise AssertionError(f"unexpected response {head!r}")
    return (await reader.readexactly(_content_length(head))).decode()


def service(name: str, cluster_ip: str, port: int, *, namespace: str = "default", port_name: str = "http",
            node_port: int = 0, affinity: str | None = None, timeout: int | None = None) -> dict:
    spec: dict = {
        "type": "NodePort" if node_port else "ClusterIP",
        "clusterIP": cluster_ip,
        "clusterIPs": [cluster_ip],
        "ports": [{"name": port_name, "port": port, "protocol": "TCP", "targetPort": 8080}],
        "selector": {"app": name},
        "sessionAffinity": affinity or "None",
    }
    if node_port:
        spec["ports"][0]["nodePort"] = node_port
    if timeout is not None:
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": timeout}}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def endpoint_slice(service_name: str, backends: list[Backend | tuple[str, int, bool]], *,
                   namespace: str = "default", port_name: str = "http", suffix: str = "abcde") -> dict:
    """One slice for `service_name`; a backend is a Backend (ready) or (ip, port, ready)."""
    entries = [(b.ip, b.port, True) if isinstance(b, Backend) else b for b in backends]
    # A slice has one port list; tests keep every endpoint of a slice on the same port, as pods
    # of one Deployment are, by putting different ports in different slices.
    port = entries[0][1] if entries else 8080
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{service_name}-{suffix}", "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": service_name}},
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}} for ip, _, ready in entries],
    }


def slices_for(service_name: str, backends: list[Backend], **kw) -> list[dict]:
    """One slice per backend, so backends may listen on different (free) ports."""
    return [endpoint_slice(service_name, [b], suffix=f"s{i}", **kw) for i, b in enumerate(backends)]


__all__ = ["Backend", "endpoint_slice", "eventually", "free_port", "http_get", "random_ip", "read_response", "service",
           "slices_for"]
