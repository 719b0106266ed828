"""Jobs end to end: the Job controller against a real API server and a real kubelet whose process
runtime runs the pods' `sh -c ...` as real processes.

A Job that echoes completes (SuccessCriteriaMet, then Complete; succeeded 1; its pod Succeeded,
without the tracking finalizer, its log "hi"); a Job whose pod exits 1 with backoffLimit 1 fails
with BackoffLimitExceeded after two pods; a finished Job with ttlSecondsAfterFinished is deleted
with its pod. The pods name their node (no scheduler here) and the backoffs are short.
"""

from __future__ import annotations

from shared.client import NotFound
from shared.resources import EVENTS, JOBS, PODS

from tests.integration.controller_manager.conftest import eventually
from tests.integration.kubelet.conftest import start_kubelet  # noqa: F401 (the fixture)

TRACKING = "batch.kubernetes.io/job-tracking"
FAST = {"controllers": "job-controller,ttl-after-finished-controller,garbage-collector-controller",
        "job_sync_batch_period": 0.05, "job_pod_failure_backoff": 0.2, "job_pod_failure_backoff_max": 1.0}


def job_manifest(name: str, node: str, script: str, **spec) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "spec": {**spec, "template": {"spec": {
                "nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}]}}}}


def condition(job: dict, ctype: str) -> dict | None:
    return next((c for c in (job.get("status") or {}).get("conditions") or []
                 if c["type"] == ctype and c["status"] == "True"), None)


async def job_pods(api, name: str) -> list[dict]:
    return (await api.list(PODS, namespace="default", label_selector=f"batch.kubernetes.io/job-name={name}"))["items"]


async def finished(api, name: str, ctype: str) -> dict:
    async def check() -> dict | None:
        job = await api.get(JOBS, name, namespace="default")
        return job if condition(job, ctype) else None

    return await eventually(check, timeout=30, what=f"Job {name} {ctype}")


async def event_reasons(api, name: str) -> list[str]:
    events = (await api.list(EVENTS, namespace="default",
                             field_selector=f"involvedObject.kind=Job,involvedObject.name={name}"))["items"]
    return [e["reason"] for e in events]


async def test_a_job_runs_its_pod_to_completion(api_client, controller_manager, start_kubelet):  # noqa: F811
    kubelet = await start_kubelet()
    await controller_manager(**FAST)
    await api_client.create(JOBS, job_manifest("hello", kubelet.config.node_name, "echo hi"))

    job = await finished(api_client, "hello", "Complete")
    status = job["status"]
    assert status["succeeded"] == 1
    assert status.get("failed", 0) == 0
    assert status["uncountedTerminatedPods"] == {}
    met, complete = condition(job, "SuccessCriteriaMet"), condition(job, "Complete")
    assert (met["reason"], met["message"]) == ("CompletionsReached", "Reached expected number of succeeded pods")
    assert (complete["reason"], complete["message"]) == (met["reason"], met["message"])
    assert status["completionTime"] == complete["lastTransitionTime"]
    assert status["startTime"] <= status["completionTime"]

    [pod] = await job_pods(api_client, "hello")
    assert pod["status"]["phase"] == "Succeeded"
    assert TRACKING not in (pod["metadata"].get("finalizers") or [])
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    log = await api_client.get(PODS, pod["metadata"]["name"], namespace="default", subresource="log")
    assert log.strip() == "hi"
    reasons = await eventually(lambda: _reasons_include(api_client, "hello", {"SuccessfulCreate", "Completed"}),
                               what="SuccessfulCreate and Completed events")
    assert "BackoffLimitExceeded" not in reasons


async def _reasons_include(api, name: str, wanted: set[str]) -> list[str] | None:
    reasons = await event_reasons(api, name)
    return reasons if wanted <= set(reasons) else None


async def test_a_failing_job_stops_at_its_backoff_limit(api_client, controller_manager, start_kubelet):  # noqa: F811
    kubelet = await start_kubelet()
    await controller_manager(**FAST)
    await api_client.create(JOBS, job_manifest("broken", kubelet.config.node_name, "exit 1", backoffLimit=1))

    job = await finished(api_client, "broken", "Failed")
    failed = condition(job, "Failed")
    assert (failed["reason"], failed["message"]) == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert condition(job, "FailureTarget")["reason"] == "BackoffLimitExceeded"
    assert condition(job, "Complete") is None
    assert job["status"]["failed"] == 2  # the first pod and its one replacement
    assert job["status"].get("succeeded", 0) == 0
    assert "completionTime" not in job["status"]

    pods = await job_pods(api_client, "broken")
    assert [p["status"]["phase"] for p in pods] == ["Failed", "Failed"]
    assert all(TRACKING not in (p["metadata"].get("finalizers") or []) for p in pods)
    await eventually(lambda: _reasons_include(api_client, "broken", {"SuccessfulCreate", "BackoffLimitExceeded"}),
                     what="the BackoffLimitExceeded event")


async def test_a_finished_job_goes_after_its_ttl(api_client, controller_manager, start_kubelet):  # noqa: F811
    kubelet = await start_kubelet()
    await controller_manager(**FAST)
    await api_client.create(JOBS, job_manifest("brief", kubelet.config.node_name, "true", ttlSecondsAfterFinished=1))

    async def gone() -> bool:
        try:
            await api_client.get(JOBS, "brief", namespace="default")
        except NotFound:
            return not await job_pods(api_client, "brief")
        return False

    await eventually(gone, timeout=30, what="the Job and its pod deleted after the TTL")
    await eventually(lambda: _reasons_include(api_client, "brief", {"Completed"}),
                     what="the Completed event (events outlive the Job)")


async def test_an_indexed_job_gives_each_pod_its_index(api_client, controller_manager, start_kubelet):  # noqa: F811
    kubelet = await start_kubelet()
    await controller_manager(**FAST)
    await api_client.create(JOBS, job_manifest("sharded", kubelet.config.node_name, 'echo "$JOB_COMPLETION_INDEX"',
                                               completionMode="Indexed", completions=3, parallelism=3))
    job = await finished(api_client, "sharded", "Complete")
    assert (job["status"]["completedIndexes"], job["status"]["succeeded"]) == ("0-2", 3)
    for pod in await job_pods(api_client, "sharded"):
        index = pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert pod["metadata"]["name"].startswith(f"sharded-{index}-")
        assert pod["spec"]["hostname"] == f"sharded-{index}"
        log = await api_client.get(PODS, pod["metadata"]["name"], namespace="default", subresource="log")
        assert log.strip() == index


async def test_deleting_a_running_job_lets_its_pods_go(api_client, controller_manager, start_kubelet):  # noqa: F811
    kubelet = await start_kubelet()
    await controller_manager(**FAST)
    await api_client.create(JOBS, job_manifest("endless", kubelet.config.node_name, "sleep 60"))

    async def running() -> bool:
        pods = await job_pods(api_client, "endless")
        return bool(pods) and pods[0]["status"].get("phase") == "Running"

    await eventually(running, what="the Job's pod running")
    await api_client.delete(JOBS, "endless", namespace="default", propagation_policy="Background")

    async def pods_gone() -> bool:  # the garbage collector deletes the pod; its finalizer must go too
        return not await job_pods(api_client, "endless")

    await eventually(pods_gone, timeout=30, what="the deleted Job's pod gone (tracking finalizer removed)")
