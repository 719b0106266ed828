"""Request bodies in, responses out: JSON/YAML decoding, Accept negotiation, Table output.

Guarantees: a body is JSON or YAML by its Content-Type (anything else 415), malformed input is a
400 Status (never a 500), bodies over 3 MiB 413; responses are JSON unless the client asks for
YAML, and `as=Table` in Accept turns objects and lists into meta.k8s.io/v1 Tables.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from services.apiserver import errors

Obj = dict[str, Any]

JSON = "application/json"
YAML = "application/yaml"
PATCH_TYPES = ("application/merge-patch+json", "application/json-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")


def media_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower()


async def read_body(request: web.Request) -> bytes:
    if request.content_length is not None:
        if request.content_length > errors.MAX_BODY_BYTES:
            raise errors.too_large()
        return await request.read()
    data = bytearray()
    async for chunk in request.content.iter_chunked(65536):
        data.extend(chunk)
        if len(data) > errors.MAX_BODY_BYTES:
            raise errors.too_large()
    return bytes(data)


def decode(data: bytes, content_type: str) -> Any:
    """Parse `data` as JSON or YAML (apply patches and application/yaml); 400 when malformed."""
    if not data.strip():
        raise errors.bad_request("the request body is empty; an object is required")
    if content_type in (YAML, "application/apply-patch+yaml", "text/yaml", "application/x-yaml"):
        try:
            value = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error converting YAML to JSON: {exc}") from exc
        return _jsonable(value)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc


def _jsonable(value: Any) -> Any:
    """YAML can hold what JSON cannot (dates, non-string keys): make it JSON's."""
    try:
        return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))
    except TypeError as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from exc


PROTOBUF = "application/vnd.kubernetes.protobuf"


def decode_object(data: bytes, content_type: str) -> Obj:
    if content_type == PROTOBUF:
        value = _decode_protobuf(data)
    elif content_type not in (JSON, YAML, "", "text/yaml", "application/x-yaml", "*/*"):
        raise errors.unsupported_media_type(content_type)
    else:
        value = decode(data, content_type)
    if not isinstance(value, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    check_meta_types(value)
    return value


_META_STRINGS = ("name", "generateName", "namespace", "resourceVersion", "uid", "creationTimestamp",
                 "deletionTimestamp", "selfLink")


def check_meta_types(obj: Obj) -> None:
    """What Go's decoder would refuse in ObjectMeta (a number for a name...), as a 400."""
    meta = obj.get("metadata")
    if meta is None:
        return
    if not isinstance(meta, dict):
        raise _unmarshal("metadata", "object", meta)
    for key in _META_STRINGS:
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise _unmarshal(f"metadata.{key}", "string", meta[key])
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _unmarshal(f"metadata.{key}", "map[string]string", value)
    for key in ("finalizers", "ownerReferences", "managedFields"):
        value = meta.get(key)
        if value is not None and not isinstance(value, list):
            raise _unmarshal(f"metadata.{key}", "array", value)
    if meta.get("finalizers") and not all(isinstance(f, str) for f in meta["finalizers"]):
        raise _unmarshal("metadata.finalizers", "[]string", meta["finalizers"])
    if meta.get("generation") is not None and (not isinstance(meta["generation"], int)
                                               or isinstance(meta["generation"], bool)):
        raise _unmarshal("metadata.generation", "int64", meta["generation"])


def _unmarshal(field: str, go_type: str, value: Any) -> errors.ApiStatusError:
    kind = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}.get(
        type(value), "value")
    return errors.bad_request(f"json: cannot unmarshal {kind} into Go struct field {field} of type {go_type}")


def wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "as=Table" in accept and ("g=meta.k8s.io" in accept)


def wants_yaml(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    first = accept.split(",")[0].split(";")[0].strip()
    return first == YAML


def check_acceptable(request: web.Request) -> None:
    accept = request.headers.get("Accept", "")
    if not accept:
        return
    types = [p.split(";")[0].strip() for p in accept.split(",")]
    ok = ("application/json", "application/yaml", "*/*", "application/*", "text/plain",
          "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
    if not any(t in ok or t.startswith("application/json") for t in types):
        raise errors.not_acceptable()


def respond(request: web.Request, body: Any, status: int = 200, headers: dict[str, str] | None = None
            ) -> web.Response:
    if wants_yaml(request):
        text = yaml.safe_dump(body, sort_keys=False)
        return web.Response(body=text.encode(), status=status, content_type=YAML, headers=headers)
    return web.Response(body=orjson.dumps(body), status=status, content_type=JSON, headers=headers)


def status_response(err: errors.ApiStatusError) -> web.Response:
    return web.Response(body=orjson.dumps(err.status()), status=err.code, content_type=JSON, headers=err.headers)


def _decode_protobuf(data: bytes) -> Obj:
    """kubectl's `create <generator>` commands send protobuf: decode the kinds they send."""
    from services.apiserver import protobuf

    try:
        return protobuf.decode(data)
    except protobuf.ProtobufError as exc:
        if "not supported" in str(exc):
            raise errors.unsupported_media_type(PROTOBUF) from exc
        raise errors.bad_request(f"the protobuf body could not be decoded: {exc}") from exc
