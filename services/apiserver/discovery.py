"""Discovery documents generated from the registry: what kubectl reads to learn the API.

Guarantees:
- `api_versions` (/api), `api_group_list` (/apis), `api_resource_list` (/api/v1, /apis/<g>/<v>) are
  the plain (legacy) documents Kubernetes serves, with verbs, shortNames, categories, singularName
  and one entry per subresource ("pods/status", "deployments/scale" with group autoscaling...).
- `aggregated_discovery` is the apidiscovery.k8s.io v2 / v2beta1 APIGroupDiscoveryList kubectl
  1.27+ asks for first; `negotiate_aggregated` picks it from an Accept header, and the answer
  must carry the returned Content-Type exactly (kubectl ignores it otherwise).
"""

from __future__ import annotations

from typing import Any

from shared.version import KUBERNETES_VERSION, MAJOR, MINOR

from .registry import Registry, Resource, Subresource

Obj = dict[str, Any]

_AGGREGATED = {
    version: f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
    for version in ("v2", "v2beta1")
}


def version_info() -> Obj:
    """The /version document; kubectl's dispatcher picks its binary by `minor`."""
    return {"major": MAJOR, "minor": MINOR, "gitVersion": KUBERNETES_VERSION, "gitCommit": "kubemu",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "python",
            "compiler": "cpython", "platform": "linux/amd64"}


def api_versions(server_address: str = "") -> Obj:
    """/api: the core group's versions."""
    doc: Obj = {"kind": "APIVersions", "versions": ["v1"]}
    if server_address:
        doc["serverAddressByClientCIDRs"] = [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    return doc


def _group_entry(name: str, versions: list[str]) -> Obj:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> Obj:
    """/apis: every named group (not the core group) with its versions."""
    groups: dict[str, list[str]] = {}
    for group, version in registry.group_versions():
        if group and version not in groups.setdefault(group, []):
            groups[group].append(version)
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_entry(g, vs) for g, vs in groups.items()]}


def api_group(registry: Registry, group: str) -> Obj | None:
    """/apis/<group>: one APIGroup, or None when the group is not served."""
    versions = [v for g, v in registry.group_versions() if g == group]
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def _resource_entry(res: Resource) -> Obj:
    entry: Obj = {"name": res.plural, "singularName": res.singular, "namespaced": res.namespaced,
                  "kind": res.kind, "verbs": list(res.verbs())}
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.categories:
        entry["categories"] = list(res.categories)
    return entry


def _subresource_entry(res: Resource, sub: Subresource) -> Obj:
    entry: Obj = {"name": f"{res.plural}/{sub.name}", "singularName": "", "namespaced": res.namespaced,
                  "kind": sub.kind, "verbs": list(sub.verbs)}
    if sub.group:
        entry["group"], entry["version"] = sub.group, sub.version
    return entry


def api_resource_list(registry: Registry, group: str, version: str) -> Obj | None:
    """/api/v1 or /apis/<g>/<v>: APIResourceList, or None when the group-version is not served."""
    resources = registry.in_group_version(group, version)
    if not resources:
        return None
    items: list[Obj] = []
    for res in resources:
        items.append(_resource_entry(res))
        items.extend(_subresource_entry(res, sub) for sub in res.subresource_entries())
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": items}


# ---- aggregated discovery (apidiscovery.k8s.io) ------------------------------------------------


def negotiate_aggregated(accept: str | None) -> str | None:
    """The aggregated-discovery Content-Type to answer with, or None to serve the plain document.

    kubectl lists v2 first, then v2beta1, then plain JSON; we take the first one offered."""
    for part in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") in _AGGREGATED:
                return _AGGREGATED[params["v"]]
    return None


def _response_kind(group: str, version: str, kind: str) -> Obj:
    return {"group": group, "version": version, "kind": kind}


def _aggregated_resource(res: Resource) -> Obj:
    entry: Obj = {
        "resource": res.plural,
        "responseKind": _response_kind(res.group, res.version, res.kind),
        "scope": "Namespaced" if res.namespaced else "Cluster",
        "singularResource": res.singular,
        "verbs": list(res.verbs()),
    }
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.categories:
        entry["categories"] = list(res.categories)
    subs = [{"subresource": s.name,
             "responseKind": _response_kind(s.group or res.group, s.version or res.version, s.kind),
             "verbs": list(s.verbs)} for s in res.subresource_entries()]
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated_discovery(registry: Registry, *, legacy: bool, content_type: str) -> Obj:
    """The APIGroupDiscoveryList for /api (`legacy=True`, the core group) or /apis (named groups)."""
    api_version = "apidiscovery.k8s.io/" + ("v2beta1" if "v=v2beta1" in content_type else "v2")
    groups: dict[str, dict[str, list[Obj]]] = {}
    for res in registry.all():
        if (res.group == "") is legacy:
            groups.setdefault(res.group, {}).setdefault(res.version, []).append(_aggregated_resource(res))
    items = [{"metadata": {"name": group, "creationTimestamp": None},
              "versions": [{"version": v, "resources": rs, "freshness": "Current"} for v, rs in versions.items()]}
             for group, versions in groups.items()]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}
