"""One pod worker per pod: drives the pod's sandbox and containers to its spec, and reports status.

As kubelet's podWorkers + syncPod/syncTerminatingPod. Guarantees:
- Syncs of one pod never overlap; an update arriving during a sync causes one more sync after it.
  Each sync is level-triggered: it looks at the pod (from the informer) and at the runtime's
  containers, and does what is missing, so a restarted kubelet picks up where it was.
- First sight: admission (resources, pods, host ports, nodeSelector); a rejected pod is reported
  Failed with the reason and never run.
- Running: a sandbox (the pod IP, hostPorts), then init containers one at a time in order, each
  to exit 0 (a sidecar, restartPolicy Always, only to have started), then the containers in spec
  order, each with its env, volumes, memory limit and postStart hook. Image pulls follow
  imagePullPolicy, with ErrImagePull then ImagePullBackOff; exited containers restart per
  restartPolicy with CrashLoopBackOff (doubling, capped, reset after a long run). A failed liveness
  probe, a failed postStart hook or a changed container definition kills the container to be
  restarted. activeDeadlineSeconds ends the pod Failed/DeadlineExceeded. A pod that reached
  Succeeded/Failed is never run again.
- Ephemeral containers (`kubectl debug`, added to spec.ephemeralContainers of a running pod) start
  once each, before the init containers, with events naming `spec.ephemeralContainers{name}`; they
  are never restarted, have no probes, and count for neither the pod's phase nor its Ready
  condition; they are reported in status.ephemeralContainerStatuses and stopped with the pod.
- Deleting (deletionTimestamp): every running container runs its preStop hook, gets its stop
  signal and, after the grace period (at least `minimum_grace_period`), SIGKILL; the sandbox stops; the final status is
  reported; then the pod is deleted for good (grace 0, precondition uid), and its sandbox removed.
- A pod gone from the API altogether is killed and cleaned up the same way.
- Status is PATCHed when it differs from the last one sent or from the API's copy (the node
  lifecycle controller may have marked the pod NotReady), not when the informer is only behind.
- Each step is one log line (`pod.admitted`, `container.started`, `container.exited`, ...) and,
  where Kubernetes has one, one Event (Pulling, Pulled, Created, Started, Killing, BackOff, Failed).
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import dataclasses
import hashlib
import time
from typing import TYPE_CHECKING, Any

import orjson

from shared.client import ApiError, Conflict, NotFound
from shared.logging import get_logger
from shared.resources import PODS
from services.kubelet import admission, envs, logs, metrics, quantity, volumes
from services.kubelet import status as podstatus
from services.kubelet.probes import ProbeTarget
from services.kubelet.runtime.cri import (
    LABEL_CONTAINER_NAME,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    ContainerConfig,
    ContainerMetadata,
    ContainerState,
    ContainerStatus,
    CRIError,
    ImagePullError,
    PodSandboxConfig,
    PodSandboxMetadata,
    PortMapping,
    SandboxState,
)
from services.kubelet.status import ContainerView

if TYPE_CHECKING:
    from services.kubelet.kubelet import Kubelet

log = get_logger()
RETRY_SECONDS = 2.0
POST_START_TIMEOUT = 30.0
LABEL_CONTAINER_HASH = "io.kubernetes.container.hash"
# Fields whose change does not need a new container (probes and resources are read live).
_UNHASHED = ("livenessProbe", "readinessProbe", "startupProbe", "resources", "lifecycle",
             "terminationMessagePath", "terminationMessagePolicy")
NORMAL, WARNING = "Normal", "Warning"


def is_sidecar(spec: dict[str, Any]) -> bool:
    """An init container with restartPolicy Always: a sidecar, running beside the containers."""
    return spec.get("restartPolicy") == "Always"


def pod_key(pod: dict[str, Any]) -> str:
    return f"{pod['metadata'].get('namespace', 'default')}/{pod['metadata']['name']}"


def pod_full_name(pod: dict[str, Any]) -> str:
    """`name_namespace(uid)`, as the kubelet names a pod in its messages."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta.get('namespace', 'default')}({meta.get('uid', '')})"


def is_terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pull_policy(container: dict[str, Any]) -> str:
    if container.get("imagePullPolicy"):
        return container["imagePullPolicy"]
    image = container.get("image", "")
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return "Always" if "@" not in image and tag in ("", "latest") else "IfNotPresent"


class PodWorker:
    def __init__(self, kubelet: Kubelet, uid: str, pod: dict[str, Any]) -> None:
        self.k = kubelet
        self.uid = uid
        self.pod: dict[str, Any] | None = pod
        self.key = pod_key(pod)
        self.name, self.namespace = pod["metadata"]["name"], pod["metadata"].get("namespace", "default")
        self.admitted: bool | None = None
        self.rejected: tuple[str, str] | None = None
        self.start_time = (pod.get("status") or {}).get("startTime") or ""
        self.sandbox_id = ""
        self.pod_ip = (pod.get("status") or {}).get("podIP", "")
        self.waiting: dict[str, tuple[str, str]] = {}
        self.restart_on_exit: set[str] = set()  # containers killed (liveness) to be restarted
        self.terminated = False
        self.ended = False  # reached Succeeded/Failed
        self.patched_rv = 0  # resourceVersion our last status write produced
        self.final_reason: tuple[str, str] | None = None  # (reason, message) of a pod the kubelet failed
        self.finished = False
        self.last_status: dict[str, Any] | None = None
        self.first_seen = time.monotonic()
        self.start_observed = False
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.task: asyncio.Task | None = None

    # --- the loop -------------------------------------------------------------------------------

    def start(self) -> None:
        self._wake.set()
        self.task = asyncio.create_task(self._run(), name=f"pod-worker-{self.key}")

    def update(self, pod: dict[str, Any] | None = None, *, gone: bool = False) -> None:
        if pod is not None:
            self.pod = pod
        if gone:
            self.pod = None
        self._wake.set()

    def wake_after(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        at = loop.time() + max(0.0, seconds)
        if self._timer is not None and self._timer_at <= at and not self._timer.cancelled():
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._wake.set()

    async def _run(self) -> None:
        while not self.finished:
            await self._wake.wait()
            self._wake.clear()
            started = time.monotonic()
            try:
                self.finished = await self.sync()
                metrics.POD_WORKER_DURATION.labels(operation="sync").observe(time.monotonic() - started)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one pod's failure must not stop its worker for good
                log.error("pod.sync_failed", key=self.key, error=str(exc), exc_info=exc)
                self.wake_after(RETRY_SECONDS)
                continue
            if not self.finished:
                self.wake_after(self.k.config.sync_frequency)
        if self._timer is not None:
            self._timer.cancel()
        self.k.worker_done(self)

    # --- one sync -------------------------------------------------------------------------------

    async def sync(self) -> bool:
        """Drive the pod one step towards its spec; True when this worker is finished with it."""
        pod = self.pod
        if pod is None:
            await self.terminate(self.k.config.minimum_grace_period)
            await self.cleanup()
            log.info("pod.removed", key=self.key, uid=self.uid)
            return True
        if self.admitted is None:
            self.admit(pod)
        if not self.sandbox_id:
            found = self.k.find_sandbox(self.uid)
            if found is not None:
                self.sandbox_id, self.pod_ip = found.id, found.ip
        if pod["metadata"].get("deletionTimestamp"):
            return await self.sync_deleting(pod)
        if self.rejected:
            await self.report(podstatus.rejected_status(pod, *self.rejected, host_ip=self.k.node_ip,
                                                        now=podstatus.rfc3339(time.time())))
            return False
        if self.terminated or self.ended or is_terminal(pod):
            await self.stop_sandbox()
            await self.report_status(pod)
            return False
        if self.deadline_exceeded(pod):
            message = "Pod was active on the node longer than the specified deadline"
            log.info("pod.deadline_exceeded", key=self.key, active_deadline_seconds=pod["spec"]["activeDeadlineSeconds"])
            self.k.event(pod, WARNING, "DeadlineExceeded", message)
            self.final_reason = ("DeadlineExceeded", message)
            await self.terminate(self.grace_period(pod))
            await self.report_status(pod)
            return False
        await self.sync_running(pod)
        status = await self.report_status(pod)
        if status and status["phase"] in ("Succeeded", "Failed"):
            self.ended = True  # never run again, even while the informer still shows the old phase
            await self.stop_sandbox()
        return False

    def admit(self, pod: dict[str, Any]) -> None:
        if self.k.find_sandbox(self.uid) or is_terminal(pod) or pod["metadata"].get("deletionTimestamp"):
            self.admitted = True  # it was running here before (a kubelet restart) or is over: no re-check
            return
        verdict = admission.admit(pod, self.k.node_object(), self.k.active_pods(exclude=self.uid),
                                  self.k.config.max_pods)
        if verdict is None:
            self.admitted = True
            self.start_time = self.start_time or podstatus.rfc3339(time.time())
            log.info("pod.admitted", key=self.key, uid=self.uid)
            return
        self.admitted, self.rejected = False, verdict
        log.info("pod.rejected", key=self.key, reason=verdict[0], message=verdict[1])
        self.k.event(pod, WARNING, verdict[0], verdict[1])

    async def sync_deleting(self, pod: dict[str, Any]) -> bool:
        await self.terminate(self.grace_period(pod))
        if not self.rejected:
            await self.report_status(pod, terminating=True)
        try:
            await self.k.client.delete(PODS, self.name, self.namespace, grace_period_seconds=0,
                                       preconditions={"uid": self.uid})
            log.info("pod.deleted", key=self.key, uid=self.uid)
        except (NotFound, Conflict):
            pass
        await self.cleanup()
        return True

    # --- running --------------------------------------------------------------------------------

    async def sync_running(self, pod: dict[str, Any]) -> None:
        if not await self.ensure_sandbox(pod):
            return
        by_name = self.containers_by_name()
        for spec in ephemeral_containers_to_start(pod, by_name):
            await self.start_container(pod, spec, attempt=0)
        if not await self.sync_init_containers(pod, by_name):
            return
        for spec in pod["spec"].get("containers", []):
            await self.sync_container(pod, spec, by_name.get(spec["name"], []), init=False)

    def containers_by_name(self) -> dict[str, list[ContainerStatus]]:
        out: dict[str, list[ContainerStatus]] = {}
        for c in self.k.runtime.list_containers(self.sandbox_id) if self.sandbox_id else []:
            out.setdefault(c.metadata.name, []).append(c)
        for cs in out.values():
            cs.sort(key=lambda c: c.metadata.attempt)
        return out

    async def ensure_sandbox(self, pod: dict[str, Any]) -> bool:
        if self.sandbox_id and self.k.runtime.pod_sandbox_status(self.sandbox_id).state is SandboxState.READY:
            return True
        found = self.k.find_sandbox(self.uid)
        if found is not None and found.state is SandboxState.READY:
            self.sandbox_id, self.pod_ip = found.id, found.ip
            return True
        return await self.create_sandbox(pod)

    async def create_sandbox(self, pod: dict[str, Any]) -> bool:
        spec = pod["spec"]
        meta = PodSandboxMetadata(self.name, self.namespace, self.uid)
        ports = [PortMapping(int(p["containerPort"]), p.get("protocol", "TCP"), int(p.get("hostPort") or 0),
                             p.get("hostIP", "")) for c in spec.get("containers", []) for p in c.get("ports") or []]
        config = PodSandboxConfig(
            meta, hostname=spec.get("hostname") or self.name, host_network=bool(spec.get("hostNetwork")),
            host_ip=self.k.node_ip, port_mappings=ports,
            log_directory=self.k.log_directory(self.namespace, self.name, self.uid),
            labels={LABEL_POD_UID: self.uid, LABEL_POD_NAME: self.name, LABEL_POD_NAMESPACE: self.namespace},
        )
        try:
            self.sandbox_id = await self.k.runtime.run_pod_sandbox(config)
        except CRIError as exc:
            message = f"Failed to create pod sandbox: {exc.message}"
            log.warning("sandbox.failed", key=self.key, message=message)
            self.k.event(pod, WARNING, "FailedCreatePodSandBox", message)
            self.wake_after(RETRY_SECONDS)
            return False
        self.pod_ip = self.k.runtime.pod_sandbox_status(self.sandbox_id).ip
        log.info("sandbox.created", key=self.key, sandbox=self.sandbox_id[:12], pod_ip=self.pod_ip)
        return True

    async def sync_init_containers(self, pod: dict[str, Any], by_name: dict[str, list[ContainerStatus]]) -> bool:
        """True when every init container has succeeded (the containers may start)."""
        policy = pod["spec"].get("restartPolicy", "Always")
        for spec in pod["spec"].get("initContainers") or []:
            history = by_name.get(spec["name"], [])
            latest = history[-1] if history else None
            if is_sidecar(spec):  # started, it lets the next one start; kept running (restarted) throughout
                await self.sync_container(pod, spec, history, init=True)
                latest = self.containers_by_name().get(spec["name"], [None])[-1]
                if latest is None or latest.state is not ContainerState.RUNNING or not self.k.probes.started(latest.id):
                    return False
                continue
            if latest is not None and latest.state is ContainerState.EXITED and latest.exit_code == 0:
                continue
            if latest is not None and latest.state is ContainerState.EXITED and policy == "Never":
                return False  # the pod has failed
            await self.sync_container(pod, spec, history, init=True)
            return False
        return True

    async def sync_container(self, pod: dict[str, Any], spec: dict[str, Any], history: list[ContainerStatus],
                             *, init: bool) -> None:
        latest = history[-1] if history else None
        if latest is None:
            await self.start_container(pod, spec, attempt=0)
        elif latest.state is ContainerState.RUNNING:
            if latest.id in self.restart_on_exit:
                return  # being killed; it restarts once it has exited
            if latest.labels.get(LABEL_CONTAINER_HASH, spec_hash(spec)) != spec_hash(spec):
                return await self.kill_for_restart(pod, spec, latest, "definition changed")
            self.k.probes.add(self.probe_target(spec, latest))
            if self.k.probes.liveness_failed(latest.id):
                await self.kill_for_restart(pod, spec, latest, "failed liveness probe")
        elif latest.state is ContainerState.CREATED:
            await self.start_created(pod, spec, latest)
        elif latest.state is ContainerState.EXITED:
            await self.maybe_restart(pod, spec, latest, init=init)

    def should_restart(self, pod: dict[str, Any], spec: dict[str, Any], latest: ContainerStatus, *,
                       init: bool) -> bool:
        if is_sidecar(spec):
            return True
        policy = pod["spec"].get("restartPolicy", "Always")
        if policy == "Never":
            return False
        if latest.id in self.restart_on_exit or policy == "Always":
            return not (init and latest.exit_code == 0)
        return latest.exit_code != 0

    async def maybe_restart(self, pod: dict[str, Any], spec: dict[str, Any], latest: ContainerStatus, *,
                            init: bool) -> None:
        self.k.probes.remove(latest.id)
        if not self.should_restart(pod, spec, latest, init=init):
            return
        key = f"{self.uid}/{spec['name']}"
        finished = latest.finished_at / 1e9
        backoff = self.k.crash_backoff
        if backoff.in_backoff_since(key, finished):
            delay = backoff.get(key)
            message = f"back-off {_duration(delay)} restarting failed container={spec['name']} pod={pod_full_name(pod)}"
            if self.waiting.get(spec["name"], ("",))[0] != "CrashLoopBackOff":
                log.info("container.backoff", key=self.key, container=spec["name"], delay_seconds=delay)
            self.waiting[spec["name"]] = ("CrashLoopBackOff", message)
            self.k.event(pod, WARNING, "BackOff",
                         f"Back-off restarting failed container {spec['name']} in pod {pod_full_name(pod)}",
                         field_path=field_path(pod, spec["name"]))
            self.wake_after(backoff.remaining(key, finished) + 0.01)
            return
        backoff.next(key, finished)
        self.restart_on_exit.discard(latest.id)
        await self.start_container(pod, spec, attempt=latest.metadata.attempt + 1)

    async def kill_for_restart(self, pod: dict[str, Any], spec: dict[str, Any], latest: ContainerStatus,
                               why: str) -> None:
        message = f"Container {spec['name']} {why}, will be restarted"
        log.info("container.killing", key=self.key, container=spec["name"], reason=why)
        self.k.event(pod, NORMAL, "Killing", message, field_path=field_path(pod, spec["name"]))
        self.restart_on_exit.add(latest.id)
        self.k.probes.remove(latest.id)
        grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        await self.stop_with_hooks(pod, spec, latest, max(float(grace), self.k.config.minimum_grace_period))
        self.wake_after(0)

    async def stop_with_hooks(self, pod: dict[str, Any] | None, spec: dict[str, Any] | None, c: ContainerStatus,
                              grace: float) -> None:
        """The preStop hook (its time counts against the grace period), then the stop signal and SIGKILL."""
        handler = ((spec or {}).get("lifecycle") or {}).get("preStop")
        started = time.monotonic()
        if handler and pod is not None:
            ok, message = await self.run_hook(handler, spec, c, grace)
            if not ok:
                log.info("container.prestop_failed", key=self.key, container=c.metadata.name, message=message[:200])
                self.k.event(pod, WARNING, "FailedPreStopHook", f"PreStopHook failed: {message}".strip(),
                             field_path=field_path(pod, spec["name"]))
        left = max(grace - (time.monotonic() - started), self.k.config.minimum_grace_period)
        await self.k.runtime.stop_container(c.id, left)

    async def run_hook(self, handler: dict[str, Any], spec: dict[str, Any], c: ContainerStatus,
                       timeout: float) -> tuple[bool, str]:
        if "sleep" in handler:
            await asyncio.sleep(min(float(handler["sleep"].get("seconds", 0)), timeout))
            return True, ""
        return await self.k.probes.probe({**handler, "timeoutSeconds": timeout}, self.probe_target(spec, c))

    # --- starting one container -----------------------------------------------------------------

    async def start_container(self, pod: dict[str, Any], spec: dict[str, Any], *, attempt: int) -> None:
        name, fp = spec["name"], field_path(pod, spec["name"])
        if not await self.ensure_image(pod, spec, fp):
            return
        try:
            env = await envs.container_env(pod, spec, pod_ip=self.pod_ip, host_ip=self.k.node_ip,
                                           lookup=self.k.lookup_config, allocatable=self.k.allocatable(),
                                           service_env=await self.k.service_env())
        except envs.ConfigError as exc:
            return self.fail(pod, name, fp, "CreateContainerConfigError", str(exc))
        command, args = envs.command_line(spec, env)
        try:
            paths = await volumes.prepare(pod, self.k.config.root_dir, lookup=self.k.lookup_config,
                                          pod_ip=self.pod_ip, host_ip=self.k.node_ip)
        except (volumes.MountError, envs.ConfigError, OSError) as exc:
            log.info("volume.mount_failed", key=self.key, container=name, message=str(exc))
            self.k.event(pod, WARNING, "FailedMount", str(exc))
            self.waiting[name] = ("ContainerCreating", "")
            self.wake_after(RETRY_SECONDS)
            return
        config = self.container_config(spec, attempt, env, command, args)
        config.mounts = volumes.container_mounts(spec, paths)
        limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
        config.memory_limit = quantity.memory_bytes(limit) if limit else None
        try:
            cid = await self.k.runtime.create_container(self.sandbox_id, config)
        except CRIError as exc:
            return self.fail(pod, name, fp, "CreateContainerError", exc.message)
        self.k.event(pod, NORMAL, "Created", f"Created container {name}", field_path=fp)
        await self.run_created(pod, spec, cid, attempt)

    async def start_created(self, pod: dict[str, Any], spec: dict[str, Any], c: ContainerStatus) -> None:
        await self.run_created(pod, spec, c.id, c.metadata.attempt)

    async def run_created(self, pod: dict[str, Any], spec: dict[str, Any], cid: str, attempt: int) -> None:
        name, fp = spec["name"], field_path(pod, spec["name"])
        try:
            await self.k.runtime.start_container(cid)
        except CRIError as exc:
            log.info("container.start_failed", key=self.key, container=name, message=exc.message)
            return self.fail(pod, name, fp, "RunContainerError", exc.message)
        self.waiting.pop(name, None)
        status = self.k.runtime.container_status(cid)
        log.info("container.started", key=self.key, container=name, container_id=cid[:12], attempt=attempt,
                 pid=status.pid or None)
        self.k.event(pod, NORMAL, "Started", f"Started container {name}", field_path=fp)
        metrics.STARTED_CONTAINERS.labels(node=self.k.config.node_name).inc()
        post_start = (spec.get("lifecycle") or {}).get("postStart")
        if post_start:
            ok, message = await self.run_hook(post_start, spec, status, POST_START_TIMEOUT)
            if not ok:
                log.info("container.poststart_failed", key=self.key, container=name, message=message[:200])
                self.k.event(pod, WARNING, "FailedPostStartHook", f"PostStartHook failed: {message}".strip(),
                             field_path=fp)
                return await self.kill_for_restart(pod, spec, status, "failed post-start hook")
        if status.warning:
            log.warning("container.warning", key=self.key, container=name, message=status.warning)
            self.k.event(pod, WARNING, "Failed", status.warning, field_path=fp)
        self.k.probes.add(self.probe_target(spec, status))
        self.gc_containers(name, attempt)

    def fail(self, pod: dict[str, Any], name: str, field_path: str, reason: str, message: str) -> None:
        metrics.STARTED_CONTAINER_ERRORS.labels(node=self.k.config.node_name, code=reason).inc()
        self.waiting[name] = (reason, message)
        self.k.event(pod, WARNING, "Failed", f"Error: {message}", field_path=field_path)
        self.wake_after(RETRY_SECONDS if reason != "RunContainerError" else 0.05)

    async def ensure_image(self, pod: dict[str, Any], spec: dict[str, Any], fp: str) -> bool:
        image, name = spec.get("image", ""), spec["name"]
        policy = pull_policy(spec)
        present = self.k.runtime.image_status(image)
        if policy == "Never" or (present is not None and policy == "IfNotPresent"):
            if present is None:
                message = f'Container image "{image}" is not present with pull policy of Never'
                self.waiting[name] = ("ErrImageNeverPull", message)
                self.k.event(pod, WARNING, "ErrImageNeverPull", message, field_path=fp)
                return False
            self.k.event(pod, NORMAL, "Pulled", f'Container image "{image}" already present on machine', field_path=fp)
            return True
        return await self.pull(pod, spec, fp)

    async def pull(self, pod: dict[str, Any], spec: dict[str, Any], fp: str) -> bool:
        image, name = spec.get("image", ""), spec["name"]
        key = f"{self.uid}_{image}"
        backoff = self.k.image_backoff
        if self.waiting.get(name, ("",))[0] in ("ErrImagePull", "ImagePullBackOff"):
            failed_at = self._pull_failed_at.get(key, 0.0)
            if backoff.in_backoff_since(key, failed_at):
                self.waiting[name] = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
                self.k.event(pod, NORMAL, "BackOff", f'Back-off pulling image "{image}"', field_path=fp)
                self.k.event(pod, WARNING, "Failed", "Error: ImagePullBackOff", field_path=fp)
                self.wake_after(backoff.remaining(key, failed_at) + 0.01)
                return False
        self.k.event(pod, NORMAL, "Pulling", f'Pulling image "{image}"', field_path=fp)
        started = time.monotonic()
        try:
            ref = await self.k.runtime.pull_image(image)
        except ImagePullError as exc:
            now = time.time()
            self._pull_failed_at[key] = now
            delay = backoff.next(key, now)
            log.info("image.pull_failed", key=self.key, container=name, image=image, retry_in_seconds=delay)
            self.waiting[name] = ("ErrImagePull", exc.message)
            self.k.event(pod, WARNING, "Failed", f'Failed to pull image "{image}": {exc.message}', field_path=fp)
            self.k.event(pod, WARNING, "Failed", "Error: ErrImagePull", field_path=fp)
            self.wake_after(delay / 2)  # ErrImagePull for a while, then ImagePullBackOff until the retry
            return False
        took = _duration(time.monotonic() - started, precise=True)
        log.info("image.pulled", key=self.key, container=name, image=ref.image)
        self.k.event(pod, NORMAL, "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including '
                                            f"waiting). Image size: {ref.size} bytes.", field_path=fp)
        return True

    @property
    def _pull_failed_at(self) -> dict[str, float]:
        return self.k.pull_failures

    def container_config(self, spec: dict[str, Any], attempt: int, env: dict[str, str], command: list[str],
                         args: list[str]) -> ContainerConfig:
        sc = {**(self.pod["spec"].get("securityContext") or {}), **(spec.get("securityContext") or {})}
        ports = [PortMapping(int(p["containerPort"]), p.get("protocol", "TCP"), int(p.get("hostPort") or 0))
                 for p in spec.get("ports") or []]
        return ContainerConfig(
            ContainerMetadata(spec["name"], attempt), spec.get("image", ""), command=command, args=args,
            envs=list(env.items()), working_dir=spec.get("workingDir", ""),
            log_path=f"{spec['name']}/{attempt}.log", ports=ports,
            run_as_user=sc.get("runAsUser"), run_as_group=sc.get("runAsGroup"),
            stdin=bool(spec.get("stdin")), stdin_once=bool(spec.get("stdinOnce")), tty=bool(spec.get("tty")),
            labels={LABEL_POD_UID: self.uid, LABEL_POD_NAME: self.name, LABEL_POD_NAMESPACE: self.namespace,
                    LABEL_CONTAINER_NAME: spec["name"], LABEL_CONTAINER_HASH: spec_hash(spec)},
        )

    def probe_target(self, spec: dict[str, Any], c: ContainerStatus) -> ProbeTarget:
        return ProbeTarget(self.uid, self.key, spec, c.id, self.pod_ip, c.started_at / 1e9 if c.started_at else time.time())

    def gc_containers(self, name: str, attempt: int) -> None:
        """Keep the running container and the one before it (for `logs --previous`); remove older ones."""
        old = [c for c in self.containers_by_name().get(name, []) if c.metadata.attempt < attempt - 1]
        for c in old:
            asyncio.get_running_loop().create_task(self.k.runtime.remove_container(c.id))

    # --- status ---------------------------------------------------------------------------------

    def views(self, pod: dict[str, Any]) -> tuple[list[ContainerView], list[ContainerView], list[ContainerView]]:
        """The init containers', the containers' and the ephemeral containers' views, in spec order."""
        by_name = self.containers_by_name()
        make = lambda spec: self.view(spec, by_name.get(spec["name"], []))  # noqa: E731
        spec = pod["spec"]
        return ([make(s) for s in spec.get("initContainers") or []], [make(s) for s in spec.get("containers", [])],
                [self.ephemeral_view(s, by_name.get(s["name"], [])) for s in spec.get("ephemeralContainers") or []])

    def ephemeral_view(self, spec: dict[str, Any], history: list[ContainerStatus]) -> ContainerView:
        """Its one container (it is never restarted); never probed, so never ready or started."""
        cur = self.with_termination_message(spec, history[-1]) if history else None
        return ContainerView(spec["name"], spec.get("image", ""), cur, waiting=self.waiting.get(spec["name"]))

    def view(self, spec: dict[str, Any], history: list[ContainerStatus]) -> ContainerView:
        cur = self.with_termination_message(spec, history[-1]) if history else None
        prev = self.with_termination_message(spec, history[-2]) if len(history) > 1 else None
        v = ContainerView(spec["name"], spec.get("image", ""), cur, prev,
                          restart_count=cur.metadata.attempt if cur else 0, waiting=self.waiting.get(spec["name"]),
                          sidecar=is_sidecar(spec))
        if cur is not None and cur.state is ContainerState.RUNNING:
            v.started = self.k.probes.started(cur.id)
            v.ready = self.k.probes.ready(cur.id)
        return v

    def with_termination_message(self, spec: dict[str, Any], c: ContainerStatus) -> ContainerStatus:
        """FallbackToLogsOnError: a failed container without a message gets its log's tail (80 lines, 2 KiB)."""
        if (c.state is not ContainerState.EXITED or c.exit_code == 0 or c.message
                or spec.get("terminationMessagePolicy") != "FallbackToLogsOnError"):
            return c
        path = self.k.runtime.log_path(c.id)
        tail = logs.read_log(path, tail_lines=80)[-2048:] if path else b""
        return dataclasses.replace(c, message=tail.decode(errors="replace"))

    async def report_status(self, pod: dict[str, Any], *, terminating: bool = False) -> dict[str, Any] | None:
        init, main, ephemeral = self.views(pod)
        sandbox_ready = bool(self.sandbox_id) and not self.terminated and (
            self.k.runtime.pod_sandbox_status(self.sandbox_id).state is SandboxState.READY)
        status = podstatus.pod_status(
            pod, init, main, host_ip=self.k.node_ip, pod_ip=self.pod_ip, sandbox_ready=sandbox_ready,
            start_time=self.start_time or podstatus.rfc3339(time.time()), qos_class=admission.qos_class(pod),
            terminating=terminating or self.terminated, ephemeral=ephemeral,
        )
        if self.final_reason:
            status.update(phase="Failed", reason=self.final_reason[0], message=self.final_reason[1])
        await self.report(status)
        return status

    def deadline_exceeded(self, pod: dict[str, Any]) -> bool:
        """spec.activeDeadlineSeconds passed since startTime; else a wake-up is set for when it will."""
        deadline = pod["spec"].get("activeDeadlineSeconds")
        if deadline is None or not self.start_time:
            return False
        started = calendar.timegm(time.strptime(self.start_time, "%Y-%m-%dT%H:%M:%SZ"))
        left = started + float(deadline) - time.time()
        if left > 0:
            self.wake_after(left)
        return left <= 0

    def grace_period(self, pod: dict[str, Any]) -> float:
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        return max(float(grace), self.k.config.minimum_grace_period)

    async def report(self, status: dict[str, Any]) -> None:
        """PATCH pods/status when it differs from what was last reported."""
        pod = self.pod
        current = (pod or {}).get("status") or {}
        if pod is None:
            return
        if status == self.last_status and (self._informer_behind(pod) or _summary(status) == _summary(current)):
            return  # unchanged, and nobody else (the node lifecycle controller) changed it in the API
        body = dict(status)
        for stale in ("reason", "message"):
            if stale in current and stale not in body and not is_terminal(pod):
                body[stale] = None  # a merge patch removes a field only when told to; a terminal pod keeps its
        try:
            answer = await self.k.client.patch(PODS, self.name, {"status": body}, self.namespace,
                                               subresource="status")
            self.patched_rv = _rv(answer)
        except NotFound:
            return
        except ApiError as exc:
            log.warning("pod.status_failed", key=self.key, error=str(exc))
            self.wake_after(RETRY_SECONDS)
            return
        if (self.last_status or {}).get("phase") != status.get("phase"):
            log.info("pod.phase", key=self.key, phase=status["phase"], pod_ip=status.get("podIP"))
            if status["phase"] == "Running" and not self.start_observed:
                self.start_observed = True
                metrics.POD_START_DURATION.observe(time.monotonic() - self.first_seen)
            self.k.update_gauges()
        self.last_status = status

    def _informer_behind(self, pod: dict[str, Any]) -> bool:
        """The cached pod is older than our last status write (its echo has not arrived yet)."""
        return _rv(pod) < self.patched_rv

    # --- stopping -------------------------------------------------------------------------------

    async def terminate(self, grace: float) -> None:
        """Stop every running container (stop signal, SIGKILL after `grace`), then the sandbox."""
        if self.terminated:
            return
        pod = self.pod
        running = [c for c in self.k.runtime.list_containers()
                   if c.labels.get(LABEL_POD_UID) == self.uid and c.state is ContainerState.RUNNING]
        await asyncio.gather(*(self.kill(pod, c, grace) for c in running))
        self.terminated = True
        await self.stop_sandbox()
        log.info("pod.terminated", key=self.key, grace_seconds=grace, killed=len(running))

    async def kill(self, pod: dict[str, Any] | None, c: ContainerStatus, grace: float) -> None:
        name = c.metadata.name
        self.k.probes.remove(c.id)
        log.info("container.killing", key=self.key, container=name, grace_seconds=grace)
        if pod is not None:
            self.k.event(pod, NORMAL, "Killing", f"Stopping container {name}", field_path=field_path(pod, name))
        spec = next((s for s in all_containers(pod) if s["name"] == name), None) if pod is not None else None
        await self.stop_with_hooks(pod, spec, c, grace)  # its exit is logged as container.exited by the kubelet

    async def stop_sandbox(self) -> None:
        sandbox = self.sandbox_id or (self.k.find_sandbox(self.uid).id if self.k.find_sandbox(self.uid) else "")
        if not sandbox:
            return
        with contextlib.suppress(CRIError):
            if self.k.runtime.pod_sandbox_status(sandbox).state is SandboxState.READY:
                for c in self.k.runtime.list_containers(sandbox):
                    self.k.probes.remove(c.id)
                await self.k.runtime.stop_pod_sandbox(sandbox)
                log.info("sandbox.stopped", key=self.key, sandbox=sandbox[:12])

    async def cleanup(self) -> None:
        for sb in self.k.runtime.list_pod_sandboxes():
            if sb.labels.get(LABEL_POD_UID) == self.uid:
                for c in self.k.runtime.list_containers(sb.id):
                    self.k.probes.remove(c.id)
                await self.k.runtime.remove_pod_sandbox(sb.id)
        volumes.remove(self.k.config.root_dir, self.uid)
        self.k.crash_backoff.forget(f"{self.uid}/")
        self.k.image_backoff.forget(f"{self.uid}_")


def _rv(obj: dict[str, Any]) -> int:
    """kubemu's resourceVersions are etcd revisions; anything else counts as 0 (never "behind")."""
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _summary(status: dict[str, Any]) -> tuple:
    """What must match between the API's pod status and the kubelet's (timestamps aside)."""
    conditions = sorted((c.get("type"), c.get("status")) for c in status.get("conditions") or [])
    containers = [(c.get("name"), c.get("ready"), c.get("restartCount"), tuple(c.get("state") or {}))
                  for c in status.get("containerStatuses") or []]
    return status.get("phase"), status.get("podIP"), tuple(conditions), tuple(containers)


def ephemeral_containers_to_start(pod: dict[str, Any], by_name: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The ephemeral containers the runtime has never had (computePodActions' EphemeralContainersToStart).

    Each runs at most once: one that exited, or was created and never started, is left as it is. One
    whose image pull or creation failed has no container yet, so it is tried again (with the image
    back-off). They start before the init containers, so a debugger can run while those are stuck.
    `targetContainerName` is not acted on: kubemu's containers all share the host's process
    namespace, so every process of the pod is already visible from the ephemeral container.
    """
    return [spec for spec in pod["spec"].get("ephemeralContainers") or [] if not by_name.get(spec["name"])]


def spec_hash(spec: dict[str, Any]) -> str:
    """What identifies a container's definition: a change means a new container, as the kubelet's hash."""
    kept = {k: v for k, v in spec.items() if k not in _UNHASHED}
    return hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def all_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """Every container of the spec: containers, init containers, then ephemeral containers."""
    spec = pod["spec"]
    return [*spec.get("containers", []), *(spec.get("initContainers") or []), *(spec.get("ephemeralContainers") or [])]


def field_path(pod: dict[str, Any], name: str) -> str:
    """Where the container is in the pod spec, as events name it: `spec.ephemeralContainers{debugger}`."""
    for kind in ("containers", "initContainers", "ephemeralContainers"):
        if any(c.get("name") == name for c in pod["spec"].get(kind) or []):
            return f"spec.{kind}{{{name}}}"
    return ""


def _duration(seconds: float, *, precise: bool = False) -> str:
    """Go's time.Duration formatting, roughly: 10s, 2m40s, 5m0s; 123ms when precise."""
    if precise and seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if precise:
        return f"{seconds:.3f}s"
    total = int(round(seconds))
    minutes, secs = divmod(total, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"

