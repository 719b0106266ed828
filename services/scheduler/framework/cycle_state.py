"""Per-scheduling-cycle scratch space shared by the plugins (kube-scheduler's CycleState).

Guarantees: a fresh `CycleState` is made for every pod's cycle, so plugins may store what they
computed once in PreFilter/PreScore and read it for every node; `read` of a key never written
raises `KeyError`. It also carries the sets of plugins that returned Skip, so the framework does
not call them at Filter or Score.
"""

from __future__ import annotations

from typing import Any


class CycleState:
    __slots__ = ("_data", "skip_filter_plugins", "skip_score_plugins")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str) -> Any:
        return self._data[key]

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> CycleState:
        copy = CycleState()
        copy._data = dict(self._data)
        copy.skip_filter_plugins = set(self.skip_filter_plugins)
        copy.skip_score_plugins = set(self.skip_score_plugins)
        return copy
