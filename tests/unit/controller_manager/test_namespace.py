"""Namespace and ServiceAccount controllers, and the --controllers selection."""

from __future__ import annotations

import pytest

from shared.client import NotFound
from shared.resources import CONFIGMAPS, NAMESPACES, PODS, SERVICEACCOUNTS

from services.controller_manager import controllers as registry
from services.controller_manager.config import ControllerManagerConfig
from services.controller_manager.controllers.namespace import NamespaceController
from services.controller_manager.controllers.serviceaccount import ServiceAccountController
from tests.unit.controller_manager.builders import pod
from tests.unit.controller_manager.fakes import api_error


def namespace(name: str = "team", *, terminating: bool = True, finalizers: list | None = None) -> dict:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "uid": f"uid-{name}"},
          "spec": {"finalizers": ["kubernetes"] if finalizers is None else finalizers},
          "status": {"phase": "Terminating" if terminating else "Active"}}
    if terminating:
        ns["metadata"]["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    return ns


async def test_terminating_namespace_is_emptied_then_finalized(cluster):
    cluster.add(NAMESPACES, namespace())
    cluster.add(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "team"}})
    cluster.add(PODS, pod("p", ns="team"))
    cluster.add(PODS, pod("other", ns="default"))
    nc = NamespaceController(cluster.ctx())
    await nc.sync("team")
    deleted = sorted((c.plural, c.name) for c in cluster.client.calls_of("delete"))
    assert ("configmaps", "cfg") in deleted and ("pods", "p") in deleted
    assert ("pods", "other") not in deleted
    finalize = [c for c in cluster.client.calls_of("update", "namespaces") if c.kwargs["subresource"] == "finalize"]
    assert finalize and finalize[0].body["spec"]["finalizers"] == []


async def test_remaining_content_delays_finalize_and_is_reported(cluster):
    cluster.add(NAMESPACES, namespace())
    terminating = pod("slow", ns="team", deleting=True)
    cluster.add(PODS, terminating)
    nc = NamespaceController(cluster.ctx())
    await nc.sync("team")
    assert cluster.client.calls_of("delete", "pods") == []  # already on its way out
    updates = cluster.client.calls_of("update", "namespaces")
    assert [u.kwargs["subresource"] for u in updates] == ["status"]
    remaining = next(c for c in updates[0].body["status"]["conditions"] if c["type"] == "NamespaceContentRemaining")
    assert remaining["status"] == "True"
    assert remaining["message"] == "Some resources are remaining: pods has 1 resource instances"
    assert nc.queue.waiting == 1


async def test_active_namespace_is_untouched(cluster):
    cluster.add(NAMESPACES, namespace(terminating=False))
    nc = NamespaceController(cluster.ctx())
    await nc.sync("team")
    assert cluster.client.calls == []


async def test_finalize_falls_back_to_update_without_the_subresource(cluster):
    cluster.add(NAMESPACES, namespace())
    cluster.client.fail_next("update", "namespaces", None, api_error(NotFound, "the server could not find the "
                                                                              "requested resource", 404))
    nc = NamespaceController(cluster.ctx())
    await nc.sync("team")
    subresources = [c.kwargs["subresource"] for c in cluster.client.calls_of("update", "namespaces")]
    assert subresources == ["status", "finalize", None]


async def test_default_service_account_is_created_once(cluster):
    cluster.add(NAMESPACES, namespace("team", terminating=False))
    sac = ServiceAccountController(cluster.ctx())
    await sac.sync("team")
    [create] = cluster.client.calls_of("create", "serviceaccounts")
    assert create.body["metadata"] == {"name": "default", "namespace": "team"}
    cluster.add(SERVICEACCOUNTS, create.body)
    await sac.sync("team")
    assert len(cluster.client.calls_of("create")) == 1


async def test_no_service_account_in_terminating_namespace(cluster):
    cluster.add(NAMESPACES, namespace("team"))
    await ServiceAccountController(cluster.ctx()).sync("team")
    assert cluster.client.calls == []


ALL = [s.name for s in registry.SPECS]


@pytest.mark.parametrize(("flag", "expected"), [
    ("*", ALL),
    ("*,-nodelifecycle", [n for n in ALL if n != "node-lifecycle-controller"]),
    ("*,-node-lifecycle-controller,-podgc", [n for n in ALL if n not in ("node-lifecycle-controller",
                                                                        "pod-garbage-collector-controller")]),
    ("deployment,replicaset", ["deployment-controller", "replicaset-controller"]),
    ("-deployment,deployment", []),  # the first explicit choice wins, as in Kubernetes
    ("", []),
])
def test_controllers_flag(flag, expected):
    assert [s.name for s in registry.selected(flag)] == expected


def test_node_ipam_runs_only_when_allocating_cidrs():
    names = lambda cfg: [s.name for s in registry.runnable(registry.selected("*"), cfg)]  # noqa: E731
    assert "node-ipam-controller" in names(ControllerManagerConfig())
    assert "node-ipam-controller" not in names(ControllerManagerConfig(allocate_node_cidrs=False))


def test_unknown_controller_is_an_error():
    with pytest.raises(ValueError, match="unknown controllers: bogus"):
        registry.selected("*,bogus")
