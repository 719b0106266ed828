"""Disruption controller (k8s pkg/controller/disruption, kube-controller-manager's disruption-controller, 1.32).

Guarantees, for each PodDisruptionBudget key (`sync`, level-based; the PDB's pods are the pods of its
namespace its spec.selector matches: `{}` matches all of them, no selector none):
- expectedPods and desiredHealthy (getExpectedPodCount): an integer minAvailable counts the matching
  pods and wants that many healthy. A percent minAvailable or any maxUnavailable is taken of the
  summed `spec.replicas` of the pods' distinct controllers: a Deployment through its ReplicaSet,
  else the ReplicaSet, else any other owner's `scale` subresource. A pod without a controller
  reference is left out (UnmanagedPods); a controller that cannot be found fails the sync
  (CalculateExpectedPodCountFailed).
- currentHealthy counts the matching pods that are Ready, not being deleted and not in
  status.disruptedPods. An entry of disruptedPods (the eviction time the API server wrote) stays
  until its pod is gone or being deleted, or is older than DELETION_TIMEOUT (NotDeleted); the key is
  requeued for when the oldest kept entry expires.
- disruptionsAllowed = currentHealthy - desiredHealthy, never below 0, and 0 while expectedPods is 0.
  The status (with observedGeneration and the DisruptionAllowed condition, SufficientPods or
  InsufficientPods) goes through /status, only when it changed: one `pdb.status_updated` line.
- any error but a Conflict is "failed safe": the PDB's status is written with disruptionsAllowed 0
  and DisruptionAllowed False, reason SyncFailed, the error as message; the key is retried only when
  that write fails (as in Kubernetes, an event brings it back otherwise).
- a pod event enqueues the one PDB that matches it; a pod matched by several gets a
  MultiplePodDisruptionBudgets warning and the first is chosen, as in Kubernetes (the eviction
  subresource refuses such pods anyway).
- a pod's DisruptionTarget condition left True (its eviction or preemption did not delete it) for
  STALE_POD_DISRUPTION_TIMEOUT is set back to False through pods/status, by a second queue of pod
  keys ("stale_pod_disruption"); conditions the kubelet set and those of finished pods are left alone.
As in Kubernetes, changes of a ReplicaSet's or Deployment's scale do not enqueue a PDB: the informers
serve only as caches, and the next pod event picks the new scale up.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from shared.client import Conflict, NotFound
from shared.controller import run_workers
from shared.logging import get_logger
from shared.resources import DEPLOYMENTS, PODDISRUPTIONBUDGETS, PODS, REPLICASETS, for_kind
from shared.workqueue import RateLimitingQueue

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.labels import selector_matches
from services.controller_manager.objects import (
    TERMINAL_PHASES,
    controller_ref,
    format_time,
    get_condition,
    is_being_deleted,
    is_pod_ready,
    key_of,
    labels_of,
    meta,
    name_of,
    namespace_of,
    parse_time,
    pod_phase,
    split_key,
    unwrap_tombstone,
)

log = get_logger()

NORMAL, WARNING = "Normal", "Warning"
# How long an entry of status.disruptedPods waits for its pod's deletion to be seen (DeletionTimeout).
DELETION_TIMEOUT = timedelta(minutes=2)
DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS, INSUFFICIENT_PODS, SYNC_FAILED = "SufficientPods", "InsufficientPods", "SyncFailed"
# How long a pod may keep a DisruptionTarget condition without being deleted (stalePodDisruptionTimeout).
STALE_POD_DISRUPTION_TIMEOUT = timedelta(minutes=2)
DISRUPTION_TARGET, TERMINATION_BY_KUBELET = "DisruptionTarget", "TerminationByKubelet"
SCALE_GROUPS = ("apps", "extensions")  # verifyGroupKind for ReplicaSets and Deployments


class ExpectedCountError(Exception):
    """The expected number of pods cannot be computed (an error of getExpectedPodCount)."""


def scaled_value(value: int | str, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent rounding up, with its errors."""
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ExpectedCountError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        percent = int(value[:-1])
    except ValueError as err:
        raise ExpectedCountError(f'invalid value for IntOrString: invalid value "{value}": {err}') from err
    return math.ceil(percent * total / 100)


def api_group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def is_controller_of_kind(ref: Mapping, kind: str) -> bool:
    """verifyGroupKind for apps (or extensions) kinds."""
    return ref.get("kind") == kind and api_group(ref.get("apiVersion", "")) in SCALE_GROUPS


def replicas_of(obj: Mapping) -> int:
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def go_selector(selector: Mapping | None) -> str:
    """A *metav1.LabelSelector as Go's %v prints it (its generated String method)."""
    if selector is None:
        return "nil"
    labels = "".join(f"{k}: {v}," for k, v in sorted((selector.get("matchLabels") or {}).items()))
    exprs = "".join(f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
                    f"Values:[{' '.join(e.get('values') or [])}],}},"
                    for e in selector.get("matchExpressions") or [])
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")


def _int(status: Mapping, field: str) -> int:
    return int(status.get(field) or 0)


def set_condition(conditions: list[dict], new: dict, now: datetime) -> None:
    """apimeta.SetStatusCondition: lastTransitionTime moves only when the status changes."""
    current = get_condition(conditions, new["type"])
    if current is None:
        conditions.append({**new, "lastTransitionTime": format_time(now)})
        return
    if current.get("status") != new["status"]:
        current["status"] = new["status"]
        current["lastTransitionTime"] = format_time(now)
    current["reason"], current["message"] = new["reason"], new["message"]
    if new.get("observedGeneration"):
        current["observedGeneration"] = new["observedGeneration"]
    else:
        current.pop("observedGeneration", None)


def allowed_condition(allowed: int, observed_generation: int) -> dict:
    """pdbhelper.UpdateDisruptionAllowedCondition's condition (its message is empty)."""
    status, reason = ("True", SUFFICIENT_PODS) if allowed > 0 else ("False", INSUFFICIENT_PODS)
    cond = {"type": DISRUPTION_ALLOWED, "status": status, "reason": reason, "message": ""}
    if observed_generation:
        cond["observedGeneration"] = observed_generation
    return cond


def conditions_up_to_date(pdb: Mapping) -> bool:
    """pdbhelper.ConditionsAreUpToDate."""
    status = pdb.get("status") or {}
    cond = get_condition(status.get("conditions"), DISRUPTION_ALLOWED)
    if cond is None or _int(status, "observedGeneration") != int(meta(pdb).get("generation") or 0):
        return False
    want = ("True", SUFFICIENT_PODS) if _int(status, "disruptionsAllowed") > 0 else ("False", INSUFFICIENT_PODS)
    return (cond.get("status"), cond.get("reason")) == want


def stale_disruption_wait(pod: Mapping, now: datetime) -> float | None:
    """nonTerminatingPodHasStaleDisruptionCondition: None when the pod has no DisruptionTarget
    condition to reset, else the seconds until it is stale (0: now)."""
    cond = get_condition((pod.get("status") or {}).get("conditions"), DISRUPTION_TARGET)
    if (is_being_deleted(pod) or cond is None or cond.get("status") != "True"
            or cond.get("reason") == TERMINATION_BY_KUBELET or pod_phase(pod) in TERMINAL_PHASES):
        return None
    since = parse_time(cond.get("lastTransitionTime"))
    if since is None:
        return 0.0
    return max(0.0, (since + STALE_POD_DISRUPTION_TIMEOUT - now).total_seconds())


class DisruptionController(Controller):
    name = "disruption-controller"
    queue_name = "disruption"
    default_workers = 1  # kube-controller-manager runs one disruption worker

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self.recorder = ctx.recorder_factory(self.name)
        self.pdb_informer = ctx.informers.informer(PODDISRUPTIONBUDGETS)
        self.pod_informer = ctx.informers.informer(PODS)
        # Listers only: Kubernetes registers no handlers on the scalable controllers.
        self.rs_informer = ctx.informers.informer(REPLICASETS)
        self.deployment_informer = ctx.informers.informer(DEPLOYMENTS)
        self.stale_queue = RateLimitingQueue(name="stale_pod_disruption", base_delay=0.005, max_delay=1000.0)
        self.pdb_informer.add_event_handler(on_add=self.enqueue, on_update=lambda _old, new: self.enqueue(new),
                                            on_delete=self.enqueue_deleted)
        self.pod_informer.add_event_handler(on_add=self._pod_changed,
                                            on_update=lambda _old, new: self._pod_changed(new),
                                            on_delete=self._pod_deleted)

    # --- event handlers: only enqueue ---

    def _pod_changed(self, pod: dict) -> None:
        self._enqueue_pdb_of(pod)
        wait = stale_disruption_wait(pod, self.now())
        if wait is not None:
            self.stale_queue.add_after(key_of(pod), wait)

    def _pod_deleted(self, obj: object) -> None:
        pod = unwrap_tombstone(obj)
        if pod is not None:
            self._enqueue_pdb_of(pod)

    def _enqueue_pdb_of(self, pod: dict) -> None:
        pdb = self._pdb_for_pod(pod)
        if pdb is not None:
            self.enqueue(pdb)

    def _pdb_for_pod(self, pod: dict) -> dict | None:
        """getPdbForPod: the first PDB of the pod's namespace whose selector matches it."""
        pdbs = [pdb for pdb in self.pdb_informer.lister.list(namespace=namespace_of(pod))
                if selector_matches((pdb.get("spec") or {}).get("selector"), labels_of(pod))]
        if not pdbs:
            return None
        if len(pdbs) > 1:
            message = (f'Pod "{namespace_of(pod)}"/"{name_of(pod)}" matches multiple PodDisruptionBudgets.  '
                       f'Chose "{name_of(pdbs[0])}" arbitrarily.')
            log.info("pdb.multiple_for_pod", pod=key_of(pod), chosen=name_of(pdbs[0]))
            self.recorder.event(pod, WARNING, "MultiplePodDisruptionBudgets", message)
        return pdbs[0]

    # --- workers: PDB keys, and pod keys with a DisruptionTarget condition ---

    async def run(self) -> None:
        await asyncio.gather(super().run(), run_workers(self.stale_queue, self._timed_stale_sync,
                                                        name=self.stale_queue.name))

    def shutdown(self) -> None:
        super().shutdown()
        self.stale_queue.shutdown()

    async def _timed_stale_sync(self, key: str) -> None:
        await self.timed(self.sync_stale_pod_disruption, key, self.stale_queue.name)

    async def sync_stale_pod_disruption(self, key: str) -> None:
        """syncStalePodDisruption: reset a stale DisruptionTarget condition to False."""
        namespace, name = split_key(key)
        pod = self.pod_informer.lister.get(name, namespace)
        wait = stale_disruption_wait(pod, self.now()) if pod is not None else None
        if wait is None:
            return
        if wait > 0:
            self.stale_queue.add_after(key, wait)
            return
        new = copy.deepcopy(pod)
        # podutil.UpdatePodCondition replaces the condition whole: no reason or message remain.
        new["status"]["conditions"] = [
            {"type": DISRUPTION_TARGET, "status": "False", "lastTransitionTime": format_time(self.now())}
            if c.get("type") == DISRUPTION_TARGET else c for c in new["status"]["conditions"]]
        try:
            await self.client.update(PODS, new, namespace=namespace, subresource="status")
        except NotFound:
            return
        log.info("pod.disruption_target_reset", pod=key)

    # --- sync ---

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        pdb = self.pdb_informer.lister.get(name, namespace)
        if pdb is None:
            return
        try:
            await self._try_sync(pdb)
        except Conflict:
            raise  # retried with backoff, not failed safe
        except Exception as err:  # noqa: BLE001 - every other error fails safe, as Kubernetes does
            log.warning("pdb.sync_failed", error=str(err))
            await self._fail_safe(pdb, err)

    def _pods_of(self, pdb: dict) -> list[dict]:
        selector = (pdb.get("spec") or {}).get("selector")
        return [pod for pod in self.pod_informer.lister.list(namespace=namespace_of(pdb))
                if selector_matches(selector, labels_of(pod))]

    async def _try_sync(self, pdb: dict) -> None:
        pods = self._pods_of(pdb)
        if not pods:
            self.recorder.event(pdb, NORMAL, "NoPods", "No matching pods found")
        try:
            expected, desired, unmanaged = await self._expected_pod_count(pdb, pods)
        except Exception as err:
            self.recorder.event(pdb, WARNING, "CalculateExpectedPodCountFailed",
                                f"Failed to calculate the number of expected pods: {err}")
            raise
        if unmanaged:
            log.debug("pdb.unmanaged_pods", pods=unmanaged)
            self.recorder.event(pdb, WARNING, "UnmanagedPods", (
                f"Pods selected by this PodDisruptionBudget (selector: {go_selector(pdb['spec'].get('selector'))}) "
                "were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, "
                "which may result in undefined behavior. To account for these pods please set "
                '".spec.minAvailable" field of the PDB to an integer value.'))
        now = self.now()
        disrupted, recheck = self._disrupted_pods(pdb, pods, now)
        healthy = sum(1 for pod in pods if not is_being_deleted(pod) and name_of(pod) not in disrupted
                      and is_pod_ready(pod))
        await self._update_status(pdb, healthy, desired, expected, disrupted)
        if recheck is not None:
            self.queue.add_after(key_of(pdb), max(0.0, (recheck - now).total_seconds()))

    # --- expected pods (getExpectedPodCount, getExpectedScale) ---

    async def _expected_pod_count(self, pdb: dict, pods: list[dict]) -> tuple[int, int, list[str]]:
        """(expectedPods, desiredHealthy, names of the pods without a controller)."""
        spec = pdb.get("spec") or {}
        max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
        if max_unavailable is not None:
            expected, unmanaged = await self._expected_scale(pods)
            return expected, max(0, expected - scaled_value(max_unavailable, expected)), unmanaged
        if isinstance(min_available, int):
            return len(pods), min_available, []
        if min_available is not None:
            expected, unmanaged = await self._expected_scale(pods)
            return expected, scaled_value(min_available, expected), unmanaged
        return 0, 0, []

    async def _expected_scale(self, pods: list[dict]) -> tuple[int, list[str]]:
        """The sum of the scale of the pods' distinct controllers; pods without one are listed."""
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None:
                unmanaged.append(name_of(pod))
                continue
            if ref.get("uid") in scales:
                continue
            found = await self._find_controller(ref, namespace_of(pod))
            if found is None:
                raise ExpectedCountError(f'found no controllers for pod "{name_of(pod)}"')
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    async def _find_controller(self, ref: Mapping, namespace: str) -> tuple[str, int] | None:
        """The finders in Kubernetes' order: (uid, scale) of the pod's controller, or None."""
        return (self._deployment_of(ref, namespace) or self._replicaset_of(ref, namespace)
                or await self._scale_of(ref, namespace))

    def _cached_rs(self, ref: Mapping, namespace: str) -> dict | None:
        if not is_controller_of_kind(ref, "ReplicaSet"):
            return None
        rs = self.rs_informer.lister.get(ref.get("name", ""), namespace)
        return rs if rs is not None and meta(rs).get("uid") == ref.get("uid") else None

    def _deployment_of(self, ref: Mapping, namespace: str) -> tuple[str, int] | None:
        """getPodDeployment: the Deployment controlling the pod's ReplicaSet."""
        rs = self._cached_rs(ref, namespace)
        owner = controller_ref(rs) if rs is not None else None
        if owner is None or not is_controller_of_kind(owner, "Deployment"):
            return None
        deployment = self.deployment_informer.lister.get(owner.get("name", ""), namespace)
        if deployment is None or meta(deployment).get("uid") != owner.get("uid"):
            return None
        return owner["uid"], replicas_of(deployment)

    def _replicaset_of(self, ref: Mapping, namespace: str) -> tuple[str, int] | None:
        """getPodReplicaSet: a ReplicaSet no Deployment controls."""
        rs = self._cached_rs(ref, namespace)
        if rs is None or (controller_ref(rs) or {}).get("kind") == "Deployment":
            return None
        return ref["uid"], replicas_of(rs)

    async def _scale_of(self, ref: Mapping, namespace: str) -> tuple[str, int] | None:
        """getScaleController: any other owner through its `scale` subresource."""
        api_version, kind = ref.get("apiVersion", ""), ref.get("kind", "")
        resource = for_kind(api_version, kind)
        if resource is None:
            raise ExpectedCountError(f'no matches for kind "{kind}" in version "{api_version}"')
        try:
            scale = await self.client.get(resource, ref.get("name", ""), namespace=namespace, subresource="scale")
        except NotFound:
            if not await self._implements_scale(resource):
                raise ExpectedCountError(
                    f"{resource.group_resource} does not implement the scale subresource") from None
            return None
        if meta(scale).get("uid") != ref.get("uid"):
            return None
        return ref["uid"], int((scale.get("spec") or {}).get("replicas") or 0)

    async def _implements_scale(self, resource: Any) -> bool:
        """Discovery: does the resource list an autoscaling Scale subresource?"""
        listing = await self.client.request("GET", resource.base_path())
        return any(r.get("name") == f"{resource.plural}/scale" and r.get("kind") == "Scale"
                   and r.get("group") == "autoscaling" for r in (listing or {}).get("resources") or [])

    # --- disrupted pods (buildDisruptedPodMap) ---

    def _disrupted_pods(self, pdb: dict, pods: list[dict], now: datetime) -> tuple[dict[str, str], datetime | None]:
        """The entries still waiting for their pod's deletion, and when the first of them expires."""
        listed = (pdb.get("status") or {}).get("disruptedPods") or {}
        kept: dict[str, str] = {}
        recheck: datetime | None = None
        for pod in pods:
            stamp = listed.get(name_of(pod))
            if is_being_deleted(pod) or stamp is None:
                continue
            evicted = parse_time(stamp)
            expires = (evicted or now) + DELETION_TIMEOUT
            if expires < now:
                log.info("pdb.pod_not_deleted", pod=name_of(pod), evicted=stamp)
                # Kubernetes 1.32 formats the PDB as "<namespace>/<namespace>" here; kept as it is.
                self.recorder.event(pod, WARNING, "NotDeleted", "Pod was expected by PDB "
                                    f"{namespace_of(pdb)}/{namespace_of(pdb)} to be deleted but it wasn't")
                continue
            kept[name_of(pod)] = stamp
            recheck = expires if recheck is None or expires < recheck else recheck
        return kept, recheck

    # --- status ---

    async def _update_status(self, pdb: dict, healthy: int, desired: int, expected: int,
                             disrupted: dict[str, str]) -> None:
        """updatePdbStatus: write the status only when a field or the condition is out of date."""
        allowed = healthy - desired if expected > 0 and healthy > desired else 0
        status = pdb.get("status") or {}
        generation = int(meta(pdb).get("generation") or 0)
        if ((_int(status, "currentHealthy"), _int(status, "desiredHealthy"), _int(status, "expectedPods"),
             _int(status, "disruptionsAllowed"), status.get("disruptedPods") or {},
             _int(status, "observedGeneration")) == (healthy, desired, expected, allowed, disrupted, generation)
                and conditions_up_to_date(pdb)):
            return
        new = copy.deepcopy(pdb)
        conditions = copy.deepcopy(status.get("conditions") or [])
        new["status"] = {"observedGeneration": generation, "disruptionsAllowed": allowed,
                         "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                         "conditions": conditions}
        if disrupted:
            new["status"]["disruptedPods"] = disrupted
        set_condition(conditions, allowed_condition(allowed, generation), self.now())
        if await self._write_status(new):
            log.info("pdb.status_updated", current_healthy=healthy, desired_healthy=desired, expected_pods=expected,
                     disruptions_allowed=allowed, disrupted_pods=sorted(disrupted))

    async def _fail_safe(self, pdb: dict, err: Exception) -> None:
        """failSafe: at least make sure no eviction is allowed while the PDB cannot be computed."""
        new = copy.deepcopy(pdb)
        status = new.setdefault("status", {})
        status["disruptionsAllowed"] = 0
        conditions = status.setdefault("conditions", [])
        cond = {"type": DISRUPTION_ALLOWED, "status": "False", "reason": SYNC_FAILED, "message": str(err)}
        if _int(status, "observedGeneration"):
            cond["observedGeneration"] = _int(status, "observedGeneration")
        set_condition(conditions, cond, self.now())
        if await self._write_status(new):
            log.info("pdb.status_updated", disruptions_allowed=0, reason=SYNC_FAILED, message=str(err))

    async def _write_status(self, pdb: dict) -> bool:
        """writePdbStatus: one try; an error goes back to the queue. False if the PDB is gone."""
        try:
            await self.client.update(PODDISRUPTIONBUDGETS, pdb, namespace=namespace_of(pdb), subresource="status")
        except NotFound:
            return False
        return True
