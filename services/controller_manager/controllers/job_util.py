"""What the Job controller computes without the API (k8s pkg/controller/job: job_controller.go's
helpers, backoff_utils.go, indexed_job_utils.go, tracking_utils.go, and controller.ActivePods).

Guarantees: nothing here mutates its arguments (the condition helpers return new lists);
conditions are shaped as batch/v1 JobCondition (type, status, lastProbeTime, lastTransitionTime,
reason, message); completed indexes are written as kube-controller-manager writes them
("0-2,4", and "1,2" for two neighbours).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cmp_to_key

from services.controller_manager.objects import (
    TERMINAL_PHASES,
    controller_ref,
    format_time,
    get_condition,
    is_being_deleted,
    is_pod_ready,
    meta,
    parse_time,
    pod_ready_condition,
    uid_of,
)

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX_KEY = "batch.kubernetes.io/job-completion-index"  # the annotation, and the label
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"  # spec.managedBy of the Jobs this controller syncs
MAX_GENERATED_NAME_LENGTH = 58  # 63 minus the 5 random characters generateName appends
UNKNOWN_INDEX = -1

# condition types and reasons (batch/v1)
COMPLETE, FAILED, SUSPENDED = "Complete", "Failed", "Suspended"
FAILURE_TARGET, SUCCESS_CRITERIA_MET = "FailureTarget", "SuccessCriteriaMet"
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")


# --- the Job's spec, with the API server's defaults for what it left out ---

def spec_of(job: Mapping) -> Mapping:
    return job.get("spec") or {}


def parallelism(job: Mapping) -> int:
    value = spec_of(job).get("parallelism")
    return 1 if value is None else int(value)


def completions(job: Mapping) -> int | None:
    value = spec_of(job).get("completions")
    return None if value is None else int(value)


def backoff_limit(job: Mapping) -> int:
    value = spec_of(job).get("backoffLimit")
    return 6 if value is None else int(value)


def is_suspended(job: Mapping) -> bool:
    return bool(spec_of(job).get("suspend"))


def is_indexed(job: Mapping) -> bool:
    return spec_of(job).get("completionMode") == "Indexed"


def completion_mode(job: Mapping) -> str:
    return spec_of(job).get("completionMode") or "NonIndexed"


def managed_by_other(job: Mapping) -> str | None:
    """spec.managedBy naming another controller: this one leaves the Job alone."""
    name = spec_of(job).get("managedBy")
    return name if name and name != JOB_CONTROLLER_NAME else None


def only_replace_failed_pods(job: Mapping) -> bool:
    """podReplacementPolicy Failed: a replacement waits until the pod being deleted is gone."""
    return spec_of(job).get("podReplacementPolicy") == "Failed"


def restart_policy(job: Mapping) -> str:
    return ((spec_of(job).get("template") or {}).get("spec") or {}).get("restartPolicy") or "Always"


# --- conditions ---

def new_condition(ctype: str, status: str, reason: str, message: str, now: datetime) -> dict:
    stamp = format_time(now)
    cond = {"type": ctype, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def true_condition(job: Mapping, ctype: str) -> dict | None:
    cond = get_condition((job.get("status") or {}).get("conditions"), ctype)
    return cond if cond is not None and cond.get("status") == "True" else None


def is_finished(job: Mapping) -> bool:
    """jobutil.IsJobFinished: a Complete or Failed condition that is True."""
    return true_condition(job, COMPLETE) is not None or true_condition(job, FAILED) is not None


def finished_condition_of(job: Mapping) -> dict | None:
    return true_condition(job, COMPLETE) or true_condition(job, FAILED)


def ensure_condition(conditions: list[dict], ctype: str, status: str, reason: str, message: str,
                     now: datetime) -> tuple[list[dict], bool]:
    """ensureJobConditionStatus: replace a differing condition of `ctype`, or append it unless it
    would be a new False one (nothing to False says nothing). Returns (conditions, changed)."""
    existing = get_condition(conditions, ctype)
    if existing is not None:
        if (existing.get("status"), existing.get("reason", ""), existing.get("message", "")) == (status, reason, message):
            return conditions, False
        fresh = new_condition(ctype, status, reason, message, now)
        return [fresh if c is existing else c for c in conditions], True
    if status == "False":
        return conditions, False
    return [*conditions, new_condition(ctype, status, reason, message, now)], True


# --- pods ---

def has_tracking_finalizer(pod: Mapping) -> bool:
    return TRACKING_FINALIZER in (meta(pod).get("finalizers") or [])


def is_pod_failed(pod: Mapping, job: Mapping) -> bool:
    """Failed, or (unless only failed pods are replaced) being deleted without having succeeded:
    a pod deleted before it could reach Failed still counts as a failure."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        return True
    if only_replace_failed_pods(job):
        return False
    return is_being_deleted(pod) and phase != "Succeeded"


def is_terminating(pod: Mapping) -> bool:
    """controller.IsPodTerminating: being deleted, not yet Succeeded or Failed."""
    return is_being_deleted(pod) and (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES


def is_controlled_by(pod: Mapping, job: Mapping) -> bool:
    return (controller_ref(pod) or {}).get("uid") == uid_of(job)


def restart_count(pod: Mapping) -> int:
    status = pod.get("status") or {}
    return sum(int(s.get("restartCount") or 0)
               for s in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []))


def past_backoff_limit_on_failure(job: Mapping, pods: Iterable[Mapping]) -> bool:
    """restartPolicy OnFailure: the kubelet restarts failing containers in place, so their restarts
    (in pods still Pending or Running) count toward backoffLimit."""
    if restart_policy(job) != "OnFailure":
        return False
    restarts = sum(restart_count(p) for p in pods if (p.get("status") or {}).get("phase") in ("Pending", "Running"))
    limit = backoff_limit(job)
    return restarts > 0 if limit == 0 else restarts >= limit


_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def _after_or_zero(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is None
    return a > b


def _max_restarts(pod: Mapping) -> int:
    return max((int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or []),
               default=0)


def _less_useful(a: Mapping, b: Mapping) -> bool:
    """controller.ActivePods.Less: should `a` be deleted before `b`?"""
    node_a, node_b = (a.get("spec") or {}).get("nodeName") or "", (b.get("spec") or {}).get("nodeName") or ""
    if node_a != node_b and (not node_a or not node_b):
        return not node_a  # unscheduled first
    phase_a = _PHASE_ORDINAL.get((a.get("status") or {}).get("phase") or "", 0)
    phase_b = _PHASE_ORDINAL.get((b.get("status") or {}).get("phase") or "", 0)
    if phase_a != phase_b:
        return phase_a < phase_b  # Pending < Unknown < Running
    if is_pod_ready(a) != is_pod_ready(b):
        return not is_pod_ready(a)
    if is_pod_ready(a) and is_pod_ready(b):
        ready_a = parse_time(pod_ready_condition(a).get("lastTransitionTime"))
        ready_b = parse_time(pod_ready_condition(b).get("lastTransitionTime"))
        if ready_a != ready_b:
            return _after_or_zero(ready_a, ready_b)  # ready for less time first
    if _max_restarts(a) != _max_restarts(b):
        return _max_restarts(a) > _max_restarts(b)
    created_a, created_b = parse_time(meta(a).get("creationTimestamp")), parse_time(meta(b).get("creationTimestamp"))
    if created_a != created_b:
        return _after_or_zero(created_a, created_b)  # newest first
    return False


def sort_for_removal(pods: Iterable[Mapping]) -> list:
    return sorted(pods, key=cmp_to_key(lambda a, b: -1 if _less_useful(a, b) else (1 if _less_useful(b, a) else 0)))


def active_pods_for_removal(job: Mapping, pods: list[Mapping], at_least: int) -> list:
    """activePodsForRemoval: for an Indexed Job every pod without a valid index and all but one pod
    of a repeated index; then the least useful pods until there are `at_least`."""
    remove: list = []
    left: list = list(pods)
    if is_indexed(job):
        remove, left = duplicated_index_pods(pods, completions(job) or 0)
    if len(remove) < at_least:
        remove += sort_for_removal(left)[:at_least - len(remove)]
    return remove


# --- finish times and the pod failure backoff (backoff_utils.go) ---

def _container_finish_time(pod: Mapping) -> datetime | None:
    latest = None
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        finished = parse_time(((status.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if finished is None:
            return None  # a container has not finished
        latest = finished if latest is None or finished > latest else latest
    return latest


def finished_time(pod: Mapping) -> datetime | None:
    """getFinishedTime: the last container's finishedAt, else when Ready turned False, else the
    deletion time minus its grace period, else the pod's creation."""
    if (finished := _container_finish_time(pod)) is not None:
        return finished
    ready = pod_ready_condition(pod)
    if ready is not None and ready.get("status") == "False" and parse_time(ready.get("lastTransitionTime")):
        return parse_time(ready.get("lastTransitionTime"))
    deleted = parse_time(meta(pod).get("deletionTimestamp"))
    if deleted is not None:
        return deleted - timedelta(seconds=int(meta(pod).get("deletionGracePeriodSeconds") or 0))
    return parse_time(meta(pod).get("creationTimestamp"))


@dataclass(frozen=True)
class BackoffRecord:
    """Failures since the last success, and when the last one happened (per Job, in memory)."""

    failures_after_last_success: int = 0
    last_failure_time: datetime | None = None

    def remaining(self, now: datetime, base: float, cap: float) -> float:
        """Seconds until a replacement pod may be created: base * 2**(failures-1), at most `cap`,
        counted from the last failure."""
        if self.failures_after_last_success == 0 or self.last_failure_time is None:
            return 0.0
        delay = min(base * 2 ** min(self.failures_after_last_success - 1, 64), cap)
        return max(0.0, delay - (now - self.last_failure_time).total_seconds())


def _by_finish(pods: Iterable[Mapping]) -> list[datetime]:
    return sorted(t for t in (finished_time(p) for p in pods) if t is not None)


def next_backoff_record(old: BackoffRecord, succeeded: list[Mapping], failed: list[Mapping]) -> BackoffRecord:
    """newBackoffRecord: count the newly failed pods; a new success resets the count to the
    failures that finished after it."""
    failed_times = _by_finish(failed)
    if not succeeded:
        if not failed:
            return old
        return BackoffRecord(old.failures_after_last_success + len(failed), failed_times[-1] if failed_times else None)
    success_times = _by_finish(succeeded)
    last_success = success_times[-1] if success_times else None
    after = [t for t in failed_times if last_success is None or t > last_success]
    return BackoffRecord(len(after), after[-1] if after else None)


# --- completion indexes (indexed_job_utils.go) ---

def completion_index(pod: Mapping) -> int:
    value = (meta(pod).get("annotations") or {}).get(COMPLETION_INDEX_KEY)
    try:
        index = int(value)
    except (TypeError, ValueError):
        return UNKNOWN_INDEX
    return index if index >= 0 else UNKNOWN_INDEX


def has_valid_index(pod: Mapping, total: int) -> bool:
    """The pod's completion index is known and below completions."""
    return 0 <= completion_index(pod) < total


Intervals = list[tuple[int, int]]  # ordered, disjoint, not adjacent: [(first, last), ...]


def with_indexes(intervals: Intervals, indexes: Iterable[int]) -> Intervals:
    """The intervals with `indexes` added, merged."""
    points = sorted(set(indexes))
    out: list[list[int]] = []
    for first, last in sorted([*intervals, *((i, i) for i in points)]):
        if out and first <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return [(a, b) for a, b in out]


def intervals_total(intervals: Intervals) -> int:
    return sum(last - first + 1 for first, last in intervals)


def intervals_has(intervals: Intervals, index: int) -> bool:
    return any(first <= index <= last for first, last in intervals)


def format_intervals(intervals: Intervals) -> str:
    parts = []
    for first, last in intervals:
        if last == first:
            parts.append(str(first))
        else:
            parts.append(f"{first}{',' if last == first + 1 else '-'}{last}")
    return ",".join(parts)


def parse_intervals(text: str | None, completions_: int) -> Intervals:
    """succeededIndexesFromString: corrupt pieces are skipped, indexes >= completions dropped."""
    out: Intervals = []
    for piece in (text or "").split(","):
        if not piece:
            continue
        bounds = piece.split("-")
        try:
            first = int(bounds[0])
            last = int(bounds[1]) if len(bounds) > 1 else first
        except ValueError:
            continue
        if first >= completions_:
            break
        out = with_indexes(out, range(first, min(last, completions_ - 1) + 1))
    return out


def succeeded_indexes(job: Mapping, pods: Iterable[Mapping]) -> tuple[Intervals, Intervals]:
    """calculateSucceededIndexes: (those in status.completedIndexes, those plus the indexes of
    succeeded pods not yet counted)."""
    total = completions(job) or 0
    previous = parse_intervals((job.get("status") or {}).get("completedIndexes"), total)
    new = [completion_index(p) for p in pods
           if (p.get("status") or {}).get("phase") == "Succeeded" and has_tracking_finalizer(p)
           and has_valid_index(p, total)]
    return previous, with_indexes(previous, new)


def first_pending_indexes(active: Iterable[Mapping], succeeded: Intervals, count: int, total: int) -> list[int]:
    """The `count` lowest indexes below `total` that neither succeeded nor have an active pod."""
    taken = with_indexes(succeeded, [i for i in (completion_index(p) for p in active) if i != UNKNOWN_INDEX])
    out: list[int] = []
    candidate = 0
    for first, last in [*taken, (total, total)]:  # bounded by the intervals and `count`, not by `total`
        while candidate < min(first, total) and len(out) < count:
            out.append(candidate)
            candidate += 1
        candidate = max(candidate, last + 1)
    return out


def duplicated_index_pods(pods: list[Mapping], total: int) -> tuple[list, list]:
    """(to remove, to keep): pods without an index or with one >= completions are removed, and of
    several pods with one index all but the most useful one."""
    remove: list = []
    keep: list = []
    by_index: dict[int, list] = {}
    for pod in pods:
        index = completion_index(pod)
        if index == UNKNOWN_INDEX or index >= total:
            remove.append(pod)
        else:
            by_index.setdefault(index, []).append(pod)
    for index in sorted(by_index):
        ranked = sort_for_removal(by_index[index])
        remove += ranked[:-1]
        keep.append(ranked[-1])
    return remove, keep


def generate_name_with_index(job_name: str, index: int) -> str:
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[:MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    return prefix


def with_completion_index_env(template: Mapping) -> dict:
    """A copy of the pod template whose containers get JOB_COMPLETION_INDEX from the index label."""
    out = copy.deepcopy(dict(template))
    spec = out.setdefault("spec", {})
    env_var = {"name": COMPLETION_INDEX_ENV,
               "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{COMPLETION_INDEX_KEY}']"}}}
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        env = container.setdefault("env", [])
        if not any(v.get("name") == COMPLETION_INDEX_ENV for v in env):
            env.append(copy.deepcopy(env_var))
    return out
