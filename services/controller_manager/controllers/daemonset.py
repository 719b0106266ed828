"""DaemonSet controller (k8s pkg/controller/daemon, as kube-controller-manager 1.32 runs it).

Guarantees, for each DaemonSet key (`sync`, level-based):
- its pods are the pods with its controller ownerReference (matching orphans adopted, strays
  released), grouped by the node they run on or, still pending, the node their affinity names;
- every node that should run a daemon pod (daemonset_util.node_should_run) gets exactly one: a pod
  from the template with generateName "<ds>-", the controller ownerReference, the labels
  controller-revision-hash and pod-template-generation, the daemon tolerations, and a required
  node affinity `matchFields metadata.name In [node]`, so the default scheduler binds it there.
  Creates go in slow-start batches (1, 2, 4, ...) under expectations; nothing more is created or
  deleted while earlier creates/deletes are unobserved.
- extra pods on a node (all but the oldest), pods on nodes that should not run one (or whose
  NoExecute taint they do not tolerate), succeeded pods, and failed pods are deleted; a failed pod
  is deleted at most once per backoff period (1 s doubling to 15 min per node), with a
  FailedDaemonPod event, since a kubelet that keeps rejecting a pod must not make a hot loop.
- the template is recorded as a ControllerRevision "<ds>-<hash>" (labels of the template plus
  controller-revision-hash, controller ownerReference, data = getPatch, revision = max + 1; an
  older revision that matches again is renumbered); revisions beyond revisionHistoryLimit that no
  pod uses are deleted, oldest first.
- RollingUpdate (maxSurge 0): a node whose only pod is old has it deleted if it is unavailable,
  otherwise while fewer than maxUnavailable (of desiredNumberScheduled, percent rounded up)
  nodes are unavailable; the create path then puts the new pod there. OnDelete replaces only
  what someone else deleted.
- status (desired/current/updated/misscheduled numbers, ready, available after minReadySeconds,
  unavailable, observedGeneration) goes through /status only when it changed.
Not implemented: maxSurge > 0 (surge rolling updates: the API server defaults maxSurge to 0, and
  a surge is treated as 0 here), hash collisions (collisionCount is honoured but never raised).
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Mapping

from services.controller_manager.base import Controller, ControllerContext
from services.controller_manager.controllers import daemonset_util as du
from services.controller_manager.controllers.deployment_util import compute_hash
from services.controller_manager.controllers.replicaset import (
    pod_from_template,
    slow_start_batch,
)
from services.controller_manager.expectations import Expectations
from services.controller_manager.labels import selector_is_empty, selector_matches
from services.controller_manager.objects import (
    controller_ref,
    is_being_deleted,
    is_pod_available,
    is_pod_ready,
    key_of,
    labels_of,
    meta,
    name_of,
    new_controller_ref,
    resolve_controller_ref,
    split_key,
    status_cause,
    uid_of,
    unwrap_tombstone,
)
from services.controller_manager.refmanager import RefManager, recheck_owner
from shared.client import AlreadyExists, NotFound
from shared.logging import get_logger
from shared.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS

log = get_logger()

API_VERSION, KIND = "apps/v1", "DaemonSet"
BURST_REPLICAS = 250
SLOW_START_INITIAL_BATCH = 1
STATUS_UPDATE_RETRIES = 1
DEFAULT_REVISION_HISTORY_LIMIT = 10
# DaemonSetStatus fields without omitempty (always written) and with it (left out when zero)
_REQUIRED_STATUS = ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady")
_OPTIONAL_STATUS = ("observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable")


def _is_terminal(pod: Mapping) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _spec(ds: Mapping) -> Mapping:
    return ds.get("spec") or {}


def node_to_daemon_pods(pods: list[dict], *, include_deleted_terminal: bool = False) -> dict[str, list[dict]]:
    """getNodesToDaemonPods: pods by target node; finished pods being deleted are left out."""
    out: dict[str, list[dict]] = {}
    for pod in pods:
        if not include_deleted_terminal and _is_terminal(pod) and is_being_deleted(pod):
            continue
        node = du.target_node_name(pod)
        if node is not None:
            out.setdefault(node, []).append(pod)
    return out


def calculate_status(ds: Mapping, nodes: list[dict], by_node: Mapping[str, list[dict]], hash_: str,
                     now) -> dict:
    """updateDaemonSetStatus' counts (each node's oldest pod stands for the node)."""
    desired = current = misscheduled = ready = updated = available = 0
    min_ready = _spec(ds).get("minReadySeconds") or 0
    generation = du.template_generation(ds)
    for node in nodes:
        should_run, _ = du.node_should_run(node, ds)
        pods = by_node.get(name_of(node)) or []
        if not should_run:
            misscheduled += 1 if pods else 0
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        pod = min(pods, key=du.by_creation_and_phase)
        if is_pod_ready(pod):
            ready += 1
            available += 1 if is_pod_available(pod, min_ready, now) else 0
        updated += 1 if du.is_pod_updated(pod, hash_, generation) else 0
    return {"desiredNumberScheduled": desired, "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled, "numberReady": ready, "updatedNumberScheduled": updated,
            "numberAvailable": available, "numberUnavailable": desired - available}


def rolling_update_deletions(ds: Mapping, nodes: list[dict], by_node: Mapping[str, list[dict]], hash_: str,
                             now) -> list[dict]:
    """rollingUpdate with maxSurge 0: which old pods to delete now."""
    min_ready = _spec(ds).get("minReadySeconds") or 0
    generation = du.template_generation(ds)
    wanted = {name_of(n) for n in nodes if du.node_should_run(n, ds)[0]}
    budget = du.max_unavailable(ds, len(wanted))
    unavailable = 0
    replace, candidates = [], []
    for node_name in sorted(wanted | set(by_node)):
        live = [p for p in by_node.get(node_name) or [] if not is_being_deleted(p)]
        new = [p for p in live if du.is_pod_updated(p, hash_, generation)]
        old = [p for p in live if not du.is_pod_updated(p, hash_, generation)]
        if len(new) > 1 or len(old) > 1 or bool(new) == bool(old):
            unavailable += 1  # manage creates or prunes here: count it as unavailable
        elif new:
            unavailable += 0 if is_pod_available(new[0], min_ready, now) else 1
        elif not is_pod_available(old[0], min_ready, now):
            replace.append(old[0])  # not available anyway: replacing it costs nothing
        elif unavailable < budget:
            candidates.append(old[0])
    room = max(0, min(budget - unavailable, len(candidates)))
    return replace + candidates[:room]


class DaemonSetController(Controller):
    name = "daemonset-controller"
    queue_name = "daemonset"
    default_workers = 2

    def __init__(self, ctx: ControllerContext, *, workers: int | None = None) -> None:
        super().__init__(ctx, workers=workers)
        self.expectations = Expectations()
        self.failed_pods_backoff = du.FailedPodsBackoff()
        self.monotonic = time.monotonic  # the backoff's clock
        self.recorder = ctx.recorder_factory(self.name)
        self.ds_informer = ctx.informers.informer(DAEMONSETS)
        self.history_informer = ctx.informers.informer(CONTROLLERREVISIONS)
        self.pod_informer = ctx.informers.informer(PODS)
        self.node_informer = ctx.informers.informer(NODES)
        self.ds_informer.add_event_handler(on_add=self.enqueue, on_update=self._update_ds, on_delete=self._delete_ds)
        self.history_informer.add_event_handler(on_add=self._add_history, on_update=self._update_owned,
                                                on_delete=self._delete_history)
        self.pod_informer.add_event_handler(on_add=self._add_pod, on_update=self._update_pod,
                                            on_delete=self._delete_pod)
        self.node_informer.add_event_handler(on_add=self._add_node, on_update=self._update_node)

    # --- event handlers: bookkeeping and enqueue only ---

    def _update_ds(self, old: dict, new: dict) -> None:
        if uid_of(old) != uid_of(new):
            self._delete_ds(old)  # deleted and recreated between two events
        self.enqueue(new)

    def _delete_ds(self, obj: object) -> None:
        ds = unwrap_tombstone(obj)
        if ds is not None:
            self.expectations.delete(key_of(ds))
            self.enqueue(ds)

    def _resolve(self, obj: Mapping, ref: Mapping | None) -> dict | None:
        return resolve_controller_ref(self.ds_informer.lister, meta(obj).get("namespace", ""), ref, kind=KIND)

    def _matching(self, obj: Mapping) -> list[dict]:
        dss = self.ds_informer.lister.list(namespace=meta(obj).get("namespace"))
        return [ds for ds in dss if selector_matches(_spec(ds).get("selector"), labels_of(obj))]

    def _add_pod(self, pod: dict) -> None:
        if is_being_deleted(pod):
            self._delete_pod(pod)  # a restarted controller sees a pending deletion as an add
            return
        ref = controller_ref(pod)
        ds = self._resolve(pod, ref)
        if ds is not None:
            self.expectations.creation_observed(key_of(ds))
            self.enqueue(ds)
        elif ref is None:
            for match in self._matching(pod):  # an orphan: whoever matches may adopt it
                self.enqueue(match)

    def _update_pod(self, old: dict, new: dict) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        if is_being_deleted(new):
            self._delete_pod(new)  # don't wait for the kubelet: a replacement may be created at once
            return
        self._update_owned(old, new)
        ds = self._resolve(new, controller_ref(new))
        min_ready = (_spec(ds).get("minReadySeconds") or 0) if ds is not None else 0
        if min_ready and not is_pod_ready(old) and is_pod_ready(new):  # check availability once it can be
            self.queue.add_after(key_of(ds), min_ready + 1)

    def _update_owned(self, old: dict, new: dict) -> None:
        """updatePod / updateHistory: wake the old and the new controller, or matching ones for an orphan."""
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref and old_ref != new_ref:
            previous = self._resolve(old, old_ref)
            if previous is not None:
                self.enqueue(previous)
        if new_ref is not None:
            ds = self._resolve(new, new_ref)
            if ds is not None:
                self.enqueue(ds)
        elif labels_of(old) != labels_of(new) or old_ref != new_ref:
            for match in self._matching(new):
                self.enqueue(match)

    def _delete_pod(self, obj: object) -> None:
        pod = unwrap_tombstone(obj)
        ds = self._resolve(pod, controller_ref(pod)) if pod is not None else None
        if ds is not None:
            self.expectations.deletion_observed(key_of(ds), key_of(pod))
            self.enqueue(ds)

    def _add_history(self, history: dict) -> None:
        if is_being_deleted(history):
            self._delete_history(history)
        elif controller_ref(history) is None:
            for match in self._matching(history):
                self.enqueue(match)

    def _delete_history(self, obj: object) -> None:
        history = unwrap_tombstone(obj)
        ds = self._resolve(history, controller_ref(history)) if history is not None else None
        if ds is not None:
            self.enqueue(ds)

    def _add_node(self, node: dict) -> None:
        for ds in self.ds_informer.lister.list():
            if du.node_should_run(node, ds)[0]:
                self.enqueue(ds)

    def _update_node(self, old: dict, new: dict) -> None:
        if _ignore_node_update(old, new):
            return
        for ds in self.ds_informer.lister.list():
            if du.node_should_run(old, ds) != du.node_should_run(new, ds):
                self.enqueue(ds)

    # --- sync ---

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.ds_informer.lister.get(name, namespace)
        if cached is None:
            self.expectations.delete(key)
            return
        ds = copy.deepcopy(cached)
        nodes = self.node_informer.lister.list()
        if selector_is_empty(_spec(ds).get("selector")):
            self.recorder.event(ds, "Warning", "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        if is_being_deleted(ds):
            return  # its revisions may be going away: no status can be trusted
        current, old = await self._construct_history(ds)
        hash_ = labels_of(current).get(du.HASH_LABEL, "")
        pods = await self._claim_pods(ds)
        if not self.expectations.satisfied(key):
            await self._update_status(ds, nodes, pods, hash_, observed_generation=False)
            return
        error: Exception | None = None
        try:
            await self._update_daemon_set(ds, nodes, pods, hash_, old)
        except Exception as err:  # noqa: BLE001 - the status is still written, then the error requeues
            error = err
        await self._update_status(ds, nodes, pods, hash_, observed_generation=True)
        if error is not None:
            raise error

    async def _claim_pods(self, ds: dict) -> list[dict]:
        selector = _spec(ds).get("selector")
        manager = RefManager(self.client, ref=PODS, owner=ds, api_version=API_VERSION, kind=KIND,
                             matches=lambda p: selector_matches(selector, labels_of(p)),
                             can_adopt=recheck_owner(self.client, DAEMONSETS, ds))
        return await manager.claim(self.pod_informer.lister.list(namespace=meta(ds)["namespace"]))

    async def _update_daemon_set(self, ds: dict, nodes: list[dict], pods: list[dict], hash_: str,
                                 old: list[dict]) -> None:
        key = key_of(ds)
        await self._manage(ds, nodes, node_to_daemon_pods(pods), hash_)
        strategy = (_spec(ds).get("updateStrategy") or {}).get("type", "RollingUpdate")
        if self.expectations.satisfied(key) and strategy == "RollingUpdate":
            victims = rolling_update_deletions(ds, nodes, node_to_daemon_pods(pods), hash_, self.now())
            if victims:
                log.info("daemonset.rolling_update", deleting=[name_of(p) for p in victims])
            await self._sync_nodes(ds, [name_of(p) for p in victims], [], hash_)
        await self._cleanup_history(ds, old, node_to_daemon_pods(pods, include_deleted_terminal=True))

    # --- manage: one pod on each node that wants one ---

    async def _manage(self, ds: dict, nodes: list[dict], by_node: dict[str, list[dict]], hash_: str) -> None:
        needing, to_delete = [], []
        for node in nodes:
            create, delete = self._pods_should_be_on_node(ds, node, by_node)
            needing += create
            to_delete += delete
        names = {name_of(n) for n in nodes}
        for node_name, pods in by_node.items():  # pending pods aimed at a node that is gone
            if node_name not in names:
                to_delete += [name_of(p) for p in pods if not (p.get("spec") or {}).get("nodeName")]
        await self._sync_nodes(ds, to_delete, needing, hash_)

    def _pods_should_be_on_node(self, ds: dict, node: dict,
                                by_node: dict[str, list[dict]]) -> tuple[list[str], list[str]]:
        """podsShouldBeOnNode (without surge): (nodes needing a pod, names of pods to delete)."""
        should_run, should_continue = du.node_should_run(node, ds)
        node_name = name_of(node)
        pods = by_node.get(node_name)
        if should_run and pods is None:
            return [node_name], []
        if not should_continue:
            return [], [name_of(p) for p in pods or [] if not is_being_deleted(p)]
        to_delete, running = [], []
        for pod in pods or []:
            phase = (pod.get("status") or {}).get("phase")
            if is_being_deleted(pod):
                continue
            if phase == "Failed":
                if self._failed_pod_may_go(ds, pod, node_name):
                    to_delete.append(name_of(pod))
            elif phase == "Succeeded":
                self.recorder.event(ds, "Normal", "SucceededDaemonPod",
                                    f"Found succeeded daemon pod {meta(pod)['namespace']}/{name_of(pod)} "
                                    f"on node {node_name}, will try to delete it")
                to_delete.append(name_of(pod))
            else:
                running.append(pod)
        running.sort(key=du.by_creation_and_phase)
        return [], to_delete + [name_of(p) for p in running[1:]]  # keep only the oldest

    def _failed_pod_may_go(self, ds: dict, pod: dict, node_name: str) -> bool:
        """A failed pod is deleted once per backoff period per node (the kubelet may keep rejecting it)."""
        backoff_key = f"{uid_of(ds)}/{(ds.get('status') or {}).get('observedGeneration', 0)}/{node_name}"
        now = self.monotonic()
        if self.failed_pods_backoff.in_backoff_since_update(backoff_key, now):
            self.queue.add_after(key_of(ds), self.failed_pods_backoff.get(backoff_key))
            return False
        self.failed_pods_backoff.next(backoff_key, now)
        self.recorder.event(ds, "Warning", "FailedDaemonPod", f"Found failed daemon pod "
                            f"{meta(pod)['namespace']}/{name_of(pod)} on node {node_name}, will try to kill it")
        log.info("daemonset.failed_pod", pod=name_of(pod), node=node_name)
        return True

    async def _sync_nodes(self, ds: dict, to_delete: list[str], needing: list[str], hash_: str) -> None:
        """syncNodes: expectations first, then creates in slow-start batches and the deletes."""
        key, namespace = key_of(ds), meta(ds)["namespace"]
        needing, to_delete = needing[:BURST_REPLICAS], to_delete[:BURST_REPLICAS]
        self.expectations.expect(key, len(needing), [f"{namespace}/{n}" for n in to_delete])
        template = du.create_pod_template(_spec(ds).get("template") or {}, du.template_generation(ds), hash_)
        owner_ref = new_controller_ref(ds, api_version=API_VERSION, kind=KIND)
        targets = iter(needing)
        attempted = [0]

        async def create_one() -> None:
            node_name = next(targets)
            attempted[0] += 1
            pod = pod_from_template(ds, template, owner_ref)
            pod["spec"]["affinity"] = du.replace_node_name_affinity(pod["spec"].get("affinity"), node_name)
            try:
                created = await self.client.create(PODS, pod, namespace=namespace)
            except Exception as err:
                if status_cause(err, "NamespaceTerminating"):
                    return  # every create fails while the namespace goes away
                self.expectations.creation_observed(key)
                self.recorder.event(ds, "Warning", "FailedCreate", f"Error creating: {err}")
                raise
            self.recorder.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {name_of(created)}")
            log.info("daemonset.pod_created", pod=name_of(created), node=node_name)

        errors: list[Exception] = []
        _, error = await slow_start_batch(len(needing), SLOW_START_INITIAL_BATCH, create_one)
        if error is not None:
            errors.append(error)
            for _ in range(len(needing) - attempted[0]):
                self.expectations.creation_observed(key)  # skipped after a failed batch: never to be observed
        results = await asyncio.gather(*(self._delete_pod_named(ds, n) for n in to_delete), return_exceptions=True)
        errors += [r for r in results if isinstance(r, Exception)]
        if errors:
            raise errors[0]

    async def _delete_pod_named(self, ds: dict, pod_name: str) -> None:
        namespace = meta(ds)["namespace"]
        try:
            await self.client.delete(PODS, pod_name, namespace=namespace)
        except Exception as err:
            self.expectations.deletion_observed(key_of(ds), f"{namespace}/{pod_name}")
            if isinstance(err, NotFound):
                return
            self.recorder.event(ds, "Warning", "FailedDelete", f"Error deleting: {err}")
            raise
        self.recorder.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod_name}")
        log.info("daemonset.pod_deleted", pod=pod_name)

    # --- history: ControllerRevisions ---

    async def _construct_history(self, ds: dict) -> tuple[dict, list[dict]]:
        """constructHistory: (the current revision, created or renumbered if needed; the old ones)."""
        histories = [await self._with_hash_label(h) for h in await self._claim_histories(ds)]
        patch = du.get_patch(ds)
        current = [h for h in histories if h.get("data") == patch]
        old = [h for h in histories if h.get("data") != patch]
        next_revision = max((h.get("revision", 0) for h in old), default=0) + 1
        if not current:
            return await self._snapshot(ds, next_revision), old
        cur = await self._dedup(ds, current)
        if cur.get("revision", 0) < next_revision:
            cur = await self.client.update(CONTROLLERREVISIONS, dict(cur, revision=next_revision),
                                           namespace=meta(ds)["namespace"])
            log.info("daemonset.revision_renumbered", revision=name_of(cur), number=next_revision)
        return cur, old

    async def _with_hash_label(self, history: dict) -> dict:
        """A revision made by someone else gets its name as controller-revision-hash (no rehashing:
        a hash collision would give two revisions one label)."""
        if du.HASH_LABEL in labels_of(history):
            return history
        labeled = {**history, "metadata": {**meta(history), "labels": {**labels_of(history),
                                                                        du.HASH_LABEL: name_of(history)}}}
        return await self.client.update(CONTROLLERREVISIONS, labeled, namespace=meta(history)["namespace"])

    async def _claim_histories(self, ds: dict) -> list[dict]:
        selector = _spec(ds).get("selector")
        manager = RefManager(self.client, ref=CONTROLLERREVISIONS, owner=ds, api_version=API_VERSION, kind=KIND,
                             matches=lambda h: selector_matches(selector, labels_of(h)),
                             can_adopt=recheck_owner(self.client, DAEMONSETS, ds))
        return await manager.claim(self.history_informer.lister.list(namespace=meta(ds)["namespace"]))

    async def _dedup(self, ds: dict, current: list[dict]) -> dict:
        """dedupCurHistories: keep the highest revision; the others' pods are relabelled, then deleted."""
        keep = max(current, key=lambda h: h.get("revision", 0))
        keep_hash = labels_of(keep).get(du.HASH_LABEL)
        for dup in current:
            if dup is keep:
                continue
            for pod in await self._claim_pods(ds):
                if labels_of(pod).get(du.HASH_LABEL) != keep_hash:
                    await self.client.patch(PODS, name_of(pod), {"metadata": {"labels": {du.HASH_LABEL: keep_hash}}},
                                            namespace=meta(pod)["namespace"])
            await self.client.delete(CONTROLLERREVISIONS, name_of(dup), namespace=meta(ds)["namespace"])
        return keep

    async def _snapshot(self, ds: dict, revision: int) -> dict:
        """snapshot: create "<ds>-<hash>"; an existing one with the same data is ours already."""
        template = _spec(ds).get("template") or {}
        hash_ = compute_hash(template, (ds.get("status") or {}).get("collisionCount"))
        name = f"{name_of(ds)}-{hash_}"
        labels = {**((template.get("metadata") or {}).get("labels") or {}), du.HASH_LABEL: hash_}
        history = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                   "metadata": {"name": name, "namespace": meta(ds)["namespace"], "labels": labels,
                                "ownerReferences": [new_controller_ref(ds, api_version=API_VERSION, kind=KIND)]},
                   "data": du.get_patch(ds), "revision": revision}
        if meta(ds).get("annotations"):
            history["metadata"]["annotations"] = dict(meta(ds)["annotations"])
        try:
            created = await self.client.create(CONTROLLERREVISIONS, history, namespace=meta(ds)["namespace"])
        except AlreadyExists:
            existing = await self.client.get(CONTROLLERREVISIONS, name, namespace=meta(ds)["namespace"])
            if existing.get("data") == history["data"]:
                return existing
            raise  # a hash collision: Kubernetes bumps status.collisionCount here; kubemu does not
        log.info("daemonset.revision_created", revision=name, number=revision)
        return created

    async def _cleanup_history(self, ds: dict, old: list[dict], by_node: dict[str, list[dict]]) -> None:
        """cleanupHistory: delete the oldest revisions past revisionHistoryLimit that no pod uses."""
        limit = _spec(ds).get("revisionHistoryLimit")
        to_kill = len(old) - (DEFAULT_REVISION_HISTORY_LIMIT if limit is None else int(limit))
        if to_kill <= 0:
            return
        live = {labels_of(p).get(du.HASH_LABEL) for pods in by_node.values() for p in pods} - {None}
        for history in sorted(old, key=lambda h: h.get("revision", 0)):
            if to_kill <= 0:
                break
            if labels_of(history).get(du.HASH_LABEL) in live:
                continue
            await self.client.delete(CONTROLLERREVISIONS, name_of(history), namespace=meta(ds)["namespace"])
            log.info("daemonset.revision_deleted", revision=name_of(history))
            to_kill -= 1

    # --- status ---

    async def _update_status(self, ds: dict, nodes: list[dict], pods: list[dict], hash_: str, *,
                             observed_generation: bool) -> None:
        now = self.now()
        counts = calculate_status(ds, nodes, node_to_daemon_pods(pods), hash_, now)
        old = ds.get("status") or {}
        unchanged = all((old.get(f) or 0) == v for f, v in counts.items())
        if not (unchanged and (old.get("observedGeneration") or 0) >= (meta(ds).get("generation") or 0)):
            await self._store_status(ds, counts, observed_generation)
        min_ready = _spec(ds).get("minReadySeconds") or 0
        if min_ready and counts["numberReady"] != counts["numberAvailable"]:
            self.queue.add_after(key_of(ds), min_ready)

    async def _store_status(self, ds: dict, counts: dict, observed_generation: bool) -> None:
        """storeDaemonSetStatus: one retry on a fresh copy after a failed write."""
        namespace = meta(ds)["namespace"]
        generation = meta(ds).get("generation") or 0
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            status = dict(ds.get("status") or {})
            if observed_generation:
                status["observedGeneration"] = generation
            status.update(counts)
            status = {k: v for k, v in status.items() if k in _REQUIRED_STATUS or v not in (0, None)}
            try:
                await self.client.update(DAEMONSETS, dict(ds, status=status), namespace=namespace,
                                         subresource="status")
                return
            except NotFound:
                return
            except Exception:
                if attempt == STATUS_UPDATE_RETRIES:
                    raise
                ds = await self.client.get(DAEMONSETS, name_of(ds), namespace=namespace)


def _ignore_node_update(old: Mapping, new: Mapping) -> bool:
    """shouldIgnoreNodeUpdate: only heartbeats changed (conditions with the same true types)."""
    def true_types(node: Mapping) -> set[str]:
        return {c.get("type") for c in (node.get("status") or {}).get("conditions") or [] if c.get("status") == "True"}

    def rest(node: Mapping) -> dict:
        out = copy.deepcopy(dict(node))
        out.setdefault("metadata", {}).pop("resourceVersion", None)
        out.setdefault("status", {}).pop("conditions", None)
        return out

    return true_types(old) == true_types(new) and rest(old) == rest(new)
