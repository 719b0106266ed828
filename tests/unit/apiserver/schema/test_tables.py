"""Table output: kubectl's columns, pod STATUS as kubectl computes it, AGE formatting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.apiserver.registry import REGISTRY
from services.apiserver.tables import (
    format_endpoints,
    human_duration,
    pod_status,
    to_table,
    wants_table,
)

NOW = datetime(2026, 1, 10, 12, 0, 0, tzinfo=timezone.utc)


def ago(**kw) -> str:
    return (NOW - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("seconds,text", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (303, "5m3s"),
    (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 20 * 60, "3h20m"), (8 * 3600, "8h"),
    (47 * 3600, "47h"), (48 * 3600, "2d"), (53 * 3600, "2d5h"), (8 * 86400, "8d"), (400 * 86400, "400d"),
    (730 * 86400, "2y"), (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds, text) -> None:
    assert human_duration(seconds) == text


def cs(name="app", *, ready=False, restarts=0, running=False, waiting=None, terminated=None, last_finished=None):
    state = {}
    if running:
        state["running"] = {"startedAt": ago(minutes=1)}
    if waiting is not None:
        state["waiting"] = {"reason": waiting} if waiting else {}
    if terminated is not None:
        state["terminated"] = terminated
    status = {"name": name, "ready": ready, "restartCount": restarts, "state": state}
    if last_finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": last_finished}}
    return status


def pod(statuses=(), phase="Pending", containers=1, init=(), init_statuses=(), conditions=(), deleting=False,
        reason=None):
    p = {"metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(minutes=5)},
         "spec": {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)],
                  "initContainers": list(init)},
         "status": {"phase": phase, "containerStatuses": list(statuses), "initContainerStatuses": list(init_statuses),
                    "conditions": list(conditions)}}
    if deleting:
        p["metadata"]["deletionTimestamp"] = ago(seconds=1)
    if reason:
        p["status"]["reason"] = reason
    return p


READY = {"type": "Ready", "status": "True"}
INITIALIZED = {"type": "Initialized", "status": "True"}

POD_CASES = [
    ("pending, no statuses", pod(), ("0/1", "Pending", "0")),
    ("creating", pod([cs(waiting="ContainerCreating")]), ("0/1", "ContainerCreating", "0")),
    ("running", pod([cs(ready=True, running=True)], "Running"), ("1/1", "Running", "0")),
    ("running not ready", pod([cs(running=True)], "Running"), ("0/1", "Running", "0")),
    ("crashloop", pod([cs(waiting="CrashLoopBackOff", restarts=3, last_finished=ago(seconds=40))], "Running"),
     ("0/1", "CrashLoopBackOff", "3 (40s ago)")),
    ("image pull", pod([cs(waiting="ErrImagePull")]), ("0/1", "ErrImagePull", "0")),
    ("backoff", pod([cs(waiting="ImagePullBackOff")]), ("0/1", "ImagePullBackOff", "0")),
    ("completed", pod([cs(terminated={"exitCode": 0, "reason": "Completed"})], "Succeeded"), ("0/1", "Completed", "0")),
    ("error", pod([cs(terminated={"exitCode": 1, "reason": "Error"})], "Failed"), ("0/1", "Error", "0")),
    ("exit code", pod([cs(terminated={"exitCode": 3})], "Failed"), ("0/1", "ExitCode:3", "0")),
    ("signal", pod([cs(terminated={"exitCode": 137, "signal": 9})], "Failed"), ("0/1", "Signal:9", "0")),
    ("completed but one running, ready",
     pod([cs("a", terminated={"exitCode": 0, "reason": "Completed"}), cs("b", ready=True, running=True)], "Running",
         containers=2, conditions=[READY]), ("1/2", "Running", "0")),
    ("completed but one running, not ready",
     pod([cs("b", ready=True, running=True), cs("a", terminated={"exitCode": 0, "reason": "Completed"})], "Running",
         containers=2), ("1/2", "NotReady", "0")),
    ("terminating", pod([cs(ready=True, running=True)], "Running", deleting=True), ("1/1", "Terminating", "0")),
    ("terminated pod not terminating", pod([cs(terminated={"exitCode": 0, "reason": "Completed"})], "Succeeded",
                                           deleting=True), ("0/1", "Completed", "0")),
    ("node lost", pod([], "Running", deleting=True, reason="NodeLost"), ("0/1", "Unknown", "0")),
    ("evicted", pod([], "Failed", reason="Evicted"), ("0/1", "Evicted", "0")),
    ("init waiting", pod([cs(waiting="PodInitializing")], init=[{"name": "i1"}, {"name": "i2"}],
                         init_statuses=[cs("i1", terminated={"exitCode": 0}), cs("i2", running=True)]),
     ("0/1", "Init:1/2", "0")),
    ("init crashloop", pod([cs(waiting="PodInitializing")], init=[{"name": "i1"}],
                           init_statuses=[cs("i1", waiting="CrashLoopBackOff", restarts=2)]),
     ("0/1", "Init:CrashLoopBackOff", "2")),
    ("init error", pod([], init=[{"name": "i1"}], init_statuses=[cs("i1", terminated={"exitCode": 2, "reason": "Error"})]),
     ("0/1", "Init:Error", "0")),
    ("init exit code", pod([], init=[{"name": "i1"}], init_statuses=[cs("i1", terminated={"exitCode": 2})]),
     ("0/1", "Init:ExitCode:2", "0")),
    ("sidecar counts", pod([cs(ready=True, running=True)], "Running", init=[{"name": "s", "restartPolicy": "Always"}],
                           init_statuses=[dict(cs("s", ready=True, running=True), started=True)],
                           conditions=[INITIALIZED]), ("2/2", "Running", "0")),
    ("gated", pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]),
     ("0/1", "SchedulingGated", "0")),
]


@pytest.mark.parametrize("obj,expected", [c[1:] for c in POD_CASES], ids=[c[0] for c in POD_CASES])
def test_pod_status(obj, expected) -> None:
    assert pod_status(obj, NOW) == expected


def test_pod_table_shape_and_wide_cells() -> None:
    p = pod([cs(ready=True, running=True)], "Running")
    p["spec"]["nodeName"] = "node-1"
    p["status"]["podIP"] = "127.244.1.5"
    table = to_table(REGISTRY.lookup("pods"), [p], now=NOW, resource_version="42")
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert table["metadata"] == {"resourceVersion": "42"}
    cols = table["columnDefinitions"]
    assert [c["name"] for c in cols if c["priority"] == 0] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert [c["name"] for c in cols if c["priority"] == 1] == ["IP", "Node", "Nominated Node", "Readiness Gates"]
    (row,) = table["rows"]
    assert row["cells"] == ["web", "1/1", "Running", "0", "5m", "127.244.1.5", "node-1", "<none>", "<none>"]
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "web"
    assert "object" not in to_table(REGISTRY.lookup("pods"), [p], now=NOW, include_object="None")["rows"][0]


def test_succeeded_pod_row_condition() -> None:
    row = to_table(REGISTRY.lookup("pods"), [pod([], "Succeeded")], now=NOW)["rows"][0]
    assert row["conditions"][0]["type"] == "Completed"


def test_node_rows() -> None:
    node = {"metadata": {"name": "n1", "creationTimestamp": ago(days=2, hours=5),
                         "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "False"}],
                       "addresses": [{"type": "InternalIP", "address": "127.0.1.1"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.4-kubemu"}}}
    cells = to_table(REGISTRY.lookup("nodes"), [node], now=NOW)["rows"][0]["cells"]
    assert cells == ["n1", "NotReady,SchedulingDisabled", "control-plane,worker", "2d5h", "v1.32.4-kubemu",
                     "127.0.1.1", "<none>", "<unknown>", "<unknown>", "<unknown>"]
    bare = {"metadata": {"name": "n2"}}
    assert to_table(REGISTRY.lookup("nodes"), [bare], now=NOW)["rows"][0]["cells"][:4] == ["n2", "Unknown", "<none>", "<unknown>"]


def test_deployment_and_replicaset_rows() -> None:
    d = {"metadata": {"name": "web", "creationTimestamp": ago(hours=1)},
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"},
                                                       {"name": "log", "image": "busybox"}]}}},
         "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2, "replicas": 3}}
    cells = to_table(REGISTRY.lookup("deployments"), [d], now=NOW)["rows"][0]["cells"]
    assert cells == ["web", "2/3", 3, 2, "60m", "nginx,log", "nginx:1.25,busybox", "app=web"]
    rs_cells = to_table(REGISTRY.lookup("replicasets"), [d], now=NOW)["rows"][0]["cells"]
    assert rs_cells[:5] == ["web", 3, 3, 2, "60m"]
    empty = to_table(REGISTRY.lookup("deployments"), [{"metadata": {"name": "e"}}], now=NOW)["rows"][0]["cells"]
    assert empty[:4] == ["e", "0/0", 0, 0]


SERVICE_CASES = [
    ({"type": "ClusterIP", "clusterIP": "127.96.0.10", "clusterIPs": ["127.96.0.10"],
      "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": "web"}},
     ["ClusterIP", "127.96.0.10", "<none>", "80/TCP", "app=web"]),
    ({"type": "NodePort", "clusterIPs": ["127.96.0.11"],
      "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]},
     ["NodePort", "127.96.0.11", "<none>", "80:30080/TCP,53/UDP", "<none>"]),
    ({"type": "LoadBalancer", "clusterIPs": ["127.96.0.12"], "ports": []},
     ["LoadBalancer", "127.96.0.12", "<pending>", "<none>", "<none>"]),
    ({"type": "ExternalName", "externalName": "example.com"},
     ["ExternalName", "<none>", "example.com", "<none>", "<none>"]),
    ({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"], "externalIPs": ["1.2.3.4"]},
     ["ClusterIP", "None", "1.2.3.4", "<none>", "<none>"]),
]


@pytest.mark.parametrize("spec,expected", SERVICE_CASES)
def test_service_rows(spec, expected) -> None:
    svc = {"metadata": {"name": "s", "creationTimestamp": ago(seconds=30)}, "spec": spec}
    cells = to_table(REGISTRY.lookup("services"), [svc], now=NOW)["rows"][0]["cells"]
    assert [cells[1], cells[2], cells[3], cells[4], cells[6]] == expected
    assert cells[5] == "30s"


@pytest.mark.parametrize("subsets,text", [
    ([], "<none>"),
    ([{"addresses": [{"ip": "127.244.1.2"}], "ports": [{"port": 80}]}], "127.244.1.2:80"),
    ([{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(5)], "ports": [{"port": 80}]}],
     "10.0.0.0:80,10.0.0.1:80,10.0.0.2:80 + 2 more..."),
    ([{"addresses": [{"ip": "10.0.0.1"}]}], "10.0.0.1"),
])
def test_endpoints_format(subsets, text) -> None:
    assert format_endpoints({"subsets": subsets}) == text


def test_event_rows() -> None:
    ev = {"metadata": {"name": "web.123"}, "type": "Warning", "reason": "BackOff",
          "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
          "source": {"component": "kubelet", "host": "node-1"}, "message": "Back-off restarting failed container \n",
          "firstTimestamp": ago(minutes=10), "lastTimestamp": ago(seconds=20), "count": 7}
    table = to_table(REGISTRY.lookup("events"), [ev], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Last Seen", "Type", "Reason", "Object", "Message"]
    assert table["rows"][0]["cells"] == ["20s", "Warning", "BackOff", "pod/web", "spec.containers{app}",
                                         "kubelet, node-1", "Back-off restarting failed container", "10m", 7, "web.123"]
    new_api = {"metadata": {"name": "e"}, "eventTime": ago(seconds=5), "involvedObject": {"kind": "Node"},
               "reportingComponent": "c"}
    cells = to_table(REGISTRY.lookup("events"), [new_api], now=NOW)["rows"][0]["cells"]
    assert (cells[0], cells[3], cells[5], cells[8]) == ("5s", "node", "c", 1)


def test_other_rows() -> None:
    def cells(plural, obj):
        return to_table(REGISTRY.lookup(plural), [obj], now=NOW)["rows"][0]["cells"]
    meta = {"name": "x", "creationTimestamp": ago(seconds=3)}
    assert cells("namespaces", {"metadata": meta, "status": {"phase": "Active"}}) == ["x", "Active", "3s"]
    assert cells("configmaps", {"metadata": meta, "data": {"a": "1", "b": "2"}}) == ["x", 2, "3s"]
    assert cells("secrets", {"metadata": meta, "type": "Opaque", "data": {"a": "MQ=="}}) == ["x", "Opaque", 1, "3s"]
    assert cells("leases", {"metadata": meta, "spec": {"holderIdentity": "sched-1"}}) == ["x", "sched-1", "3s"]
    assert cells("serviceaccounts", {"metadata": meta}) == ["x", "0", "3s"]
    assert cells("endpointslices", {"metadata": meta, "addressType": "IPv4", "ports": [{"port": 80}],
                                    "endpoints": [{"addresses": ["127.244.1.2"]}]}) == ["x", "IPv4", "80", "127.244.1.2", "3s"]


def test_wants_table() -> None:
    kubectl = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
               "application/json")
    assert wants_table(kubectl)
    assert not wants_table("application/json")
    assert not wants_table(None)


def test_single_object_for_watch_events() -> None:
    obj = {"metadata": {"name": "x", "creationTimestamp": ago(seconds=3)}}
    table = to_table(REGISTRY.lookup("configmaps"), obj, now=NOW, headers=False)
    assert table["columnDefinitions"] == [] and table["rows"][0]["cells"] == ["x", 0, "3s"]
