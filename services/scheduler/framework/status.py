"""The result of running a plugin, as kube-scheduler's framework.Status.

Guarantees: plugins return `None` for success (like Go's nil *Status) or a `Status` with a code
and reasons; `is_success(None)` is True. `Status.message()` joins the reasons with ", ", and each
reason counts separately in the "0/N nodes are available" histogram. The framework records which
plugin failed in `status.plugin`.
"""

from __future__ import annotations

import enum


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2  # the pod might fit after preemption or after something changes
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3  # nothing short of a change to the node or the pod helps
    WAIT = 4
    SKIP = 5  # from PreFilter/PreScore: the plugin has nothing to do for this pod this cycle
    PENDING = 6

    def __str__(self) -> str:
        return _NAMES[self]


_NAMES = {
    Code.SUCCESS: "Success", Code.ERROR: "Error", Code.UNSCHEDULABLE: "Unschedulable",
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE: "UnschedulableAndUnresolvable", Code.WAIT: "Wait",
    Code.SKIP: "Skip", Code.PENDING: "Pending",
}


class Status:
    __slots__ = ("code", "reasons", "plugin", "error")

    def __init__(self, code: Code, *reasons: str, plugin: str = "", error: BaseException | None = None) -> None:
        self.code = code
        self.reasons = list(reasons)
        self.plugin = plugin
        self.error = error

    @classmethod
    def as_error(cls, error: BaseException, *, plugin: str = "") -> Status:
        return cls(Code.ERROR, str(error), plugin=plugin, error=error)

    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def is_skip(self) -> bool:
        return self.code == Code.SKIP

    def message(self) -> str:
        return ", ".join(self.reasons)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Status):
            return NotImplemented
        return (self.code, self.reasons) == (other.code, other.reasons)

    def __repr__(self) -> str:
        plugin = f", plugin={self.plugin!r}" if self.plugin else ""
        return f"Status({self.code}, {self.reasons!r}{plugin})"


def is_success(status: Status | None) -> bool:
    return status is None or status.code == Code.SUCCESS


def code_of(status: Status | None) -> Code:
    return Code.SUCCESS if status is None else status.code
