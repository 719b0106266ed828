"""Small builders of API objects for controller tests."""

from __future__ import annotations

import copy


def template(labels: dict | None = None, image: str = "nginx:1.25", ports: list | None = None) -> dict:
    container = {"name": "web", "image": image}
    if ports:
        container["ports"] = ports
    return {"metadata": {"labels": dict(labels or {"app": "web"})}, "spec": {"containers": [container]}}


def replicaset(name: str = "web", replicas: int = 3, *, ns: str = "default", labels: dict | None = None,
               owner: dict | None = None, min_ready: int = 0, status: dict | None = None,
               annotations: dict | None = None, created: str = "2026-01-01T11:00:00Z", tmpl: dict | None = None,
               generation: int = 1) -> dict:
    labels = labels or {"app": "web"}
    rs = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": dict(labels),
                     "resourceVersion": "10", "generation": generation, "creationTimestamp": created},
        "spec": {"replicas": replicas, "minReadySeconds": min_ready, "selector": {"matchLabels": dict(labels)},
                 "template": copy.deepcopy(tmpl) if tmpl else template(labels)},
        "status": status if status is not None else {"replicas": 0},
    }
    if owner is not None:
        rs["metadata"]["ownerReferences"] = [owner]
    if annotations:
        rs["metadata"]["annotations"] = dict(annotations)
    return rs


def owner_ref(obj: dict, kind: str, api_version: str = "apps/v1") -> dict:
    return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def pod(name: str, *, ns: str = "default", labels: dict | None = None, owner: dict | None = None,
        node: str | None = "node-1", phase: str = "Running", ready: bool = True, ip: str | None = "127.244.1.5",
        ready_since: str = "2026-01-01T11:00:00Z", created: str = "2026-01-01T11:00:00Z",
        deleting: bool = False, restarts: int = 0, ports: list | None = None) -> dict:
    p = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": dict(labels or {"app": "web"}),
                     "resourceVersion": "5", "creationTimestamp": created},
        "spec": {"containers": [{"name": "web", "image": "nginx", **({"ports": ports} if ports else {})}]},
        "status": {"phase": phase,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                   "lastTransitionTime": ready_since}],
                   "containerStatuses": [{"name": "web", "restartCount": restarts}]},
    }
    if node:
        p["spec"]["nodeName"] = node
    if ip:
        p["status"]["podIP"] = ip
    if owner is not None:
        p["metadata"]["ownerReferences"] = [owner]
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    return p


# --- Jobs (batch/v1), as the API server stores them after its defaults ---

JOB_TRACKING = "batch.kubernetes.io/job-tracking"


def job(name: str = "pi", *, ns: str = "default", completions: int | None = 1, parallelism: int = 1,
        backoff_limit: int = 6, restart_policy: str = "Never", mode: str = "NonIndexed", suspend: bool = False,
        deadline: int | None = None, ttl: int | None = None, status: dict | None = None, generation: int = 1,
        deleting: bool = False) -> dict:
    uid = f"uid-{name}"
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
    spec = {"parallelism": parallelism, "backoffLimit": backoff_limit, "completionMode": mode, "suspend": suspend,
            "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "template": {"metadata": {"labels": labels},
                         "spec": {"restartPolicy": restart_policy,
                                  "containers": [{"name": "pi", "image": "busybox",
                                                  "command": ["sh", "-c", "echo hi"]}]}}}
    if completions is not None:
        spec["completions"] = completions
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    j = {"apiVersion": "batch/v1", "kind": "Job",
         "metadata": {"name": name, "namespace": ns, "uid": uid, "labels": dict(labels), "resourceVersion": "10",
                      "generation": generation, "creationTimestamp": "2026-01-01T11:00:00Z"},
         "spec": spec, "status": status if status is not None else {}}
    if deleting:
        j["metadata"]["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    return j


def job_pod(owner: dict, name: str, *, phase: str = "Running", ready: bool | None = None, finalizer: bool = True,
            finished_at: str = "2026-01-01T11:59:00Z", index: int | None = None, restarts: int = 0,
            deleting: bool = False, created: str = "2026-01-01T11:00:00Z", node: str | None = "node-1") -> dict:
    """A pod of Job `owner`: its template's labels, its controller reference, the tracking finalizer;
    a finished pod's container has terminated at `finished_at`."""
    labels = dict(owner["spec"]["template"]["metadata"]["labels"])
    if index is not None:
        labels["batch.kubernetes.io/job-completion-index"] = str(index)
    p = pod(name, ns=owner["metadata"]["namespace"], labels=labels, owner=owner_ref(owner, "Job", "batch/v1"),
            phase=phase, ready=(phase == "Running") if ready is None else ready, restarts=restarts,
            deleting=deleting, created=created, node=node)
    if finalizer:
        p["metadata"]["finalizers"] = [JOB_TRACKING]
    if index is not None:
        p["metadata"]["annotations"] = {"batch.kubernetes.io/job-completion-index": str(index)}
    if phase in ("Succeeded", "Failed"):
        code = 0 if phase == "Succeeded" else 1
        p["status"]["containerStatuses"][0]["state"] = {"terminated": {"exitCode": code, "finishedAt": finished_at}}
    return p


def job_condition(ctype: str, reason: str = "", message: str = "", *, status: str = "True",
                  at: str = "2026-01-01T11:30:00Z") -> dict:
    cond = {"type": ctype, "status": status, "lastProbeTime": at, "lastTransitionTime": at}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond
