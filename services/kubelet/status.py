"""The pod status the kubelet reports, computed from the pod, its containers and its probes.

A pure function of its inputs (no I/O), so it is tested with plain dicts. Guarantees, following
kubelet's generateAPIPodStatus/getPhase:
- `phase`: Pending until every init container succeeded and every container has run at least
  once (a waiting container that never ran keeps the pod Pending); Running while a container runs
  or will be restarted; Succeeded when all containers exited 0 and none will restart; Failed when
  all exited, one non-zero, and none will restart (or an init container failed with restartPolicy
  Never). A terminating pod whose containers have all stopped ends Succeeded or Failed by their
  exit codes. A terminal phase never changes back.
- `conditions`: PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled, with
  Kubernetes' reasons/messages (ContainersNotReady "containers with unready status: [web]",
  ContainersNotInitialized, PodCompleted) and readiness gates; a condition's lastTransitionTime
  changes only when its status does.
- `containerStatuses`/`initContainerStatuses` in spec order: state waiting{reason, message} /
  running{startedAt} / terminated{exitCode, reason, message, startedAt, finishedAt, containerID},
  lastState, ready, started, restartCount, image, imageID, containerID `kubemu://<id>`.
- `ephemeralContainerStatuses`, one per spec.ephemeralContainers entry, in spec order, shaped the
  same but never ready, restartCount 0 and without `started` (the kubelet's prober sets that only
  for containers and init containers); waiting PodInitializing in a pod with init containers,
  else ContainerCreating, until it has run. They count for neither phase nor conditions.
- podIP/podIPs, hostIP/hostIPs, startTime, qosClass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from services.kubelet.runtime.cri import ContainerState, ContainerStatus

CONTAINER_ID_SCHEME = "kubemu"


def rfc3339(ns_or_seconds: float) -> str:
    seconds = ns_or_seconds / 1e9 if ns_or_seconds > 1e12 else ns_or_seconds
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass
class ContainerView:
    """What the pod worker knows about one container of the pod spec."""

    name: str
    image: str  # as the spec names it
    current: ContainerStatus | None = None  # the latest runtime container of this name
    previous: ContainerStatus | None = None  # the one before it (lastState)
    restart_count: int = 0
    waiting: tuple[str, str] | None = None  # (reason, message) set by the worker
    ready: bool = False
    started: bool = False
    sidecar: bool = False  # an init container with restartPolicy Always

    @property
    def running(self) -> bool:
        return self.current is not None and self.current.state is ContainerState.RUNNING

    @property
    def exited(self) -> bool:
        return self.current is not None and self.current.state is ContainerState.EXITED

    @property
    def has_run(self) -> bool:
        return self.exited or self.running or self.previous is not None


def terminated_state(c: ContainerStatus) -> dict[str, Any]:
    state = {"exitCode": c.exit_code, "reason": c.reason or ("Completed" if c.exit_code == 0 else "Error"),
             "startedAt": rfc3339(c.started_at) if c.started_at else None,
             "finishedAt": rfc3339(c.finished_at) if c.finished_at else None,
             "containerID": f"{CONTAINER_ID_SCHEME}://{c.id}"}
    if c.message:
        state["message"] = c.message
    return state


def _waiting(reason: str, message: str = "") -> dict[str, Any]:
    return {"waiting": {"reason": reason, **({"message": message} if message else {})}}


def container_status(v: ContainerView, *, default_waiting: str = "ContainerCreating") -> dict[str, Any]:
    cur = v.current
    last: dict[str, Any] = {}
    if v.waiting is not None and (cur is None or cur.state is not ContainerState.RUNNING):
        state = _waiting(*v.waiting)
        if cur is not None and cur.state is ContainerState.EXITED:
            last = {"terminated": terminated_state(cur)}
        elif v.previous is not None:
            last = {"terminated": terminated_state(v.previous)}
    else:
        if cur is None or cur.state is ContainerState.CREATED or cur.state is ContainerState.UNKNOWN:
            state = _waiting(default_waiting)
        elif cur.state is ContainerState.RUNNING:
            state = {"running": {"startedAt": rfc3339(cur.started_at)}}
        else:
            state = {"terminated": terminated_state(cur)}
        if v.previous is not None:
            last = {"terminated": terminated_state(v.previous)}
    out = {
        "name": v.name, "state": state, "lastState": last, "ready": v.ready and v.running,
        "restartCount": v.restart_count, "image": cur.image.image if cur else v.image,
        "imageID": cur.image.image_id if cur else "", "started": v.started and v.running,
    }
    if cur is not None:
        out["containerID"] = f"{CONTAINER_ID_SCHEME}://{cur.id}"
    return out


def ephemeral_container_status(v: ContainerView, *, has_init_containers: bool) -> dict[str, Any]:
    """As convertToAPIContainerStatuses for spec.ephemeralContainers: no probe ever sets started or ready."""
    out = container_status(v, default_waiting="PodInitializing" if has_init_containers else "ContainerCreating")
    del out["started"]
    out["ready"] = False
    return out


def _init_summary(views: list[ContainerView], restart_policy: str) -> tuple[bool, bool, list[str]]:
    """(all done, failed for good, names not done) for the init containers."""
    pending, failed = [], False
    for v in views:
        if v.exited and v.current.exit_code == 0 and not v.sidecar:
            continue
        if v.sidecar and (v.started and v.running or v.has_run):
            continue  # a sidecar is initialized once started; later restarts do not undo that
        pending.append(v.name)
        ended_badly = (v.exited and v.current.exit_code != 0) or (
            v.previous is not None and v.previous.exit_code != 0 and not v.running)
        if ended_badly and restart_policy == "Never":
            failed = True
    return not pending, failed, pending


def phase(pod: dict[str, Any], init: list[ContainerView], main: list[ContainerView], *,
          terminating: bool = False) -> str:
    old = (pod.get("status") or {}).get("phase")
    if old in ("Succeeded", "Failed"):
        return old
    policy = pod["spec"].get("restartPolicy", "Always")
    done, failed, _ = _init_summary(init, policy)
    if failed:
        return "Failed"
    if not done:
        return "Pending"
    running = sum(1 for v in main if v.running)
    waiting = sum(1 for v in main if not v.running and not v.exited and not v.has_run)
    stopped = sum(1 for v in main if v.exited or (not v.running and v.has_run))
    succeeded = sum(1 for v in main if v.exited and v.current.exit_code == 0)
    if terminating and running == 0 and waiting == 0:
        return "Succeeded" if stopped == succeeded else "Failed"
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def _condition(old: dict[str, dict], ctype: str, status: bool, now: str, reason: str = "",
               message: str = "") -> dict[str, Any]:
    value = "True" if status else "False"
    previous = old.get(ctype)
    since = previous.get("lastTransitionTime") if previous and previous.get("status") == value else now
    cond = {"type": ctype, "status": value, "lastProbeTime": None, "lastTransitionTime": since}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def conditions(pod: dict[str, Any], init: list[ContainerView], main: list[ContainerView], *,
               sandbox_ready: bool, pod_phase: str, now: str) -> list[dict[str, Any]]:
    old = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}
    policy = pod["spec"].get("restartPolicy", "Always")
    init_done, _, init_pending = _init_summary(init, policy)
    unready = [v.name for v in main if not (v.ready and v.running)]
    if pod_phase == "Succeeded":
        init_cond = _condition(old, "Initialized", True, now, "PodCompleted")
        cready = _condition(old, "ContainersReady", False, now, "PodCompleted")
        ready = _condition(old, "Ready", False, now, "PodCompleted")
    else:
        init_cond = (_condition(old, "Initialized", True, now) if init_done else _condition(
            old, "Initialized", False, now, "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(init_pending)}]"))
        reason, message = ("", "") if not unready else (
            "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]")
        cready = _condition(old, "ContainersReady", not unready, now, reason, message)
        gate = _gate_problem(pod, old)
        if not unready and gate:
            reason, message = "ReadinessGatesNotReady", gate
        ready = _condition(old, "Ready", not unready and not gate, now, reason, message)
    ready_to_start = _condition(old, "PodReadyToStartContainers", sandbox_ready, now)
    scheduled = _condition(old, "PodScheduled", True, now)
    kept = [c for t, c in old.items() if t not in _OURS]  # readiness-gate and others' conditions
    return [ready_to_start, init_cond, ready, cready, scheduled, *kept]


_OURS = {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"}


def _gate_problem(pod: dict[str, Any], old: dict[str, dict]) -> str:
    for gate in pod["spec"].get("readinessGates") or []:
        ctype = gate.get("conditionType", "")
        cond = old.get(ctype)
        if cond is None:
            return f'corresponding condition of pod readiness gate "{ctype}" does not exist.'
        if cond.get("status") != "True":
            return f'the status of pod readiness gate "{ctype}" is not "True", but {cond.get("status")}'
    return ""


def pod_status(pod: dict[str, Any], init: list[ContainerView], main: list[ContainerView], *, host_ip: str,
               pod_ip: str, sandbox_ready: bool, start_time: str, qos_class: str, terminating: bool = False,
               now: str | None = None, ephemeral: list[ContainerView] | None = None) -> dict[str, Any]:
    now = now or rfc3339(time.time())
    pod_phase = phase(pod, init, main, terminating=terminating)
    init_done = _init_summary(init, pod["spec"].get("restartPolicy", "Always"))[0]
    status: dict[str, Any] = {
        "phase": pod_phase,
        "conditions": conditions(pod, init, main, sandbox_ready=sandbox_ready, pod_phase=pod_phase, now=now),
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "startTime": start_time, "qosClass": qos_class,
        "containerStatuses": [container_status(v, default_waiting="ContainerCreating" if init_done
                                               else "PodInitializing") for v in main],
    }
    if pod_ip:
        status["podIP"], status["podIPs"] = pod_ip, [{"ip": pod_ip}]
    if init:
        status["initContainerStatuses"] = [container_status(v, default_waiting="PodInitializing") for v in init]
    if ephemeral:
        status["ephemeralContainerStatuses"] = [ephemeral_container_status(v, has_init_containers=bool(init))
                                                for v in ephemeral]
    return status


def rejected_status(pod: dict[str, Any], reason: str, message: str, *, host_ip: str, now: str) -> dict[str, Any]:
    """A pod the node's admission refused: Failed with the reason, as the kubelet's rejectPod."""
    return {"phase": "Failed", "reason": reason, "message": message, "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}], "startTime": (pod.get("status") or {}).get("startTime") or now}
