"""The REST client every component talks to the API server with (client-go's dynamic client, async).

Guarantees:
- One `aiohttp` session per client, opened on first use (a client may be built before the event
  loop runs), with the bearer token (re-read from a token file when it changes) and TLS from its
  `ClientConfig`.
- get/list/create/update/patch/delete on any `ResourceRef`, subresources included; objects are
  plain dicts decoded with orjson.
- Every failure raises an `ApiError` subclass (see errors.py) chained from the transport's error.
- Retries, with exponential backoff (0.1 s doubling to 5 s, `max_retries` times): any request that
  never reached the server (connection refused, DNS); idempotent requests (GET, list, watch
  establishment) on any connection error or timeout; and any request answered 429/503 with a
  `Retry-After` header (the server did not process it), as client-go does. Certificate errors are
  never retried.
- `watch(...)` is an async iterator of events from the chunked JSON-lines stream; an `ERROR` event
  raises its Status as an `ApiError` (`Gone` for 410); a clean end of the stream (the server's
  `timeoutSeconds`) ends the iteration; a broken stream raises `ServerUnavailable`.
- Metrics: `rest_client_requests_total{code,method,host}` (code "<error>" when no answer).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from prometheus_client import Counter

from shared.client.config import ClientConfig, config_from_args, load_kubeconfig
from shared.client.errors import ApiError, connection_error, error_for, status_for
from shared.logging import get_logger
from shared.resources import ResourceRef

log = get_logger()

REQUESTS = Counter("rest_client_requests", "Number of HTTP requests, partitioned by status code, method, and host.",
                   ["code", "method", "host"])

PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
_IDEMPOTENT = {"GET", "HEAD"}
_NEVER_RETRY = (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)


class _Token:
    """A bearer token, from a string or from a file re-read when its mtime changes."""

    def __init__(self, token: str | None, token_file: str | None) -> None:
        self._token, self._file = token, token_file
        self._mtime = -1.0

    def get(self) -> str | None:
        if self._file:
            mtime = os.stat(self._file).st_mtime
            if mtime != self._mtime:
                self._token, self._mtime = Path(self._file).read_text().strip(), mtime
        return self._token


class ApiClient:
    """An async client for the Kubernetes API; objects in and out are dicts."""

    def __init__(self, server: str | None = None, *, token: str | None = None, token_file: str | None = None,
                 ca_file: str | None = None, config: ClientConfig | None = None,
                 user_agent: str = "kubemu/0.1 (python)", request_timeout: float = 60.0,
                 max_retries: int = 5) -> None:
        if config is None:
            if not server:
                raise ValueError("ApiClient needs a server URL or a ClientConfig")
            config = ClientConfig(server=server.rstrip("/"), token=token, token_file=token_file, ca_file=ca_file)
        self.config = config
        self.server = config.server
        self.user_agent = user_agent
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self._token = _Token(config.token, config.token_file)
        self._host = urlsplit(config.server).netloc
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_kubeconfig(cls, path: str | Path, *, context: str | None = None, **kwargs: Any) -> ApiClient:
        return cls(config=load_kubeconfig(path, context), **kwargs)

    @classmethod
    def from_args(cls, args: argparse.Namespace, **kwargs: Any) -> ApiClient:
        """From the flags `add_client_flags` added (see config.py for precedence)."""
        return cls(config=config_from_args(args), **kwargs)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self.config.ssl_context() or False, limit=0)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        token = self._token.get()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    # --- the verbs ------------------------------------------------------------------------------

    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None,
                  subresource: str | None = None, *, params: Mapping[str, Any] | None = None) -> Any:
        return await self.request("GET", ref.path(_ns(ref, namespace), name, subresource), params=params)

    async def list(self, ref: ResourceRef, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None, limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None, *,
                   resource_version_match: str | None = None) -> dict[str, Any]:
        params = _params(labelSelector=label_selector, fieldSelector=field_selector, limit=limit,
                         resourceVersion=resource_version, resourceVersionMatch=resource_version_match,
                         **{"continue": continue_})
        return await self.request("GET", ref.path(namespace or None), params=params)

    async def create(self, ref: ResourceRef, body: dict[str, Any], namespace: str | None = None,
                     subresource: str | None = None, *, name: str | None = None,
                     field_manager: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """POST `body`; the namespace defaults to the body's, then `default`. For a subresource
        (`pods/binding`, `pods/eviction`) the object's name defaults to the body's name."""
        meta = body.get("metadata") or {}
        namespace = namespace or meta.get("namespace") or "default"
        if subresource:
            path = ref.path(namespace, name or meta.get("name"), subresource)
        else:
            path = ref.path(namespace)
        params = _params(fieldManager=field_manager, dryRun="All" if dry_run else None)
        return await self.request("POST", path, params=params, body=body)

    async def update(self, ref: ResourceRef, body: dict[str, Any], namespace: str | None = None,
                     subresource: str | None = None, *, field_manager: str | None = None) -> dict[str, Any]:
        """PUT `body` (which carries `metadata.resourceVersion` for compare-and-swap)."""
        meta = body.get("metadata") or {}
        path = ref.path(_ns(ref, namespace or meta.get("namespace")), meta["name"], subresource)
        return await self.request("PUT", path, params=_params(fieldManager=field_manager), body=body)

    async def patch(self, ref: ResourceRef, name: str, patch: Any, namespace: str | None = None,
                    subresource: str | None = None, patch_type: str = "merge", *,
                    field_manager: str | None = None, force: bool | None = None) -> dict[str, Any]:
        """PATCH with `patch_type` "merge" | "strategic" | "json" | "apply" (apply needs field_manager)."""
        if patch_type not in PATCH_CONTENT_TYPES:
            raise ValueError(f"unknown patch_type {patch_type!r}")
        if patch_type == "apply" and not field_manager:
            raise ValueError("an apply patch needs field_manager")
        params = _params(fieldManager=field_manager, force=None if force is None else str(force).lower())
        return await self.request("PATCH", ref.path(_ns(ref, namespace), name, subresource), params=params,
                                  body=patch, content_type=PATCH_CONTENT_TYPES[patch_type])

    async def delete(self, ref: ResourceRef, name: str, namespace: str | None = None,
                     grace_period_seconds: int | None = None, propagation_policy: str | None = None,
                     preconditions: dict[str, str] | None = None) -> dict[str, Any]:
        """DELETE with DeleteOptions; answers the deleted object (or the object being finalized)."""
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = preconditions
        return await self.request("DELETE", ref.path(_ns(ref, namespace), name), body=options)

    async def watch(self, ref: ResourceRef, namespace: str | None = None, resource_version: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None,
                    timeout_seconds: int | None = None, allow_bookmarks: bool = True) -> AsyncIterator[dict[str, Any]]:
        """Events after `resource_version`: {"type": ADDED|MODIFIED|DELETED|BOOKMARK, "object": {...}}."""
        params = _params(watch="true", resourceVersion=resource_version, labelSelector=label_selector,
                         fieldSelector=field_selector, timeoutSeconds=timeout_seconds,
                         allowWatchBookmarks="true" if allow_bookmarks else None)
        url = self.server + ref.path(namespace or None)
        # The server ends the watch after timeoutSeconds; the client gives up a while later, so a
        # connection that died silently cannot hang a reflector forever.
        total = None if timeout_seconds is None else timeout_seconds + max(30.0, timeout_seconds * 0.1)
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=self.request_timeout, sock_read=None)
        answer = await self._send_with_retries("GET", url, params, None, None, timeout, stream=True)
        async with answer.response:
            async for event in _events(answer.response):
                yield event

    # --- transport ------------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      body: Any = None, content_type: str | None = None) -> Any:
        """One API call to `path`; the decoded JSON answer (text when the answer is not JSON)."""
        data = None if body is None else _dumps(body)
        if data is not None and content_type is None:
            content_type = "application/json"
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        answer = await self._send_with_retries(method, self.server + path, params, data, content_type, timeout)
        return answer.decoded()

    async def _send_with_retries(self, method: str, url: str, params: Mapping[str, Any] | None,
                                 data: bytes | None, content_type: str | None, timeout: aiohttp.ClientTimeout,
                                 *, stream: bool = False) -> _Answer:
        delay = 0.1
        for attempt in range(self.max_retries + 1):
            try:
                return await self._send(method, url, params, data, content_type, timeout, stream)
            except _Retry as retry:
                if attempt == self.max_retries:
                    raise retry.error from retry.cause
                wait = retry.after if retry.after is not None else delay * (1 + random.random() / 2)
                log.debug("client.retry", method=method, url=url, attempt=attempt + 1, wait=round(wait, 3),
                          error=str(retry.error))
                await asyncio.sleep(wait)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    async def _send(self, method: str, url: str, params: Mapping[str, Any] | None, data: bytes | None,
                    content_type: str | None, timeout: aiohttp.ClientTimeout, stream: bool) -> _Answer:
        """One attempt. A streamed answer keeps its response open; the caller closes it."""
        try:
            resp = await self._get_session().request(method, url, params=params, data=data, timeout=timeout,
                                                     headers=self._headers(content_type))
            answer = _Answer(resp.status, resp.headers.get("Content-Type", ""), b"", resp)
            if not stream or resp.status >= 300:
                async with resp:
                    answer.body = await resp.read()
        except _NEVER_RETRY as exc:
            self._count("<error>", method)
            raise connection_error(f"{method} {url}: {exc}") from exc
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
            self._count("<error>", method)
            error = connection_error(f"{method} {url}: {exc or type(exc).__name__}")
            if isinstance(exc, aiohttp.ClientConnectorError) or method in _IDEMPOTENT:
                raise _Retry(error, exc) from exc
            raise error from exc
        self._count(str(resp.status), method)
        if resp.status >= 300:
            self._raise_for_status(answer)
        return answer

    def _raise_for_status(self, answer: _Answer) -> None:
        resp = answer.response
        error = error_for(answer.status, answer.decoded())
        cause = aiohttp.ClientResponseError(resp.request_info, resp.history, status=answer.status,
                                            message=error.message, headers=resp.headers)
        retry_after = _retry_after(resp.headers.get("Retry-After"))
        if answer.status in (429, 503) and retry_after is not None:
            raise _Retry(error, cause, after=min(retry_after, 10.0))
        raise error from cause

    def _count(self, code: str, method: str) -> None:
        REQUESTS.labels(code, method, self._host).inc()


@dataclass
class _Answer:
    status: int
    content_type: str
    body: bytes
    response: aiohttp.ClientResponse

    def decoded(self) -> Any:
        return _decode(self.content_type, self.body)


class _Retry(Exception):
    """Internal: this attempt failed in a way that may be retried."""

    def __init__(self, error: ApiError, cause: BaseException, *, after: float | None = None) -> None:
        super().__init__(str(error))
        self.error, self.cause, self.after = error, cause, after


async def _events(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """Split the chunked body into lines; each non-empty line is one event."""
    buf = b""
    try:
        async for chunk in resp.content.iter_any():
            buf += chunk
            while (nl := buf.find(b"\n")) >= 0:
                line, buf = buf[:nl], buf[nl + 1:]
                if line.strip():
                    yield _event(line)
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
        raise connection_error(f"watch stream broken: {exc or type(exc).__name__}") from exc
    if buf.strip():
        yield _event(buf)


def _event(line: bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ApiError(status_for(500, f"malformed watch event: {line[:200]!r}")) from exc
    if event.get("type") == "ERROR":
        obj = event.get("object") or {}
        raise error_for(int(obj.get("code") or 500), obj)
    return event


def _decode(content_type: str, body: bytes) -> Any:
    if "json" in content_type or (body[:1] in (b"{", b"[")):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return body.decode(errors="replace")


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def _params(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None and v != ""}


def _ns(ref: ResourceRef, namespace: str | None) -> str | None:
    if ref.namespaced and not namespace:
        raise ValueError(f"{ref.group_resource} is namespaced: give a namespace")
    return namespace


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
