"""HTTP endpoints: the resource handler (every verb and subresource), discovery, OpenAPI, /version.

Guarantees: each request is resolved to a `RequestInfo` (kept in `request[INFO]` for logging and
metrics) and answered with the object, a List, a Table, a watch stream or a `Status`.
Subresources: status, scale (autoscaling/v1 Scale), pods/binding, pods/eviction, pods/log
(streamed from the pod's kubelet), namespaces/finalize.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import aiohttp
from aiohttp import web

from services.apiserver import codec, compat, errors, eviction, openapi_v2, rbac
from services.apiserver.auth import UserInfo
from services.apiserver.handlers import RETURN_DELETED, Api, now_rfc3339
from services.apiserver.registry import Resource
from services.apiserver.requestinfo import RequestInfo, is_discovery_path, parse
from services.apiserver.selectors import selector_string
from shared.logging import get_logger

Obj = dict[str, Any]
log = get_logger()

API_KEY = web.AppKey("api", Api)
KUBELET_SESSION = web.AppKey("kubelet_session", aiohttp.ClientSession)
KUBELET_SCHEME = web.AppKey("kubelet_scheme", str)
AUTHZ = web.AppKey("authz", tuple)  # (--authorization-mode, RbacAuthorizer)
INFO = web.RequestKey("info", RequestInfo)
USER_KEY = web.RequestKey("user", UserInfo)


async def version(_: web.Request) -> web.Response:
    return web.json_response(compat.version_info())


def attributes(request: web.Request, info: RequestInfo | None = None, *, verb: str = "get") -> rbac.Attributes:
    """The authorizer's view of a request: a resource request from its RequestInfo, else its path."""
    user = request.get(USER_KEY)
    name, groups = (user.name, user.groups) if user else ("system:anonymous", ("system:unauthenticated",))
    if info is None:
        return rbac.Attributes(name, groups, verb, False, path=request.path)
    res = info.resource
    return rbac.Attributes(name, groups, info.verb, True, res.group, res.plural, info.subresource or "",
                           info.namespace or "", info.name or "")


def authorize(request: web.Request, attrs: rbac.Attributes) -> None:
    """403 Forbidden unless --authorization-mode allows the request."""
    mode, authorizer = request.app[AUTHZ]
    if not rbac.allowed(mode, attrs, authorizer):
        raise rbac.forbidden(attrs)


async def api_root(request: web.Request) -> web.StreamResponse:
    """Everything under /api and /apis."""
    api = request.app[API_KEY]
    parts = [p for p in request.path.split("/") if p]
    if is_discovery_path(parts):
        authorize(request, attributes(request))
        found = compat.discovery_document(api.registry, request.path, request.headers.get("Accept", ""))
        if found is None:
            raise errors.path_not_found()
        doc, content_type = found
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        return web.Response(body=codec.orjson.dumps(doc), headers={"Content-Type": content_type})
    if len(parts) < 3 or (parts[0] == "apis" and len(parts) < 4):
        raise errors.path_not_found()
    watch = request.query.get("watch") in ("true", "1")
    info = parse(api.registry, request.method, parts, watch)
    request[INFO] = info
    authorize(request, attributes(request, info))
    return await _dispatch(request, api, info)


async def openapi(request: web.Request) -> web.Response:
    authorize(request, attributes(request))
    api = request.app[API_KEY]
    if request.path.rstrip("/") == "/openapi/v2":
        # kubectl 1.27/1.28 validate with the v2 document, and ask for it as protobuf
        if "protobuf" in request.headers.get("Accept", ""):
            body = openapi_v2.openapi_v2_protobuf(api.registry)
            return web.Response(body=body, headers={"Content-Type": openapi_v2.PROTOBUF_CONTENT_TYPE})
        return web.Response(body=codec.orjson.dumps(openapi_v2.openapi_v2(api.registry)),
                            headers={"Content-Type": "application/json"})
    found = compat.openapi_document(api.registry, request.path)
    if found is None:
        raise errors.path_not_found()
    doc, content_type = found
    body = doc if isinstance(doc, bytes) else codec.orjson.dumps(doc)
    return web.Response(body=body, headers={"Content-Type": content_type})


async def self_subject_access_review(request: web.Request) -> web.Response:
    """`kubectl auth can-i`: the authorizer's answer for the requesting user."""
    body = codec.decode_object(await codec.read_body(request), codec.media_type(request))
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    own = attributes(request)
    resource = spec.get("resourceAttributes") if isinstance(spec.get("resourceAttributes"), dict) else None
    if resource is not None:
        asked = rbac.Attributes(own.user, own.groups, resource.get("verb") or "", True, resource.get("group") or "",
                                resource.get("resource") or "", resource.get("subresource") or "",
                                resource.get("namespace") or "", resource.get("name") or "")
    else:
        other = spec.get("nonResourceAttributes") if isinstance(spec.get("nonResourceAttributes"), dict) else {}
        asked = rbac.Attributes(own.user, own.groups, other.get("verb") or "", False, path=other.get("path") or "")
    mode, authorizer = request.app[AUTHZ]
    status = {"allowed": rbac.allowed(mode, asked, authorizer)}
    if not status["allowed"]:
        status["reason"] = ""
    return codec.respond(request, {
        "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None}, "spec": spec, "status": status,
    }, 201)


async def self_subject_rules_review(request: web.Request) -> web.Response:
    """`kubectl auth can-i --list`: the rules the requesting user holds in a namespace."""
    body = codec.decode_object(await codec.read_body(request), codec.media_type(request))
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    own = attributes(request)
    mode, authorizer = request.app[AUTHZ]
    status = rbac.rules_review(mode, own.user, own.groups, spec.get("namespace") or "", authorizer)
    return codec.respond(request, {
        "kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None}, "spec": spec, "status": status,
    }, 201)


async def self_subject_review(request: web.Request) -> web.Response:
    """`kubectl auth whoami`: the user this request authenticated as."""
    user = request.get(USER_KEY)
    info = {"username": user.name, "uid": user.uid, "groups": list(user.groups)} if user else {}
    return codec.respond(request, {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                                   "metadata": {"creationTimestamp": None}, "status": {"userInfo": info}}, 201)


async def _dispatch(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    try:
        return await _dispatch_verb(request, api, info)
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
        # Defaulting/validation met a shape it did not expect: the input is malformed (a 400),
        # but log the traceback, since well-formed input must never get here.
        log.warning("apiserver.malformed_input", key=info.key, resource=info.resource.plural, exc_info=exc)
        raise errors.bad_request(f"the object provided is malformed: {type(exc).__name__}: {exc}") from exc


async def _dispatch_verb(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    sub = info.subresource
    if sub is None or sub in ("status", "ephemeralcontainers"):
        return await _main_verbs(request, api, info)
    handler = _SUBRESOURCES.get(sub)
    if handler is None:
        raise errors.path_not_found()
    return await handler(request, api, info)


async def _main_verbs(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    handler = _VERBS.get(info.verb)
    if handler is None:
        raise errors.method_not_allowed()
    return await handler(request, api, info)


def _dry_run(request: web.Request) -> bool:
    return request.query.get("dryRun") == "All"


async def _get(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    obj, _ = await api.get_object(info.resource, info.name or "", info.namespace)
    return _object_response(request, info.resource, obj, codec.wants_table(request))


async def _list(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    res = info.resource
    items, rv, cont = await api.list_objects(res, info.namespace, request.query)
    if codec.wants_table(request):
        return codec.respond(request, compat.to_table(res, items, resource_version=rv, continue_=cont,
                                                      include_object=_include_object(request)))
    meta: Obj = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
    return codec.respond(request, {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta,
                                   "items": items})


async def _watch(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    return await api.watch(request, info, as_table=codec.wants_table(request))


async def _create(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    body = codec.decode_object(await codec.read_body(request), codec.media_type(request))
    _check_types(info.resource, body)
    warnings = _field_validation(request, info.resource, body)
    obj = await api.create(info.resource, info.namespace, body, dry_run=_dry_run(request))
    return _object_response(request, info.resource, obj, codec.wants_table(request), status=201,
                            warnings=warnings)


async def _update(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    res = info.resource
    body = codec.decode_object(await codec.read_body(request), codec.media_type(request))
    _check_types(res, body)
    warnings = _field_validation(request, res, body)
    create = (lambda: copy.deepcopy(body)) if res.allow_create_on_update and info.subresource is None else None
    obj, created = await api.update(info, lambda _: copy.deepcopy(body), create=create, dry_run=_dry_run(request))
    return _object_response(request, res, obj, codec.wants_table(request), status=201 if created else 200,
                            warnings=warnings)


async def _patch_verb(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    obj, created, warnings = await _patch(request, api, info, _dry_run(request))
    return _object_response(request, info.resource, obj, codec.wants_table(request),
                            status=201 if created else 200, warnings=warnings)


async def _delete(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    res = info.resource
    obj, deleted = await api.delete(info, await _delete_options(request), dry_run=_dry_run(request))
    if deleted and res.plural not in RETURN_DELETED:
        meta = obj.get("metadata", {})
        return codec.respond(request, errors.success_status(name=meta.get("name", ""), group=res.group,
                                                            kind=res.plural, uid=meta.get("uid")))
    # 202: still there, marked for deletion (finalizers, or a pod its kubelet has to stop).
    return _object_response(request, res, obj, False, status=200 if deleted else 202)


async def _deletecollection(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    return await _delete_collection(request, api, info, _dry_run(request))


def _include_object(request: web.Request) -> str:
    value = request.query.get("includeObject", "Metadata")
    return value if value in ("None", "Metadata", "Object") else "Metadata"


def _object_response(request: web.Request, res: Resource, obj: Obj, table: bool, status: int = 200,
                     warnings: list[str] | None = None) -> web.Response:
    headers = {"Warning": ", ".join(_warning(w) for w in warnings)} if warnings else None
    if table:
        rv = obj.get("metadata", {}).get("resourceVersion", "")
        return codec.respond(request, compat.to_table(res, [obj], resource_version=rv,
                                                      include_object=_include_object(request)), status, headers)
    return codec.respond(request, obj, status, headers)


def _check_types(res: Resource, body: Any) -> None:
    """A value of the wrong JSON type in a body is a 400 from the decoder, as in kube-apiserver."""
    if isinstance(body, dict) and (message := compat.type_error(res, body)) is not None:
        raise errors.bad_request(message)


def _patched_types(res: Resource, patch: Any, patched: Obj) -> Obj:
    """A patch whose result has a value of the wrong type: 422 Invalid on the field `patch`, as the
    patcher's conversion of the patched map answers in kube-apiserver."""
    if isinstance(patched, dict) and (message := compat.type_error(res, patched)) is not None:
        detail = message.split(": ", 1)[1] if message.startswith(res.kind) else message
        raise errors.invalid("", "", "", [{"reason": "FieldValueInvalid", "field": "patch",
                                           "message": f"Invalid value: {json.dumps(_go_format(patch))}: {detail}"}])
    return patched


def _go_format(value: Any) -> str:
    """`value` as Go's %+v prints a decoded JSON document (`map[spec:map[replicas:3]]`)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_format(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_format(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "<nil>" if value is None else str(value)


def _field_validation(request: web.Request, res: Resource, body: Any) -> list[str]:
    """fieldValidation: Strict rejects unknown fields (400), Warn (the default) warns, Ignore ignores."""
    mode = request.query.get("fieldValidation", "Warn")
    if mode not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(f'fieldValidation parameter unsupported: "{mode}". Supported values are '
                                 '"Ignore", "Warn" and "Strict"')
    if mode == "Ignore" or not isinstance(body, dict):
        return []
    unknown = compat.unknown_fields(res, body)
    if unknown and mode == "Strict":
        raise errors.bad_request(compat.strict_message(res, unknown))
    return [f'unknown field "{p}"' for p in unknown]


def _warning(text: str) -> str:
    """An RFC 7234 Warning value, as kube-apiserver sends them (kubectl prints `Warning: <text>`)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


async def _patch(request: web.Request, api: Api, info: RequestInfo, dry_run: bool) -> tuple[Obj, bool, list[str]]:
    content_type = codec.media_type(request)
    if content_type not in codec.PATCH_TYPES:
        raise errors.unsupported_media_type(content_type)
    patch = codec.decode(await codec.read_body(request), content_type)
    res = info.resource
    manager = request.query.get("fieldManager", "")
    if content_type == "application/apply-patch+yaml":
        if not manager:
            raise errors.bad_request("PATCH requests with Content-Type application/apply-patch+yaml must have a "
                                     "fieldManager query parameter")
        if not isinstance(patch, dict):
            raise errors.bad_request("an apply patch must be an object")
    warnings = _field_validation(request, info.resource, patch) if info.subresource is None and \
        content_type in ("application/apply-patch+yaml", "application/strategic-merge-patch+json",
                         "application/merge-patch+json") else []

    def mutate(current: Obj) -> Obj:
        return _patched_types(res, patch, compat.apply_patch(res, content_type, current, patch, manager=manager))

    def create() -> Obj:
        obj = compat.apply_patch(res, content_type, None, patch, manager=manager)
        obj.setdefault("metadata", {})["name"] = info.name
        return _patched_types(res, patch, obj)

    can_create = content_type == "application/apply-patch+yaml" and info.subresource is None
    obj, created = await api.update(info, mutate, create=create if can_create else None, dry_run=dry_run)
    return obj, created, warnings


async def _delete_options(request: web.Request) -> Obj:
    options: Obj = {}
    data = await codec.read_body(request)
    if data.strip():
        body = codec.decode(data, codec.media_type(request) or codec.JSON)
        if not isinstance(body, dict):
            raise errors.bad_request("the body of a delete must be DeleteOptions")
        options.update(body)
    query = request.query
    if "gracePeriodSeconds" in query:
        try:
            options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
        except ValueError:
            raise errors.bad_request(f"invalid gracePeriodSeconds: {query['gracePeriodSeconds']!r}") from None
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if "orphanDependents" in query:
        options["orphanDependents"] = query["orphanDependents"] == "true"
    policy = options.get("propagationPolicy")
    if policy not in (None, "Orphan", "Foreground", "Background"):
        raise errors.invalid("DeleteOptions", "", "", [{
            "reason": "FieldValueNotSupported", "field": "propagationPolicy",
            "message": f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", '
                       '"nil"'}])
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise errors.bad_request("gracePeriodSeconds must be an integer")
    if not isinstance(options.get("preconditions") or {}, dict):
        raise errors.bad_request("preconditions must be an object")
    return options


async def _delete_collection(request: web.Request, api: Api, info: RequestInfo, dry_run: bool) -> web.Response:
    options = await _delete_options(request)
    items, rv, _ = await api.list_objects(info.resource, info.namespace,
                                          {k: v for k, v in request.query.items() if k not in ("limit", "continue")})
    deleted = []
    for item in items:
        meta = item["metadata"]
        target = RequestInfo("delete", info.resource, meta.get("namespace"), meta["name"])
        try:
            obj, _ = await api.delete(target, options, dry_run=dry_run)
        except errors.ApiStatusError as err:
            if err.code == 404:
                continue
            raise
        deleted.append(obj)
    res = info.resource
    return codec.respond(request, {"kind": res.list_kind, "apiVersion": res.api_version,
                                   "metadata": {"resourceVersion": rv}, "items": deleted})


# --- subresources ----------------------------------------------------------------------------

async def _scale(request: web.Request, api: Api, info: RequestInfo) -> web.Response:
    res = info.resource
    if info.verb == "get":
        obj, _ = await api.get_object(res, info.name or "", info.namespace)
        return codec.respond(request, to_scale(res, obj))
    if info.verb not in ("update", "patch"):
        raise errors.method_not_allowed()
    content_type = codec.media_type(request)
    data = await codec.read_body(request)
    if info.verb == "update":
        body = codec.decode_object(data, content_type)
    else:
        if content_type not in codec.PATCH_TYPES:
            raise errors.unsupported_media_type(content_type)
        body = codec.decode(data, content_type)

    def mutate(current: Obj) -> Obj:
        scale = to_scale(res, current)
        if info.verb == "update":
            new_scale = body
        else:
            new_scale = compat.apply_patch(_SCALE_RESOURCE, content_type, scale, body,
                                           manager=request.query.get("fieldManager", ""))
        replicas = (new_scale.get("spec") or {}).get("replicas") if isinstance(new_scale, dict) else None
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("Scale", "autoscaling", info.name or "", [{
                "reason": "FieldValueInvalid", "field": "spec.replicas",
                "message": f"Invalid value: {replicas}: must be greater than or equal to 0"}])
        current.setdefault("spec", {})["replicas"] = replicas
        rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        if rv:
            current["metadata"]["resourceVersion"] = rv
        return current

    main = RequestInfo("update", res, info.namespace, info.name)
    obj, _ = await api.update(main, mutate)
    return codec.respond(request, to_scale(res, obj))


_SCALE_RESOURCE = Resource("autoscaling", "v1", "Scale", "scales", "scale", True)


def to_scale(res: Resource, obj: Obj) -> Obj:
    meta = obj.get("metadata", {})
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": spec.get("replicas", 1)},
        "status": {"replicas": status.get("replicas", 0), "selector": selector_string(spec.get("selector"))},
    }


async def _binding(request: web.Request, api: Api, info: RequestInfo) -> web.Response:
    body = codec.decode_object(await codec.read_body(request), codec.media_type(request))
    target = body.get("target") if isinstance(body.get("target"), dict) else {}
    node = target.get("name")
    name = info.name or ""
    if not node or not isinstance(node, str):
        raise errors.invalid("Binding", "", name, [{"reason": "FieldValueRequired", "field": "target.name",
                                                   "message": "Required value"}])
    if target.get("kind") not in (None, "", "Node"):
        raise errors.invalid("Binding", "", name, [{"reason": "FieldValueNotSupported", "field": "target.kind",
                                                   "message": f'Unsupported value: "{target.get("kind")}": '
                                                              'supported values: "Node"'}])
    binding_meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}

    def mutate(pod: Obj) -> Obj:
        spec = pod.setdefault("spec", {})
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.conflict("pods/binding", "", name, f"pod {name} is being deleted, cannot be assigned to a host")
        if spec.get("nodeName"):
            raise errors.conflict("pods/binding", "", name,
                                  f'pod {name} is already assigned to node "{spec["nodeName"]}"')
        spec["nodeName"] = node
        if binding_meta.get("annotations"):
            pod["metadata"].setdefault("annotations", {}).update(binding_meta["annotations"])
        if binding_meta.get("resourceVersion"):
            pod["metadata"]["resourceVersion"] = binding_meta["resourceVersion"]
        _set_condition(pod, "PodScheduled", "True")
        return pod

    main = RequestInfo("update", info.resource, info.namespace, name)
    # A binding is not a pod update: pod update validation (spec is immutable) does not apply.
    await api.update(main, mutate, status_too=True, validate=False)
    return codec.respond(request, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                   "code": 201}, 201)


def _set_condition(pod: Obj, type_: str, status: str) -> None:
    conditions = [c for c in (pod.setdefault("status", {}).get("conditions") or []) if c.get("type") != type_]
    conditions.append({"type": type_, "status": status, "lastProbeTime": None,
                       "lastTransitionTime": now_rfc3339()})
    pod["status"]["conditions"] = conditions


async def _eviction(request: web.Request, api: Api, info: RequestInfo) -> web.Response:
    body = codec.decode_object(await codec.read_body(request), codec.media_type(request))
    options = body.get("deleteOptions") if isinstance(body.get("deleteOptions"), dict) else {}
    await eviction.evict(api, info.resource, info.namespace or "", info.name or "", options)
    return codec.respond(request, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                   "code": 201}, 201)


async def _finalize(request: web.Request, api: Api, info: RequestInfo) -> web.Response:
    if info.verb != "update":
        raise errors.method_not_allowed()
    body = codec.decode_object(await codec.read_body(request), codec.media_type(request))
    finalizers = (body.get("spec") or {}).get("finalizers") or []

    def mutate(ns: Obj) -> Obj:
        ns.setdefault("spec", {})["finalizers"] = list(finalizers)
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv:
            ns["metadata"]["resourceVersion"] = rv
        return ns

    obj, _ = await api.update(RequestInfo("update", info.resource, None, info.name), mutate)
    return codec.respond(request, obj)


async def _log(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    if info.verb != "get":
        raise errors.method_not_allowed()
    name, ns = info.name or "", info.namespace
    pod, _ = await api.get_object(info.resource, name, ns)
    container = _log_container(pod, request.query.get("container"))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    nodes = api.registry.get("", "v1", "nodes")
    node, _ = await api.get_object(nodes, node_name, None)
    host, port = _kubelet_address(node)
    params = {k: request.query[k] for k in ("follow", "tailLines", "timestamps", "previous", "sinceSeconds",
                                            "limitBytes") if k in request.query}
    url = f"{request.app[KUBELET_SCHEME]}://{host}:{port}/containerLogs/{ns}/{name}/{container}"
    return await _proxy_stream(request, url, params)


def _log_container(pod: Obj, asked: str | None) -> str:
    spec = pod.get("spec") or {}
    names = [c.get("name") for key in ("containers", "initContainers", "ephemeralContainers")
             for c in spec.get(key) or []]
    name = pod["metadata"]["name"]
    if asked:
        if asked not in names:
            raise errors.bad_request(f"container {asked} is not valid for pod {name}")
        return asked
    main = [c.get("name") for c in spec.get("containers") or []]
    if len(main) == 1:
        return main[0]
    raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                             f"[{' '.join(str(n) for n in main)}]")


def _kubelet_address(node: Obj) -> tuple[str, int]:
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    host = next((a.get("address") for a in addresses if a.get("type") == "InternalIP"), None) or \
        next((a.get("address") for a in addresses), None)
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 10250
    if not host:
        raise errors.bad_request(f"node {node['metadata']['name']} has no address to reach its kubelet")
    return host, int(port)


async def _proxy_stream(request: web.Request, url: str, params: dict[str, str]) -> web.StreamResponse:
    session = request.app[KUBELET_SESSION]
    try:
        upstream = await session.get(url, params=params)
    except (aiohttp.ClientError, OSError) as exc:
        raise errors.unavailable(f"Get \"{url}\": {exc}") from exc
    try:
        if upstream.status != 200:
            text = (await upstream.read()).decode(errors="replace")[:2000]
            if upstream.status == 404:
                raise errors.ApiStatusError(404, "NotFound", text or "container logs not found")
            raise errors.bad_request(text or f"kubelet answered {upstream.status}")
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
        except (ConnectionError, aiohttp.ClientError):
            pass
        return resp
    finally:
        upstream.release()


async def _exec(request: web.Request, api: Api, info: RequestInfo) -> web.StreamResponse:
    """pods/exec and pods/attach: a WebSocket (v5/v4.channel.k8s.io) relayed to the pod's kubelet
    at /exec|/attach/{namespace}/{pod}/{container}, frame for frame, as kube-apiserver proxies it."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise errors.bad_request("Upgrade request required")
    name, ns = info.name or "", info.namespace
    pod, _ = await api.get_object(info.resource, name, ns)
    if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        raise errors.bad_request(f"cannot exec into a container in a completed pod; current phase is "
                                 f"{pod['status']['phase']}")
    container = _exec_container(pod, request.query.get("container"))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    node, _ = await api.get_object(api.registry.get("", "v1", "nodes"), node_name, None)
    host, port = _kubelet_address(node)
    scheme = "wss" if request.app[KUBELET_SCHEME] == "https" else "ws"
    query = [(k, v) for k, v in request.query.items() if k != "container"]
    url = f"{scheme}://{host}:{port}/{info.subresource}/{ns}/{name}/{container}"
    protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    try:
        upstream = await request.app[KUBELET_SESSION].ws_connect(url, params=query, protocols=protocols)
    except aiohttp.WSServerHandshakeError as exc:  # the kubelet refused: pass its answer on
        if exc.status == 404:
            raise errors.ApiStatusError(404, "NotFound", exc.message or "not found") from exc
        raise errors.bad_request(exc.message or f"the kubelet answered {exc.status}") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise errors.unavailable(f"error dialing backend: {exc}") from exc
    client = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else ())
    await client.prepare(request)
    await asyncio.gather(_relay(client, upstream), _relay(upstream, client))
    return client


async def _relay(source: Any, sink: Any) -> None:
    try:
        async for msg in source:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await sink.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await sink.send_str(msg.data)
            else:
                break
    except (ConnectionError, aiohttp.ClientError):
        pass
    finally:
        await sink.close()


def _exec_container(pod: Obj, asked: str | None) -> str:
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in spec.get("containers") or []]
    if asked:
        names += [c.get("name") for c in (spec.get("initContainers") or []) + (spec.get("ephemeralContainers") or [])]
        if asked not in names:
            raise errors.bad_request(f"container {asked} is not valid for pod {pod['metadata']['name']}")
        return asked
    default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if default in names:
        return default
    if not names:
        raise errors.bad_request(f"pod {pod['metadata']['name']} has no containers")
    return names[0]


_VERBS = {
    "get": _get, "list": _list, "watch": _watch, "create": _create, "update": _update, "patch": _patch_verb,
    "delete": _delete, "deletecollection": _deletecollection,
}

_SUBRESOURCES = {
    "exec": _exec,
    "attach": _exec,
    "scale": _scale,
    "binding": _binding,
    "eviction": _eviction,
    "finalize": _finalize,
    "log": _log,
}
