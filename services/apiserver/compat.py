"""The API server's calls into the schema modules (patch, tables, discovery, openapi, defaults).

Guarantees: handlers reach the schema engineer's modules only through here, with one calling
convention; patch errors become 400/422 Statuses, and a schema gap (an unknown-field walk that
trips on odd input) never fails a request.
"""

from __future__ import annotations

import datetime
from typing import Any

from services.apiserver import admission, defaults, discovery, errors, openapi, patch, tables
from services.apiserver.registry import Registry, Resource

Obj = dict[str, Any]
JSON = "application/json"


# --- patches -------------------------------------------------------------------------------

def apply_patch(res: Resource, content_type: str, current: Obj | None, body: Any, *, manager: str) -> Obj:
    """`current` patched by `body` of `content_type`; `current` None only for apply (create)."""
    try:
        if content_type == "application/merge-patch+json":
            return _check_obj(patch.json_merge_patch(current, body))
        if content_type == "application/json-patch+json":
            return _check_obj(patch.json_patch(current, body))
        if content_type == "application/strategic-merge-patch+json":
            if not isinstance(body, dict):
                raise errors.bad_request("the strategic merge patch must be a JSON object")
            return _check_obj(patch.strategic_merge_patch(current, body, res.kind))
        return _check_obj(patch.apply_patch(current, body, res.kind, manager=manager, api_version=res.api_version,
                                            now=now_rfc3339()))
    except errors.ApiStatusError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        if getattr(exc, "code", 400) == 422:
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
    return tables.to_table(res, objs, resource_version=resource_version, continue_token=continue_,
                           include_object=include_object, headers=with_columns)


# --- discovery and openapi -----------------------------------------------------------------

def discovery_document(registry: Registry, path: str, accept: str) -> tuple[Obj, str] | None:
    """(document, content type) for /api, /apis, /api/v1, /apis/<g>, /apis/<g>/<v>, or None."""
    parts = [p for p in path.split("/") if p]
    if parts in (["api"], ["apis"]):
        aggregated = discovery.negotiate_aggregated(accept)
        if aggregated:
            return discovery.aggregated_discovery(registry, legacy=parts == ["api"], content_type=aggregated), \
                aggregated
        return (discovery.api_versions() if parts == ["api"] else discovery.api_group_list(registry)), JSON
    if len(parts) == 2 and parts[0] == "api":
        doc = discovery.api_resource_list(registry, "", parts[1])
    elif len(parts) == 2:
        doc = discovery.api_group(registry, parts[1])
    elif len(parts) == 3:
        doc = discovery.api_resource_list(registry, parts[1], parts[2])
    else:
        doc = None
    return (doc, JSON) if doc is not None else None


def openapi_document(registry: Registry, path: str) -> tuple[Any, str] | None:
    """(document, content type) for /openapi/v3 and /openapi/v3/<group-version>, or None (404)."""
    if path.rstrip("/") == "/openapi/v3":
        return openapi.openapi_v3_root(registry), JSON
    gv = openapi.parse_openapi_v3_path(path)
    if gv is None:
        return None
    doc = openapi.openapi_v3_document(registry, *gv)
    return (doc, JSON) if doc is not None else None


def version_info() -> Obj:
    return discovery.version_info()


def unknown_fields(res: Resource, obj: Any) -> list[str]:
    """Fields of `obj` the schema does not know (for fieldValidation)."""
    try:
        return openapi.unknown_fields(res, obj)
    except Exception:  # a schema gap must never fail a request
        return []


def type_error(res: Resource, obj: Any) -> str | None:
    """The decoder's message for a value of the wrong JSON type in `obj`, or None."""
    try:
        return openapi.type_error(res, obj)
    except Exception:  # a schema gap must never fail a request
        return None


def strict_message(res: Resource, unknown: list[str]) -> str:
    return openapi.strict_decoding_message(res, unknown)


def prepare_for_create(res: Resource, obj: Obj) -> None:
    """The kind's strategy PrepareForCreate (status reset, generation 1)."""
    defaults.prepare_for_create(res, obj)
    if res.kind == "Namespace":
        admission.prepare_for_create(res, obj)


def daemonset_template_generation(new: Obj, old: Obj) -> None:
    """The daemonset strategy's PrepareForUpdate (the template generation annotation)."""
    defaults.daemonset_template_generation(new, old)


def default_ephemeral_containers(spec: Obj) -> None:
    defaults.default_ephemeral_containers(spec)


def validate_ephemeral_containers_update(new: Obj, old: Obj) -> list:
    from services.apiserver import validation

    return validation.validate_ephemeral_containers_update(new, old)
