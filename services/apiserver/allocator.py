"""ClusterIP and NodePort allocation for Services, like kube-apiserver's service allocators.

Guarantees: each IP of the service CIDR (minus the network and broadcast addresses) and each port
of the NodePort range is held by at most one Service. The state is derived from the stored
Services at startup (`observe`), so it survives restarts. Failures carry kube-apiserver's
messages (`provided IP is already allocated`, `the provided IP (x) is not in the valid range...`).
"""

from __future__ import annotations

import ipaddress
import random


class AllocationError(Exception):
    """An allocation that cannot be made; the message is the text for the 422 cause."""


class IPAllocator:
    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._first = int(self.network.network_address) + 1
        self._last = int(self.network.broadcast_address) - 1
        self._used: set[int] = set()

    @property
    def first_ip(self) -> str:
        """The first service IP (kube-apiserver gives it to the `kubernetes` Service)."""
        return str(ipaddress.ip_address(self._first))

    def allocate(self, ip: str) -> None:
        try:
            value = int(ipaddress.ip_address(ip))
        except ValueError as exc:
            raise AllocationError(f"failed to allocate IP {ip}: not a valid IP address") from exc
        if not self._first <= value <= self._last:
            raise AllocationError(f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. "
                                  f"The range of valid IPs is {self.network}")
        if value in self._used:
            raise AllocationError(f"failed to allocate IP {ip}: provided IP is already allocated")
        self._used.add(value)

    def allocate_next(self) -> str:
        size = self._last - self._first + 1
        if len(self._used) >= size:
            raise AllocationError("failed to allocate a serviceIP: range is full")
        start = random.randrange(size)
        for offset in range(size):
            value = self._first + (start + offset) % size
            if value not in self._used:
                self._used.add(value)
                return str(ipaddress.ip_address(value))
        raise AllocationError("failed to allocate a serviceIP: range is full")

    def release(self, ip: str) -> None:
        try:
            self._used.discard(int(ipaddress.ip_address(ip)))
        except ValueError:
            pass

    def observe(self, ip: str) -> None:
        """Mark `ip` used (from a stored Service), ignoring what is out of range."""
        try:
            value = int(ipaddress.ip_address(ip))
        except ValueError:
            return
        if self._first <= value <= self._last:
            self._used.add(value)

    def is_allocated(self, ip: str) -> bool:
        return int(ipaddress.ip_address(ip)) in self._used


class PortAllocator:
    def __init__(self, port_range: str) -> None:
        low, _, high = port_range.partition("-")
        self.low, self.high = int(low), int(high or low)
        self._used: set[int] = set()

    @property
    def range_text(self) -> str:
        return f"{self.low}-{self.high}"

    def allocate(self, port: int) -> None:
        if not self.low <= port <= self.high:
            raise AllocationError(f"provided port is not in the valid range. The range of valid ports is "
                                  f"{self.range_text}")
        if port in self._used:
            raise AllocationError("provided port is already allocated")
        self._used.add(port)

    def allocate_next(self) -> int:
        size = self.high - self.low + 1
        start = random.randrange(size)
        for offset in range(size):
            port = self.low + (start + offset) % size
            if port not in self._used:
                self._used.add(port)
                return port
        raise AllocationError("range is full")

    def release(self, port: int) -> None:
        self._used.discard(port)

    def observe(self, port: int) -> None:
        if self.low <= port <= self.high:
            self._used.add(port)

    def is_allocated(self, port: int) -> bool:
        return port in self._used


class ServiceAllocator:
    """Allocates and releases a Service's clusterIP and nodePorts (dict objects, in place)."""

    def __init__(self, cidr: str, port_range: str) -> None:
        self.ips = IPAllocator(cidr)
        self.ports = PortAllocator(port_range)

    def observe(self, svc: dict) -> None:
        spec = svc.get("spec") or {}
        for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []):
            self.ips.observe(ip)
        for port in _node_ports(spec):
            self.ports.observe(port)

    def allocate(self, svc: dict, old: dict | None = None) -> list[dict[str, str]]:
        """Fill in clusterIP(s) and nodePorts for `svc` (a create when `old` is None).

        Returns 422 causes (empty on success). On failure nothing stays allocated.
        """
        spec = svc.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        done_ips: list[str] = []
        done_ports: list[int] = []
        causes = self._allocate_ip(spec, old_spec, done_ips) + self._allocate_ports(spec, old_spec, done_ports)
        if causes:
            for ip in done_ips:
                self.ips.release(ip)
            for port in done_ports:
                self.ports.release(port)
        return causes

    def release(self, svc: dict) -> None:
        spec = svc.get("spec") or {}
        for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []):
            if ip != "None":
                self.ips.release(ip)
        for port in _node_ports(spec):
            self.ports.release(port)

    def release_unused(self, old: dict, new: dict) -> None:
        """After an update: release nodePorts `old` held that `new` no longer does."""
        for port in set(_node_ports(old.get("spec") or {})) - set(_node_ports(new.get("spec") or {})):
            self.ports.release(port)

    def _allocate_ip(self, spec: dict, old_spec: dict, done: list[str]) -> list[dict[str, str]]:
        if spec.get("type") == "ExternalName":
            return []
        old_ip = old_spec.get("clusterIP")
        if old_ip:
            asked = spec.get("clusterIP")
            if asked and asked != old_ip:
                return [_cause("FieldValueInvalid", "spec.clusterIPs[0]",
                               f'Invalid value: []string{{"{asked}"}}: may not change once set')]
            spec["clusterIP"], spec["clusterIPs"] = old_ip, old_spec.get("clusterIPs") or [old_ip]
            return []
        asked = spec.get("clusterIP") or ""
        if asked == "None":
            spec["clusterIPs"] = ["None"]
            return []
        try:
            if asked:
                self.ips.allocate(asked)
                ip = asked
            else:
                ip = self.ips.allocate_next()
        except AllocationError as exc:
            return [_cause("FieldValueInvalid", "spec.clusterIPs",
                           f'Invalid value: []string{{"{asked}"}}: {exc}')]
        done.append(ip)
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        return []

    def _allocate_ports(self, spec: dict, old_spec: dict, done: list[int]) -> list[dict[str, str]]:
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            spec_ports = spec.get("ports") or []
            for port in spec_ports:
                if isinstance(port, dict):
                    port.pop("nodePort", None)
            return []
        old_ports = set(_node_ports(old_spec))
        old_by_key = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                      for p in old_spec.get("ports") or [] if isinstance(p, dict) and p.get("nodePort")}
        causes: list[dict[str, str]] = []
        for i, port in enumerate(spec.get("ports") or []):
            if not isinstance(port, dict):
                continue
            asked = port.get("nodePort")
            if not asked:
                reuse = old_by_key.get((port.get("port"), port.get("protocol", "TCP")))
                if reuse:
                    port["nodePort"] = reuse
                    continue
            if asked and asked in old_ports:
                continue
            try:
                if asked:
                    self.ports.allocate(int(asked))
                    value = int(asked)
                else:
                    value = self.ports.allocate_next()
            except (AllocationError, ValueError, TypeError) as exc:
                causes.append(_cause("FieldValueInvalid", f"spec.ports[{i}].nodePort", f"Invalid value: {asked}: {exc}"))
                continue
            done.append(value)
            port["nodePort"] = value
        return causes


def _node_ports(spec: dict) -> list[int]:
    return [p["nodePort"] for p in spec.get("ports") or []
            if isinstance(p, dict) and isinstance(p.get("nodePort"), int) and p["nodePort"]]


def _cause(reason: str, field: str, message: str) -> dict[str, str]:
    return {"reason": reason, "message": message, "field": field}
