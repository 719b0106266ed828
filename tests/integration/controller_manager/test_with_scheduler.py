"""With the real kube-scheduler process binding pods: a dead node's pods come back on the live one.

The stand-in nodes only run pods and renew Leases here; the scheduler's TaintToleration filter
has to keep replacements off the node the node lifecycle controller tainted.
"""

from __future__ import annotations

import pytest

from shared.resources import DEPLOYMENTS

from tests.integration.controller_manager.conftest import eventually
from tests.integration.controller_manager.test_deployment_rollout import active_pods, deployment, is_ready, rolled_out
from tests.integration.controller_manager.test_nodes_and_services import SHORT_TOLERATIONS

pytest.importorskip("services.scheduler.__main__")


async def test_replacements_are_scheduled_on_the_live_node(api_client, controller_manager, nodes, scheduler):
    fake = await nodes(["node-1", "node-2"], ready_delay=0.05, bind=False)
    await controller_manager()
    spec = deployment("sched", 4)
    spec["spec"]["template"]["spec"]["tolerations"] = SHORT_TOLERATIONS
    await api_client.create(DEPLOYMENTS, spec)
    await eventually(lambda: rolled_out(api_client, "sched", "nginx:1.25", 4), what="rollout via the scheduler")
    victim = (await active_pods(api_client, "sched"))[0]["spec"]["nodeName"]
    survivor = "node-2" if victim == "node-1" else "node-1"
    await fake.stop(victim)

    async def moved():
        pods = await active_pods(api_client, "sched")
        return len(pods) == 4 and all(p["spec"].get("nodeName") == survivor and is_ready(p) for p in pods)

    await eventually(moved, timeout=45, what=f"replacements scheduled on {survivor}")
