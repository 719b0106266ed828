"""A tiny raw HTTP client for API server tests: exact status codes and bodies, no client library."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from tests.fixtures.apiserver import ApiServerHandle


class Raw:
    def __init__(self, handle: ApiServerHandle, token: str | None = "default") -> None:
        self.handle = handle
        headers = {}
        token = handle.token if token == "default" else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.session = aiohttp.ClientSession(
            base_url=handle.url, headers=headers,
            connector=aiohttp.TCPConnector(ssl=handle.ssl_context(), limit=0))

    async def close(self) -> None:
        await self.session.close()

    async def request(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
                      headers: dict[str, str] | None = None, params: dict | None = None) -> tuple[int, Any]:
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        hdrs = {"Content-Type": content_type, **(headers or {})} if body is not None else dict(headers or {})
        async with self.session.request(method, path, data=data, headers=hdrs, params=params) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, body: Any, **kw: Any) -> tuple[int, Any]:
        return await self.request("POST", path, body, **kw)

    async def put(self, path: str, body: Any, **kw: Any) -> tuple[int, Any]:
        return await self.request("PUT", path, body, **kw)

    async def patch(self, path: str, body: Any, content_type: str = "application/merge-patch+json", **kw: Any
                    ) -> tuple[int, Any]:
        return await self.request("PATCH", path, body, content_type=content_type, **kw)

    async def delete(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.request("DELETE", path, body, **kw)

    async def watch(self, path: str, params: dict | None = None) -> AsyncIterator[dict]:
        """Yields watch events until the server ends the stream."""
        params = {"watch": "true", **(params or {})}
        async with self.session.get(path, params=params, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            assert resp.status == 200, await resp.text()
            async for line in resp.content:
                if line.strip():
                    yield json.loads(line)


def pod(name: str, *, image: str = "nginx", labels: dict | None = None, node: str | None = None,
        namespace: str | None = None) -> dict:
    obj: dict = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                 "spec": {"containers": [{"name": "c", "image": image}]}}
    if labels:
        obj["metadata"]["labels"] = labels
    if namespace:
        obj["metadata"]["namespace"] = namespace
    if node:
        obj["spec"]["nodeName"] = node
    return obj


def deployment(name: str, replicas: int = 1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
