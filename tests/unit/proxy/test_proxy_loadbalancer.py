"""Round-robin and ClientIP affinity for new connections."""

from __future__ import annotations

from services.proxy.loadbalancer import LoadBalancer
from services.proxy.servicemap import Endpoint

A, B, C = Endpoint("127.244.1.2", 80), Endpoint("127.244.1.3", 80), Endpoint("127.244.1.4", 80)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_endpoints_gives_none() -> None:
    assert LoadBalancer().next_endpoint("127.0.0.1") is None


def test_round_robin_visits_every_endpoint_in_turn() -> None:
    lb = LoadBalancer([A, B, C])
    assert [lb.next_endpoint("127.0.0.1") for _ in range(6)] == [A, B, C, A, B, C]


def test_removed_endpoint_is_never_chosen_again() -> None:
    lb = LoadBalancer([A, B, C])
    lb.next_endpoint("x")
    lb.update([A, C])
    assert B not in {lb.next_endpoint("x") for _ in range(10)}


def test_client_ip_affinity_sticks_per_client() -> None:
    lb = LoadBalancer([A, B, C], session_affinity="ClientIP")
    first = lb.next_endpoint("127.0.0.5")
    other = lb.next_endpoint("127.0.0.6")
    assert other != first
    assert {lb.next_endpoint("127.0.0.5") for _ in range(10)} == {first}


def test_affinity_expires_after_timeout_of_inactivity() -> None:
    clock = Clock()
    lb = LoadBalancer([A, B], session_affinity="ClientIP", affinity_timeout=10, clock=clock)
    first = lb.next_endpoint("c")
    clock.now += 9
    assert lb.next_endpoint("c") == first  # renewed: the timeout counts from the last connection
    clock.now += 9
    assert lb.next_endpoint("c") == first
    clock.now += 11
    assert lb.next_endpoint("c") != first


def test_affinity_dropped_when_endpoint_goes_away() -> None:
    lb = LoadBalancer([A, B], session_affinity="ClientIP")
    first = lb.next_endpoint("c")
    remaining = B if first == A else A
    lb.update([remaining])
    assert lb.next_endpoint("c") == remaining
    lb.update([A, B])
    assert lb.next_endpoint("c") == remaining
