"""Controller expectations (k8s pkg/controller/controller_utils.go), so a controller never acts twice.

A controller that creates or deletes pods records how many adds/deletes it expects to observe
through its informer; until they are observed (or expire after 5 minutes), `satisfied(key)` is
False and the controller must not create or delete again — its cache is known to be stale.
Deletions are tracked by pod key (UIDTrackingControllerExpectations), so a pod deleted by someone
else is not mistaken for one of ours.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

EXPECTATIONS_TIMEOUT = 5 * 60.0


@dataclass
class _Expectation:
    add: int = 0
    delete: int = 0
    timestamp: float = 0.0
    delete_keys: set[str] = field(default_factory=set)

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0


class Expectations:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._store: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        exp = self._store.get(key)
        if exp is None:
            return True  # never set (new controller or restart): sync
        return exp.fulfilled() or self._clock() - exp.timestamp > EXPECTATIONS_TIMEOUT

    def expect(self, key: str, creations: int = 0, deletions: Iterable[str] = ()) -> None:
        """SetExpectations: `creations` adds and the deletion of each pod key in `deletions`."""
        keys = set(deletions)
        self._store[key] = _Expectation(add=creations, delete=len(keys), timestamp=self._clock(), delete_keys=keys)

    def expect_creations(self, key: str, count: int) -> None:
        self.expect(key, creations=count)

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        self.expect(key, deletions=pod_keys)

    def creation_observed(self, key: str) -> None:
        exp = self._store.get(key)
        if exp is not None:
            exp.add -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        exp = self._store.get(key)
        if exp is not None and pod_key in exp.delete_keys:
            exp.delete_keys.discard(pod_key)
            exp.delete -= 1

    def delete(self, key: str) -> None:
        self._store.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        exp = self._store.get(key)
        return (exp.add, exp.delete) if exp else (0, 0)
