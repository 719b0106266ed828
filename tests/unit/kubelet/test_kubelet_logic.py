"""The kubelet's pure logic on plain dicts: pod status and phase, admission, QoS, backoff, env, flags."""

from __future__ import annotations

import argparse

import pytest

from services.kubelet import admission, envs, status
from services.kubelet.__main__ import config_from_args, default_node_ip, duration, parse_args, taints
from services.kubelet.backoff import Backoff
from services.kubelet.runtime.cri import ContainerMetadata, ContainerState, ContainerStatus, ImageRef
from services.kubelet.status import ContainerView

NOW = "2026-01-01T00:00:10Z"
IMAGE = ImageRef("docker.io/library/nginx:latest", "docker.io/library/nginx@sha256:abc")


def pod(restart_policy: str = "Always", *, containers: int = 1, inits: int = 0, conditions=None, phase=None) -> dict:
    return {"metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"restartPolicy": restart_policy,
                     "containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)],
                     "initContainers": [{"name": f"i{i}", "image": "busybox"} for i in range(inits)]},
            "status": {"conditions": conditions or [], **({"phase": phase} if phase else {})}}


def cs(name: str, state: ContainerState, exit_code: int = 0, attempt: int = 0, cid: str = "abc") -> ContainerStatus:
    return ContainerStatus(cid, "sb", ContainerMetadata(name, attempt), state, 1_700_000_000_000_000_000, IMAGE,
                           started_at=1_700_000_001_000_000_000,
                           finished_at=1_700_000_002_000_000_000 if state is ContainerState.EXITED else 0,
                           exit_code=exit_code)


def view(name: str, state: ContainerState | None, exit_code: int = 0, *, ready: bool = True, previous=None,
         waiting=None, restarts: int = 0) -> ContainerView:
    cur = cs(name, state, exit_code, restarts) if state else None
    return ContainerView(name, "nginx", cur, previous, restart_count=restarts, waiting=waiting, ready=ready,
                         started=True)


RUN, EXIT = ContainerState.RUNNING, ContainerState.EXITED


@pytest.mark.parametrize("policy, views, expected", [
    ("Always", [view("c0", None)], "Pending"),
    ("Always", [view("c0", RUN)], "Running"),
    ("Always", [view("c0", EXIT, 1)], "Running"),  # will be restarted
    ("OnFailure", [view("c0", EXIT, 0)], "Succeeded"),
    ("OnFailure", [view("c0", EXIT, 1)], "Running"),
    ("Never", [view("c0", EXIT, 0)], "Succeeded"),
    ("Never", [view("c0", EXIT, 2)], "Failed"),
    ("Never", [view("c0", EXIT, 0), view("c1", RUN)], "Running"),
    ("Never", [view("c0", EXIT, 0), view("c1", EXIT, 1)], "Failed"),
    ("Always", [view("c0", RUN), view("c1", None)], "Pending"),
])
def test_phase_as_kubelet_get_phase(policy, views, expected) -> None:
    assert status.phase(pod(policy, containers=len(views)), [], views) == expected


def test_phase_with_init_containers() -> None:
    p = pod("Never", inits=1)
    assert status.phase(p, [view("i0", RUN)], [view("c0", None)]) == "Pending"
    assert status.phase(p, [view("i0", EXIT, 1)], [view("c0", None)]) == "Failed"
    assert status.phase(pod("Always", inits=1), [view("i0", EXIT, 1)], [view("c0", None)]) == "Pending"
    assert status.phase(p, [view("i0", EXIT, 0)], [view("c0", RUN)]) == "Running"


def test_a_terminal_phase_never_changes_and_terminating_pods_end_by_exit_codes() -> None:
    assert status.phase(pod("Always", phase="Failed"), [], [view("c0", RUN)]) == "Failed"
    assert status.phase(pod("Always"), [], [view("c0", EXIT, 0)], terminating=True) == "Succeeded"
    assert status.phase(pod("Always"), [], [view("c0", EXIT, 137)], terminating=True) == "Failed"


def test_waiting_crashloop_shows_the_exited_container_as_last_state() -> None:
    v = view("c0", EXIT, 3, waiting=("CrashLoopBackOff", "back-off 10s restarting failed container=c0 pod=web"),
             restarts=2)
    out = status.container_status(v)
    assert out["state"] == {"waiting": {"reason": "CrashLoopBackOff",
                                        "message": "back-off 10s restarting failed container=c0 pod=web"}}
    assert out["lastState"]["terminated"]["exitCode"] == 3 and out["lastState"]["terminated"]["reason"] == "Error"
    assert out["restartCount"] == 2 and out["ready"] is False and out["containerID"] == "kubemu://abc"


def test_running_container_status_fields() -> None:
    out = status.container_status(view("c0", RUN, previous=cs("c0", EXIT, 1, cid="old"), restarts=1))
    assert out["state"] == {"running": {"startedAt": "2023-11-14T22:13:21Z"}}
    assert out["lastState"]["terminated"]["containerID"] == "kubemu://old"
    assert (out["ready"], out["started"], out["image"], out["imageID"]) == (
        True, True, "docker.io/library/nginx:latest", "docker.io/library/nginx@sha256:abc")


def test_never_started_container_is_waiting_container_creating_with_spec_image() -> None:
    out = status.container_status(view("c0", None))
    assert out["state"] == {"waiting": {"reason": "ContainerCreating"}} and out["image"] == "nginx"
    assert "containerID" not in out and out["imageID"] == ""


def test_conditions_keep_transition_times_and_name_unready_containers() -> None:
    old = [{"type": "Ready", "status": "False", "lastTransitionTime": "2026-01-01T00:00:00Z"}]
    conds = {c["type"]: c for c in status.conditions(pod(conditions=old), [], [view("c0", RUN, ready=False)],
                                                     sandbox_ready=True, pod_phase="Running", now=NOW)}
    assert conds["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert conds["Ready"]["reason"] == "ContainersNotReady"
    assert conds["ContainersReady"]["message"] == "containers with unready status: [c0]"
    assert conds["PodScheduled"]["status"] == "True" and conds["Initialized"]["status"] == "True"
    conds = {c["type"]: c for c in status.conditions(pod(conditions=old), [], [view("c0", RUN)],
                                                     sandbox_ready=True, pod_phase="Running", now=NOW)}
    assert conds["Ready"] == {"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": NOW}


def test_readiness_gates_hold_ready_back() -> None:
    p = pod()
    p["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    conds = {c["type"]: c for c in status.conditions(p, [], [view("c0", RUN)], sandbox_ready=True,
                                                     pod_phase="Running", now=NOW)}
    assert conds["ContainersReady"]["status"] == "True" and conds["Ready"]["status"] == "False"
    assert conds["Ready"]["reason"] == "ReadinessGatesNotReady"


def test_succeeded_pod_conditions_say_pod_completed() -> None:
    conds = {c["type"]: c for c in status.conditions(pod("Never"), [], [view("c0", EXIT, 0)],
                                                     sandbox_ready=False, pod_phase="Succeeded", now=NOW)}
    assert conds["Ready"]["reason"] == conds["ContainersReady"]["reason"] == "PodCompleted"
    assert conds["PodReadyToStartContainers"]["status"] == "False"


def test_initialized_false_names_incomplete_init_containers() -> None:
    conds = {c["type"]: c for c in status.conditions(pod(inits=2), [view("i0", EXIT, 0), view("i1", RUN)],
                                                     [view("c0", None)], sandbox_ready=True, pod_phase="Pending",
                                                     now=NOW)}
    assert conds["Initialized"]["message"] == "containers with incomplete status: [i1]"


def node(cpu: str = "2", memory: str = "1Gi", labels=None) -> dict:
    return {"metadata": {"labels": labels or {}}, "status": {"allocatable": {"cpu": cpu, "memory": memory,
                                                                             "pods": "110"}}}


def req(cpu: str | None = None, memory: str | None = None, host_port: int | None = None, limits=None) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    c = {"name": "c", "resources": {"requests": requests, **({"limits": limits} if limits else {})}}
    if host_port:
        c["ports"] = [{"containerPort": 80, "hostPort": host_port}]
    return {"metadata": {"name": "p"}, "spec": {"containers": [c]}}


@pytest.mark.parametrize("new, active, max_pods, verdict", [
    (req("1"), [req("500m")], 110, None),
    (req("2"), [req("500m")], 110, ("OutOfcpu", "Node didn't have enough resource: cpu, requested: 2000, "
                                                "used: 500, capacity: 2000")),
    (req(memory="1Gi"), [req(memory="1Mi")], 110, ("OutOfmemory", "Node didn't have enough resource: memory, "
                                                                  "requested: 1073741824, used: 1048576, "
                                                                  "capacity: 1073741824")),
    (req(), [req(), req()], 2, ("OutOfpods", "Node didn't have enough resource: pods, requested: 1, used: 2, "
                                             "capacity: 2")),
    (req(host_port=8080), [req(host_port=8080)], 110,
     ("NodePorts", "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports")),
    (req(host_port=8080), [req(host_port=8081)], 110, None),
])
def test_admission(new, active, max_pods, verdict) -> None:
    assert admission.admit(new, node(), active, max_pods) == verdict


def test_admission_checks_node_selector_and_init_container_requests() -> None:
    p = req()
    p["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert admission.admit(p, node(labels={"disk": "hdd"}), [], 110)[0] == "NodeAffinity"
    assert admission.admit(p, node(labels={"disk": "ssd"}), [], 110) is None
    p = req("100m")
    p["spec"]["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": "3"}}}]
    assert admission.pod_requests(p)["cpu"] == 3000


@pytest.mark.parametrize("resources, qos", [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}, "Burstable"),
])
def test_qos_class(resources, qos) -> None:
    assert admission.qos_class({"spec": {"containers": [{"name": "c", "resources": resources}]}}) == qos


def test_backoff_doubles_caps_and_resets_after_a_long_quiet_time() -> None:
    b = Backoff(10, 40)
    assert not b.in_backoff_since("k", 100.0, now=100.0)  # the first failure is not delayed
    assert [b.next("k", t) for t in (100.0, 111.0, 132.0, 173.0, 214.0)] == [10, 20, 40, 40, 40]
    assert b.in_backoff_since("k", 214.0, now=250.0) and not b.in_backoff_since("k", 214.0, now=255.0)
    assert b.remaining("k", 214.0, now=250.0) == pytest.approx(4.0)
    assert b.next("k", 214.0 + 81) == 10  # more than 2 x cap since the last failure: start over
    b.forget("k")
    assert b.get("k") == 0.0


async def test_env_expansion_field_refs_and_config_sources() -> None:
    p = {"metadata": {"name": "web", "namespace": "team", "uid": "u1", "labels": {"app": "x"}},
         "spec": {"nodeName": "node-1", "containers": []}}
    c = {"name": "c", "resources": {"limits": {"memory": "64Mi"}},
         "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
         "env": [{"name": "A", "value": "a"}, {"name": "B", "value": "$(A)-$(MISSING)-$$(A)"},
                 {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                 {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                 {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                 {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                 {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
         "command": ["echo", "$(NAME)"], "args": ["$(B)"]}

    async def lookup(kind: str, namespace: str, name: str):
        assert namespace == "team"
        return {"configmap": {"x": "1"}, "secret": {"k": "secret"}}[kind]

    env = await envs.container_env(p, c, pod_ip="10.0.0.5", host_ip="127.0.1.1", lookup=lookup,
                                   allocatable={"cpu": "4"})
    assert env["B"] == "a-$(MISSING)-$(A)" and env["NAME"] == "web" and env["APP"] == "x"
    assert (env["IP"], env["POD_IP"], env["CM_x"], env["MEM"], env["CPU"], env["KEY"]) == (
        "10.0.0.5", "10.0.0.5", "1", "64", "4", "secret")
    assert envs.command_line(c, env) == (["echo", "web"], ["a-$(MISSING)-$(A)"])


async def test_a_missing_config_map_is_a_create_container_config_error() -> None:
    async def lookup(kind, namespace, name):
        return None

    c = {"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]}
    p = {"metadata": {"name": "p", "namespace": "default"}, "spec": {}}
    with pytest.raises(envs.ConfigError, match='configmap "cfg" not found'):
        await envs.container_env(p, c, pod_ip="", host_ip="", lookup=lookup)
    c["env"][0]["valueFrom"]["configMapKeyRef"]["optional"] = True
    assert "X" not in await envs.container_env(p, c, pod_ip="", host_ip="", lookup=lookup)


@pytest.mark.parametrize("text, seconds", [("10", 10.0), ("10s", 10.0), ("500ms", 0.5), ("1m30s", 90.0),
                                           ("2h", 7200.0)])
def test_durations_read_like_go(text, seconds) -> None:
    assert duration(text) == seconds


def test_bad_duration_is_rejected() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration("10 minutes")


def test_flags_are_the_real_kubelets() -> None:
    args = parse_args(["--hostname-override", "node-7", "--max-pods", "20", "--crashloop-backoff-base", "1s",
                       "--register-with-taints", "dedicated=gpu:NoSchedule", "--node-labels", "a=b,c=d",
                       "--runtime", "fake", "--hollow-nodes", "3"])
    config = config_from_args(args)
    assert (config.node_name, config.node_ip, config.max_pods, config.crashloop_backoff_base) == (
        "node-7", "127.0.1.7", 20, 1.0)
    assert config.node_labels == {"a": "b", "c": "d"} and config.hollow_nodes == 3
    assert config.register_with_taints == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    assert taints("") == [] and default_node_ip("worker") == "127.0.1.1"
