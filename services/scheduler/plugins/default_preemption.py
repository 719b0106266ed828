"""DefaultPreemption: when a pod fits no node, evict lower-priority pods from one node to make room
(kube-scheduler 1.32's defaultpreemption plugin and preemption Evaluator, smaller).

Guarantees:
- Eligibility: a pod with `preemptionPolicy: Never` preempts nothing ("not eligible due to
  preemptionPolicy=Never."); nor does a pod whose `status.nominatedNodeName` still holds a
  lower-priority pod that this scheduler is already preempting (deletionTimestamp set and a
  DisruptionTarget=True/PreemptionByScheduler condition: "not eligible due to a terminating pod on
  the nominated node."), so it waits for its victims instead of preempting again; unless the
  filters found the nominated node UnschedulableAndUnresolvable.
- Candidates are only the nodes the filters found Unschedulable (UnschedulableAndUnresolvable
  ones, and nodes with no status, cannot be helped by evicting pods). On a copy of each node (the
  cache is never changed) every pod of lower priority is removed; if the pod then still fails the
  filters (run as the scheduling cycle runs them, counting the pods of equal or higher priority
  nominated to the node, so room reserved for them is not given away) the node is no candidate
  (with the filter's reason, or "No preemption victims found for incoming pod" when there was
  nothing to remove). Otherwise the removed pods are added back, each kept if the pod still fits:
  first those whose eviction would violate a PodDisruptionBudget (their budget's
  status.disruptionsAllowed, spent pod by pod, would go below 0; a pod already in the budget's
  disruptedPods spends nothing), then the others, each group most important first (higher
  priority, then earlier start). Those not kept are the victims; the violating ones among them are
  counted. As
  kube-scheduler, from a random offset, at most max(10 % of the potential nodes, 100) candidates
  are collected.
- The node chosen has the fewest PodDisruptionBudget violations, then the lowest highest-victim
  priority, then the lowest sum of victim
  priorities, then the fewest victims, then the latest start of its highest-priority victims,
  then comes first.
- On success the result nominates that node and the status is Success; the API calls run as a
  background task (`spawn`), never in the scheduling cycle: the preemptor's
  `status.nominatedNodeName` is set, then each victim not already terminating gets the
  DisruptionTarget condition, is deleted, and gets a Normal "Preempted" Event ("Preempted by pod
  <uid> on node <node>"). Then the pods of lower priority nominated to that node (whose
  `status.nominatedNodeName` says so) get it cleared, so they look elsewhere. API errors are
  logged, never raised; a victim already gone is skipped.
- With no candidate the status is Unschedulable with kube-scheduler's message, "preemption: 0/N
  nodes are available: <histogram>." (nodes that were no potential candidate count as
  "Preemption is not helpful for scheduling"), and a stale `nominatedNodeName` is cleared.

The scheduler records the nomination in its nominator as soon as the cycle fails (not when the
API update returns), so the room being freed is reserved for the preemptor from the next cycle on:
a pod of lower priority is filtered as if the preemptor already ran there.

Simplifications (kube-scheduler does these and kubemu does not): no
async preemption (SchedulerAsyncPreemption), no extenders, no preemption metrics. A pod that has
not started is ordered by its creationTimestamp where kube-scheduler takes "now".
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shared.client.errors import NotFound
from shared.informer.selectors import Selector, from_label_selector
from shared.logging import get_logger
from shared.resources import PODS
from services.scheduler.framework import (
    Code,
    CycleState,
    Diagnosis,
    FitError,
    Framework,
    NodeInfo,
    PodInfo,
    PostFilterPlugin,
    PostFilterResult,
    Status,
)

log = get_logger()

PREEMPT_NEVER = "Never"
MSG_POLICY_NEVER = "not eligible due to preemptionPolicy=Never."
MSG_TERMINATING_ON_NOMINATED = "not eligible due to a terminating pod on the nominated node."
MSG_NO_VICTIMS = "No preemption victims found for incoming pod"
MSG_NOT_HELPFUL = "Preemption is not helpful for scheduling"
DISRUPTION_TARGET, PREEMPTION_BY_SCHEDULER = "DisruptionTarget", "PreemptionByScheduler"
MIN_CANDIDATE_NODES_PERCENTAGE, MIN_CANDIDATE_NODES_ABSOLUTE = 10, 100  # DefaultPreemptionArgs defaults
_PRIORITY_OFFSET = 2**31  # makes every priority >= 0 before summing, as kube-scheduler does

Spawn = Callable[[Coroutine[Any, Any, None]], Any]


@dataclass(slots=True)
class Candidate:
    """A node the preemptor fits on once `victims` (most important first) are gone."""

    node_name: str
    victims: list[PodInfo]
    num_pdb_violations: int = 0


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def start_time(pod: PodInfo) -> datetime:
    """status.startTime, else creationTimestamp, else now (kube-scheduler's GetPodStartTime, see above)."""
    status, meta = pod.pod.get("status") or {}, pod.pod.get("metadata") or {}
    return (_parse_time(status.get("startTime")) or _parse_time(meta.get("creationTimestamp"))
            or datetime.now(timezone.utc))


def importance(pod: PodInfo) -> tuple[int, datetime]:
    """Sort key putting the most important pod first (util.MoreImportantPod)."""
    return -pod.priority, start_time(pod)


def terminating_by_preemption(pod: dict) -> bool:
    """kube-scheduler's podTerminatingByPreemption."""
    if not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == DISRUPTION_TARGET:
            return condition.get("status") == "True" and condition.get("reason") == PREEMPTION_BY_SCHEDULER
    return False


def filter_pods_with_pdb_violation(pods: list[PodInfo], pdbs: list[dict]) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating), in the given order: a pod violates when a budget in its namespace
    that selects it (a nil or empty selector selects nothing here) has no disruption left once the
    pods before it have spent theirs; a pod the budget already lists in disruptedPods spends none."""
    allowed = [(pdb.get("status") or {}).get("disruptionsAllowed", 0) for pdb in pdbs]
    selectors: list[Selector | None] = []
    for pdb in pdbs:
        try:
            selector = from_label_selector((pdb.get("spec") or {}).get("selector"))
        except ValueError:
            selector = None  # an invalid selector matches no pod
        selectors.append(None if selector is None or selector.empty() else selector)
    violating, non_violating = [], []
    for pod in pods:
        meta = pod.pod.get("metadata") or {}
        labels, violated = meta.get("labels") or {}, False
        for i, pdb in enumerate(pdbs):
            selector = selectors[i]
            if not labels or selector is None or (pdb.get("metadata") or {}).get("namespace") != meta.get("namespace"):
                continue
            disrupted = (pdb.get("status") or {}).get("disruptedPods") or {}
            if not selector.matches(labels) or meta.get("name") in disrupted:
                continue
            allowed[i] -= 1
            violated = violated or allowed[i] < 0
        (violating if violated else non_violating).append(pod)
    return violating, non_violating


def pick_one_node_for_preemption(candidates: list[Candidate]) -> Candidate | None:
    """kube-scheduler's pickOneNodeForPreemption."""
    def earliest_top_start(c: Candidate) -> float:
        top = c.victims[0].priority
        return -min(start_time(v) for v in c.victims if v.priority == top).timestamp()

    criteria: list[Callable[[Candidate], Any]] = [
        lambda c: c.num_pdb_violations,
        lambda c: c.victims[0].priority,
        lambda c: sum(v.priority + _PRIORITY_OFFSET for v in c.victims),
        lambda c: len(c.victims),
        earliest_top_start,  # the latest start of the highest-priority victims wins
    ]
    for criterion in criteria:
        if len(candidates) <= 1:
            break
        best = min(criterion(c) for c in candidates)
        candidates = [c for c in candidates if criterion(c) == best]
    return candidates[0] if candidates else None


class DefaultPreemption(PostFilterPlugin):
    name = "DefaultPreemption"

    def __init__(self, client: Any, *, recorder: Any = None,
                 node_lister: Callable[[], list[NodeInfo]] = list, spawn: Spawn | None = None,
                 rng: random.Random | None = None) -> None:
        """`node_lister`: the cache's nodes; `framework` (the profile whose filters are dry-run) is set
        by the profile that holds the plugin, as kube-scheduler hands plugins its framework Handle."""
        self._client, self._recorder, self._node_lister = client, recorder, node_lister
        self.framework: Framework | None = None
        self.spawn: Spawn = spawn or self._spawn
        self._rng = rng or random.Random()
        self._tasks: set[asyncio.Task] = set()
        self.pdb_lister: Callable[[], list[dict]] = list  # the PodDisruptionBudgets informer's, set by the app

    # PostFilter ------------------------------------------------------------------------------

    def post_filter(self, state: CycleState, pod: PodInfo,
                    node_to_status: dict[str, Status]) -> tuple[PostFilterResult | None, Status | None]:
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName") or ""
        eligible, reason = self.pod_eligible_to_preempt_others(pod, node_to_status.get(nominated))
        if not eligible:
            return None, Status(Code.UNSCHEDULABLE, f"preemption: {reason}")
        nodes = self._node_lister()
        if not nodes:
            return None, Status(Code.ERROR, "preemption: no nodes available")
        candidates, statuses, error = self.find_candidates(state, pod, nodes, node_to_status)
        if not candidates:
            if error is not None:
                return None, Status(Code.ERROR, f"preemption: {error.message()}", error=error.error)
            if nominated:
                self.spawn(self._set_nominated_node(pod, None))
            diagnosis = Diagnosis(node_to_status=statuses,
                                  absent_nodes_status=Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, MSG_NOT_HELPFUL))
            fit_error = FitError(pod.key, len(nodes), diagnosis)
            return PostFilterResult(""), Status(Code.UNSCHEDULABLE, f"preemption: {fit_error}")
        best = pick_one_node_for_preemption(candidates)
        log.info("pod.preempting", key=pod.key, node=best.node_name, victims=[v.key for v in best.victims])
        self.spawn(self._prepare_candidate(pod, best, self._lower_priority_nominated_pods(pod, best.node_name)))
        return PostFilterResult(best.node_name), None

    def _lower_priority_nominated_pods(self, pod: PodInfo, node_name: str) -> list[PodInfo]:
        """The pods nominated to `node_name` that `pod` outranks and whose API object says so."""
        nominator = self.framework.pod_nominator if self.framework is not None else None
        if nominator is None:
            return []
        return [p for p in nominator.nominated_pods_for_node(node_name)
                if p.priority < pod.priority and (p.pod.get("status") or {}).get("nominatedNodeName")]

    def pod_eligible_to_preempt_others(self, pod: PodInfo, nominated_status: Status | None) -> tuple[bool, str]:
        if pod.spec.get("preemptionPolicy") == PREEMPT_NEVER:
            return False, MSG_POLICY_NEVER
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        if not nominated or nominated_status is None or nominated_status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            return True, ""  # no status: the node was not examined, which counts as unresolvable
        node = next((n for n in self._node_lister() if n.name == nominated), None)
        if node is not None and any(p.priority < pod.priority and terminating_by_preemption(p.pod)
                                    for p in node.pods.values()):
            return False, MSG_TERMINATING_ON_NOMINATED
        return True, ""

    # dry run -----------------------------------------------------------------------------------

    def find_candidates(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                        node_to_status: dict[str, Status]) -> tuple[list[Candidate], dict[str, Status], Status | None]:
        """The candidates, the statuses of the potential nodes that are none, and the first error."""
        potential = [n for n in nodes
                     if (s := node_to_status.get(n.name)) is not None and s.code == Code.UNSCHEDULABLE]
        candidates: list[Candidate] = []
        statuses: dict[str, Status] = {}
        error: Status | None = None
        if not potential:
            return candidates, statuses, error
        count = len(potential)
        wanted = min(max(count * MIN_CANDIDATE_NODES_PERCENTAGE // 100, MIN_CANDIDATE_NODES_ABSOLUTE), count)
        pdbs = self.pdb_lister()
        offset = self._rng.randrange(count)
        for i in range(count):
            node = potential[(offset + i) % count]
            if not any(p.priority < pod.priority for p in node.pods.values()):
                statuses[node.name] = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, MSG_NO_VICTIMS)
                continue  # nothing to evict: no copy, no dry run
            victims, violations, status = self.select_victims_on_node(state.clone(), pod, node.clone(), pdbs)
            if status is None and victims:
                candidates.append(Candidate(node.name, victims, violations))
                if len(candidates) >= wanted:
                    break
                continue
            if status is None:
                status = Status(Code.ERROR, f'expected at least one victim pod on node "{node.name}"')
            if status.code == Code.ERROR and error is None:
                error = status
            statuses[node.name] = status
        return candidates, statuses, error

    def select_victims_on_node(self, state: CycleState, pod: PodInfo, node: NodeInfo,
                               pdbs: list[dict] = ()) -> tuple[list[PodInfo], int, Status | None]:
        """The fewest pods to evict from `node` (a copy, changed here) for `pod` to fit, most
        important first, and how many of them violate a PodDisruptionBudget."""
        potential = [p for p in node.pods.values() if p.priority < pod.priority]
        if not potential:
            return [], 0, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, MSG_NO_VICTIMS)
        for victim in potential:
            node.remove_pod(victim.key)
        if (status := self._filter(state, pod, node)) is not None:
            return [], 0, status
        violating, non_violating = filter_pods_with_pdb_violation(sorted(potential, key=importance), list(pdbs))
        victims, violations = [], 0
        for group, violates in ((violating, True), (non_violating, False)):
            for candidate in group:
                node.add_pod(candidate)
                if self._filter(state, pod, node) is not None:
                    node.remove_pod(candidate.key)
                    victims.append(candidate)
                    violations += violates
        return sorted(victims, key=importance), violations, None

    def _filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if self.framework is None:
            return Status(Code.ERROR, "DefaultPreemption has no framework to run filters with")
        return self.framework.run_filter_plugins_with_nominated_pods(state, pod, node)

    # the API calls, in the background ----------------------------------------------------------

    async def _prepare_candidate(self, pod: PodInfo, candidate: Candidate, lower_nominated: list[PodInfo]) -> None:
        await self._set_nominated_node(pod, candidate.node_name)
        victims = [v for v in candidate.victims if not (v.pod.get("metadata") or {}).get("deletionTimestamp")]
        await asyncio.gather(*(self._preempt(pod, v, candidate.node_name) for v in victims))
        # They may no longer fit there; cleared, they look elsewhere (the informer update drops them
        # from the nominator).
        await asyncio.gather(*(self._set_nominated_node(p, None) for p in lower_nominated))

    async def _set_nominated_node(self, pod: PodInfo, node_name: str | None) -> None:
        meta = pod.pod.get("metadata") or {}
        try:
            await self._client.patch(PODS, meta["name"], {"status": {"nominatedNodeName": node_name}},
                                     namespace=meta.get("namespace"), subresource="status", patch_type="strategic")
        except Exception as exc:  # the pod may be gone; its next attempt nominates again
            log.info("preemption.nominate_failed", key=pod.key, node=node_name, error=str(exc))

    async def _preempt(self, preemptor: PodInfo, victim: PodInfo, node_name: str) -> None:
        """kube-scheduler's PreemptPod: mark the victim a DisruptionTarget, delete it, record an Event."""
        meta = victim.pod.get("metadata") or {}
        name, namespace = meta.get("name", ""), meta.get("namespace")
        scheduler_name = preemptor.spec.get("schedulerName") or "default-scheduler"
        condition = {"type": DISRUPTION_TARGET, "status": "True", "reason": PREEMPTION_BY_SCHEDULER,
                     "message": f"{scheduler_name}: preempting to accommodate a higher priority pod",
                     "lastTransitionTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        try:
            if not _has_condition(victim.pod, condition):
                await self._client.patch(PODS, name, {"status": {"conditions": [condition]}}, namespace=namespace,
                                         subresource="status", patch_type="strategic")
            await self._client.delete(PODS, name, namespace=namespace)
        except NotFound:
            log.info("preemption.victim_gone", preemptor=preemptor.key, victim=victim.key, node=node_name)
            return
        except Exception as exc:  # the preemptor's next attempt finds the victims again
            log.warning("preemption.victim_failed", preemptor=preemptor.key, victim=victim.key, node=node_name,
                        error=str(exc))
            return
        if self._recorder is not None:
            message = f"Preempted by pod {preemptor.uid} on node {node_name}"
            self._recorder.event(victim.pod, "Normal", "Preempted", message)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _has_condition(pod: dict, condition: dict) -> bool:
    """podutil.UpdatePodCondition's no-op case: the same type, status, reason and message."""
    return any(all(c.get(k) == condition[k] for k in ("type", "status", "reason", "message"))
               for c in (pod.get("status") or {}).get("conditions") or [])
