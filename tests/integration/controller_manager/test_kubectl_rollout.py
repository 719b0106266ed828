"""The real kubectl drives a rollout: apply, rollout status, set image, rollout undo, rollout history."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from shared.resources import REPLICASETS

from tests.integration.controller_manager.conftest import eventually

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx
spec:
  replicas: 3
  selector:
    matchLabels: {app: nginx}
  template:
    metadata:
      labels: {app: nginx}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
"""

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


async def kubectl(apiserver, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
    proc = await asyncio.create_subprocess_exec(
        "kubectl", "--kubeconfig", str(apiserver.kubeconfig), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), timeout)
    text = out.decode()
    assert proc.returncode == 0, f"kubectl {' '.join(args)} failed: {text}"
    return text


async def test_kubectl_rollout_status_set_image_and_undo(apiserver, api_client, controller_manager, nodes):
    await nodes(["node-1"], ready_delay=0.1)
    await controller_manager()
    await kubectl(apiserver, "apply", "-f", "-", stdin=MANIFEST)
    out = await kubectl(apiserver, "rollout", "status", "deployment/nginx", "--timeout=60s")
    assert 'deployment "nginx" successfully rolled out' in out

    await kubectl(apiserver, "set", "image", "deployment/nginx", "nginx=nginx:1.26")
    out = await kubectl(apiserver, "rollout", "status", "deployment/nginx", "--timeout=60s")
    assert 'deployment "nginx" successfully rolled out' in out
    history = await kubectl(apiserver, "rollout", "history", "deployment/nginx")
    assert "1 " in history and "2 " in history

    await kubectl(apiserver, "rollout", "undo", "deployment/nginx")
    out = await kubectl(apiserver, "rollout", "status", "deployment/nginx", "--timeout=60s")
    assert 'deployment "nginx" successfully rolled out' in out
    image = await kubectl(apiserver, "get", "deployment", "nginx", "-o",
                          "jsonpath={.spec.template.spec.containers[0].image}")
    assert image == "nginx:1.25"
    rss = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs["spec"]["template"]["spec"]
           ["containers"][0]["image"] for rs in (await api_client.list(REPLICASETS, namespace="default"))["items"]}
    assert rss == {"3": "nginx:1.25", "2": "nginx:1.26"}


async def test_kubectl_pause_scale_resume(apiserver, api_client, controller_manager, nodes):
    await nodes(["node-1"], ready_delay=0.05)
    await controller_manager()
    await kubectl(apiserver, "apply", "-f", "-", stdin=MANIFEST)
    await kubectl(apiserver, "rollout", "status", "deployment/nginx", "--timeout=60s")
    await kubectl(apiserver, "rollout", "pause", "deployment/nginx")
    await kubectl(apiserver, "set", "image", "deployment/nginx", "nginx=nginx:1.27")
    await kubectl(apiserver, "scale", "deployment/nginx", "--replicas=5")

    async def scaled_without_rollout():
        rss = (await api_client.list(REPLICASETS, namespace="default"))["items"]
        return len(rss) == 1 and rss[0]["spec"]["replicas"] == 5

    await eventually(scaled_without_rollout, what="a paused deployment scaled, not rolled")
    await kubectl(apiserver, "rollout", "resume", "deployment/nginx")
    out = await kubectl(apiserver, "rollout", "status", "deployment/nginx", "--timeout=60s")
    assert 'deployment "nginx" successfully rolled out' in out
    rss = (await api_client.list(REPLICASETS, namespace="default"))["items"]
    assert sorted((rs["spec"]["template"]["spec"]["containers"][0]["image"], rs["spec"]["replicas"]) for rs in rss) \
        == [("nginx:1.25", 0), ("nginx:1.27", 5)]
