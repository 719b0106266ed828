"""The official `kubernetes` Python client against kubemu's API server."""

from __future__ import annotations

import threading
import time

import pytest

from tests.fixtures.apiserver import ApiServerHandle

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


@pytest.fixture
def k8s(apiserver: ApiServerHandle) -> client.ApiClient:
    api_client = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    yield api_client
    api_client.close()


def _pod(name: str) -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels={"app": name}),
                        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]))


def test_pods_create_list_patch_watch_delete(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    created = core.create_namespaced_pod("default", _pod("web"))
    assert created.metadata.uid and created.status.phase == "Pending"
    pods = core.list_namespaced_pod("default", label_selector="app=web")
    assert [p.metadata.name for p in pods.items] == ["web"]
    patched = core.patch_namespaced_pod("web", "default", {"metadata": {"labels": {"tier": "fe"}}})
    assert patched.metadata.labels == {"app": "web", "tier": "fe"}

    events: list[tuple[str, str]] = []

    def run_watch() -> None:
        w = watch.Watch()
        for event in w.stream(core.list_namespaced_pod, "default", resource_version=pods.metadata.resource_version,
                              timeout_seconds=10):
            events.append((event["type"], event["object"].metadata.name))
            if len(events) >= 3:
                w.stop()

    thread = threading.Thread(target=run_watch)
    thread.start()
    time.sleep(0.5)
    core.create_namespaced_pod("default", _pod("second"))
    core.delete_namespaced_pod("second", "default")
    thread.join(15)
    assert events[:3] == [("MODIFIED", "web"), ("ADDED", "second"), ("DELETED", "second")]
    core.delete_namespaced_pod("web", "default")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("web", "default")
    assert err.value.status == 404


def test_deployments_create_scale_patch_delete(k8s: client.ApiClient) -> None:
    apps = client.AppsV1Api(k8s)
    body = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]))))
    created = apps.create_namespaced_deployment("default", body)
    assert created.spec.replicas == 2 and created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"
    scale = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4
    patched = apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}})
    assert patched.spec.template.spec.containers[0].image == "nginx:2"
    assert patched.metadata.generation == 3
    listed = apps.list_deployment_for_all_namespaces()
    assert [d.metadata.name for d in listed.items] == ["web"]
    seen = [(e["type"], e["object"].metadata.name, e["object"].spec.replicas)
            for e in watch.Watch().stream(apps.list_namespaced_deployment, "default", timeout_seconds=1)]
    assert seen == [("ADDED", "web", 4)]
    apps.delete_namespaced_deployment("web", "default")
    assert apps.list_namespaced_deployment("default").items == []


def test_errors_come_back_as_api_exceptions(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_pod("default", _pod("dup"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("default", _pod("dup"))
    assert err.value.status == 409 and "AlreadyExists" in err.value.body
