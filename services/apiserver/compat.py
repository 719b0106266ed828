"""The API server's calls into the schema modules (tables, patch, discovery, openapi).

Guarantees: one place where handlers reach the schema engineer's modules; when a module has not
landed yet (or lacks a function), a small fallback keeps the API server answering (NAME/AGE
tables, legacy discovery documents, a minimal OpenAPI). Patch errors become 400/422 Statuses.
"""

from __future__ import annotations

import datetime
import importlib
from typing import Any

from services.apiserver import errors
from services.apiserver.registry import Registry, Resource

Obj = dict[str, Any]


def _module(name: str) -> Any:
    try:
        return importlib.import_module(f"services.apiserver.{name}")
    except ImportError:
        return None


# --- patches -------------------------------------------------------------------------------

def apply_patch(res: Resource, content_type: str, current: Obj | None, patch: Any, *, manager: str) -> Obj:
    """`current` patched by `patch` of `content_type`; `current` None only for apply (create)."""
    mod = _module("patch")
    try:
        if content_type == "application/merge-patch+json":
            return _check_obj(mod.json_merge_patch(current, patch))
        if content_type == "application/json-patch+json":
            return _check_obj(mod.json_patch(current, patch))
        if content_type == "application/strategic-merge-patch+json":
            if not isinstance(patch, dict):
                raise errors.bad_request("the strategic merge patch must be a JSON object")
            return _check_obj(mod.strategic_merge_patch(current, patch, res.kind))
        return _check_obj(mod.apply_patch(current, patch, res.kind, manager=manager, api_version=res.api_version,
                                          now=now_rfc3339()))
    except errors.ApiStatusError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        code = getattr(exc, "code", 400)
        if code == 422:
            raise errors.ApiStatusError(422, "Invalid", str(exc)) from exc
        raise errors.bad_request(str(exc)) from exc


def _check_obj(obj: Any) -> Obj:
    if not isinstance(obj, dict):
        raise errors.bad_request("the patch did not produce an object")
    return obj


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- tables --------------------------------------------------------------------------------

def to_table(res: Resource, objs: list[Obj], *, resource_version: str = "", continue_: str = "",
             include_object: str = "Metadata", with_columns: bool = True) -> Obj:
    mod = _module("tables")
    if mod is not None and hasattr(mod, "to_table"):
        return mod.to_table(res, objs, resource_version=resource_version, continue_token=continue_,
                            include_object=include_object, headers=with_columns)
    return _fallback_table(res, objs, resource_version, continue_, include_object, with_columns)


def _fallback_table(res: Resource, objs: list[Obj], rv: str, cont: str, include: str, with_columns: bool) -> Obj:
    columns = [
        {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
        {"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0},
    ]
    rows = []
    for obj in objs:
        meta = obj.get("metadata") or {}
        row: Obj = {"cells": [meta.get("name", ""), _age(meta.get("creationTimestamp"))]}
        if include != "None":
            row["object"] = ({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
                             if include == "Metadata" else obj)
        rows.append(row)
    table: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                  "metadata": {"resourceVersion": rv, **({"continue": cont} if cont else {})},
                  "columnDefinitions": columns if with_columns else [], "rows": rows}
    return table


def _age(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    try:
        then = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return "<unknown>"
    secs = int((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds())
    if secs < 120:
        return f"{max(secs, 0)}s"
    if secs < 7200:
        return f"{secs // 60}m"
    if secs < 172800:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"


# --- discovery and openapi -----------------------------------------------------------------

def discovery(registry: Registry, path: str, accept: str) -> tuple[Obj, str] | None:
    """(document, content type) for a discovery path (/api, /apis, /api/v1, /apis/g/v), or None."""
    mod = _module("discovery")
    if mod is None or not hasattr(mod, "api_resource_list"):
        return _fallback_discovery(registry, path)
    parts = [p for p in path.split("/") if p]
    json_ct = "application/json"
    if parts in (["api"], ["apis"]):
        aggregated = mod.negotiate_aggregated(accept)
        if aggregated:
            return mod.aggregated_discovery(registry, legacy=parts == ["api"], content_type=aggregated), aggregated
        return (mod.api_versions() if parts == ["api"] else mod.api_group_list(registry)), json_ct
    if len(parts) == 2 and parts[0] == "api":
        doc = mod.api_resource_list(registry, "", parts[1])
    elif len(parts) == 2:
        doc = mod.api_group(registry, parts[1])
    elif len(parts) == 3:
        doc = mod.api_resource_list(registry, parts[1], parts[2])
    else:
        doc = None
    return (doc, json_ct) if doc is not None else None


def _fallback_discovery(registry: Registry, path: str) -> tuple[Obj, str] | None:
    parts = [p for p in path.split("/") if p]
    json_ct = "application/json"
    if parts == ["api"]:
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}, json_ct
    if parts == ["apis"]:
        groups = []
        for group, version in registry.group_versions():
            if group:
                gv = {"groupVersion": f"{group}/{version}", "version": version}
                groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}, json_ct
    if parts == ["api", "v1"]:
        return _resource_list(registry, "", "v1"), json_ct
    if len(parts) == 3 and parts[0] == "apis" and registry.in_group_version(parts[1], parts[2]):
        return _resource_list(registry, parts[1], parts[2]), json_ct
    if len(parts) == 2 and parts[0] == "apis":
        versions = [v for g, v in registry.group_versions() if g == parts[1]]
        if versions:
            gv = {"groupVersion": f"{parts[1]}/{versions[0]}", "version": versions[0]}
            return {"kind": "APIGroup", "apiVersion": "v1", "name": parts[1], "versions": [gv],
                    "preferredVersion": gv}, json_ct
    return None


def _resource_list(registry: Registry, group: str, version: str) -> Obj:
    resources = []
    for res in registry.in_group_version(group, version):
        resources.append({"name": res.plural, "singularName": res.singular, "namespaced": res.namespaced,
                          "kind": res.kind, "verbs": list(res.verbs()), "shortNames": list(res.short_names),
                          "categories": list(res.categories)})
        for sub in res.subresource_entries():
            entry = {"name": f"{res.plural}/{sub.name}", "singularName": "", "namespaced": res.namespaced,
                     "kind": sub.kind, "verbs": list(sub.verbs)}
            if sub.group:
                entry.update(group=sub.group, version=sub.version)
            resources.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


def openapi(registry: Registry, path: str) -> tuple[Any, str] | None:
    """(document, content type) for /openapi/v2, /openapi/v3 and /openapi/v3/<gv>, or None."""
    mod = _module("openapi")
    if mod is None or not hasattr(mod, "openapi_v3_root"):
        return None
    if path.rstrip("/") == "/openapi/v3":
        return mod.openapi_v3_root(registry), "application/json"
    gv = mod.parse_openapi_v3_path(path)
    if gv is None:
        return None
    doc = mod.openapi_v3_document(registry, *gv)
    return (doc, "application/json") if doc is not None else None


def version_info() -> Obj:
    mod = _module("discovery")
    if mod is not None and hasattr(mod, "version_info"):
        return mod.version_info()
    return {"major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "kubemu", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "python", "compiler": "cpython",
            "platform": "linux/amd64"}


def unknown_fields(res: Resource, obj: Any) -> list[str]:
    """Fields of `obj` the schema does not know (for fieldValidation); [] when unknown."""
    mod = _module("openapi")
    if mod is None or not hasattr(mod, "unknown_fields"):
        return []
    try:
        return mod.unknown_fields(res, obj)
    except Exception:  # a schema gap must never fail a request
        return []


def strict_message(res: Resource, unknown: list[str]) -> str:
    mod = _module("openapi")
    if mod is not None and hasattr(mod, "strict_decoding_message"):
        return mod.strict_decoding_message(res, unknown)
    detail = ", ".join(f'unknown field "{p}"' for p in unknown)
    return f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: strict decoding error: {detail}'



def prepare_for_create(res: Resource, obj: Obj) -> None:
    """The kind's strategy PrepareForCreate (status reset, generation 1): the schema's, else ours."""
    mod = _module("defaults")
    if mod is not None and hasattr(mod, "prepare_for_create"):
        mod.prepare_for_create(res, obj)
        if res.kind != "Namespace":
            return
    from services.apiserver import admission

    admission.prepare_for_create(res, obj)
