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
