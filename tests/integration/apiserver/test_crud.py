"""Create/get/list/update/patch/delete over HTTPS, on SQLite and etcd."""

from __future__ import annotations

import asyncio

from tests.integration.apiserver.helpers import Raw, deployment, pod

PODS = "/api/v1/namespaces/default/pods"


async def test_create_get_list_delete_pod(raw: Raw) -> None:
    code, created = await raw.post(PODS, pod("web", labels={"app": "web"}))
    assert code == 201, created
    meta = created["metadata"]
    assert meta["namespace"] == "default" and meta["uid"] and meta["creationTimestamp"]
    assert int(meta["resourceVersion"]) > 0
    assert created["status"]["phase"] == "Pending"
    code, got = await raw.get(f"{PODS}/web")
    assert code == 200 and got["metadata"]["uid"] == meta["uid"]
    code, listed = await raw.get(PODS)
    assert code == 200 and listed["kind"] == "PodList"
    assert [p["metadata"]["name"] for p in listed["items"]] == ["web"]
    assert int(listed["metadata"]["resourceVersion"]) >= int(meta["resourceVersion"])
    code, deleted = await raw.delete(f"{PODS}/web")
    assert code == 200 and deleted["metadata"]["name"] == "web"
    code, status = await raw.get(f"{PODS}/web")
    assert code == 404
    assert status["reason"] == "NotFound" and status["message"] == 'pods "web" not found'


async def test_already_exists(raw: Raw) -> None:
    assert (await raw.post(PODS, pod("a")))[0] == 201
    code, status = await raw.post(PODS, pod("a"))
    assert code == 409 and status["reason"] == "AlreadyExists"
    assert status["message"] == 'pods "a" already exists'


async def test_generate_name(raw: Raw) -> None:
    body = pod("")
    body["metadata"] = {"generateName": "web-"}
    code, created = await raw.post(PODS, body)
    assert code == 201
    assert created["metadata"]["name"].startswith("web-") and len(created["metadata"]["name"]) == 9


async def test_update_with_stale_resource_version_conflicts(raw: Raw) -> None:
    _, created = await raw.post(PODS, pod("a"))
    created["metadata"]["labels"] = {"x": "1"}
    code, updated = await raw.put(f"{PODS}/a", created)
    assert code == 200 and updated["metadata"]["labels"] == {"x": "1"}
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    code, status = await raw.put(f"{PODS}/a", created)  # the old resourceVersion
    assert code == 409 and status["reason"] == "Conflict"
    assert status["message"] == ('Operation cannot be fulfilled on pods "a": the object has been modified; '
                                 'please apply your changes to the latest version and try again')


async def test_update_ignores_status_and_status_subresource_only_changes_status(raw: Raw) -> None:
    _, created = await raw.post(PODS, pod("a"))
    created["status"] = {"phase": "Running"}
    created["metadata"]["labels"] = {"x": "1"}
    _, updated = await raw.put(f"{PODS}/a", created)
    assert updated["status"]["phase"] == "Pending" and updated["metadata"]["labels"] == {"x": "1"}
    updated["status"] = {"phase": "Running"}
    updated["spec"]["containers"][0]["image"] = "changed"
    code, after = await raw.put(f"{PODS}/a/status", updated)
    assert code == 200, after
    assert after["status"]["phase"] == "Running" and after["spec"]["containers"][0]["image"] == "nginx"


async def test_generation_bumps_on_spec_change_only(raw: Raw) -> None:
    code, dep = await raw.post("/apis/apps/v1/namespaces/default/deployments", deployment("web"))
    assert code == 201 and dep["metadata"]["generation"] == 1
    _, dep = await raw.patch("/apis/apps/v1/namespaces/default/deployments/web", {"metadata": {"labels": {"a": "b"}}})
    assert dep["metadata"]["generation"] == 1
    _, dep = await raw.patch("/apis/apps/v1/namespaces/default/deployments/web", {"spec": {"replicas": 3}})
    assert dep["metadata"]["generation"] == 2 and dep["spec"]["replicas"] == 3


async def test_noop_update_does_not_write(raw: Raw) -> None:
    _, created = await raw.post(PODS, pod("a"))
    _, same = await raw.patch(f"{PODS}/a", {"metadata": {"name": "a"}})
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_patch_types(raw: Raw) -> None:
    await raw.post(PODS, pod("a", labels={"app": "a"}))
    code, p = await raw.patch(f"{PODS}/a", [{"op": "add", "path": "/metadata/labels/tier", "value": "db"}],
                              content_type="application/json-patch+json")
    assert code == 200 and p["metadata"]["labels"] == {"app": "a", "tier": "db"}
    code, p = await raw.patch(f"{PODS}/a", {"metadata": {"labels": {"app": None}}})
    assert code == 200 and p["metadata"]["labels"] == {"tier": "db"}
    smp = {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    code, p = await raw.patch(f"{PODS}/a", smp, content_type="application/strategic-merge-patch+json")
    assert code == 200 and p["spec"]["containers"][0]["image"] == "nginx:2"
    assert p["spec"]["containers"][0]["imagePullPolicy"]  # merged by name, not replaced
    code, status = await raw.patch(f"{PODS}/a", {"spec": {"containers": [{"name": "sidecar", "image": "b"}]}},
                                   content_type="application/strategic-merge-patch+json")
    assert code == 422 and status["reason"] == "Invalid"  # pod spec is immutable but for images
    await raw.post("/apis/apps/v1/namespaces/default/deployments", deployment("web"))
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}}
    code, d = await raw.patch("/apis/apps/v1/namespaces/default/deployments/web", smp,
                              content_type="application/strategic-merge-patch+json")
    assert code == 200
    assert sorted(c["name"] for c in d["spec"]["template"]["spec"]["containers"]) == ["c", "sidecar"]
    code, status = await raw.patch(f"{PODS}/a", {"a": 1}, content_type="text/plain")
    assert code == 415 and status["reason"] == "UnsupportedMediaType"


async def test_apply_patch_creates_then_updates(raw: Raw) -> None:
    body = pod("applied", labels={"v": "1"})
    code, created = await raw.patch(f"{PODS}/applied", body, content_type="application/apply-patch+yaml",
                                    params={"fieldManager": "test"})
    assert code == 201, created
    body["metadata"]["labels"] = {"v": "2"}
    code, updated = await raw.patch(f"{PODS}/applied", body, content_type="application/apply-patch+yaml",
                                    params={"fieldManager": "test"})
    assert code == 200 and updated["metadata"]["labels"]["v"] == "2"


async def test_paging_with_continue(raw: Raw) -> None:
    for i in range(7):
        assert (await raw.post(PODS, pod(f"p{i}")))[0] == 201
    names, token, rvs = [], None, set()
    while True:
        params = {"limit": "3", **({"continue": token} if token else {})}
        code, page = await raw.get(PODS, params=params)
        assert code == 200, page
        names += [p["metadata"]["name"] for p in page["items"]]
        rvs.add(page["metadata"]["resourceVersion"])
        if token is None:
            await raw.post(PODS, pod("p0a"))  # created after the first page: not in this list
        token = page["metadata"].get("continue")
        if not token:
            break
    assert names == [f"p{i}" for i in range(7)]
    assert len(rvs) == 1


async def test_label_and_field_selectors(raw: Raw) -> None:
    await raw.post(PODS, pod("a", labels={"app": "web", "tier": "fe"}))
    await raw.post(PODS, pod("b", labels={"app": "db"}))
    await raw.post(PODS, pod("c", node="node-1"))

    async def names(**params: str) -> list[str]:
        code, body = await raw.get(PODS, params=params)
        assert code == 200, body
        return [p["metadata"]["name"] for p in body["items"]]

    assert await names(labelSelector="app=web") == ["a"]
    assert await names(labelSelector="app!=web") == ["b", "c"]
    assert await names(labelSelector="app in (web,db)") == ["a", "b"]
    assert await names(labelSelector="tier") == ["a"]
    assert await names(labelSelector="!app") == ["c"]
    assert await names(fieldSelector="spec.nodeName=node-1") == ["c"]
    assert await names(fieldSelector="metadata.name=b") == ["b"]
    code, status = await raw.get(PODS, params={"fieldSelector": "spec.bogus=1"})
    assert code == 400 and status["reason"] == "BadRequest"
    code, status = await raw.get(PODS, params={"labelSelector": "a in ("})
    assert code == 400


async def test_all_namespaces_list(raw: Raw) -> None:
    assert (await raw.post("/api/v1/namespaces", {"metadata": {"name": "other"}}))[0] == 201
    await raw.post(PODS, pod("a"))
    await raw.post("/api/v1/namespaces/other/pods", pod("b"))
    code, body = await raw.get("/api/v1/pods")
    assert code == 200
    assert sorted((p["metadata"]["namespace"], p["metadata"]["name"]) for p in body["items"]) == \
        [("default", "a"), ("other", "b")]


async def test_create_in_missing_namespace_is_404(raw: Raw) -> None:
    code, status = await raw.post("/api/v1/namespaces/nope/pods", pod("a"))
    assert code == 404 and status["message"] == 'namespaces "nope" not found'


async def test_concurrent_patches_all_apply(raw: Raw) -> None:
    await raw.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "cm"}, "data": {}})
    await asyncio.gather(*(raw.patch("/api/v1/namespaces/default/configmaps/cm", {"data": {f"k{i}": "v"}})
                           for i in range(10)))
    _, cm = await raw.get("/api/v1/namespaces/default/configmaps/cm")
    assert len(cm["data"]) == 10


async def test_update_with_another_uid_conflicts(raw: Raw) -> None:
    _, created = await raw.post(PODS, pod("a"))
    created["metadata"]["uid"] = "another"
    code, status = await raw.put(f"{PODS}/a", created)
    assert code == 409 and "Precondition failed: UID in precondition: another" in status["message"]
