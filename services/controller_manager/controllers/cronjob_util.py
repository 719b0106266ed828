"""Schedule arithmetic and Jobs for the CronJob controller (k8s pkg/controller/cronjob/utils.go).

Guarantees: schedules are parsed as robfig/cron's `ParseStandard` parses them for Kubernetes (five
fields or a descriptor such as `@hourly`; croniter does the arithmetic; `@every 1h30m` runs every
so many whole seconds after the previous time, as its ConstantDelaySchedule) and evaluated in one time
zone; `Schedule.next(t)` is the first activation strictly after `t`, or None for a schedule that
never fires (robfig/cron's zero time). Times are aware datetimes. Only `remove_from_active`
changes its argument.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterBadDateError

from shared.durations import parse_go_duration

from services.controller_manager.objects import meta, name_of, new_controller_ref, parse_time

API_VERSION, KIND = "batch/v1", "CronJob"
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1  # seconds added to each requeue, so a clock a little behind still fires
MANY_MISSED = 100
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
EVERY = "@every "
_NEVER = "time difference between two schedules is less than 1 second"


class ScheduleError(ValueError):
    """A schedule that does not parse, or that never fires."""


class Missed(enum.Enum):
    NONE = "none"
    FEW = "few"
    MANY = "many"


class Schedule:
    """A CronJob's `spec.schedule` in a time zone (robfig/cron's `Schedule`)."""

    def __init__(self, expr: str, zone: tzinfo) -> None:
        self.delay: float | None = None  # `@every <duration>`: robfig/cron's ConstantDelaySchedule
        if expr.startswith(EVERY):
            try:
                delay = parse_go_duration(expr[len(EVERY):])
            except ValueError as exc:
                raise ScheduleError(f"failed to parse duration {expr}: {exc}") from None
            self.delay = float(max(int(delay), 1))  # whole seconds, at least one
        elif expr.startswith("@"):
            if expr.strip() not in _DESCRIPTORS:
                raise ScheduleError(f"unrecognized descriptor: {expr}")
        else:
            fields = expr.split()
            if len(fields) != 5:
                raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
            if not croniter.is_valid(expr):
                raise ScheduleError("unparseable schedule")
        self.expr, self.zone = expr.strip(), zone

    def next(self, t: datetime) -> datetime | None:
        if self.delay is not None:
            return t.replace(microsecond=0) + timedelta(seconds=self.delay)
        try:
            return croniter(self.expr, t.astimezone(self.zone)).get_next(datetime)
        except CroniterBadDateError:  # e.g. "0 0 31 2 *": no such day
            return None


def load_zone(name: str) -> tzinfo:
    """time.LoadLocation: "" is UTC; an unknown name raises ScheduleError."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ScheduleError(f"unknown time zone {name}") from err


def spec_of(cj: Mapping) -> Mapping:
    return cj.get("spec") or {}


def status_of(cj: Mapping) -> Mapping:
    return cj.get("status") or {}


def last_schedule_time(cj: Mapping) -> datetime | None:
    return parse_time(status_of(cj).get("lastScheduleTime"))


def most_recent_schedule_time(cj: Mapping, now: datetime, schedule: Schedule, *,
                              include_deadline: bool) -> tuple[datetime, datetime | None, Missed]:
    """mostRecentScheduleTime: (the last schedule or creation time, the latest activation between it
    and `now` or None, how many were missed). Raises ScheduleError for a schedule that never fires."""
    earliest = last_schedule_time(cj) or parse_time(meta(cj).get("creationTimestamp")) or now
    deadline = spec_of(cj).get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=deadline))  # nothing older is started
    t1 = schedule.next(earliest)
    t2 = schedule.next(t1) if t1 is not None else None
    if t1 is not None and now < t1:
        return earliest, None, Missed.NONE
    if t2 is not None and now < t2:
        return earliest, t1, Missed.NONE
    between = round((t2 - t1).total_seconds()) if t1 is not None and t2 is not None else 0
    if between < 1:
        raise ScheduleError(_NEVER)
    # count the missed activations roughly, then walk only the last one or two of them
    missed = int((now - t1).total_seconds()) // between + 1
    latest = None
    t = schedule.next(t1 + timedelta(seconds=(missed - 2) * between))
    while t is not None and t <= now:
        latest, t = t, schedule.next(t)
    return earliest, latest, Missed.MANY if missed > MANY_MISSED else Missed.FEW


def next_schedule_time(cj: Mapping, now: datetime, schedule: Schedule) -> tuple[datetime | None, Missed]:
    """nextScheduleTime: the unmet activation to start now (inside the starting deadline), if any."""
    _, latest, missed = most_recent_schedule_time(cj, now, schedule, include_deadline=True)
    if latest is None or latest > now:
        return None, missed
    return latest, missed


def next_schedule_delay(cj: Mapping, now: datetime, schedule: Schedule) -> float | None:
    """nextScheduleTimeDuration: seconds until the activation after the latest one (plus
    NEXT_SCHEDULE_DELTA); None when the schedule never fires again."""
    try:
        earliest, latest, missed = most_recent_schedule_time(cj, now, schedule, include_deadline=False)
    except ScheduleError:
        latest = now
    else:
        if latest is None:
            latest = earliest if missed is Missed.NONE else now
    upcoming = schedule.next(latest)
    if upcoming is None:
        return None
    return (upcoming - now).total_seconds() + NEXT_SCHEDULE_DELTA


def job_name(cj: Mapping, scheduled: datetime) -> str:
    """getJobName: the scheduled time in minutes since the epoch makes one name per run."""
    return f"{name_of(cj)}-{int(scheduled.timestamp()) // 60}"


def rfc3339(t: datetime) -> str:
    """Go's time.RFC3339 in t's own zone: `Z` for a zero offset, else `±hh:mm`."""
    offset = t.utcoffset() or timedelta(0)
    if not offset:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    sign, offset = ("-", -offset) if offset < timedelta(0) else ("+", offset)
    minutes = int(offset.total_seconds()) // 60
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def job_from_template(cj: Mapping, scheduled: datetime) -> dict:
    """getJobFromTemplate2: the template's labels, annotations and spec, the scheduled-timestamp
    annotation (in spec.timeZone, else UTC) and a controller reference to the CronJob."""
    template = spec_of(cj).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    zone = load_zone(spec_of(cj).get("timeZone") or "")
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = rfc3339(scheduled.astimezone(zone))
    job_meta: dict = {"name": job_name(cj, scheduled), "annotations": annotations,
                      "ownerReferences": [new_controller_ref(cj, api_version=API_VERSION, kind=KIND)]}
    if tmeta.get("labels"):
        job_meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


def finished_condition(job: Mapping) -> str | None:
    """jobutil.FinishedCondition: "Complete" or "Failed" once that condition is True."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return cond["type"]
    return None


def by_start_time(job: Mapping) -> tuple:
    """Sort key of byJobStartTime: oldest status.startTime first, Jobs not started last, then by name."""
    started = parse_time((job.get("status") or {}).get("startTime"))
    return started is None, started or datetime.min.replace(tzinfo=UTC), name_of(job)


def job_reference(job: Mapping) -> dict:
    """The ObjectReference status.active holds (ref.GetReference)."""
    m = meta(job)
    ref = {"kind": "Job", "namespace": m.get("namespace", ""), "name": m.get("name", ""),
           "uid": m.get("uid", ""), "apiVersion": "batch/v1", "resourceVersion": m.get("resourceVersion", "")}
    return {k: v for k, v in ref.items() if v}


def active_of(cj: Mapping) -> list[dict]:
    return list(status_of(cj).get("active") or [])


def in_active_list(cj: Mapping, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in active_of(cj))


def in_active_list_by_name(cj: Mapping, namespace: str, name: str) -> bool:
    return any(ref.get("name") == name and ref.get("namespace") == namespace for ref in active_of(cj))


def remove_from_active(cj: dict, uid: str) -> None:
    """deleteFromActiveList; an empty list is dropped, as `active` is omitempty."""
    status = cj.setdefault("status", {})
    kept = [ref for ref in active_of(cj) if ref.get("uid") != uid]
    if kept:
        status["active"] = kept
    else:
        status.pop("active", None)
