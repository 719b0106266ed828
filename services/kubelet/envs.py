"""A container's environment and command line, resolved as the kubelet resolves them.

Guarantees (as kubelet's makeEnvironmentVariables and third_party/forked/golang/expansion):
- Order of precedence, lowest first: `POD_IP` (a kubemu convenience), the service variables
  given (`KUBERNETES_SERVICE_HOST`...), `envFrom` sources in order (with `prefix`), then `env`.
- `value` strings, `command` and `args` expand `$(VAR)` from the variables defined before; an
  undefined `$(VAR)` stays as written; `$$` is a literal `$`.
- `valueFrom.fieldRef`: metadata.name/namespace/uid, metadata.labels['k'], metadata.annotations['k'],
  spec.nodeName, spec.serviceAccountName, status.hostIP(s), status.podIP(s).
  `valueFrom.resourceFieldRef`: limits/requests of cpu, memory, ephemeral-storage (a missing
  limit is the node's allocatable), divided by `divisor` and rounded up.
  `configMapKeyRef`/`secretKeyRef` and `envFrom` read through `lookup`; a missing, non-optional
  source raises `ConfigError`, which the kubelet reports as CreateContainerConfigError.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

from services.kubelet import quantity

Lookup = Callable[[str, str, str], Awaitable[dict[str, str] | None]]  # (kind, namespace, name) -> data
_LABEL_REF = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class ConfigError(Exception):
    reason = "CreateContainerConfigError"


def expand(text: str, env: dict[str, str]) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end > 0:
                    name = text[i + 2:end]
                    out.append(env[name] if name in env else text[i:end + 1])
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


def field_value(pod: dict[str, Any], path: str, *, pod_ip: str, host_ip: str) -> str:
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    simple = {
        "metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": host_ip, "status.hostIPs": host_ip, "status.podIP": pod_ip, "status.podIPs": pod_ip,
    }
    if path in simple:
        return simple[path]
    match = _LABEL_REF.match(path)
    if match:
        return (meta.get(match.group(1)) or {}).get(match.group(2), "")
    raise ConfigError(f'unsupported fieldPath "{path}"')


def resource_value(pod: dict[str, Any], container: dict[str, Any], ref: dict[str, Any],
                   allocatable: dict[str, str]) -> str:
    target = container
    if ref.get("containerName"):
        every = pod["spec"].get("containers", []) + pod["spec"].get("initContainers", [])
        target = next((c for c in every if c["name"] == ref["containerName"]), container)
    kind, _, resource = ref["resource"].partition(".")
    resources = target.get("resources") or {}
    raw = (resources.get(kind) or {}).get(resource)
    if raw is None and kind == "requests":
        raw = (resources.get("limits") or {}).get(resource)
    if raw is None:
        raw = allocatable.get(resource, "0")
    divisor = quantity.parse(ref.get("divisor") or "1")
    return str(math.ceil(quantity.parse(raw) / divisor))


async def _key_ref(kind: str, ref: dict[str, Any], namespace: str, lookup: Lookup) -> str | None:
    data = await lookup(kind, namespace, ref["name"])
    if data is None:
        if ref.get("optional"):
            return None
        raise ConfigError(f'{kind} "{ref["name"]}" not found')
    if ref["key"] not in data:
        if ref.get("optional"):
            return None
        raise ConfigError(f"couldn't find key {ref['key']} in {_kind_title(kind)} {namespace}/{ref['name']}")
    return data[ref["key"]]


def _kind_title(kind: str) -> str:
    return {"configmap": "ConfigMap", "secret": "Secret"}[kind]


async def _env_from(sources: list[dict[str, Any]], namespace: str, lookup: Lookup) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in sources:
        for kind, field in (("configmap", "configMapRef"), ("secret", "secretRef")):
            ref = source.get(field)
            if not ref:
                continue
            data = await lookup(kind, namespace, ref["name"])
            if data is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind} "{ref["name"]}" not found')
            prefix = source.get("prefix", "")
            env.update({prefix + k: v for k, v in data.items()})
    return env


async def container_env(pod: dict[str, Any], container: dict[str, Any], *, pod_ip: str, host_ip: str,
                        lookup: Lookup, service_env: dict[str, str] | None = None,
                        allocatable: dict[str, str] | None = None) -> dict[str, str]:
    namespace = pod["metadata"].get("namespace", "default")
    env = {"POD_IP": pod_ip, **(service_env or {})}
    env.update(await _env_from(container.get("envFrom") or [], namespace, lookup))
    for var in container.get("env") or []:
        value = await _var_value(pod, container, var, env, pod_ip=pod_ip, host_ip=host_ip, lookup=lookup,
                                 allocatable=allocatable or {})
        if value is not None:
            env[var["name"]] = value
    return env


async def _var_value(pod, container, var, env, *, pod_ip, host_ip, lookup, allocatable) -> str | None:
    source = var.get("valueFrom")
    if not source:
        return expand(var.get("value", ""), env)
    if "fieldRef" in source:
        return field_value(pod, source["fieldRef"]["fieldPath"], pod_ip=pod_ip, host_ip=host_ip)
    if "resourceFieldRef" in source:
        return resource_value(pod, container, source["resourceFieldRef"], allocatable)
    if "configMapKeyRef" in source:
        return await _key_ref("configmap", source["configMapKeyRef"], pod["metadata"]["namespace"], lookup)
    if "secretKeyRef" in source:
        return await _key_ref("secret", source["secretKeyRef"], pod["metadata"]["namespace"], lookup)
    return None


def command_line(container: dict[str, Any], env: dict[str, str]) -> tuple[list[str], list[str]]:
    """The container's command and args with `$(VAR)` expanded from its environment."""
    return ([expand(x, env) for x in container.get("command") or []],
            [expand(x, env) for x in container.get("args") or []])
