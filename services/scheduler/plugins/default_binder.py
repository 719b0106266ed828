"""DefaultBinder: binds a pod by POSTing a Binding to its `pods/binding` subresource, as
kube-scheduler does; the API server then sets `spec.nodeName` and PodScheduled=True."""

from __future__ import annotations

from typing import Any

from shared.resources import PODS
from services.scheduler.framework import BindPlugin, CycleState, PodInfo, Status


def binding_for(pod: dict, node_name: str) -> dict:
    meta = pod.get("metadata") or {}
    binding_meta = {"name": meta.get("name"), "namespace": meta.get("namespace")}
    if meta.get("uid"):
        binding_meta["uid"] = meta["uid"]
    return {"apiVersion": "v1", "kind": "Binding", "metadata": binding_meta,
            "target": {"kind": "Node", "name": node_name}}


class DefaultBinder(BindPlugin):
    name = "DefaultBinder"

    def __init__(self, client: Any) -> None:
        self._client = client

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        body = binding_for(pod.pod, node_name)
        try:
            await self._client.create(PODS, body, namespace=body["metadata"]["namespace"], subresource="binding")
        except Exception as exc:  # any API or transport failure: the scheduler forgets and retries
            return Status.as_error(exc)
        return None
