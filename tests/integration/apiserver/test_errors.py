"""Bad input never gets a 500: every rejection is a Status with Kubernetes' code and reason."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.apiserver import ApiServerHandle
from tests.integration.apiserver.helpers import Raw, pod

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
async def sq(apiserver: ApiServerHandle):
    raw = Raw(apiserver)
    yield raw
    await raw.close()


def _is_status(body: object, code: int, reason: str) -> bool:
    return isinstance(body, dict) and body.get("kind") == "Status" and body.get("code") == code \
        and body.get("reason") == reason and body.get("status") == "Failure"


async def test_missing_or_wrong_token_is_401(apiserver: ApiServerHandle) -> None:
    for token in (None, "wrong"):
        raw = Raw(apiserver, token=token)
        try:
            code, body = await raw.get(PODS)
            assert code == 401 and _is_status(body, 401, "Unauthorized")
            for path in ("/healthz", "/livez", "/readyz", "/version"):
                code, _ = await raw.get(path)
                assert code == 200, path
        finally:
            await raw.close()


async def test_version_reports_1_32(sq: Raw) -> None:
    code, version = await sq.get("/version")
    assert code == 200 and version["major"] == "1" and version["minor"] == "32"
    assert version["gitVersion"].startswith("v1.32.")


@pytest.mark.parametrize("body, content_type, code, reason", [
    (b"{not json", "application/json", 400, "BadRequest"),
    (b"[1, 2]", "application/json", 400, "BadRequest"),
    (b"", "application/json", 400, "BadRequest"),
    (b"\xff\xfe", "application/json", 400, "BadRequest"),
    (b"key: [unclosed", "application/yaml", 400, "BadRequest"),
    (b'{"kind": "Service", "apiVersion": "v1", "metadata": {"name": "x"}}', "application/json", 400, "BadRequest"),
    (b'{"kind": "Pod", "apiVersion": "apps/v1", "metadata": {"name": "x"}}', "application/json", 400, "BadRequest"),
    (b'{"metadata": "x"}', "application/json", 400, "BadRequest"),
    (b'{"metadata": {"name": "x"}}', "text/plain", 415, "UnsupportedMediaType"),
    (b'{"metadata": {"name": "x"}}', "application/vnd.kubernetes.protobuf", 400, "BadRequest"),
    (b"k8s\x00\x0a\x0c\x0a\x02v1\x12\x06Widget", "application/vnd.kubernetes.protobuf", 415, "UnsupportedMediaType"),
    (b'{"metadata": {"namespace": "other", "name": "x"}, "spec": {}}', "application/json", 400, "BadRequest"),
    (b'{"metadata": {}, "spec": {"containers": [{"name": "c", "image": "i"}]}}', "application/json", 422,
     "Invalid"),
])
async def test_bad_create_bodies(sq: Raw, body: bytes, content_type: str, code: int, reason: str) -> None:
    got, status = await sq.post(PODS, body, content_type=content_type)
    assert got == code and _is_status(status, code, reason), status
    _, listed = await sq.get(PODS)
    assert listed["items"] == []


async def test_invalid_pod_causes(sq: Raw) -> None:
    bad = {"metadata": {"name": "Bad_Name"}, "spec": {"containers": [
        {"name": "c", "resources": {"requests": {"cpu": "lots"}}}]}}
    code, status = await sq.post(PODS, bad)
    assert code == 422 and _is_status(status, 422, "Invalid")
    fields = {c["field"] for c in status["details"]["causes"]}
    assert "metadata.name" in fields
    assert any("image" in f for f in fields)
    assert any("cpu" in f for f in fields)
    assert status["message"].startswith('Pod "Bad_Name" is invalid: ')
    code, status = await sq.post(PODS, {"metadata": {"name": "a"}, "spec": {"containers": []}})
    assert code == 422


async def test_too_large_body_is_413(sq: Raw) -> None:
    big = pod("big")
    big["metadata"]["annotations"] = {"a": "x" * (3 * 1024 * 1024 + 10)}
    code, status = await sq.post(PODS, json.dumps(big))
    assert code == 413 and _is_status(status, 413, "RequestEntityTooLarge")


@pytest.mark.parametrize("method, path, code, reason", [
    ("GET", "/api/v1/widgets", 404, "NotFound"),
    ("GET", "/apis/apps/v1/namespaces/default/widgets/x", 404, "NotFound"),
    ("GET", "/api/v2/pods", 404, "NotFound"),
    ("GET", "/nope", 404, "NotFound"),
    ("GET", "/api/v1/namespaces/default/pods/x/bogus", 404, "NotFound"),
    ("GET", "/api/v1/nodes/x/scale", 404, "NotFound"),
    ("POST", "/api/v1/namespaces/default/pods/x", 405, "MethodNotAllowed"),
    ("PUT", "/api/v1/namespaces/default/pods", 405, "MethodNotAllowed"),
    ("POST", "/api/v1/pods", 405, "MethodNotAllowed"),
    ("DELETE", "/api/v1/namespaces/default/pods/x/status", 405, "MethodNotAllowed"),
    ("GET", "/api/v1/namespaces/default/pods?limit=-1", 400, "BadRequest"),
    ("GET", "/api/v1/namespaces/default/pods?limit=abc", 400, "BadRequest"),
    ("GET", "/api/v1/namespaces/default/pods?continue=garbage", 400, "BadRequest"),
    ("GET", "/api/v1/namespaces/default/pods?watch=true&resourceVersion=abc", 400, "BadRequest"),
    ("GET", "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=x", 400, "BadRequest"),
    ("GET", "/api/v1/namespaces/default/pods?fieldSelector=a%3D%3D%3Db", 400, "BadRequest"),
])
async def test_bad_paths_and_params(sq: Raw, method: str, path: str, code: int, reason: str) -> None:
    got, status = await sq.request(method, path, body={} if method in ("POST", "PUT") else None)
    assert got == code and _is_status(status, code, reason), status


async def test_unknown_path_status_carries_empty_details(sq: Raw) -> None:
    """kubectl reads details.name of a NotFound (kubectl debug does, and panics on a nil details)."""
    got, status = await sq.request("PATCH", "/api/v1/namespaces/default/pods/x/bogus", body={})
    assert got == 404 and status["details"] == {} and status["message"] == \
        "the server could not find the requested resource"


@pytest.mark.parametrize("patch, content_type, code", [
    (b"not json", "application/merge-patch+json", 400),
    (b'{"op": "add"}', "application/json-patch+json", 400),
    (b'[{"op": "remove", "path": "/metadata/nothere"}]', "application/json-patch+json", 422),
    (b'[{"op": "explode", "path": "/x"}]', "application/json-patch+json", 400),
    (b'"string"', "application/strategic-merge-patch+json", 400),
    (b'{"spec": {"containers": "no"}}', "application/strategic-merge-patch+json", 422),
    (b'{"metadata": {"name": "other"}}', "application/merge-patch+json", 400),
    (b'{"metadata": {"resourceVersion": "1"}}', "application/merge-patch+json", 409),
    (b'{"a": 1}', "application/x-unknown", 415),
])
async def test_bad_patches(sq: Raw, patch: bytes, content_type: str, code: int) -> None:
    _, created = await sq.post(PODS, pod("a"))
    got, status = await sq.patch(f"{PODS}/a", patch, content_type=content_type)
    assert got == code and isinstance(status, dict) and status.get("kind") == "Status", status
    _, after = await sq.get(f"{PODS}/a")
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_fuzzed_bodies_never_500(sq: Raw) -> None:
    samples = [None, 1, "x", [], {}, {"metadata": None}, {"metadata": {"name": 5}},
               {"metadata": {"name": "a", "labels": "x"}}, {"metadata": {"name": "a", "labels": {"a": 1}}},
               {"metadata": {"name": "a"}, "spec": None}, {"metadata": {"name": "a"}, "spec": []},
               {"metadata": {"name": "a"}, "spec": {"containers": [None]}},
               {"metadata": {"name": "a"}, "spec": {"containers": [{"name": 1, "image": []}]}},
               {"metadata": {"name": "a", "finalizers": "x"}, "spec": {}},
               {"metadata": {"name": "a", "generateName": 3}}, {"metadata": {"name": "x" * 300}}]
    paths = [PODS, "/api/v1/namespaces/default/services", "/apis/apps/v1/namespaces/default/deployments",
             "/api/v1/namespaces", "/api/v1/nodes", "/api/v1/namespaces/default/configmaps",
             "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", "/api/v1/namespaces/default/events",
             "/apis/coordination.k8s.io/v1/namespaces/default/leases"]
    for path in paths:
        for sample in samples:
            code, body = await sq.post(path, json.dumps(sample))
            assert code < 500, (path, sample, body.get("message"))
            if code >= 400:
                assert body["kind"] == "Status"
        code, body = await sq.put(path + "/a", json.dumps({"metadata": {"name": "a"}, "spec": "x"}))
        assert code < 500, (path, body.get("message"))


async def test_fuzzed_updates_and_patches_never_500(sq: Raw) -> None:
    """Odd shapes in updates, status updates and every patch type: rejected with a Status, never a 500."""
    objects = {
        "/api/v1/namespaces/default/pods/a": pod("a"),
        "/apis/apps/v1/namespaces/default/deployments/d": {
            "metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}},
        "/api/v1/namespaces/default/services/s": {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}},
        "/api/v1/nodes/n": {"metadata": {"name": "n"}},
    }
    for path, obj in objects.items():
        code, body = await sq.post(path.rsplit("/", 1)[0], obj)
        assert code == 201, body
    shapes = [None, 1, "x", [], {"spec": None}, {"spec": []}, {"spec": {"containers": None}},
              {"spec": {"replicas": "many"}}, {"spec": {"ports": [{"port": "x"}]}}, {"status": 5},
              {"status": {"conditions": "x"}}, {"metadata": {"labels": None}}, {"spec": {"selector": 3}},
              {"spec": {"template": {"spec": {"containers": [{"name": None}]}}}}]
    content_types = ["application/merge-patch+json", "application/strategic-merge-patch+json",
                     "application/apply-patch+yaml"]
    for path in objects:
        for shape in shapes:
            for ct in content_types:
                code, body = await sq.patch(path, json.dumps(shape), content_type=ct, params={"fieldManager": "f"})
                assert code < 500, (path, shape, ct, body.get("message") if isinstance(body, dict) else body)
            for sub in ("", "/status"):
                code, body = await sq.put(path + sub, json.dumps(shape))
                assert code < 500, (path + sub, shape, body.get("message") if isinstance(body, dict) else body)
            code, body = await sq.patch(path, json.dumps([{"op": "replace", "path": "/spec", "value": shape}]),
                                        content_type="application/json-patch+json")
            assert code < 500, (path, shape, body)


DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def _deployment(name: str, replicas: object = 1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


@pytest.mark.parametrize("path, body, message", [
    (DEPLOYMENTS, _deployment("d", "3"),
     'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct '
     "field DeploymentSpec.spec.replicas of type int32"),
    ("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "c"}, "data": {"a": 1}},
     'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct '
     "field ConfigMap.data of type string"),
    ("/apis/scheduling.k8s.io/v1/priorityclasses", {"metadata": {"name": "p"}, "value": 5, "globalDefault": "yes"},
     'PriorityClass in version "v1" cannot be handled as a PriorityClass: json: cannot unmarshal string into Go '
     "struct field PriorityClass.globalDefault of type bool"),
    (PODS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i", "command": ["sh", 1]}]}},
     'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field '
     "Container.spec.containers.command of type string"),
])
async def test_a_value_of_the_wrong_type_is_a_decode_error_and_nothing_is_stored(sq: Raw, path: str, body: dict,
                                                                                  message: str) -> None:
    code, status = await sq.post(path, body)
    assert code == 400 and _is_status(status, 400, "BadRequest") and status["message"] == message
    code, _ = await sq.get(f"{path}/{body['metadata']['name']}")
    assert code == 404


async def test_wrong_types_in_an_update_or_a_patch_change_nothing(sq: Raw) -> None:
    _, created = await sq.post(DEPLOYMENTS, _deployment("web"))
    replaced = {**created, "spec": {**created["spec"], "replicas": "3"}}
    code, status = await sq.put(f"{DEPLOYMENTS}/web", replaced)
    assert code == 400 and "DeploymentSpec.spec.replicas of type int32" in status["message"]
    code, status = await sq.patch(f"{DEPLOYMENTS}/web", b'{"spec": {"replicas": "3"}}',
                                  content_type="application/merge-patch+json")
    assert code == 422 and _is_status(status, 422, "Invalid")
    assert status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "patch",
        "message": 'Invalid value: "map[spec:map[replicas:3]]": json: cannot unmarshal string into Go struct field '
                   "DeploymentSpec.spec.replicas of type int32"}]
    _, after = await sq.get(f"{DEPLOYMENTS}/web")
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert after["spec"]["replicas"] == 1
