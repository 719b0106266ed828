"""kube-apiserver, smaller: `create_app(config)` builds the aiohttp application.

Guarantees:
- Every request is authenticated (bearer token) except /healthz, /livez, /readyz and /version;
  every request is answered with a Kubernetes `Status` on failure (never a traceback; the one
  exception is kube-apiserver's own: the max-in-flight 429 is plain text, see inflight.py), counted in
  `apiserver_request_total{verb,resource,code}` and logged in one `apiserver.request` line.
- At startup the store is opened, one watch cache per resource starts, the system namespaces
  (default, kube-system, kube-public, kube-node-lease) and the `default/kubernetes` Service exist,
  and the ClusterIP/NodePort allocators are rebuilt from the stored Services.
- /readyz fails while the store cannot be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import prometheus_client
from aiohttp import web

from services.apiserver import admission, codec, endpoints, errors, priority, rbac
from services.apiserver.allocator import ServiceAllocator
from services.apiserver.auth import TokenAuthenticator, UserInfo
from services.apiserver.config import ApiServerConfig
from services.apiserver.handlers import Api
from services.apiserver.inflight import MaxInFlight, request_kind, too_many_requests
from services.apiserver.metrics import ApiMetrics
from services.apiserver.objectstore import ObjectStore, decode
from services.apiserver.registry import Registry, default_registry
from services.apiserver.requestinfo import RequestInfo
from services.apiserver.storage.base import KeyExists
from services.apiserver.watchcache import WatchCache
from shared.logging import get_logger

log = get_logger()

CONFIG = web.AppKey("config", ApiServerConfig)
METRICS = web.AppKey("metrics", ApiMetrics)
AUTH = web.AppKey("auth", TokenAuthenticator)
STORE = web.AppKey("store", ObjectStore)
CACHES = web.AppKey("caches", dict)
BACKEND = web.AppKey("backend", object)
INFLIGHT = web.AppKey("inflight", MaxInFlight)
USER = endpoints.USER_KEY
UNAUTHENTICATED = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(config: ApiServerConfig, *, backend: Any | None = None, registry: Registry | None = None
               ) -> web.Application:
    """The API server application; `backend` overrides the store named by `config`."""
    registry = registry or default_registry()
    metrics = ApiMetrics()
    app = web.Application(middlewares=[_request_middleware], client_max_size=errors.MAX_BODY_BYTES + 1)
    app[CONFIG] = config
    app[METRICS] = metrics
    app[INFLIGHT] = MaxInFlight(config.max_requests_inflight, config.max_mutating_requests_inflight)
    metrics.track_inflight(app[INFLIGHT].current)
    app[AUTH] = TokenAuthenticator.from_file(config.token_auth_file)
    backend = backend if backend is not None else open_store(config)
    app[BACKEND] = backend
    store = ObjectStore(backend, prefix=config.etcd_prefix, timeout=config.storage_timeout)
    app[STORE] = store
    caches = {res.plural: WatchCache(res.plural, backend, store.resource_prefix(res), decode,
                                     size=config.watch_cache_size, on_watchers=metrics.set_watchers)
              for res in registry.all()}
    app[CACHES] = caches
    allocator = ServiceAllocator(config.service_cluster_ip_range, config.service_node_port_range)
    # Services written by any API server replica keep the allocators in step (kube-apiserver's
    # repair loop, event-driven).
    caches["services"].listeners.append(lambda event: _track_allocations(allocator, event))
    app[endpoints.API_KEY] = Api(registry, store, allocator=allocator, caches=caches,
                                 min_request_timeout=config.min_request_timeout,
                                 bookmark_interval=config.bookmark_interval)
    app[endpoints.KUBELET_SCHEME] = config.kubelet_scheme
    rbac_registry = {plural: registry.get(rbac.RBAC_GROUP, "v1", plural)
                     for plural in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")}
    app[endpoints.AUTHZ] = (config.authorization_mode, rbac.RbacAuthorizer(
        lambda plural: caches[plural].state,
        lambda plural, name, namespace: store.key(rbac_registry[plural], name, namespace)))
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_end_watches)
    _add_routes(app)
    return app


def _track_allocations(allocator: ServiceAllocator, event: Any) -> None:
    if event.type == "DELETED":
        allocator.release(event.obj)
    else:
        allocator.observe(event.obj)


def open_store(config: ApiServerConfig) -> Any:
    from services.apiserver.storage import open_backend

    if config.storage == "embedded":
        return open_backend(data_dir=str(config.data_dir), timeout=config.storage_timeout)
    return open_backend(etcd_servers=",".join(config.etcd_servers), timeout=config.storage_timeout)


def _add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", _ok)
    app.router.add_get("/livez", _ok)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/version", endpoints.version)
    app.router.add_get("/metrics", _metrics)
    app.router.add_post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                        endpoints.self_subject_access_review)
    app.router.add_post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                        endpoints.self_subject_rules_review)
    app.router.add_post("/apis/authentication.k8s.io/v1/selfsubjectreviews", endpoints.self_subject_review)
    app.router.add_route("*", "/api", endpoints.api_root)
    app.router.add_route("*", "/apis", endpoints.api_root)
    app.router.add_route("*", "/api/{tail:.*}", endpoints.api_root)
    app.router.add_route("*", "/apis/{tail:.*}", endpoints.api_root)
    app.router.add_get("/openapi/{tail:.*}", endpoints.openapi)


async def _ok(request: web.Request) -> web.Response:
    return _health(request, {"ping": True, "log": True})


async def _readyz(request: web.Request) -> web.Response:
    store = request.app[STORE]
    ok = request.app[endpoints.API_KEY].store_ok
    if ok:
        try:
            await asyncio.wait_for(store.backend.current_revision(), 2.0)
        except Exception:  # any failure means not ready
            ok = False
    caches = all(cache.ready.is_set() for cache in request.app[CACHES].values())
    return _health(request, {"ping": True, "etcd": ok, "informer-sync": caches})


def _health(request: web.Request, checks: dict[str, bool]) -> web.Response:
    """kube-apiserver's health answers: `ok`, or with ?verbose one `[+]name ok` line per check."""
    name = request.path.strip("/")
    healthy = all(checks.values())
    if not healthy or "verbose" in request.query:
        lines = [f"[+]{c} ok" if good else f"[-]{c} failed: reason withheld" for c, good in checks.items()]
        lines.append(f"{name} check passed" if healthy else f"{name} check failed")
        return web.Response(status=200 if healthy else 500, text="\n".join(lines) + "\n")
    return web.Response(text="ok")


async def _metrics(request: web.Request) -> web.Response:
    endpoints.authorize(request, endpoints.attributes(request))
    body = prometheus_client.generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})


@web.middleware
async def _request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.monotonic()
    user: UserInfo | None = None
    code = 500
    try:
        if request.path not in UNAUTHENTICATED:
            user = request.app[AUTH].authenticate(request.headers.get("Authorization"))
            if user is None:
                raise errors.unauthorized()
            if "Impersonate-User" in request.headers or "Impersonate-Group" in request.headers:
                user = _impersonate(request, user)
            request[USER] = user
        release = request.app[INFLIGHT].admit(request_kind(request), user.groups if user else ())
        if release is None:
            code = 429
            return too_many_requests()
        try:
            response = await handler(request)
        finally:
            release()
        code = response.status
        return response
    except errors.ApiStatusError as err:
        code = err.code
        return codec.status_response(err)
    except web.HTTPException as exc:
        code = exc.status
        return codec.status_response(_http_error(exc))
    except (ConnectionResetError, asyncio.CancelledError):
        code = 499
        raise
    except Exception as exc:  # a bug: answer a Status, log the traceback
        log.exception("apiserver.internal_error", path=request.path, method=request.method)
        code = 500
        return codec.status_response(errors.internal(f"{type(exc).__name__}: {exc}"))
    finally:
        _record(request, user, code, time.monotonic() - started)


def _impersonate(request: web.Request, user: UserInfo) -> UserInfo:
    """kube-apiserver's impersonation filter (`kubectl --as`, `--as-group`): the requesting user
    must be allowed `impersonate` on the users and groups named; the request then runs as that
    user, in system:authenticated."""
    name = request.headers.get("Impersonate-User", "")
    groups = tuple(request.headers.getall("Impersonate-Group", ()))
    if not name:
        raise errors.bad_request("impersonating groups requires impersonating a user (Impersonate-User)")
    asked = [("users", name)] + [("groups", group) for group in groups]
    for resource, target in asked:
        attrs = rbac.Attributes(user.name, user.groups, "impersonate", True, "", resource, name=target)
        endpoints.authorize(request, attrs)
    extra = () if name == "system:anonymous" else ("system:authenticated",)
    return UserInfo(name, "", groups + extra)


def _http_error(exc: web.HTTPException) -> errors.ApiStatusError:
    if exc.status == 413:
        return errors.too_large()
    if exc.status == 404:
        return errors.path_not_found()
    if exc.status == 405:
        return errors.method_not_allowed()
    return errors.ApiStatusError(exc.status, exc.reason.replace(" ", ""), exc.text or exc.reason)


# kube-apiserver's metric verbs: the HTTP method, except LIST, WATCH and DELETECOLLECTION.
_METRIC_VERBS = {"create": "POST", "update": "PUT", "patch": "PATCH", "delete": "DELETE", "get": "GET"}


def _record(request: web.Request, user: UserInfo | None, code: int, seconds: float) -> None:
    info = request.get(endpoints.INFO)
    verb = _METRIC_VERBS.get(info.verb, info.verb.upper()) if info else request.method
    resource = info.resource.plural if info else ""
    request.app[METRICS].observe(verb, resource, code, seconds)
    if request.path in ("/healthz", "/livez", "/readyz", "/metrics"):
        return
    log.info("apiserver.request", verb=verb, resource=resource,
             subresource=info.subresource if info else None, key=info.key if info else None,
             path=request.path if not info else None, user=user.name if user else None, code=code,
             latency_ms=round(seconds * 1000, 2))


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    caches: dict[str, WatchCache] = app[CACHES]
    api = app[endpoints.API_KEY]
    # Kubelets' serving certs are self-signed (kube-apiserver without --kubelet-certificate-authority
    # does not verify them either).
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
                                    connector=aiohttp.TCPConnector(ssl=False))
    app[endpoints.KUBELET_SESSION] = session
    for cache in caches.values():
        cache.start()
    tasks = [asyncio.create_task(_store_monitor(app, api), name="store-monitor")]
    if app[CONFIG].compaction_interval > 0:
        tasks.append(asyncio.create_task(_compactor(app[BACKEND], app[CONFIG].compaction_interval),
                                         name="compactor"))
    try:
        await _bootstrap(app, api)
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for cache in caches.values():
            await cache.stop()
        await session.close()
        with contextlib.suppress(Exception):
            await app[BACKEND].close()


async def _store_monitor(app: web.Application, api: Api, interval: float = 1.0) -> None:
    """Probe the store; when it stops answering, end every watch cleanly (clients re-watch and
    get 503 until it is back), as watches over a dead store would otherwise hang silently."""
    backend = app[BACKEND]
    while True:
        try:
            await asyncio.wait_for(backend.current_revision(), max(interval * 2, 1.0))
            ok = True
        except asyncio.CancelledError:
            raise
        except Exception:  # any failure: the store is not usable
            ok = False
        if ok != api.store_ok:
            api.store_ok = ok
            log.warning("apiserver.store_available" if ok else "apiserver.store_unavailable")
            if not ok:
                await _end_watches(app)
        await asyncio.sleep(interval)


async def _compactor(backend: Any, interval: float) -> None:
    """Compact the store to the revision seen one interval ago, as kube-apiserver does, so history
    (and the store) stays bounded while recent watches and continue tokens stay valid."""
    previous = 0
    while True:
        await asyncio.sleep(interval)
        try:
            current = await backend.current_revision()
            if previous:
                await backend.compact(previous)
                log.info("storage.compacted", revision=previous)
            previous = current
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the store may be down or already compacted further: try next time
            log.warning("storage.compaction_failed", revision=previous, error=str(exc))


async def _end_watches(app: web.Application) -> None:
    """Shutting down: end every watch stream cleanly (clients re-watch elsewhere)."""
    for cache in app[CACHES].values():
        for watcher in list(cache.watchers):
            watcher.close()


async def _bootstrap(app: web.Application, api: Api) -> None:
    """System namespaces, the allocators' state and the `kubernetes` Service, retried until the store answers."""
    delay = 0.2
    while True:
        try:
            await _rebuild_allocations(api)
            for name in admission.SYSTEM_NAMESPACES:
                await _ensure(api, "namespaces", None, {"metadata": {"name": name}})
            await _ensure_kubernetes_service(app, api)
            for name in priority.SYSTEM_CLASSES:
                await _ensure(api, "priorityclasses", None, priority.system_class(name), group="scheduling.k8s.io")
            roles, bindings = rbac.bootstrap_policy()  # kube-apiserver's rbac/bootstrap-roles hook
            for role in roles:
                await _ensure(api, "clusterroles", None, role, group=rbac.RBAC_GROUP)
            for binding in bindings:
                await _ensure(api, "clusterrolebindings", None, binding, group=rbac.RBAC_GROUP)
            # Serve only once every watch cache has listed: a list answered from the store before
            # then could carry a resourceVersion older than the cache's start (410 on the watch).
            for cache in app[CACHES].values():
                await cache.wait_ready(app[CONFIG].storage_timeout)
            # Ready once the authorizer sees the bootstrap policy (kube-apiserver's
            # rbac/bootstrap-roles post-start hook holds /readyz the same way).
            await _until_cached(app[CACHES], {"clusterroles": [r["metadata"]["name"] for r in roles],
                                              "clusterrolebindings": [b["metadata"]["name"] for b in bindings]},
                                app[CONFIG].storage_timeout)
            return
        except (errors.ApiStatusError, OSError) as exc:
            log.warning("apiserver.bootstrap_retry", error=str(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _until_cached(caches: dict[str, WatchCache], names: dict[str, list[str]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        present = {(plural, (obj.get("metadata") or {}).get("name")) for plural in names
                   for obj in caches[plural].state.values()}
        if all((plural, name) in present for plural, wanted in names.items() for name in wanted):
            return
        await asyncio.sleep(0.02)


async def _rebuild_allocations(api: Api) -> None:
    services = api.registry.get("", "v1", "services")
    items, _, _ = await api.list_objects(services, None, {})
    for svc in items:
        api.allocator.observe(svc)


async def _ensure(api: Api, plural: str, namespace: str | None, obj: dict, *, group: str = "") -> None:
    res = api.registry.get(group, "v1", plural)
    if await api.store.get(res, obj["metadata"]["name"], namespace) is not None:
        return
    with contextlib.suppress(errors.ApiStatusError, KeyExists):
        await api.create(res, namespace, obj)
        log.info("apiserver.created", resource=plural, key=f"{namespace}/{obj['metadata']['name']}"
                 if namespace else obj["metadata"]["name"])


async def _ensure_kubernetes_service(app: web.Application, api: Api) -> None:
    config = app[CONFIG]
    svc = {"metadata": {"name": "kubernetes", "namespace": "default",
                        "labels": {"component": "apiserver", "provider": "kubernetes"}},
           "spec": {"type": "ClusterIP", "clusterIP": api.allocator.ips.first_ip, "sessionAffinity": "None",
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": config.port}]}}
    await _ensure(api, "services", "default", svc)
    await _reconcile_kubernetes_endpoints(api, config)


async def _reconcile_kubernetes_endpoints(api: Api, config: ApiServerConfig) -> None:
    """The `kubernetes` Service has no selector: like kube-apiserver's endpoint reconciler, keep
    its Endpoints and EndpointSlice pointing at this server (so kube-proxy can route to it)."""
    ip = config.bind_address if config.bind_address not in ("0.0.0.0", "::", "") else "127.0.0.1"
    port = {"name": "https", "port": config.port, "protocol": "TCP"}
    endpoints = {"apiVersion": "v1", "kind": "Endpoints",
                 "metadata": {"name": "kubernetes", "namespace": "default",
                              "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                 "subsets": [{"addresses": [{"ip": ip}], "ports": [port]}]}
    slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "kubernetes", "namespace": "default",
                           "labels": {"kubernetes.io/service-name": "kubernetes",
                                      "endpointslice.kubernetes.io/managed-by": "kube-apiserver"}},
              "addressType": "IPv4", "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
              "ports": [port]}
    for group, plural, obj, field in (("", "endpoints", endpoints, "subsets"),
                                      ("discovery.k8s.io", "endpointslices", slice_, "endpoints")):
        res = api.registry.get(group, "v1", plural)
        found = await api.store.get(res, "kubernetes", "default")
        if found is None:
            await _ensure(api, plural, "default", obj, group=group)
            continue
        current = found[0]
        if current.get(field) != obj[field] or current.get("ports", obj.get("ports")) != obj.get("ports"):
            info = RequestInfo("update", res, "default", "kubernetes")
            await api.update(info, lambda cur, obj=obj: {**cur, **{k: v for k, v in obj.items() if k != "metadata"}})
