"""/openapi/v2 for kubectl 1.27/1.28: Swagger 2.0 document and its gnostic protobuf encoding."""

from __future__ import annotations

import yaml

from services.apiserver.openapi_v2 import encode_document, openapi_v2, openapi_v2_protobuf
from services.apiserver.registry import REGISTRY


def decode(data: bytes) -> list[tuple[int, int, object]]:
    """A minimal protobuf wire-format reader: [(field, wire type, int or bytes)]."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((field, wire, value))
    return out


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def fields(data: bytes, number: int) -> list:
    return [v for f, _, v in decode(data) if f == number]


def test_document_has_every_kind_with_field_validation() -> None:
    doc = openapi_v2(REGISTRY)
    assert doc["swagger"] == "2.0"
    pod = doc["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1", "kind": "Pod"}]
    containers = doc["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    for res in REGISTRY.all():
        patches = [item["patch"] for item in doc["paths"].values()
                   if "patch" in item and item["patch"]["x-kubernetes-group-version-kind"]["kind"] == res.kind]
        assert len(patches) == 1
        assert "fieldValidation" in [p["name"] for p in patches[0]["parameters"]]


def test_protobuf_encoding_round_trips_the_structure() -> None:
    doc = openapi_v2(REGISTRY)
    data = openapi_v2_protobuf(REGISTRY)
    assert data == encode_document(doc)
    assert fields(data, 1) == [b"2.0"]  # swagger
    (info,) = fields(data, 2)
    assert fields(info, 1) == [b"Kubernetes"]
    (paths,) = fields(data, 8)
    assert len(fields(paths, 2)) == len(doc["paths"])
    (definitions,) = fields(data, 9)
    named = {fields(n, 1)[0].decode(): fields(n, 2)[0] for n in fields(definitions, 1)}
    assert set(named) == set(doc["definitions"])
    pod_schema = named["io.k8s.api.core.v1.Pod"]
    (ext,) = fields(pod_schema, 31)  # vendor_extension: NamedAny{name, Any{yaml}}
    assert fields(ext, 1) == [b"x-kubernetes-group-version-kind"]
    (any_value,) = fields(ext, 2)
    assert yaml.safe_load(fields(any_value, 2)[0]) == [{"group": "", "kind": "Pod", "version": "v1"}]
    (properties,) = fields(pod_schema, 25)
    names = [fields(p, 1)[0] for p in fields(properties, 1)]
    assert names == [b"apiVersion", b"kind", b"metadata", b"spec", b"status"]


def test_patch_operation_parameters_are_encoded() -> None:
    data = openapi_v2_protobuf(REGISTRY)
    (paths,) = fields(data, 8)
    items = {fields(p, 1)[0].decode(): fields(p, 2)[0] for p in fields(paths, 2)}
    item = items["/api/v1/namespaces/{namespace}/pods/{name}"]
    (patch,) = fields(item, 8)
    names = []
    for param in fields(patch, 8):  # ParametersItem -> Parameter -> body | non-body(query)
        (parameter,) = fields(param, 1)
        for body in fields(parameter, 1):
            names.append(fields(body, 2)[0])
        for non_body in fields(parameter, 2):
            (query,) = fields(non_body, 3)
            names.append(fields(query, 4)[0])
    assert b"fieldValidation" in names and b"body" in names
