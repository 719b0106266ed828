"""The in-tree plugins and kube-scheduler's default profile built from them.

Guarantees: `default_plugins` lists the plugins in kube-scheduler's default order, so Filter runs
NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodeResourcesFit, PodTopologySpread,
InterPodAffinity (the first rejection names the reason), and `DEFAULT_SCORE_WEIGHTS` are the
default profile's weights.
Given a client, the profile also binds (DefaultBinder) and preempts (DefaultPreemption, the
PostFilter of kube-scheduler's default profile), the latter dry-running this profile's filters on
the nodes `node_lister` gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.scheduler.framework import Framework, NodeInfo, Plugin
from services.scheduler.plugins.balanced_allocation import BalancedAllocation
from services.scheduler.plugins.default_binder import DefaultBinder
from services.scheduler.plugins.default_preemption import DefaultPreemption
from services.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from services.scheduler.plugins.node_affinity import NodeAffinity
from services.scheduler.plugins.node_name import NodeName
from services.scheduler.plugins.node_resources_fit import NodeResourcesFit
from services.scheduler.plugins.node_unschedulable import NodeUnschedulable
from services.scheduler.plugins.pod_topology_spread import PodTopologySpread
from services.scheduler.plugins.taint_toleration import TaintToleration

DEFAULT_SCORE_WEIGHTS = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "NodeResourcesFit": 1,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesBalancedAllocation": 1,
}


def default_plugins(client: Any = None, *, recorder: Any = None,
                    node_lister: Callable[[], list[NodeInfo]] = list,
                    pods_with_affinity: Callable[[], int] | None = None) -> list[Plugin]:
    plugins: list[Plugin] = [NodeUnschedulable(), NodeName(), TaintToleration(), NodeAffinity(),
                             NodeResourcesFit(), PodTopologySpread(),
                             InterPodAffinity(pods_with_affinity=pods_with_affinity), BalancedAllocation()]
    if client is not None:
        plugins.append(DefaultPreemption(client, recorder=recorder, node_lister=node_lister))
        plugins.append(DefaultBinder(client))
    return plugins


def default_framework(client: Any = None, *, profile_name: str = "default-scheduler",
                      percentage_of_nodes_to_score: int | None = None, recorder: Any = None,
                      node_lister: Callable[[], list[NodeInfo]] = list,
                      pods_with_affinity: Callable[[], int] | None = None) -> Framework:
    framework = Framework(default_plugins(client, recorder=recorder, node_lister=node_lister,
                                          pods_with_affinity=pods_with_affinity),
                          score_weights=DEFAULT_SCORE_WEIGHTS, profile_name=profile_name,
                          percentage_of_nodes_to_score=percentage_of_nodes_to_score)
    for plugin in framework.post_filter_plugins:
        if isinstance(plugin, DefaultPreemption):
            plugin.framework = framework  # kube-scheduler hands its plugins the framework Handle
    return framework


__all__ = ["BalancedAllocation", "DEFAULT_SCORE_WEIGHTS", "DefaultBinder", "DefaultPreemption", "InterPodAffinity",
           "NodeAffinity", "NodeName", "NodeResourcesFit", "NodeUnschedulable", "PodTopologySpread", "TaintToleration",
           "default_framework", "default_plugins"]
