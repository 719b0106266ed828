"""Every manifest under examples/ passes the create pipeline: no unknown fields, the kind's
PrepareForCreate and defaults, valid, printable."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.apiserver.defaults import prepare_for_create
from services.apiserver.openapi import unknown_fields
from services.apiserver.registry import REGISTRY
from services.apiserver.tables import to_table

EXAMPLES = sorted((Path(__file__).resolve().parents[4] / "examples").glob("*.yaml"))


def documents():
    for path in EXAMPLES:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield pytest.param(doc, id=f"{path.name}:{doc.get('kind')}")


@pytest.mark.skipif(not EXAMPLES, reason="no examples/*.yaml in this tree")
@pytest.mark.parametrize("doc", list(documents()))
def test_example_passes_schema(doc) -> None:
    res = REGISTRY.by_api_version_kind(doc["apiVersion"], doc["kind"])
    assert res is not None, f"{doc['apiVersion']} {doc['kind']} is not served"
    assert unknown_fields(res, doc) == []
    if res.namespaced:
        doc.setdefault("metadata", {}).setdefault("namespace", "default")
    doc["metadata"]["uid"] = "0c51868c-0a4a-4384-8887-f7818e89fbf5"  # as the create path, before the strategy
    obj = res.default(prepare_for_create(res, doc))
    assert res.validate(obj) == []
    (row,) = to_table(res, [obj])["rows"]
    assert row["cells"][0] == obj["metadata"]["name"] or res.plural == "events"
