"""Why a pod fits nowhere, worded exactly as kube-scheduler's FitError.

Guarantees: `str(FitError)` is "0/N nodes are available:" followed by the PreFilter message if a
PreFilter rejected the pod, otherwise by the histogram of the filters' reasons ("<count>
<reason>") sorted as strings (so "1 node(s) had untolerated taint {...}" sorts before
"2 Insufficient memory", and "10 ..." before "2 ..."), joined by ", " and ended with "."; nodes
no filter ran on because a PreFilter excluded them count under the absent-nodes status. A
PostFilter message is appended when there is one: with the default DefaultPreemption plugin, when
preemption cannot help, e.g. "... 2 Insufficient memory. preemption: 0/3 nodes are available: 1
Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.", as
kube-scheduler 1.32 words it; nothing is appended when preemption nominated a node.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from services.scheduler.framework.status import Status

NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"


@dataclass
class Diagnosis:
    node_to_status: dict[str, Status] = field(default_factory=dict)
    absent_nodes_status: Status | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""

    def add_plugin_status(self, status: Status) -> None:
        if status.plugin and status.is_rejected():
            self.unschedulable_plugins.add(status.plugin)


class FitError(Exception):
    def __init__(self, pod_key: str, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__(pod_key)
        self.pod_key = pod_key
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        message = NO_NODE_AVAILABLE_MSG.format(self.num_all_nodes) + ":"
        diagnosis = self.diagnosis
        if diagnosis.pre_filter_msg:
            message += f" {diagnosis.pre_filter_msg}."
        else:
            histogram = self._reasons_histogram()
            if histogram:
                message += f" {', '.join(histogram)}."
        if diagnosis.post_filter_msg:
            message += f" {diagnosis.post_filter_msg}"
        return message

    def _reasons_histogram(self) -> list[str]:
        reasons: Counter[str] = Counter()
        for status in self.diagnosis.node_to_status.values():
            reasons.update(status.reasons)
        absent = self.num_all_nodes - len(self.diagnosis.node_to_status)
        if absent > 0 and self.diagnosis.absent_nodes_status is not None:
            for reason in self.diagnosis.absent_nodes_status.reasons:
                reasons[reason] += absent
        return sorted(f"{count} {reason}" for reason, count in reasons.items())
