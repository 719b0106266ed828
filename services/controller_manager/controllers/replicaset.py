"""ReplicaSet controller (k8s pkg/controller/replicaset).

Guarantees, for each ReplicaSet key:
- the RS controls exactly the active pods matching its selector: matching orphans are adopted,
  controlled pods that stopped matching are released (never while the RS is being deleted);
- it creates pods from the template (generateName "<rs>-", ownerReference controller=true,
  blockOwnerDeletion=true) or deletes the least useful ones (unscheduled, pending, not ready, doubled
  up on a node, ready for less time, more restarts, newest) until there are `spec.replicas`;
- it never acts while its own creations/deletions are unobserved (expectations), and creates in
  slow-start batches (1, 2, 4, ...) that stop at the first failure;
- status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas with minReadySeconds,
  observedGeneration) is written only when it changed; SuccessfulCreate/SuccessfulDelete events.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cmp_to_key

from shared.client import NotFound
from shared.resources import PODS, REPLICASETS

from shared.logging import get_logger

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.expectations import Expectations
from services.controller_manager.labels import selector_matches
from services.controller_manager.objects import (
    controller_ref,
    format_time,
    get_condition,
    is_being_deleted,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    key_of,
    labels_of,
    meta,
    name_of,
    new_controller_ref,
    parse_time,
    pod_phase,
    pod_ready_condition,
    resolve_controller_ref,
    split_key,
    status_cause,
    uid_of,
    unwrap_tombstone,
)
from services.controller_manager.refmanager import RefManager, recheck_owner

log = get_logger()

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
STATUS_UPDATE_RETRIES = 1
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def rs_replicas(rs: dict) -> int:
    replicas = (rs.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def pod_from_template(owner: dict, template: dict, owner_ref: dict) -> dict:
    """controller.GetPodFromTemplate."""
    tmeta = template.get("metadata") or {}
    pod_meta: dict = {
        "generateName": f"{name_of(owner)}-",
        "namespace": meta(owner).get("namespace"),
        "labels": dict(tmeta.get("labels") or {}),
        "ownerReferences": [owner_ref],
    }
    if tmeta.get("annotations"):
        pod_meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        pod_meta["finalizers"] = list(tmeta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """Run `fn` `count` times in batches of 1, 2, 4, ...; stop after the first batch with an error."""
    successes, remaining, batch = 0, count, min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, Exception)]
        successes += batch - len(errors)
        if errors:
            return successes, errors[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


# --- scale-down ranking (controller.ActivePodsWithRanks) ---

def _deletion_cost(pod: dict) -> int:
    try:
        return int((meta(pod).get("annotations") or {}).get(DELETION_COST_ANNOTATION, 0))
    except ValueError:
        return 0


def _log_rank(t: datetime | None, now: datetime) -> int:
    if t is None:
        return -1
    nanos = (now - t).total_seconds() * 1e9
    return int(math.log2(nanos)) if nanos > 0 else -1


def _max_restarts(pod: dict) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((s.get("restartCount", 0) for s in statuses), default=0)


def _compare_ranked(a: tuple[dict, int], b: tuple[dict, int], now: datetime) -> int:
    """-1 if pod a should be deleted before pod b."""
    (pa, ra), (pb, rb) = a, b
    na, nb = (pa.get("spec") or {}).get("nodeName") or "", (pb.get("spec") or {}).get("nodeName") or ""
    if na != nb and (not na or not nb):
        return -1 if not na else 1
    oa, ob = _PHASE_ORDINAL.get(pod_phase(pa), 0), _PHASE_ORDINAL.get(pod_phase(pb), 0)
    if oa != ob:
        return -1 if oa < ob else 1
    ready_a, ready_b = is_pod_ready(pa), is_pod_ready(pb)
    if ready_a != ready_b:
        return -1 if not ready_a else 1
    ca, cb = _deletion_cost(pa), _deletion_cost(pb)
    if ca != cb:
        return -1 if ca < cb else 1
    if ra != rb:
        return -1 if ra > rb else 1
    if ready_a and ready_b:
        ta = parse_time(pod_ready_condition(pa).get("lastTransitionTime"))
        tb = parse_time(pod_ready_condition(pb).get("lastTransitionTime"))
        if ta != tb:
            diff = _log_rank(ta, now) - _log_rank(tb, now)
            if diff == 0:
                return -1 if uid_of(pa) < uid_of(pb) else 1
            return -1 if diff < 0 else 1
    restarts_a, restarts_b = _max_restarts(pa), _max_restarts(pb)
    if restarts_a != restarts_b:
        return -1 if restarts_a > restarts_b else 1
    ta, tb = parse_time(meta(pa).get("creationTimestamp")), parse_time(meta(pb).get("creationTimestamp"))
    if ta != tb:
        if ta is None or tb is None:
            return -1 if ta is None else 1
        diff = _log_rank(ta, now) - _log_rank(tb, now)
        if diff == 0:
            return -1 if uid_of(pa) < uid_of(pb) else (1 if uid_of(pa) > uid_of(pb) else 0)
        return -1 if diff < 0 else 1
    return 0


def pods_to_delete(pods: list[dict], related: list[dict], diff: int, now: datetime) -> list[dict]:
    """getPodsToDelete: rank by colocated related pods, then by usefulness; the first `diff`."""
    if diff >= len(pods):
        return list(pods)
    on_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(p, on_node.get((p.get("spec") or {}).get("nodeName") or "", 0)) for p in pods]
    ranked.sort(key=cmp_to_key(lambda a, b: _compare_ranked(a, b, now)))
    return [p for p, _ in ranked[:diff]]


# --- status ---

def calculate_status(rs: dict, pods: list[dict], now: datetime) -> dict:
    template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = rs["spec"].get("minReadySeconds") or 0
    fully = sum(1 for p in pods if all(labels_of(p).get(k) == v for k, v in template_labels.items()))
    ready = sum(1 for p in pods if is_pod_ready(p))
    available = sum(1 for p in pods if is_pod_available(p, min_ready, now))
    status: dict = {"replicas": len(pods)}
    for field, value in (("fullyLabeledReplicas", fully), ("readyReplicas", ready),
                         ("availableReplicas", available), ("observedGeneration", meta(rs).get("generation", 0))):
        if value:
            status[field] = value  # omitempty, as Go serializes ReplicaSetStatus
    conditions = (rs.get("status") or {}).get("conditions")
    if conditions:
        status["conditions"] = conditions
    return status


def with_failure_condition(status: dict, error: Exception | None, is_create: bool, now: str) -> dict:
    """ReplicaFailure condition: set on a failed create/delete, removed once manageReplicas works."""
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
    if error is not None:
        old = get_condition(status.get("conditions"), "ReplicaFailure")
        reason = "FailedCreate" if is_create else "FailedDelete"
        conditions.append({"type": "ReplicaFailure", "status": "True", "reason": reason, "message": str(error),
                           "lastTransitionTime": (old or {}).get("lastTransitionTime", now)})
    out = {k: v for k, v in status.items() if k != "conditions"}
    if conditions:
        out["conditions"] = conditions
    return out


def _status_equal(a: dict | None, b: dict) -> bool:
    a = a or {}
    fields = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration")
    return all((a.get(f) or 0) == (b.get(f) or 0) for f in fields) and \
        (a.get("conditions") or []) == (b.get("conditions") or [])


class ReplicaSetController(Controller):
    name = "replicaset-controller"
    queue_name = "replicaset"
    default_workers = 5
    api_version, kind = "apps/v1", "ReplicaSet"

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self.expectations = Expectations()
        self.recorder = ctx.recorder_factory(self.name)
        self.rs_informer = ctx.informers.informer(REPLICASETS)
        self.pod_informer = ctx.informers.informer(PODS)
        self.rs_informer.add_event_handler(on_add=self.enqueue, on_update=self._update_rs,
                                           on_delete=self._delete_rs)
        self.pod_informer.add_event_handler(on_add=self._add_pod, on_update=self._update_pod,
                                            on_delete=self._delete_pod)

    # --- event handlers: only bookkeeping and enqueue ---

    def _update_rs(self, old: dict, new: dict) -> None:
        self.enqueue(new)

    def _delete_rs(self, obj: object) -> None:
        rs = unwrap_tombstone(obj)
        if rs is not None:
            self.expectations.delete(key_of(rs))
            self.enqueue(rs)

    def _resolve_controller_ref(self, namespace: str, ref: dict | None) -> dict | None:
        return resolve_controller_ref(self.rs_informer.lister, namespace, ref, kind=self.kind)

    def _matching_rss(self, pod: dict) -> list[dict]:
        rss = self.rs_informer.lister.list(namespace=meta(pod).get("namespace"))
        return [rs for rs in rss if selector_matches(rs["spec"].get("selector"), labels_of(pod))]

    def _add_pod(self, pod: dict) -> None:
        if is_being_deleted(pod):
            self._delete_pod(pod)  # a restarted controller sees a pending deletion as an add
            return
        rs = self._resolve_controller_ref(meta(pod).get("namespace", ""), controller_ref(pod))
        if rs is not None:
            self.expectations.creation_observed(key_of(rs))
            self.enqueue(rs)
        elif controller_ref(pod) is None:
            for rs in self._matching_rss(pod):  # an orphan: whoever matches may adopt it
                self.enqueue(rs)

    def _update_pod(self, old: dict, new: dict) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return  # periodic resync: nothing changed
        if is_being_deleted(new):
            self._delete_pod(new)
            if labels_of(old) != labels_of(new):
                self._delete_pod(old)
            return
        ns = meta(new).get("namespace", "")
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref and (not new_ref or old_ref.get("uid") != new_ref.get("uid")):
            old_rs = self._resolve_controller_ref(ns, old_ref)
            if old_rs is not None:
                self.enqueue(old_rs)
        rs = self._resolve_controller_ref(ns, new_ref)
        if rs is not None:
            self.enqueue(rs)
            min_ready = rs["spec"].get("minReadySeconds") or 0
            if min_ready and not is_pod_ready(old) and is_pod_ready(new):
                self.queue.add_after(key_of(rs), min_ready + 1)  # check availability once it can be
        elif new_ref is None and (labels_of(old) != labels_of(new) or old_ref):
            for match in self._matching_rss(new):
                self.enqueue(match)

    def _delete_pod(self, obj: object) -> None:
        pod = unwrap_tombstone(obj)
        if pod is None:
            return
        rs = self._resolve_controller_ref(meta(pod).get("namespace", ""), controller_ref(pod))
        if rs is not None:
            self.expectations.deletion_observed(key_of(rs), key_of(pod))
            self.enqueue(rs)

    # --- sync ---

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.rs_informer.lister.get(name, namespace)
        if cached is None:
            self.expectations.delete(key)
            return
        rs = copy.deepcopy(cached)
        needs_sync = self.expectations.satisfied(key)
        pods = await self._claim_pods(rs)
        manage_error: Exception | None = None
        is_create = True
        if needs_sync and not is_being_deleted(rs):
            is_create = len(pods) < rs_replicas(rs)
            try:
                await self._manage_replicas(rs, pods)
            except Exception as err:  # noqa: BLE001 - reported in status, then re-raised for requeue
                manage_error = err
        now = self.now()
        status = calculate_status(rs, pods, now)
        if needs_sync:
            status = with_failure_condition(status, manage_error, is_create, format_time(now))
        updated = await self._update_status(rs, status)
        if manage_error is not None:
            raise manage_error
        min_ready = rs["spec"].get("minReadySeconds") or 0
        if updated is not None and min_ready and status.get("readyReplicas", 0) == rs_replicas(rs) \
                and status.get("availableReplicas", 0) != rs_replicas(rs):
            self.queue.add_after(key, min_ready)

    async def _claim_pods(self, rs: dict) -> list[dict]:
        selector = rs["spec"].get("selector")
        candidates = [p for p in self.pod_informer.lister.list(namespace=meta(rs)["namespace"]) if is_pod_active(p)]
        manager = RefManager(self.client, ref=PODS, owner=rs, api_version=self.api_version, kind=self.kind,
                             matches=lambda p: selector_matches(selector, labels_of(p)),
                             can_adopt=recheck_owner(self.client, REPLICASETS, rs))
        return await manager.claim(candidates)

    async def _manage_replicas(self, rs: dict, pods: list[dict]) -> None:
        diff = len(pods) - rs_replicas(rs)
        if diff < 0:
            await self._create_pods(rs, min(-diff, BURST_REPLICAS))
        elif diff > 0:
            await self._delete_pods(rs, pods, min(diff, BURST_REPLICAS))

    async def _create_pods(self, rs: dict, count: int) -> None:
        key = key_of(rs)
        self.expectations.expect_creations(key, count)
        owner_ref = new_controller_ref(rs, api_version=self.api_version, kind=self.kind)
        template = rs["spec"].get("template") or {}

        async def create_one() -> None:
            try:
                pod = await self.client.create(PODS, pod_from_template(rs, template, owner_ref),
                                               namespace=meta(rs)["namespace"])
            except Exception as err:
                if status_cause(err, "NamespaceTerminating"):
                    return None  # every create fails while the namespace goes away; nothing to report
                self.recorder.event(rs, "Warning", "FailedCreate", f"Error creating: {err}")
                raise
            self.recorder.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {name_of(pod)}")
            log.info("replicaset.pod_created", pod=name_of(pod))
            return None

        created, error = await slow_start_batch(count, SLOW_START_INITIAL_BATCH, create_one)
        for _ in range(count - created):
            self.expectations.creation_observed(key)  # those will never be observed
        if error is not None:
            raise error

    async def _delete_pods(self, rs: dict, pods: list[dict], diff: int) -> None:
        key = key_of(rs)
        victims = pods_to_delete(pods, self._related_pods(rs), diff, self.now())
        self.expectations.expect_deletions(key, [key_of(p) for p in victims])

        async def delete_one(pod: dict) -> None:
            try:
                await self.client.delete(PODS, name_of(pod), namespace=meta(pod)["namespace"])
            except Exception as err:
                self.expectations.deletion_observed(key, key_of(pod))
                if isinstance(err, NotFound):
                    return
                self.recorder.event(rs, "Warning", "FailedDelete", f"Error deleting: {err}")
                raise
            self.recorder.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")
            log.info("replicaset.pod_deleted", pod=name_of(pod))

        results = await asyncio.gather(*(delete_one(p) for p in victims), return_exceptions=True)
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:
            raise errors[0]

    def _related_pods(self, rs: dict) -> list[dict]:
        """Pods of every ReplicaSet with the same controller (e.g. all RSs of one Deployment)."""
        owner = controller_ref(rs)
        if owner is None:
            return []
        ns = meta(rs)["namespace"]
        related_rss = [r for r in self.rs_informer.lister.list(namespace=ns)
                       if (controller_ref(r) or {}).get("uid") == owner.get("uid")]
        seen: set[str] = set()
        related = []
        for other in related_rss:
            for pod in self.pod_informer.lister.list(namespace=ns):
                if uid_of(pod) not in seen and selector_matches(other["spec"].get("selector"), labels_of(pod)):
                    seen.add(uid_of(pod))
                    related.append(pod)
        return related

    async def _update_status(self, rs: dict, status: dict) -> dict | None:
        """Write status if it changed; one retry on a fresh copy after a conflict."""
        if _status_equal(rs.get("status"), status) and \
                (rs.get("status") or {}).get("observedGeneration") == status.get("observedGeneration"):
            return rs
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            body = dict(rs, status=status)
            try:
                return await self.client.update(REPLICASETS, body, namespace=meta(rs)["namespace"],
                                                subresource="status")
            except NotFound:
                return None
            except Exception:
                if attempt == STATUS_UPDATE_RETRIES:
                    raise
                rs = await self.client.get(REPLICASETS, name_of(rs), namespace=meta(rs)["namespace"])
                status = dict(status, observedGeneration=meta(rs).get("generation", 0))
        return None
