"""batch/v1 Jobs and CronJobs in the API server: the job strategy's defaults, generated selector, validation
(create, update, status), `kubectl get jobs` cells and the protobuf body `kubectl create job` sends."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from services.apiserver.defaults import apply_defaults, prepare_for_create, prepare_for_update
from services.apiserver.protobuf import decode as pb_decode
from services.apiserver.registry import REGISTRY
from services.apiserver.tables import job_status, to_table
from services.apiserver.validation import validate, validate_status
from tests.unit.apiserver.protowire import ld as _ld
from tests.unit.apiserver.protowire import vi as _vi

JOBS = REGISTRY.get("batch", "v1", "jobs")
UID = "0c51868c-0a4a-4384-8887-f7818e89fbf5"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def job(restart: str | None = "Never", **spec) -> dict:
    pod_spec: dict = {"containers": [{"name": "pi", "image": "busybox", "command": ["echo", "hi"]}]}
    if restart is not None:
        pod_spec["restartPolicy"] = restart
    obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default"},
           "spec": {"template": {"spec": pod_spec}, **spec}}
    return obj


def created(obj: dict) -> dict:
    """What the create path does before validation: uid, PrepareForCreate, defaults."""
    obj["metadata"]["uid"] = UID
    prepare_for_create(JOBS, obj)
    apply_defaults(JOBS, obj)
    return obj


def messages(causes) -> list[str]:
    return [c.error_text() for c in causes]


def test_defaults_and_generated_selector() -> None:
    obj = created(job(status={"active": 3}))
    spec = obj["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert (spec["completionMode"], spec["suspend"], spec["podReplacementPolicy"]) == (
        "NonIndexed", False, "TerminatingOrFailed")
    assert obj["status"] == {}  # PrepareForCreate resets status
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}}
    generated = {"batch.kubernetes.io/controller-uid": UID, "batch.kubernetes.io/job-name": "pi",
                 "controller-uid": UID, "job-name": "pi"}
    assert spec["template"]["metadata"]["labels"] == generated
    assert obj["metadata"]["labels"] == generated  # a Job without labels takes its template's
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 30  # the pod template is defaulted too
    assert validate(JOBS, obj) == []


def test_parallelism_alone_leaves_completions_unset() -> None:
    spec = created(job(parallelism=3))["spec"]
    assert spec.get("completions") is None and spec["parallelism"] == 3


def test_user_labels_are_kept_and_manual_selector_is_not_generated() -> None:
    obj = job()
    obj["metadata"]["labels"] = {"team": "a"}
    obj["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    obj = created(obj)
    assert obj["metadata"]["labels"] == {"team": "a"}
    assert obj["spec"]["template"]["metadata"]["labels"]["app"] == "pi"
    manual = job(manualSelector=True, selector={"matchLabels": {"app": "pi"}})
    manual["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    manual = created(manual)
    assert manual["spec"]["selector"] == {"matchLabels": {"app": "pi"}}
    assert manual["spec"]["template"]["metadata"]["labels"] == {"app": "pi"}
    assert validate(JOBS, manual) == []


@pytest.mark.parametrize("restart,expected", [
    (None, 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'),
    ("Always", 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'),
    ("Sometimes", 'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
                  '"OnFailure", "Never"'),
])
def test_restart_policy_must_be_on_failure_or_never(restart, expected) -> None:
    assert expected in messages(validate(JOBS, created(job(restart=restart))))


def test_counts_and_modes() -> None:
    obj = created(job(parallelism=-1, backoffLimit=-2, activeDeadlineSeconds=-3, ttlSecondsAfterFinished=-4))
    assert messages(validate(JOBS, obj)) == [
        "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
        "spec.activeDeadlineSeconds: Invalid value: -3: must be greater than or equal to 0",
        "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
        "spec.ttlSecondsAfterFinished: Invalid value: -4: must be greater than or equal to 0",
    ]
    indexed = created(job(completionMode="Indexed", parallelism=2))
    assert messages(validate(JOBS, indexed)) == ["spec.completions: Required value: when completion mode is Indexed"]
    odd = created(job(completionMode="Sometimes"))
    assert messages(validate(JOBS, odd)) == [
        'spec.completionMode: Unsupported value: "Sometimes": supported values: "Indexed", "NonIndexed"']


def test_hand_written_selector_is_not_auto_generated() -> None:
    obj = created(job(selector={"matchLabels": {"a": "b"}}))
    found = messages(validate(JOBS, obj))
    assert any(m.startswith("spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{")
               and m.endswith("`selector` not auto-generated") for m in found), found
    assert any(m.endswith("`selector` does not match template `labels`") for m in found), found


def test_template_label_that_contradicts_the_uid() -> None:
    obj = job()
    obj["spec"]["template"]["metadata"] = {"labels": {"controller-uid": "someone-else"}}
    found = messages(validate(JOBS, created(obj)))
    assert "spec.template.metadata.labels[controller-uid]: Invalid value: \"someone-else\": must be " \
           f"'{UID}'" in found


def _update(old: dict, change) -> list[str]:
    new = copy.deepcopy(old)
    change(new["spec"])
    prepare_for_update(JOBS, new, old)
    apply_defaults(JOBS, new)
    return messages(validate(JOBS, new, old))


def test_update_immutable_fields() -> None:
    old = created(job())
    assert _update(old, lambda s: s.update(parallelism=4, activeDeadlineSeconds=60, suspend=True)) == []
    assert _update(old, lambda s: s.update(completions=3)) == [
        "spec.completions: Invalid value: 3: field is immutable"]
    assert _update(old, lambda s: s["template"]["spec"]["containers"][0].update(image="alpine")) == [
        "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"]
    assert _update(old, lambda s: s["template"]["spec"].update(nodeSelector={"disk": "ssd"})) == [
        "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"]


def test_suspended_job_that_never_started_may_change_scheduling_directives() -> None:
    old = created(job(suspend=True))
    assert _update(old, lambda s: s["template"]["spec"].update(nodeSelector={"disk": "ssd"},
                                                                tolerations=[{"key": "k", "operator": "Exists"}])) == []
    assert _update(old, lambda s: s["template"]["spec"].update(activeDeadlineSeconds=5)) == [
        "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"]
    started = copy.deepcopy(old)
    started["status"] = {"startTime": "2026-01-01T00:00:00Z"}
    assert _update(started, lambda s: s["template"]["spec"].update(nodeSelector={"disk": "ssd"})) == [
        "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"]


def test_status_validation() -> None:
    obj = created(job())
    obj["status"] = {"active": -1, "uncountedTerminatedPods": {"succeeded": ["a", ""], "failed": ["a"]}}
    assert messages(validate_status(JOBS, obj, obj)) == [
        "status.active: Invalid value: -1: must be greater than or equal to 0",
        'status.uncountedTerminatedPods.succeeded[1]: Invalid value: "": must not be empty',
        'status.uncountedTerminatedPods.failed[0]: Duplicate value: "a"',
    ]


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("conditions,deleting,expected", [
    ([], False, "Running"),
    ([{"type": "Complete", "status": "True"}], True, "Complete"),
    ([{"type": "Failed", "status": "True"}], False, "Failed"),
    ([], True, "Terminating"),
    ([{"type": "Suspended", "status": "True"}], False, "Suspended"),
    ([{"type": "Suspended", "status": "False"}], False, "Running"),
    ([{"type": "FailureTarget", "status": "True"}], False, "FailureTarget"),
])
def test_job_status_column(conditions, deleting, expected) -> None:
    obj = job()
    obj["status"] = {"conditions": conditions}
    if deleting:
        obj["metadata"]["deletionTimestamp"] = _iso(NOW)
    assert job_status(obj) == expected


def test_job_rows() -> None:
    created_at = _iso(NOW - timedelta(minutes=5))
    done = created(job())
    done["metadata"]["creationTimestamp"] = created_at
    done["status"] = {"succeeded": 1, "startTime": _iso(NOW - timedelta(minutes=5)),
                      "completionTime": _iso(NOW - timedelta(minutes=4, seconds=53)),
                      "conditions": [{"type": "Complete", "status": "True"}]}
    running = created(job(parallelism=3))
    running["metadata"].update(name="work", creationTimestamp=created_at)
    running["status"] = {"startTime": _iso(NOW - timedelta(seconds=90))}
    pending = created(job(completions=5, parallelism=2))
    pending["metadata"].update(name="later", creationTimestamp=created_at)
    table = to_table(JOBS, [done, running, pending], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"]
    rows = [r["cells"][:5] for r in table["rows"]]
    assert rows == [["pi", "Complete", "1/1", "7s", "5m"],
                    ["work", "Running", "0/1 of 3", "90s", "5m"],
                    ["later", "Running", "0/5", "", "5m"]]
    assert table["rows"][0]["cells"][5:] == ["pi", "busybox", f"batch.kubernetes.io/controller-uid={UID}"]


# --- the protobuf body of `kubectl create job pi --image=busybox -- echo hi` -----------------------

def test_protobuf_job() -> None:
    container = _ld(1, b"pi") + _ld(2, b"busybox") + _ld(3, b"echo") + _ld(3, b"hi")
    pod_spec = _ld(2, container) + _ld(3, b"Never")
    spec = _vi(2, 0) + _vi(7, 2) + _ld(6, _ld(2, pod_spec)) + _vi(10, 1) + _ld(9, b"Indexed")
    body = b"k8s\x00" + _ld(1, _ld(1, b"batch/v1") + _ld(2, b"Job")) + _ld(2, _ld(1, _ld(1, b"pi")) + _ld(2, spec))
    assert pb_decode(body) == {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
        "spec": {"completions": 0, "backoffLimit": 2, "suspend": True, "completionMode": "Indexed",
                 "template": {"spec": {"containers": [{"name": "pi", "image": "busybox", "command": ["echo", "hi"]}],
                                       "restartPolicy": "Never"}}}}


# --- CronJobs -------------------------------------------------------------------------------------

CRONJOBS = REGISTRY.get("batch", "v1", "cronjobs")


def cronjob(schedule: str = "*/5 * * * *", restart: str | None = "OnFailure", **spec) -> dict:
    template = job(restart=restart)["spec"]
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick", "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": template}, **spec}}


def cron_created(obj: dict) -> dict:
    obj["metadata"]["uid"] = UID
    prepare_for_create(CRONJOBS, obj)
    apply_defaults(CRONJOBS, obj)
    return obj


def test_cronjob_defaults_leave_the_job_spec_to_job_creation() -> None:
    obj = cron_created(cronjob(status={"active": [{"name": "x"}]}))
    spec = obj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"], spec["successfulJobsHistoryLimit"],
            spec["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)
    assert obj["status"] == {}
    job_spec = spec["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec and "selector" not in job_spec  # SetDefaults_Job runs on the Job
    assert job_spec["template"]["spec"]["terminationGracePeriodSeconds"] == 30  # the pod template is defaulted
    assert validate(CRONJOBS, obj) == []


@pytest.mark.parametrize("schedule,message", [
    ("@hourly", None),
    ("0 3 * * 1-5", None),
    ("*/15 * * * *", None),
    ("* * *", 'spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]'),
    ("0 0 * * * *", 'spec.schedule: Invalid value: "0 0 * * * *": expected exactly 5 fields, found 6: [0 0 * * * *]'),
    ("@sometimes", 'spec.schedule: Invalid value: "@sometimes": unrecognized descriptor: @sometimes'),
    ("TZ=UTC 0 * * * *", 'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, '
                         'use timeZone field instead'),
])
def test_cronjob_schedule(schedule, message) -> None:
    found = messages(validate(CRONJOBS, cron_created(cronjob(schedule))))
    assert found == ([message] if message else [])


def test_cronjob_out_of_range_field_is_invalid() -> None:
    (found,) = messages(validate(CRONJOBS, cron_created(cronjob("61 * * * *"))))
    assert found.startswith('spec.schedule: Invalid value: "61 * * * *": ')


def test_cronjob_spec_rules() -> None:
    obj = cron_created(cronjob(concurrencyPolicy="Sometimes", timeZone="Mars/Olympus", startingDeadlineSeconds=-1,
                               successfulJobsHistoryLimit=-1))
    obj["metadata"]["name"] = "n" * 53
    assert messages(validate(CRONJOBS, obj)) == [
        f'metadata.name: Invalid value: "{"n" * 53}": must be no more than 52 characters',
        "spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
        "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
    ]
    assert validate(CRONJOBS, cron_created(cronjob(timeZone="Europe/Paris"))) == []


def test_cronjob_job_template_is_validated_as_a_job_spec() -> None:
    obj = cron_created(cronjob(restart="Always"))
    obj["spec"]["jobTemplate"]["spec"]["backoffLimit"] = -1
    obj["spec"]["jobTemplate"]["spec"]["manualSelector"] = True
    assert messages(validate(CRONJOBS, obj)) == [
        'spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"',
        "spec.jobTemplate.spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
        'spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
    ]


def test_cronjob_rows() -> None:
    obj = cron_created(cronjob(timeZone="Europe/Paris"))
    obj["metadata"]["creationTimestamp"] = _iso(NOW - timedelta(hours=3))
    obj["status"] = {"active": [{"name": "tick-1"}], "lastScheduleTime": _iso(NOW - timedelta(seconds=40))}
    never = cron_created(cronjob(suspend=True))
    never["metadata"].update(name="idle", creationTimestamp=_iso(NOW - timedelta(minutes=1)))
    table = to_table(CRONJOBS, [obj, never], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]][:7] == [
        "Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"]
    assert [r["cells"][:7] for r in table["rows"]] == [
        ["tick", "*/5 * * * *", "Europe/Paris", "False", 1, "40s", "3h"],
        ["idle", "*/5 * * * *", "<none>", "True", 0, "<none>", "60s"]]
    assert table["rows"][0]["cells"][7:9] == ["pi", "busybox"]


def test_protobuf_cronjob() -> None:
    pod_spec = _ld(2, _ld(1, b"c") + _ld(2, b"busybox")) + _ld(3, b"OnFailure")
    job_template = _ld(1, _ld(1, b"tick")) + _ld(2, _ld(6, _ld(2, pod_spec)))
    spec = _ld(1, b"*/1 * * * *") + _ld(5, job_template) + _ld(8, b"UTC") + _ld(3, b"Forbid")
    type_meta = _ld(1, b"batch/v1") + _ld(2, b"CronJob")
    body = b"k8s\x00" + _ld(1, type_meta) + _ld(2, _ld(1, _ld(1, b"tick")) + _ld(2, spec))
    assert pb_decode(body) == {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
        "spec": {"schedule": "*/1 * * * *", "timeZone": "UTC", "concurrencyPolicy": "Forbid",
                 "jobTemplate": {"metadata": {"name": "tick"}, "spec": {"template": {"spec": {
                     "containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}}


@pytest.mark.parametrize("schedule,message", [
    ("@every 1h30m", None),
    ("@every 90s", None),
    ("@every 1x", 'spec.schedule: Invalid value: "@every 1x": failed to parse duration @every 1x: time: unknown '
                  'unit "x" in duration "1x"'),
    ("@every 5", 'spec.schedule: Invalid value: "@every 5": failed to parse duration @every 5: time: missing unit '
                 'in duration "5"'),
])
def test_cronjob_every_schedules(schedule, message) -> None:
    found = messages(validate(CRONJOBS, cron_created(cronjob(schedule))))
    assert found == ([message] if message else [])
