"""Pod IP allocation from the node's pod CIDR, after the CNI `host-local` IPAM plugin.

Guarantees:
- An IP is given to one sandbox at a time; the network address, the gateway (the first host
  address, the bridge's) and the broadcast address are never given.
- Allocation goes round-robin from the last IP reserved, so a freed IP is not reused at once.
- With a directory, every reservation is a file named by the IP holding the sandbox id, as
  host-local keeps them in /var/lib/cni/networks/<net>/: a restarted kubelet keeps its pods' IPs.
- `allocate` for a sandbox that already holds an IP returns that IP (idempotent).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path


class IPAMError(Exception):
    pass


class HostLocalIPAM:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.cidr: ipaddress.IPv4Network | None = None
        self.reserved: dict[str, str] = {}  # ip -> sandbox id
        self.last = ""
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._load()

    def _load(self) -> None:
        for path in self.directory.iterdir():
            if path.name == "last_reserved_ip":
                self.last = path.read_text().strip()
            elif not path.name.endswith(".tmp"):
                self.reserved[path.name] = path.read_text().strip()

    def set_cidr(self, cidr: str) -> None:
        self.cidr = ipaddress.ip_network(cidr, strict=False)

    def _candidates(self) -> list[str]:
        hosts = [str(ip) for ip in self.cidr.hosts()][1:]  # the first host address is the gateway
        if self.last in hosts:
            start = hosts.index(self.last) + 1
            return hosts[start:] + hosts[:start]
        return hosts

    def allocate(self, sandbox_id: str) -> str:
        if self.cidr is None:
            raise IPAMError("no pod CIDR yet: the node has no spec.podCIDR and the kubelet no --pod-cidr")
        for ip, owner in self.reserved.items():
            if owner == sandbox_id:
                return ip
        for ip in self._candidates():
            if ip not in self.reserved:
                self._reserve(ip, sandbox_id)
                return ip
        raise IPAMError(f"failed to allocate for range 0: no IP addresses available in range set: {self.cidr}")

    def _reserve(self, ip: str, sandbox_id: str) -> None:
        self.reserved[ip] = sandbox_id
        self.last = ip
        if self.directory is not None:
            _write(self.directory / ip, sandbox_id)
            _write(self.directory / "last_reserved_ip", ip)

    def release(self, sandbox_id: str) -> None:
        for ip in [ip for ip, owner in self.reserved.items() if owner == sandbox_id]:
            del self.reserved[ip]
            if self.directory is not None:
                (self.directory / ip).unlink(missing_ok=True)

    def ip_of(self, sandbox_id: str) -> str | None:
        return next((ip for ip, owner in self.reserved.items() if owner == sandbox_id), None)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
