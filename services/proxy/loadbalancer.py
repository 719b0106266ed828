"""Choosing an endpoint for a new connection (kube-proxy userspace mode's LoadBalancerRR).

Guarantees:
- `next_endpoint(client_ip)` returns the ready endpoints in turn (round-robin), or None when there
  are none, so the caller refuses the connection.
- With `ClientIP` affinity a client keeps the endpoint it was given while it keeps connecting
  within `affinity_timeout` seconds of its last connection and the endpoint stays ready; after
  that it gets the next one in turn.
- `update(endpoints)` takes effect for the very next connection: a removed endpoint is never
  handed out again and its affinity entries are forgotten. Connections already open are not
  touched here (they belong to the forwarder).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.proxy.servicemap import Endpoint


@dataclass(slots=True)
class _Affinity:
    endpoint: Endpoint
    last_used: float


class LoadBalancer:
    def __init__(self, endpoints: Sequence[Endpoint] = (), *, session_affinity: str = "None",
                 affinity_timeout: float = 10800.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoints: list[Endpoint] = list(endpoints)
        self.session_affinity = session_affinity
        self.affinity_timeout = affinity_timeout
        self._clock = clock
        self._index = 0
        self._affinity: dict[str, _Affinity] = {}

    def update(self, endpoints: Sequence[Endpoint]) -> None:
        if list(endpoints) == self.endpoints:
            return
        self.endpoints = list(endpoints)
        alive = set(self.endpoints)
        self._affinity = {ip: a for ip, a in self._affinity.items() if a.endpoint in alive}
        if self._index >= len(self.endpoints):
            self._index = 0

    def next_endpoint(self, client_ip: str) -> Endpoint | None:
        if not self.endpoints:
            return None
        if self.session_affinity != "ClientIP":
            return self._round_robin()
        now = self._clock()
        held = self._affinity.get(client_ip)
        if held is not None and now - held.last_used <= self.affinity_timeout:
            held.last_used = now
            return held.endpoint
        endpoint = self._round_robin()
        self._affinity[client_ip] = _Affinity(endpoint, now)
        return endpoint

    def _round_robin(self) -> Endpoint:
        endpoint = self.endpoints[self._index % len(self.endpoints)]
        self._index = (self._index + 1) % len(self.endpoints)
        return endpoint
