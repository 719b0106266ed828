"""/openapi/v2: the Swagger 2.0 document kubectl 1.27/1.28 download before create/apply, as protobuf.

Guarantees:
- `openapi_v2(registry)` is a Swagger 2.0 document built from the same schemas as OpenAPI v3
  (`openapi.TYPES`): definitions with `x-kubernetes-group-version-kind` and patch strategies, and
  per kind the item/collection paths whose PATCH, PUT and POST carry `fieldValidation` (so kubectl
  leaves validation to the server).
- `openapi_v2_protobuf(registry)` is that document encoded as gnostic's `openapi.v2.Document`
  protobuf, which is what kubectl asks for
  (`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`); vendor extensions are
  `Any{yaml}` as kube-openapi writes them. No protobuf library is needed: the encoder is below.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from shared.version import KUBERNETES_VERSION

from . import openapi
from .registry import Registry, Resource

Obj = dict[str, Any]

# kubectl asks for ...spec.v2@v1.0+protobuf; kube-apiserver answers with this (Go rejects "@" in a media type).
PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


# ---- the Swagger 2.0 document ------------------------------------------------------------------


def _type_schema(typ: str) -> Obj:
    if typ in ("string", "integer", "boolean", "number"):
        return {"type": typ, **({"format": "int64"} if typ == "integer" else {})}
    if typ == "any":
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if typ.startswith("[]"):
        return {"type": "array", "items": _type_schema(typ[2:])}
    if typ.startswith("map["):
        return {"type": "object", "additionalProperties": _type_schema(typ[4:-1])}
    return {"$ref": f"#/definitions/{typ}"}


def _definition(name: str, gvk: Obj | None) -> Obj:
    if name in openapi._SCALARS:
        scalar = dict(openapi._SCALARS[name])
        scalar.pop("x-kubernetes-int-or-string", None)
        return scalar
    description, fields, required = openapi.TYPES[name]
    props = {k: {"description": d, **_type_schema(t), **openapi._patch_extensions(name, k)}
             for k, (t, d) in fields.items()}
    schema: Obj = {"description": description, "type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    if gvk is not None:
        schema["x-kubernetes-group-version-kind"] = [gvk]
    if name in openapi._OPEN_TYPES:
        schema["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def _param(name: str, where: str, description: str, required: bool = False) -> Obj:
    return {"name": name, "in": where, "description": description, "required": required,
            "type": "string", "uniqueItems": True}


def _operation(res: Resource, action: str, op_id: str, ref: str, params: list[Obj]) -> Obj:
    return {"description": f"{op_id} {res.kind}", "operationId": op_id,
            "consumes": ["*/*"], "produces": ["application/json", "application/yaml"],
            "tags": [f"{res.group or 'core'}_{res.version}"], "parameters": params,
            "responses": {"200": {"description": "OK", "schema": {"$ref": ref}}},
            "x-kubernetes-action": action, "x-kubernetes-group-version-kind": openapi._gvk(res)}


def _paths(res: Resource) -> Obj:
    base = f"/api/{res.version}" if not res.group else f"/apis/{res.group}/{res.version}"
    scope = f"{base}/namespaces/{{namespace}}" if res.namespaced else base
    ref = f"#/definitions/{openapi.schema_name(res)}"
    suffix = ("Namespaced" if res.namespaced else "") + res.kind
    body = {"name": "body", "in": "body", "required": True, "schema": {"$ref": ref}}
    validation = _param("fieldValidation", "query", "fieldValidation instructs the server on how to handle "
                        "objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields.")
    manager = _param("fieldManager", "query", "fieldManager is a name associated with the actor making changes.")
    dry_run = _param("dryRun", "query", "When present, indicates that modifications should not be persisted.")
    scope_params = [_param("namespace", "path", "object name and auth scope", True)] if res.namespaced else []
    item = {
        "get": _operation(res, "get", f"read{suffix}", ref, []),
        "put": _operation(res, "put", f"replace{suffix}", ref, [body, dry_run, manager, validation]),
        "patch": _operation(res, "patch", f"patch{suffix}", ref,
                            [{"name": "body", "in": "body", "required": True, "schema": {"type": "object"}},
                             dry_run, manager, validation, _param("force", "query", "Force apply requests.")]),
        "delete": _operation(res, "delete", f"delete{suffix}", ref, [dry_run]),
        "parameters": scope_params + [_param("name", "path", f"name of the {res.kind}", True)],
    }
    collection = {
        "get": _operation(res, "list", f"list{suffix}", ref, []),
        "post": _operation(res, "post", f"create{suffix}", ref, [body, dry_run, manager, validation]),
        "parameters": scope_params,
    }
    return {f"{scope}/{res.plural}": collection, f"{scope}/{res.plural}/{{name}}": item}


def openapi_v2(registry: Registry) -> Obj:
    """The Swagger 2.0 document for every served resource."""
    names: set[str] = set()
    paths: Obj = {}
    for res in registry.all():
        openapi._references(openapi.schema_name(res), names)
        paths.update(_paths(res))
    gvks = {openapi.schema_name(r): openapi._gvk(r) for r in registry.all()}
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION}, "paths": paths,
            "definitions": {n: _definition(n, gvks.get(n)) for n in sorted(names)}}


# ---- protobuf encoding of gnostic's openapi.v2 messages ----------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _string(number: int, value: str | None) -> bytes:
    return _field(number, value.encode()) if value else b""


def _bool(number: int, value: Any) -> bytes:
    return _varint(number << 3) + _varint(1) if value else b""


def _named_any(name: str, value: Any) -> bytes:
    text = yaml.safe_dump(value, default_flow_style=False, sort_keys=True)
    return _string(1, name) + _field(2, _string(2, text))


def _extensions(number: int, obj: Obj) -> bytes:
    return b"".join(_field(number, _named_any(k, v)) for k, v in obj.items() if k.startswith("x-"))


def _schema(schema: Obj) -> bytes:
    """openapi.v2.Schema."""
    out = _string(1, schema.get("$ref")) + _string(2, schema.get("format")) + _string(4, schema.get("description"))
    out += _bool(16, schema.get("uniqueItems"))
    out += b"".join(_string(19, r) for r in schema.get("required", []))
    if isinstance(schema.get("additionalProperties"), dict):
        out += _field(21, _field(1, _schema(schema["additionalProperties"])))  # AdditionalPropertiesItem.schema
    if schema.get("type"):
        out += _field(22, _string(1, schema["type"]))  # TypeItem
    if isinstance(schema.get("items"), dict):
        out += _field(23, _field(1, _schema(schema["items"])))  # ItemsItem
    if schema.get("properties"):
        named = b"".join(_field(1, _string(1, k) + _field(2, _schema(v))) for k, v in schema["properties"].items())
        out += _field(25, named)  # Properties
    return out + _extensions(31, schema)


def _parameter(param: Obj) -> bytes:
    """openapi.v2.ParametersItem{parameter: Parameter{body_parameter | non_body_parameter}}."""
    if param["in"] == "body":
        body = (_string(1, param.get("description")) + _string(2, param["name"]) + _string(3, "body")
                + _bool(4, param.get("required")) + _field(5, _schema(param["schema"])))
        return _field(1, _field(1, body))
    # Query and path sub-schemas share the first fields: required, in, description, name.
    sub = (_bool(1, param.get("required")) + _string(2, param["in"]) + _string(3, param.get("description"))
           + _string(4, param["name"]))
    if param["in"] == "query":
        sub += _string(6, param.get("type")) + _bool(20, param.get("uniqueItems"))
        wrapper = _field(3, sub)  # NonBodyParameter.query_parameter_sub_schema
    else:
        sub += _string(5, param.get("type")) + _bool(19, param.get("uniqueItems"))
        wrapper = _field(4, sub)  # NonBodyParameter.path_parameter_sub_schema
    return _field(1, _field(2, wrapper))


def _operation_pb(op: Obj) -> bytes:
    out = b"".join(_string(1, t) for t in op.get("tags", []))
    out += _string(3, op.get("description")) + _string(5, op.get("operationId"))
    out += b"".join(_string(6, p) for p in op.get("produces", []))
    out += b"".join(_string(7, c) for c in op.get("consumes", []))
    out += b"".join(_field(8, _parameter(p)) for p in op.get("parameters", []))
    responses = b""
    for code, resp in op.get("responses", {}).items():
        response = _string(1, resp.get("description")) + _field(2, _field(1, _schema(resp["schema"])))
        responses += _field(1, _string(1, code) + _field(2, _field(1, response)))
    out += _field(9, responses)
    return out + _extensions(13, op)


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "patch": 8}


def _path_item(item: Obj) -> bytes:
    out = b"".join(_field(n, _operation_pb(item[m])) for m, n in _METHODS.items() if m in item)
    return out + b"".join(_field(9, _parameter(p)) for p in item.get("parameters", []))


def encode_document(doc: Obj) -> bytes:
    """gnostic openapi.v2.Document bytes for a Swagger 2.0 document of the shape `openapi_v2` makes."""
    info = _string(1, doc["info"]["title"]) + _string(2, doc["info"]["version"])
    paths = b"".join(_field(2, _string(1, p) + _field(2, _path_item(item))) for p, item in doc["paths"].items())
    definitions = b"".join(_field(1, _string(1, n) + _field(2, _schema(s))) for n, s in doc["definitions"].items())
    return _string(1, doc["swagger"]) + _field(2, info) + _field(8, paths) + _field(9, definitions)


@lru_cache(maxsize=8)
def openapi_v2_protobuf(registry: Registry) -> bytes:
    """The /openapi/v2 answer for `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`."""
    return encode_document(openapi_v2(registry))
