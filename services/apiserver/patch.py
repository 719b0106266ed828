"""The patch types kubectl and clients send: JSON merge, JSON patch, strategic merge, apply.

Guarantees:
- `json_merge_patch` is RFC 7386 (null deletes, objects merge, everything else replaces).
- `json_patch` is RFC 6902 (add, remove, replace, move, copy, test; `~0`/`~1` escapes; `-` appends);
  a malformed patch raises `PatchError` with code 400, one that cannot be applied (missing path,
  failed test) code 422. The input is never modified.
- `strategic_merge_patch` merges as Kubernetes does with the struct tags' merge keys: lists such
  as containers (by name), ports (containerPort; service ports by port), env, volumes, volumeMounts
  (mountPath), conditions (type), ownerReferences (uid), imagePullSecrets, hostAliases (ip) are
  merged item by item; other lists (tolerations, args, command...) are replaced. It understands
  `$patch: replace|delete|merge`, `$setElementOrder/<field>`, `$deleteFromPrimitiveList/<field>`
  and `$retainKeys`. Unknown kinds merge maps and replace lists.
- `apply_patch` is a simple server-side apply: the applied configuration is merged into the live
  object (strategic rules), fields this manager applied before and no longer applies (and no other
  manager owns) are removed, and `metadata.managedFields` records the manager's fields in FieldsV1
  form. With `force=False`, setting a field another manager owns to a different value raises
  `ApplyConflict` (409, Kubernetes' "Apply failed with 1 conflict: ..." and FieldManagerConflict
  causes); `force=True` takes such fields over.
- `record_update` records a non-apply write (create, update, patch) in managedFields, as
  kube-apiserver does: the manager (`kubectl-edit`, `kubectl-scale`...) owns the fields it changed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


class PatchError(ValueError):
    """A patch that is malformed (code 400) or cannot be applied (code 422)."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.code = code


# ---- RFC 7386 ----------------------------------------------------------------------------------


def json_merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch; returns a new value."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


# ---- RFC 6902 ----------------------------------------------------------------------------------


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise PatchError(f"invalid JSON pointer {path!r}: not a string", 400)
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}: must start with '/'", 400)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list, token: str, path: str, *, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"unable to parse index {token!r} in path {path!r}")
    idx = int(token)
    limit = len(container) if for_add else len(container) - 1
    if idx > limit:
        raise PatchError(f"index {idx} out of bounds in path {path!r}")
    return idx


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    cur = doc
    for token in tokens[:-1]:
        if isinstance(cur, dict) and token in cur:
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_index(cur, token, path, for_add=False)]
        else:
            raise PatchError(f"path {path!r} does not exist: missing {token!r}")
    return cur


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path {path!r} does not exist: missing {last!r}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, path, for_add=False)]
    raise PatchError(f"path {path!r} does not exist")


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, for_add=True), value)
    else:
        raise PatchError(f"path {path!r} does not exist: its parent is not an object or array")
    return doc


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}: missing value")
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, path, for_add=False)]
    else:
        raise PatchError(f"path {path!r} does not exist")
    return doc


def _operation(doc: Any, op: Mapping[str, Any]) -> Any:
    if not isinstance(op, Mapping):
        raise PatchError("a JSON patch operation must be an object", 400)
    kind, path = op.get("op"), op.get("path")
    if kind in ("add", "replace", "test") and "value" not in op:
        raise PatchError(f"missing value for {kind} operation at {path!r}", 400)
    if kind == "add":
        return _add(doc, path, copy.deepcopy(op["value"]))
    if kind == "remove":
        return _remove(doc, path)
    if kind == "replace":
        _get(doc, path)  # must exist
        return _add(_remove(doc, path), path, copy.deepcopy(op["value"])) if _pointer(path) else op["value"]
    if kind in ("move", "copy"):
        return _move_or_copy(doc, kind, op.get("from"), path)
    if kind == "test":
        if _get(doc, path) != op["value"]:
            raise PatchError(f"testing value {path} failed: test failed")  # evanphx/json-patch wording
        return doc
    raise PatchError(f"unexpected kind of JSON patch operation: {kind!r}", 400)


def _move_or_copy(doc: Any, kind: str, source: Any, path: str) -> Any:
    if source is None:
        raise PatchError(f"missing from for {kind} operation", 400)
    value = copy.deepcopy(_get(doc, source))
    if kind == "move":
        if path.startswith(source + "/"):
            raise PatchError(f"cannot move {source!r} into its own child {path!r}")
        doc = _remove(doc, source)
    return _add(doc, path, value)


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 patch; returns a new value, `target` is untouched."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations", 400)
    doc = copy.deepcopy(target)
    for op in operations:
        doc = _operation(doc, op)
    return doc


# ---- the strategic merge schema: Kubernetes' patchStrategy / patchMergeKey struct tags ----------


@dataclass(frozen=True, slots=True)
class FieldMeta:
    strategy: str = ""  # "merge", "merge,retainKeys", "retainKeys", "" (lists: replace)
    merge_key: str = ""  # for lists of objects merged item by item
    type: str = ""  # the schema type of the value (or of the list's items)


def _f(strategy: str = "", key: str = "", typ: str = "") -> FieldMeta:
    return FieldMeta(strategy, key, typ)


SCHEMA: dict[str, dict[str, FieldMeta]] = {
    "ObjectMeta": {"finalizers": _f("merge"), "ownerReferences": _f("merge", "uid")},
    "PodTemplateSpec": {"metadata": _f(typ="ObjectMeta"), "spec": _f(typ="PodSpec")},
    "PodSpec": {
        "volumes": _f("merge,retainKeys", "name"),
        "initContainers": _f("merge", "name", "Container"),
        "containers": _f("merge", "name", "Container"),
        "ephemeralContainers": _f("merge", "name", "Container"),
        "imagePullSecrets": _f("merge", "name"),
        "hostAliases": _f("merge", "ip"),
        "topologySpreadConstraints": _f("merge", "topologyKey"),
        "schedulingGates": _f("merge", "name"),
        "resourceClaims": _f("merge,retainKeys", "name"),
    },
    "Container": {
        "ports": _f("merge", "containerPort"),
        "env": _f("merge", "name"),
        "volumeMounts": _f("merge", "mountPath"),
        "volumeDevices": _f("merge", "devicePath"),
    },
    "PodStatus": {
        "conditions": _f("merge", "type"),
        "podIPs": _f("merge", "ip"),
        "hostIPs": _f("merge", "ip"),
    },
    "ServiceSpec": {"ports": _f("merge", "port")},
    "Conditions": {"conditions": _f("merge", "type")},
    "DeploymentStatus": {"conditions": _f("merge", "type")},
    "ReplicaSetStatus": {"conditions": _f("merge", "type")},
    "JobStatus": {"conditions": _f("merge", "type")},
    "DaemonSetStatus": {"conditions": _f("merge", "type")},
    "PodDisruptionBudgetStatus": {"conditions": _f("merge", "type")},
    "NamespaceStatus": {"conditions": _f("merge", "type")},
    "ServiceStatus": {"conditions": _f("merge", "type")},
    "NodeSpec": {"podCIDRs": _f("merge")},
    "NodeStatus": {"conditions": _f("merge", "type"), "addresses": _f("merge", "type")},
    "DeploymentSpec": {"template": _f(typ="PodTemplateSpec"), "strategy": _f("retainKeys")},
    "ReplicaSetSpec": {"template": _f(typ="PodTemplateSpec")},
    "JobSpec": {"template": _f(typ="PodTemplateSpec")},
    "DaemonSetSpec": {"template": _f(typ="PodTemplateSpec")},
    "JobTemplateSpec": {"metadata": _f(typ="ObjectMeta"), "spec": _f(typ="JobSpec")},
    "CronJobSpec": {"jobTemplate": _f(typ="JobTemplateSpec")},
    "ServiceAccount": {"metadata": _f(typ="ObjectMeta"), "secrets": _f("merge", "name"),
                       "imagePullSecrets": _f("merge", "name")},
}

_KINDS: dict[str, dict[str, FieldMeta]] = {
    "Pod": {"spec": _f(typ="PodSpec"), "status": _f(typ="PodStatus")},
    "Deployment": {"spec": _f(typ="DeploymentSpec"), "status": _f(typ="DeploymentStatus")},
    "ReplicaSet": {"spec": _f(typ="ReplicaSetSpec"), "status": _f(typ="ReplicaSetStatus")},
    "Job": {"spec": _f(typ="JobSpec"), "status": _f(typ="JobStatus")},
    "DaemonSet": {"spec": _f(typ="DaemonSetSpec"), "status": _f(typ="DaemonSetStatus")},
    "PodDisruptionBudget": {"status": _f(typ="PodDisruptionBudgetStatus")},
    "CronJob": {"spec": _f(typ="CronJobSpec")},
    "Service": {"spec": _f(typ="ServiceSpec"), "status": _f(typ="ServiceStatus")},
    "Node": {"spec": _f(typ="NodeSpec"), "status": _f(typ="NodeStatus")},
    "Namespace": {"status": _f(typ="NamespaceStatus")},
    "ServiceAccount": {"secrets": _f("merge", "name"), "imagePullSecrets": _f("merge", "name")},
}
for _kind, _fields in _KINDS.items():
    SCHEMA[_kind] = {"metadata": _f(typ="ObjectMeta"), **_fields}


def _meta(typ: str, key: str) -> FieldMeta:
    if typ == "":
        return FieldMeta()
    return SCHEMA.get(typ, {}).get(key, FieldMeta())


def kind_schema(kind: str) -> str:
    """The schema type name for a kind; unknown kinds still merge metadata by Kubernetes' rules."""
    if kind not in SCHEMA:
        SCHEMA[kind] = {"metadata": _f(typ="ObjectMeta")}
    return kind


# ---- strategic merge ---------------------------------------------------------------------------

_PATCH = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_DELETED = object()


def strategic_merge_patch(original: Obj, patch: Obj, kind: str) -> Obj:
    """Apply a strategic merge patch to an object of `kind`; returns a new object."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object", 400)
    result = _merge_map(copy.deepcopy(original), patch, kind_schema(kind))
    return {} if result is _DELETED else result


def _merge_map(original: Obj, patch: Obj, typ: str) -> Any:
    directive = patch.get(_PATCH, "merge")
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return _DELETED
    if directive != "merge":
        raise PatchError(f"Unknown patch type: {directive!r} in map: {patch}", 400)
    if _RETAIN in patch:
        _retain_keys(original, patch)
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            _delete_primitives(original, key[len(_DELETE_PRIMITIVE):], value)
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        _merge_field(original, key, value, typ, patch.get(_ORDER + key))
    for key, order in patch.items():
        if key.startswith(_ORDER) and key[len(_ORDER):] not in patch:
            field = key[len(_ORDER):]
            if isinstance(original.get(field), list):
                meta = _meta(typ, field)
                original[field] = _ordered(original[field], order, original[field], meta.merge_key)
    return original


def _merge_field(original: Obj, key: str, value: Any, typ: str, order: list | None) -> None:
    meta = _meta(typ, key)
    if value is None:
        original.pop(key, None)
        return
    current = original.get(key)
    if isinstance(value, dict):
        base = current if isinstance(current, dict) else {}
        merged = _merge_map(base, value, meta.type)
        if merged is _DELETED:
            original.pop(key, None)
        else:
            original[key] = merged
    elif isinstance(value, list) and "merge" in meta.strategy.split(","):
        original[key] = _merge_list(current if isinstance(current, list) else [], value, meta, order)
    elif isinstance(value, list):
        original[key] = [_strip(v) if isinstance(v, dict) else v for v in value]
    else:
        original[key] = value


def _retain_keys(original: Obj, patch: Obj) -> None:
    keep = patch[_RETAIN]
    if not isinstance(keep, list):
        raise PatchError(f"invalid $retainKeys: {keep!r}", 400)
    for key in list(original):
        if key not in keep:
            del original[key]


def _delete_primitives(original: Obj, field: str, values: Any) -> None:
    if isinstance(original.get(field), list) and isinstance(values, list):
        original[field] = [v for v in original[field] if v not in values]


def _strip(value: Any) -> Any:
    """Remove directives from a value that replaces (`$patch: replace`, atomic lists)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _merge_list(original: list, patch: list, meta: FieldMeta, order: list | None) -> list:
    if any(isinstance(p, dict) and p.get(_PATCH) == "replace" for p in patch):
        return [_strip(p) for p in patch if not (isinstance(p, dict) and _PATCH in p)]
    if not meta.merge_key or not all(isinstance(p, dict) for p in patch):
        merged = _dedupe(list(original) + list(patch))
        return _ordered(merged, patch if order is None else order, original, "")
    return _merge_keyed_list(original, patch, meta, order)


def _dedupe(items: list) -> list:
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _key_of(item: Any, merge_key: str) -> Any:
    if not merge_key:
        return json.dumps(item, sort_keys=True)
    if not isinstance(item, dict) or merge_key not in item:
        raise PatchError(f"map: {item} does not contain declared merge key: {merge_key}")
    return json.dumps(item[merge_key], sort_keys=True)


def _merge_keyed_list(original: list, patch: list, meta: FieldMeta, order: list | None) -> list:
    key = meta.merge_key
    result = list(original)
    patched: list = []
    for item in patch:
        k = _key_of(item, key)
        idx = next((i for i, o in enumerate(result) if isinstance(o, dict) and _key_of(o, key) == k), -1)
        if item.get(_PATCH) == "delete":
            if idx >= 0:
                del result[idx]
            continue
        merged = _merge_map(copy.deepcopy(result[idx]) if idx >= 0 else {}, item, meta.type)
        if idx >= 0:
            result[idx] = merged
        else:
            result.append(merged)
        patched.append(merged)
    return _ordered(result, patched if order is None else order, original, key)


def _ordered(merged: list, order: list, original: list, key: str) -> list:
    """Kubernetes' normalizeElementOrder: items named in the patch (or its `$setElementOrder`) come
    in that order, server-only items keep their relative order, and the two are interleaved by the
    live list's order; so an item new to the list lands before the server-only items after it."""
    order_keys = [_key_of(o, key) for o in order]
    in_order = [m for m in merged if _key_of(m, key) in order_keys]
    server_only = [m for m in merged if _key_of(m, key) not in order_keys]
    in_order.sort(key=lambda m: order_keys.index(_key_of(m, key)))
    live = [_key_of(o, key) for o in original]
    return _merge_sorted(server_only, in_order, live, key)


def _merge_sorted(left: list, right: list, live: list, key: str) -> list:
    out, i, j = [], 0, 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i]); i += 1  # noqa: E702
            continue
        if i >= len(left):
            out.append(right[j]); j += 1  # noqa: E702
            continue
        li, ri = _position(live, _key_of(left[i], key)), _position(live, _key_of(right[j], key))
        if li >= 0 and ri >= 0 and li < ri:
            out.append(left[i]); i += 1  # noqa: E702
        else:
            out.append(right[j]); j += 1  # noqa: E702
    return out


def _position(items: list, item: Any) -> int:
    return items.index(item) if item in items else -1


# ---- server-side apply (simplified) ------------------------------------------------------------

_MAP_FIELDS = {"labels", "annotations", "data", "binaryData", "stringData", "selector", "nodeSelector",
               "matchLabels", "limits", "requests"}


def fields_v1(obj: Obj, kind: str) -> dict:
    """The FieldsV1 set of the fields `obj` sets (`{"f:spec": {"f:replicas": {}}}`), with keyed list
    items as `k:{"name":"web"}` and set-like primitive lists as `v:"x"`, as in managedFields."""
    return _fields_of_map(obj, kind_schema(kind), top=True)


def _fields_of_map(obj: Obj, typ: str, *, top: bool = False, name: str = "") -> dict:
    out: dict = {}
    if name in _MAP_FIELDS and obj:
        out["."] = {}
    for key, value in obj.items():
        if top and key in ("apiVersion", "kind", "status"):
            continue
        if top and key == "metadata":
            value = {k: v for k, v in (value or {}).items() if k in ("labels", "annotations", "finalizers",
                                                                       "ownerReferences")}
            if not value:
                continue
        out[f"f:{key}"] = _fields_of_value(value, _meta(typ, key), key)
    return out


def _fields_of_value(value: Any, meta: FieldMeta, name: str) -> dict:
    if isinstance(value, dict) and name != "selector":
        return _fields_of_map(value, meta.type, name=name)
    if isinstance(value, list) and "merge" in meta.strategy.split(","):
        return _fields_of_list(value, meta)
    return {}


def _fields_of_list(items: list, meta: FieldMeta) -> dict:
    out: dict = {}
    for item in items:
        if meta.merge_key and isinstance(item, dict):
            key = "k:" + json.dumps({meta.merge_key: item.get(meta.merge_key)}, separators=(",", ":"))
            out[key] = {".": {}, **_fields_of_map(item, meta.type)}
        else:
            out["v:" + json.dumps(item, separators=(",", ":"))] = {}
    return out


def _remove_unapplied(obj: Obj, old: dict, new: dict, typ: str) -> None:
    """Drop from `obj` what the manager set before (`old`) and no longer sets (`new`)."""
    for path, children in old.items():
        if path == "." or not path.startswith("f:"):
            continue
        key = path[2:]
        value, meta = obj.get(key), _meta(typ, key)
        owned_children = any(c != "." for c in children)
        if path not in new and not owned_children:
            obj.pop(key, None)
            continue
        if isinstance(value, dict) and owned_children:
            _remove_unapplied(value, children, new.get(path, {}), meta.type)
        elif isinstance(value, list) and owned_children:
            obj[key] = _remove_unapplied_items(value, children, new.get(path, {}), meta)
        if path not in new and not obj.get(key):
            obj.pop(key, None)  # the manager no longer applies it and nobody else set anything in it


def _remove_unapplied_items(items: list, old: dict, new: dict, meta: FieldMeta) -> list:
    keep = []
    for item in items:
        if meta.merge_key and isinstance(item, dict):
            path = "k:" + json.dumps({meta.merge_key: item.get(meta.merge_key)}, separators=(",", ":"))
        else:
            path = "v:" + json.dumps(item, separators=(",", ":"))
        if path in old and path not in new:
            continue
        if path in old and isinstance(item, dict):
            _remove_unapplied(item, old[path], new.get(path, {}), meta.type)
        keep.append(item)
    return keep


# ---- managed fields as sets of leaf paths ------------------------------------------------------

Path = tuple[str, ...]


class ApplyConflict(PatchError):
    """An apply that would change fields another manager owns (409 unless force=true)."""

    def __init__(self, conflicts: list[tuple[str, str, str]]) -> None:
        self.conflicts = conflicts  # (manager, apiVersion, path like .spec.replicas)
        super().__init__(apply_conflict_message(conflicts), 409)

    def causes(self) -> list[dict[str, str]]:
        return [{"reason": "FieldManagerConflict", "message": f'conflict with "{m}" using {v}', "field": p}
                for m, v, p in self.conflicts]


def apply_conflict_message(conflicts: list[tuple[str, str, str]]) -> str:
    """kube-apiserver's text: `Apply failed with 1 conflict: conflict with "m" using apps/v1: .spec.replicas`."""
    if len(conflicts) == 1:
        m, v, p = conflicts[0]
        return f'Apply failed with 1 conflict: conflict with "{m}" using {v}: {p}'
    lines: list[str] = []
    for manager in sorted({(m, v) for m, v, _ in conflicts}):
        lines.append(f'conflicts with "{manager[0]}" using {manager[1]}:')
        lines += [f"- {p}" for m, v, p in conflicts if (m, v) == manager]
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def leaf_paths(fields: dict, prefix: Path = ()) -> set[Path]:
    """The members of a FieldsV1 set: nodes marked "." and leaves."""
    out: set[Path] = set()
    for key, children in fields.items():
        if key == ".":
            out.add(prefix)
        elif not children:
            out.add(prefix + (key,))
        else:
            out |= leaf_paths(children, prefix + (key,))
    return out


def fields_from_paths(paths: set[Path]) -> dict:
    """The FieldsV1 nested form of a set of paths (inverse of `leaf_paths`)."""
    root: dict = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(part, {})
        if path and any(p[:len(path)] == path and len(p) > len(path) for p in paths):
            node["."] = {}
    return root


_MISSING = object()


def value_at(obj: Any, path: Path) -> Any:
    """The value a FieldsV1 path names in `obj` (`_MISSING` when absent)."""
    cur = obj
    for part in path:
        if part.startswith("f:") and isinstance(cur, dict):
            cur = cur.get(part[2:], _MISSING)
        elif part.startswith("k:") and isinstance(cur, list):
            want = json.loads(part[2:])
            cur = next((i for i in cur if isinstance(i, dict) and all(i.get(k) == v for k, v in want.items())),
                       _MISSING)
        elif part.startswith("v:") and isinstance(cur, list):
            cur = json.loads(part[2:]) if json.loads(part[2:]) in cur else _MISSING
        else:
            return _MISSING
        if cur is _MISSING:
            return _MISSING
    return cur


def path_string(path: Path) -> str:
    """structured-merge-diff's text for a path: `.spec.template.spec.containers[name="web"].image`."""
    out = ""
    for part in path:
        if part.startswith("f:"):
            out += "." + part[2:]
        elif part.startswith("k:"):
            keys = json.loads(part[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
        elif part.startswith("v:"):
            out += f"[={part[2:]}]"
    return out


def _entries(obj: Obj | None) -> list[Obj]:
    return list(((obj or {}).get("metadata") or {}).get("managedFields") or [])


def _with_entry(entries: list[Obj], entry: Obj) -> list[Obj]:
    key = (entry["manager"], entry["operation"])
    kept = [e for e in entries if (e.get("manager"), e.get("operation")) != key]
    return kept + [entry] if entry["fieldsV1"] else kept


def _drop_paths(entries: list[Obj], paths: set[Path], *, keep: tuple[str, str]) -> list[Obj]:
    """Other managers lose ownership of `paths`; entries left owning nothing disappear."""
    out = []
    for entry in entries:
        if (entry.get("manager"), entry.get("operation")) == keep or not paths:
            out.append(entry)
            continue
        owned = leaf_paths(entry.get("fieldsV1") or {}) - paths
        if owned:
            out.append({**entry, "fieldsV1": fields_from_paths(owned)})
    return out


def _conflicts(entries: list[Obj], manager: str, applied: Obj, live: Obj, paths: set[Path]
               ) -> list[tuple[str, str, str]]:
    conflicts = []
    for entry in entries:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            continue
        for path in sorted(leaf_paths(entry.get("fieldsV1") or {}) & paths):
            live_value = value_at(live, path)
            if isinstance(live_value, (dict, list)) or live_value is _MISSING:
                continue  # a map's or list item's own membership: values are compared at the leaves
            if value_at(applied, path) != live_value:
                conflicts.append((entry.get("manager", ""), entry.get("apiVersion", ""), path_string(path)))
    return conflicts


def record_update(old: Obj | None, new: Obj, kind: str, *, manager: str, api_version: str, now: str,
                  operation: str = "Update") -> Obj:
    """Record in `new`'s managedFields that `manager` set the fields it changed (create, update,
    non-apply patch), taking them from other managers, as kube-apiserver does for every write."""
    new_paths, old_paths = leaf_paths(fields_v1(new, kind)), leaf_paths(fields_v1(old or {}, kind))
    changed = {p for p in new_paths if p not in old_paths or value_at(new, p) != value_at(old or {}, p)}
    gone = old_paths - new_paths
    entries = _drop_paths(_entries(new) or _entries(old), changed | gone, keep=(manager, operation))
    mine = next((e for e in entries if (e.get("manager"), e.get("operation")) == (manager, operation)), None)
    owned = (leaf_paths(mine.get("fieldsV1") or {}) if mine else set()) - gone | changed
    if not changed and mine is None:
        new.setdefault("metadata", {})["managedFields"] = entries
        return new
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now,
             "fieldsType": "FieldsV1", "fieldsV1": fields_from_paths(owned)}
    new.setdefault("metadata", {})["managedFields"] = _with_entry(entries, entry)
    return new


def apply_patch(live: Obj | None, applied: Obj, kind: str, *, manager: str, api_version: str,
                now: str, force: bool | None = None) -> Obj:
    """Server-side apply of `applied` (already parsed from YAML/JSON) onto `live` (None: create).

    Returns the new object with `metadata.managedFields` updated for `manager`. With `force`
    False, a field another manager owns and `applied` sets to a different value raises
    `ApplyConflict` (409); with True the manager takes it over; None skips the check (for callers
    that do not record other managers' fields). A field this manager applied before and no longer
    applies is removed unless another manager owns it too."""
    if not isinstance(applied, dict):
        raise PatchError("an apply patch must be an object", 400)
    base = copy.deepcopy(live) if live else {}
    entries = _entries(base)
    previous = next((e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"), None)
    new_fields = fields_v1(applied, kind)
    new_paths = leaf_paths(new_fields)
    if force is False:
        conflicts = _conflicts(entries, manager, applied, base, new_paths)
        if conflicts:
            raise ApplyConflict(conflicts)
    merged = strategic_merge_patch(base, _strip(applied), kind)
    if previous is not None:
        others = set().union(*[leaf_paths(e.get("fieldsV1") or {}) for e in entries if e is not previous])
        old_fields = fields_from_paths(leaf_paths(previous.get("fieldsV1") or {}) - others)
        _remove_unapplied(merged, old_fields, new_fields, kind_schema(kind))
    if force:
        entries = _drop_paths(entries, new_paths, keep=(manager, "Apply"))
    entry = {"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": now,
             "fieldsType": "FieldsV1", "fieldsV1": new_fields}
    merged.setdefault("metadata", {})["managedFields"] = _with_entry(entries, entry)
    return merged
