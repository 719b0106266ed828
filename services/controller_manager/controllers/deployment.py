"""Deployment controller (k8s pkg/controller/deployment).

Guarantees, for each Deployment key:
- it owns the ReplicaSets matching its selector (adopts orphans, releases non-matching ones);
  the one whose template equals the Deployment's (ignoring pod-template-hash) is the new RS,
  created as "<deploy>-<hash>" with the hash label on its selector and template when missing;
- RollingUpdate keeps total pods ≤ replicas + maxSurge and available ≥ replicas − maxUnavailable;
  Recreate scales old RSs to 0 and waits for their pods to go before scaling the new one up;
- a replicas change while a rollout is in flight scales all active RSs proportionally;
- a paused Deployment is only scaled; an older template brings back (and re-revisions) its old RS,
  which is how `kubectl rollout undo` works;
- revision annotations on RSs and on the Deployment, desired/max-replicas annotations, at most
  revisionHistoryLimit old RSs with no pods are kept;
- status and the Available/Progressing conditions with Kubernetes' reasons and messages;
  ScalingReplicaSet events ("Scaled up replica set nginx-7c5ddbdf54 from 0 to 3").
"""

from __future__ import annotations

import copy

from shared.client import AlreadyExists, NotFound
from shared.resources import DEPLOYMENTS, PODS, REPLICASETS

from shared.logging import get_logger

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.controllers import deployment_util as du
from services.controller_manager.labels import selector_is_empty, selector_matches
from services.controller_manager.objects import (
    controller_ref,
    get_condition,
    is_being_deleted,
    key_of,
    labels_of,
    meta,
    name_of,
    new_controller_ref,
    parse_time,
    resolve_controller_ref,
    split_key,
    status_cause,
    uid_of,
    unwrap_tombstone,
)
from services.controller_manager.refmanager import RefManager, recheck_owner

log = get_logger()


class DeploymentController(Controller):
    name = "deployment-controller"
    queue_name = "deployment"
    default_workers = 5
    api_version, kind = "apps/v1", "Deployment"

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self.recorder = ctx.recorder_factory(self.name)
        self.d_informer = ctx.informers.informer(DEPLOYMENTS)
        self.rs_informer = ctx.informers.informer(REPLICASETS)
        self.pod_informer = ctx.informers.informer(PODS)
        self.d_informer.add_event_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                          on_delete=self.enqueue_deleted)
        self.rs_informer.add_event_handler(on_add=self._add_rs, on_update=self._update_rs, on_delete=self._delete_rs)
        self.pod_informer.add_event_handler(on_delete=self._delete_pod)

    # --- event handlers ---

    def _deployment_for_ref(self, namespace: str, ref: dict | None) -> dict | None:
        return resolve_controller_ref(self.d_informer.lister, namespace, ref, kind=self.kind)

    def _deployments_matching(self, rs: dict) -> list[dict]:
        ds = self.d_informer.lister.list(namespace=meta(rs).get("namespace"))
        return [d for d in ds if not selector_is_empty(d["spec"].get("selector"))
                and selector_matches(d["spec"].get("selector"), labels_of(rs))]

    def _add_rs(self, rs: dict) -> None:
        if is_being_deleted(rs):
            self._delete_rs(rs)
            return
        ref = controller_ref(rs)
        d = self._deployment_for_ref(meta(rs).get("namespace", ""), ref)
        if d is not None:
            self.enqueue(d)
        elif ref is None:
            for d in self._deployments_matching(rs):
                self.enqueue(d)

    def _update_rs(self, old: dict, new: dict) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        ns = meta(new).get("namespace", "")
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref and (not new_ref or old_ref.get("uid") != new_ref.get("uid")):
            d = self._deployment_for_ref(ns, old_ref)
            if d is not None:
                self.enqueue(d)
        d = self._deployment_for_ref(ns, new_ref)
        if d is not None:
            self.enqueue(d)
        elif new_ref is None and (labels_of(old) != labels_of(new) or old_ref):
            for d in self._deployments_matching(new):
                self.enqueue(d)

    def _delete_rs(self, obj: object) -> None:
        rs = unwrap_tombstone(obj)
        if rs is None:
            return
        d = self._deployment_for_ref(meta(rs).get("namespace", ""), controller_ref(rs))
        if d is not None:
            self.enqueue(d)

    def _delete_pod(self, obj: object) -> None:
        """Recreate waits for old pods to be gone; a pod's deletion may unblock it."""
        pod = unwrap_tombstone(obj)
        if pod is None:
            return
        ns = meta(pod).get("namespace", "")
        ref = controller_ref(pod)
        if not ref or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.lister.get(ref.get("name", ""), ns)
        d = self._deployment_for_ref(ns, controller_ref(rs)) if rs else None
        if d is not None and du.strategy_type(d) == "Recreate":
            self.enqueue(d)

    # --- sync ---

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.d_informer.lister.get(name, namespace)
        if cached is None:
            return  # deleted: the garbage collector removes its ReplicaSets
        d = copy.deepcopy(cached)
        seen = {"revision": (meta(cached).get("annotations") or {}).get(du.REVISION_ANNOTATION)}
        if selector_is_empty(d["spec"].get("selector")):
            self.recorder.event(d, "Warning", "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            if (d.get("status") or {}).get("observedGeneration", 0) < meta(d).get("generation", 0):
                d.setdefault("status", {})["observedGeneration"] = meta(d).get("generation", 0)
                await self._write_status(d, seen)
            return
        rss = await self._claim_replica_sets(d)
        if is_being_deleted(d):
            await self._sync_status_only(d, seen, rss)
            return
        await self._check_paused_conditions(d, seen)
        if d["spec"].get("paused"):
            await self._sync_scale(d, seen, rss)
            return
        if self._is_scaling_event(d, rss):
            await self._sync_scale(d, seen, rss)
            return
        if du.strategy_type(d) == "Recreate":
            await self._rollout_recreate(d, seen, rss)
        else:
            await self._rollout_rolling(d, seen, rss)

    async def _claim_replica_sets(self, d: dict) -> list[dict]:
        selector = d["spec"].get("selector")
        candidates = self.rs_informer.lister.list(namespace=meta(d)["namespace"])
        manager = RefManager(self.client, ref=REPLICASETS, owner=d, api_version=self.api_version, kind=self.kind,
                             matches=lambda rs: selector_matches(selector, labels_of(rs)),
                             can_adopt=recheck_owner(self.client, DEPLOYMENTS, d))
        return [copy.deepcopy(rs) for rs in await manager.claim(candidates)]

    def _is_scaling_event(self, d: dict, rss: list[dict]) -> bool:
        new_rs = du.find_new_rs(d, rss)
        _, old_rss = du.find_old_rss(new_rs, rss)
        for rs in du.active(old_rss + [new_rs]):
            desired = (meta(rs).get("annotations") or {}).get(du.DESIRED_REPLICAS_ANNOTATION)
            if desired is not None and desired.isdigit() and int(desired) != du.replicas_of(d):
                return True
        return False

    # --- new replica set and revisions ---

    async def _get_all_rss(self, d: dict, seen: dict, rss: list[dict], *, create: bool
                           ) -> tuple[dict | None, list[dict]]:
        """getAllReplicaSetsAndSyncRevision: (new RS or None, all old RSs)."""
        new_rs = du.find_new_rs(d, rss)
        _, old_rss = du.find_old_rss(new_rs, rss)
        new_rs = await self._get_new_rs(d, seen, rss, old_rss, create=create)
        return new_rs, old_rss

    async def _get_new_rs(self, d: dict, seen: dict, rss: list[dict], old_rss: list[dict], *,
                          create: bool) -> dict | None:
        existing = du.find_new_rs(d, rss)
        new_revision = str(du.max_revision(old_rss) + 1)
        if existing is not None:
            return await self._sync_existing_new_rs(d, seen, existing, new_revision)
        if not create:
            return None
        return await self._create_new_rs(d, seen, old_rss, new_revision)

    async def _sync_existing_new_rs(self, d: dict, seen: dict, existing: dict, new_revision: str) -> dict:
        rs = copy.deepcopy(existing)
        annotations_updated = du.set_new_rs_annotations(d, rs, new_revision, exists=True)
        min_ready = d["spec"].get("minReadySeconds") or 0
        if annotations_updated or (rs["spec"].get("minReadySeconds") or 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            return await self.client.update(REPLICASETS, rs, namespace=meta(rs)["namespace"])
        needs_update = self._set_deployment_revision(d, du.annotation(rs, du.REVISION_ANNOTATION))
        progressing = get_condition((d.get("status") or {}).get("conditions"), "Progressing")
        if du.progress_deadline(d) is not None and progressing is None:
            du.set_condition(d.setdefault("status", {}), du.new_condition(
                "Progressing", "True", du.FOUND_NEW_RS_REASON, f'Found new replica set "{name_of(rs)}"', self.now()))
            needs_update = True
        if needs_update:
            await self._write_status(d, seen)
        return rs

    def _new_rs_body(self, d: dict, old_rss: list[dict], new_revision: str) -> dict:
        template = copy.deepcopy(d["spec"]["template"])
        collision = (d.get("status") or {}).get("collisionCount")
        pod_hash = du.compute_hash(template, collision)
        template.setdefault("metadata", {})["labels"] = dict(template["metadata"].get("labels") or {},
                                                             **{du.HASH_LABEL: pod_hash})
        selector = copy.deepcopy(d["spec"]["selector"])
        selector["matchLabels"] = dict(selector.get("matchLabels") or {}, **{du.HASH_LABEL: pod_hash})
        rs = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{name_of(d)}-{pod_hash}", "namespace": meta(d)["namespace"],
                         "ownerReferences": [new_controller_ref(d, api_version=self.api_version, kind=self.kind)],
                         "labels": dict(template["metadata"]["labels"])},
            "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds") or 0,
                     "selector": selector, "template": template},
        }
        rs["spec"]["replicas"] = du.new_rs_new_replicas(d, old_rss + [rs], rs)
        du.set_new_rs_annotations(d, rs, new_revision, exists=False)
        return rs

    async def _create_new_rs(self, d: dict, seen: dict, old_rss: list[dict], new_revision: str) -> dict | None:
        body = self._new_rs_body(d, old_rss, new_revision)
        ns, replicas = meta(d)["namespace"], body["spec"]["replicas"]
        already_exists = False
        try:
            created = await self.client.create(REPLICASETS, body, namespace=ns)
        except AlreadyExists:
            already_exists = True
            created = self.rs_informer.lister.get(name_of(body), ns)
            if created is None or (controller_ref(created) or {}).get("uid") != uid_of(d) or \
                    not du.equal_ignore_hash(d["spec"]["template"], created["spec"]["template"]):
                await self._record_collision(d, seen)
                raise
            created = copy.deepcopy(created)
        except Exception as err:
            if status_cause(err, "NamespaceTerminating"):
                raise
            msg = f'Failed to create new replica set "{name_of(body)}": {err}'
            if du.progress_deadline(d) is not None:
                du.set_condition(d.setdefault("status", {}), du.new_condition(
                    "Progressing", "False", du.FAILED_RS_CREATE_REASON, msg, self.now()))
                await self._write_status(d, seen, quiet=True)
            self.recorder.event(d, "Warning", du.FAILED_RS_CREATE_REASON, msg)
            raise
        if not already_exists:
            log.info("deployment.replicaset_created", replicaset=name_of(created), replicas=replicas)
        if not already_exists and replicas > 0:
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled up replica set {name_of(created)} from 0 to {replicas}")
        needs_update = self._set_deployment_revision(d, new_revision)
        if not already_exists and du.progress_deadline(d) is not None:
            du.set_condition(d.setdefault("status", {}), du.new_condition(
                "Progressing", "True", du.NEW_RS_REASON, f'Created new replica set "{name_of(created)}"', self.now()))
            needs_update = True
        if needs_update:
            await self._write_status(d, seen)
        return created

    async def _record_collision(self, d: dict, seen: dict) -> None:
        """A different RS holds our name: bump collisionCount so the next hash differs."""
        status = d.setdefault("status", {})
        status["collisionCount"] = (status.get("collisionCount") or 0) + 1
        await self._write_status(d, seen, quiet=True)

    @staticmethod
    def _set_deployment_revision(d: dict, revision: str) -> bool:
        annotations = d["metadata"].setdefault("annotations", {})
        if annotations.get(du.REVISION_ANNOTATION) != revision:
            annotations[du.REVISION_ANNOTATION] = revision
            return True
        return False

    # --- scaling ---

    async def _scale_rs(self, rs: dict, new_scale: int, d: dict, operation: str) -> tuple[bool, dict]:
        """scaleReplicaSet: set replicas (and desired/max annotations); event if the size changed."""
        size_changed = du.replicas_of(rs) != new_scale
        desired, max_replicas = du.replicas_of(d), du.replicas_of(d) + du.max_surge(d)
        if not size_changed and not du.replicas_annotations_need_update(rs, desired, max_replicas):
            return False, rs
        old_scale = du.replicas_of(rs)
        body = copy.deepcopy(rs)
        body["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(body, desired, max_replicas)
        updated = await self.client.update(REPLICASETS, body, namespace=meta(rs)["namespace"])
        if size_changed:
            log.info("deployment.scaled", replicaset=name_of(rs), old=old_scale, new=new_scale)
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled {operation} replica set {name_of(rs)} from {old_scale} to {new_scale}")
        return size_changed, updated

    async def _scale_and_record(self, rs: dict, new_scale: int, d: dict) -> tuple[bool, dict]:
        if du.replicas_of(rs) == new_scale:
            return False, rs
        return await self._scale_rs(rs, new_scale, d, "up" if du.replicas_of(rs) < new_scale else "down")

    async def _scale(self, d: dict, new_rs: dict | None, old_rss: list[dict]) -> None:
        """Proportional scaling when replicas changed mid-rollout (DeploymentController.scale)."""
        target = du.find_active_or_latest(new_rs, old_rss)
        if target is not None:
            if du.replicas_of(target) != du.replicas_of(d):
                await self._scale_and_record(target, du.replicas_of(d), d)
            return
        if du.is_saturated(d, new_rs):
            for old in du.active(old_rss):
                await self._scale_and_record(old, 0, d)
            return
        if du.is_rolling_update(d):
            await self._scale_proportionally(d, du.active(old_rss + [new_rs]))

    async def _scale_proportionally(self, d: dict, rss: list[dict]) -> None:
        allowed = du.replicas_of(d) + du.max_surge(d) if du.replicas_of(d) > 0 else 0
        to_add = allowed - du.replica_count(rss)
        operation = ""
        if to_add > 0:
            rss, operation = du.sort_by_size(rss, newer_first=True), "up"
        elif to_add < 0:
            rss, operation = du.sort_by_size(rss, newer_first=False), "down"
        added, sizes = 0, {}
        for rs in rss:
            proportion = du.rs_proportion(rs, d, to_add, added) if to_add else 0
            sizes[name_of(rs)] = du.replicas_of(rs) + proportion
            added += proportion
        for i, rs in enumerate(rss):
            if i == 0 and to_add:
                sizes[name_of(rs)] = max(sizes[name_of(rs)] + to_add - added, 0)  # leftovers to the largest
            await self._scale_rs(rs, sizes[name_of(rs)], d, operation)

    # --- strategies ---

    async def _rollout_rolling(self, d: dict, seen: dict, rss: list[dict]) -> None:
        new_rs, old_rss = await self._get_all_rss(d, seen, rss, create=True)
        all_rss = old_rss + [new_rs]
        scaled_up, new_rs = await self._reconcile_new_rs(all_rss, new_rs, d)
        all_rss = old_rss + [new_rs]
        if scaled_up:
            await self._sync_rollout_status(d, seen, all_rss, new_rs)
            return
        scaled_down = await self._reconcile_old_rss(all_rss, du.active(old_rss), new_rs, d)
        if scaled_down:
            await self._sync_rollout_status(d, seen, all_rss, new_rs)
            return
        if du.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, seen, all_rss, new_rs)

    async def _reconcile_new_rs(self, all_rss: list[dict], new_rs: dict, d: dict) -> tuple[bool, dict]:
        want = du.replicas_of(d)
        if du.replicas_of(new_rs) == want:
            return False, new_rs
        if du.replicas_of(new_rs) > want:
            return await self._scale_and_record(new_rs, want, d)
        return await self._scale_and_record(new_rs, du.new_rs_new_replicas(d, all_rss, new_rs), d)

    async def _reconcile_old_rss(self, all_rss: list[dict], old_rss: list[dict], new_rs: dict, d: dict) -> bool:
        if du.replica_count(old_rss) == 0:
            return False
        min_available = du.replicas_of(d) - du.max_unavailable(d)
        new_unavailable = du.replicas_of(new_rs) - du.status_int(new_rs, "availableReplicas")
        max_scaled_down = du.replica_count(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_rss, cleaned = await self._cleanup_unhealthy(old_rss, d, max_scaled_down)
        scaled = await self._scale_down_old_for_rolling(old_rss + [new_rs], old_rss, d)
        return cleaned + scaled > 0

    async def _cleanup_unhealthy(self, old_rss: list[dict], d: dict, max_cleanup: int) -> tuple[list[dict], int]:
        """Scale down old RSs' unavailable pods first, so unhealthy replicas never block a rollout."""
        old_rss = du.sort_by_creation(old_rss)
        total = 0
        for i, rs in enumerate(old_rss):
            if total >= max_cleanup:
                break
            unhealthy = du.replicas_of(rs) - du.status_int(rs, "availableReplicas")
            if du.replicas_of(rs) == 0 or unhealthy <= 0:
                continue
            count = min(max_cleanup - total, unhealthy)
            _, old_rss[i] = await self._scale_and_record(rs, du.replicas_of(rs) - count, d)
            total += count
        return old_rss, total

    async def _scale_down_old_for_rolling(self, all_rss: list[dict], old_rss: list[dict], d: dict) -> int:
        min_available = du.replicas_of(d) - du.max_unavailable(d)
        # An RS just scaled down may still report the pods it is deleting as available (its status
        # is computed before its deletions); counting at most spec.replicas per RS keeps that stale
        # status from letting us scale down twice. (Kubernetes sums status alone and relies on the
        # ReplicaSet controller being faster than pods becoming ready.)
        available = sum(min(du.status_int(rs, "availableReplicas"), du.replicas_of(rs)) for rs in all_rss if rs)
        if available <= min_available:
            return 0
        total, budget = 0, available - min_available
        for rs in du.sort_by_creation(old_rss):
            if total >= budget:
                break
            if du.replicas_of(rs) == 0:
                continue
            count = min(du.replicas_of(rs), budget - total)
            await self._scale_and_record(rs, du.replicas_of(rs) - count, d)
            total += count
        return total

    async def _rollout_recreate(self, d: dict, seen: dict, rss: list[dict]) -> None:
        new_rs, old_rss = await self._get_all_rss(d, seen, rss, create=False)
        all_rss = old_rss + [new_rs]
        scaled_down = False
        for rs in du.active(old_rss):
            changed, _ = await self._scale_and_record(rs, 0, d)
            scaled_down = scaled_down or changed
        if scaled_down:
            await self._sync_rollout_status(d, seen, all_rss, new_rs)
            return
        if self._old_pods_running(new_rs, old_rss):
            await self._sync_rollout_status(d, seen, all_rss, new_rs)
            return
        if new_rs is None:
            new_rs, old_rss = await self._get_all_rss(d, seen, rss, create=True)
            all_rss = old_rss + [new_rs]
        _, new_rs = await self._scale_and_record(new_rs, du.replicas_of(d), d)
        all_rss = old_rss + [new_rs]
        if du.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, seen, all_rss, new_rs)

    def _old_pods_running(self, new_rs: dict | None, old_rss: list[dict]) -> bool:
        if du.actual_count(old_rss) > 0:
            return True
        old_uids = {uid_of(rs) for rs in old_rss}
        for pod in self.pod_informer.lister.list(namespace=meta(old_rss[0])["namespace"]) if old_rss else []:
            ref = controller_ref(pod) or {}
            if ref.get("uid") in old_uids and (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True
        return False

    async def _sync_scale(self, d: dict, seen: dict, rss: list[dict]) -> None:
        """sync(): scaling and paused deployments; no new RS is created."""
        new_rs, old_rss = await self._get_all_rss(d, seen, rss, create=False)
        await self._scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            await self._cleanup(d, old_rss)
        await self._sync_deployment_status(d, seen, old_rss + [new_rs], new_rs)

    async def _cleanup(self, d: dict, old_rss: list[dict]) -> None:
        """Delete the oldest RSs with no pods beyond revisionHistoryLimit."""
        limit = du.revision_history_limit(d)
        if limit is None:
            return
        alive = [rs for rs in old_rss if not is_being_deleted(rs)]
        diff = len(alive) - limit
        if diff <= 0:
            return
        for rs in du.sort_by_revision(alive)[:diff]:
            if du.status_int(rs, "replicas") or du.replicas_of(rs) or \
                    meta(rs).get("generation", 0) > du.status_int(rs, "observedGeneration"):
                continue
            log.info("deployment.replicaset_cleaned_up", replicaset=name_of(rs), revision=du.revision_of(rs))
            try:
                await self.client.delete(REPLICASETS, name_of(rs), namespace=meta(rs)["namespace"])
            except NotFound:
                pass

    # --- status ---

    async def _sync_status_only(self, d: dict, seen: dict, rss: list[dict]) -> None:
        new_rs, old_rss = await self._get_all_rss(d, seen, rss, create=False)
        await self._sync_deployment_status(d, seen, old_rss + [new_rs], new_rs)

    async def _sync_deployment_status(self, d: dict, seen: dict, all_rss: list[dict | None],
                                      new_rs: dict | None) -> None:
        status = du.calculate_status(all_rss, new_rs, d, self.now())
        if not du.status_equal(d.get("status"), status):
            d["status"] = status
            await self._write_status(d, seen)

    async def _sync_rollout_status(self, d: dict, seen: dict, all_rss: list[dict | None], new_rs: dict | None) -> None:
        now = self.now()
        status = du.calculate_status(all_rss, new_rs, d, now)
        if du.progress_deadline(d) is None:
            du.remove_condition(status, "Progressing")
        current = get_condition((d.get("status") or {}).get("conditions"), "Progressing")
        complete_before = (status.get("replicas") == status.get("updatedReplicas") and current is not None
                           and current.get("reason") == du.NEW_RS_AVAILABLE_REASON)
        if du.progress_deadline(d) is not None and not complete_before:
            self._estimate_progress(d, status, current, new_rs, now)
        failure = self._replica_failure(all_rss, new_rs)
        if failure is not None:
            du.set_condition(status, failure)
        else:
            du.remove_condition(status, "ReplicaFailure")
        if du.status_equal(d.get("status"), status):
            self._requeue_stuck(d, status)
            return
        d["status"] = status
        await self._write_status(d, seen)

    def _estimate_progress(self, d: dict, status: dict, current: dict | None, new_rs: dict | None, now) -> None:
        what = f'ReplicaSet "{name_of(new_rs)}"' if new_rs else f'Deployment "{name_of(d)}"'
        if du.deployment_complete(d, status):
            du.set_condition(status, du.new_condition("Progressing", "True", du.NEW_RS_AVAILABLE_REASON,
                                                      f"{what} has successfully progressed.", now))
        elif du.deployment_progressing(d, status):
            cond = du.new_condition("Progressing", "True", du.RS_UPDATED_REASON, f"{what} is progressing.", now)
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                du.remove_condition(status, "Progressing")
            du.set_condition(status, cond)
        elif du.deployment_timed_out(d, status, now):
            du.set_condition(status, du.new_condition("Progressing", "False", du.TIMED_OUT_REASON,
                                                      f"{what} has timed out progressing.", now))

    @staticmethod
    def _replica_failure(all_rss: list[dict | None], new_rs: dict | None) -> dict | None:
        ordered = ([new_rs] if new_rs else []) + [rs for rs in all_rss if rs is not None and rs is not new_rs]
        for rs in ordered:
            cond = get_condition((rs.get("status") or {}).get("conditions"), "ReplicaFailure")
            if cond is not None:
                return {"type": "ReplicaFailure", "status": cond.get("status"), "reason": cond.get("reason"),
                        "message": cond.get("message"), "lastUpdateTime": cond.get("lastTransitionTime"),
                        "lastTransitionTime": cond.get("lastTransitionTime")}
        return None

    def _requeue_stuck(self, d: dict, status: dict) -> None:
        """Come back when the progress deadline would pass, to mark ProgressDeadlineExceeded."""
        current = get_condition((d.get("status") or {}).get("conditions"), "Progressing")
        deadline = du.progress_deadline(d)
        if deadline is None or current is None or du.deployment_complete(d, status) or \
                current.get("reason") == du.TIMED_OUT_REASON:
            return
        since = parse_time(current.get("lastUpdateTime"))
        if since is None:
            return
        after = (since - self.now()).total_seconds() + deadline
        if after < 1:
            self.queue.add_rate_limited(key_of(d))
        else:
            self.queue.add_after(key_of(d), after + 1)

    async def _check_paused_conditions(self, d: dict, seen: dict) -> None:
        if du.progress_deadline(d) is None:
            return
        cond = get_condition((d.get("status") or {}).get("conditions"), "Progressing")
        if cond is not None and cond.get("reason") == du.TIMED_OUT_REASON:
            return  # a timed-out rollout stays timed out until something changes
        paused = bool(d["spec"].get("paused"))
        paused_cond = cond is not None and cond.get("reason") == du.PAUSED_REASON
        new = None
        if paused and not paused_cond:
            new = du.new_condition("Progressing", "Unknown", du.PAUSED_REASON, "Deployment is paused", self.now())
        elif not paused and paused_cond:
            new = du.new_condition("Progressing", "Unknown", du.RESUMED_REASON, "Deployment is resumed", self.now())
        if new is not None:
            du.set_condition(d.setdefault("status", {}), new)
            await self._write_status(d, seen)

    async def _write_status(self, d: dict, seen: dict, *, quiet: bool = False) -> None:
        """UpdateStatus; a changed revision annotation is patched onto the object first, since a
        status update may not carry metadata changes."""
        ns, name = meta(d)["namespace"], name_of(d)
        try:
            revision = (meta(d).get("annotations") or {}).get(du.REVISION_ANNOTATION)
            if revision is not None and seen.get("revision") != revision:
                patched = await self.client.patch(DEPLOYMENTS, name, {"metadata": {
                    "annotations": {du.REVISION_ANNOTATION: revision},
                    "resourceVersion": meta(d).get("resourceVersion")}}, namespace=ns)
                d["metadata"]["resourceVersion"] = meta(patched).get("resourceVersion")
                seen["revision"] = revision
            body = dict(d, status=du.to_wire(d.get("status") or {}))
            updated = await self.client.update(DEPLOYMENTS, body, namespace=ns, subresource="status")
            d["metadata"]["resourceVersion"] = meta(updated).get("resourceVersion")
        except NotFound:
            return
        except Exception:
            if not quiet:
                raise
