"""Pod volumes, as the kubelet's volume plugins set them up under <root>/pods/<uid>/volumes/.

Guarantees:
- emptyDir: an empty directory per pod, kept across container restarts, removed with the pod.
- configMap / secret: a directory with one file per key (or per `items` entry, at its `path`),
  written afresh at each container start (so a restart sees the current data); a missing source
  that is not `optional` raises `MountError` worded as the kubelet's FailedMount event.
- downwardAPI: files with the pod's fields (`items[].fieldRef`); projected: the union of its
  configMap, secret and downwardAPI sources (serviceAccountToken sources are skipped).
- hostPath: the node's path itself (created first for DirectoryOrCreate).
- `container_mounts` turns a container's volumeMounts (with subPath, readOnly) into
  (host path, container path, read-only) triples for the runtime, which bind-mounts them in the
  container's own mount namespace.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from services.kubelet import envs
from services.kubelet.runtime.cri import Mount

PLUGIN_DIRS = {"emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
               "secret": "kubernetes.io~secret", "downwardAPI": "kubernetes.io~downward-api",
               "projected": "kubernetes.io~projected"}


class MountError(Exception):
    pass


def pod_volumes_dir(root: Path, uid: str) -> Path:
    return Path(root) / "pods" / uid / "volumes"


async def _source_files(kind: str, source: dict[str, Any], namespace: str, lookup: envs.Lookup,
                        volume: str) -> dict[str, str] | None:
    name = source.get("name", "")
    data = await lookup(kind, namespace, name)
    if data is None:
        if source.get("optional"):
            return {}
        raise MountError(f'MountVolume.SetUp failed for volume "{volume}" : {kind} "{name}" not found')
    items = source.get("items")
    if not items:
        return dict(data)
    files = {}
    for item in items:
        if item["key"] not in data:
            if source.get("optional"):
                continue
            raise MountError(f'MountVolume.SetUp failed for volume "{volume}" : configmap references non-existent '
                             f'config key: {item["key"]}')
        files[item.get("path") or item["key"]] = data[item["key"]]
    return files


def _downward_files(pod: dict[str, Any], source: dict[str, Any], pod_ip: str, host_ip: str) -> dict[str, str]:
    files = {}
    for item in source.get("items") or []:
        if "fieldRef" in item:
            path = item["fieldRef"]["fieldPath"]
            if path in ("metadata.labels", "metadata.annotations"):
                values = pod["metadata"].get(path.split(".")[1]) or {}
                files[item["path"]] = "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
            else:
                files[item["path"]] = envs.field_value(pod, path, pod_ip=pod_ip, host_ip=host_ip)
    return files


def _write_files(directory: Path, files: dict[str, str], mode: int | None) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for rel, content in files.items():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(mode if mode is not None else 0o644)


async def _files_for(pod: dict[str, Any], volume: dict[str, Any], *, lookup: envs.Lookup, pod_ip: str,
                     host_ip: str) -> tuple[dict[str, str], int | None] | None:
    namespace, name = pod["metadata"].get("namespace", "default"), volume["name"]
    if "configMap" in volume:
        return await _source_files("configmap", volume["configMap"], namespace, lookup, name), \
            volume["configMap"].get("defaultMode")
    if "secret" in volume:
        src = {**volume["secret"], "name": volume["secret"].get("secretName", "")}
        return await _source_files("secret", src, namespace, lookup, name), volume["secret"].get("defaultMode")
    if "downwardAPI" in volume:
        return _downward_files(pod, volume["downwardAPI"], pod_ip, host_ip), volume["downwardAPI"].get("defaultMode")
    if "projected" in volume:
        files: dict[str, str] = {}
        for source in volume["projected"].get("sources") or []:
            if "configMap" in source:
                files.update(await _source_files("configmap", source["configMap"], namespace, lookup, name))
            elif "secret" in source:
                files.update(await _source_files("secret", source["secret"], namespace, lookup, name))
            elif "downwardAPI" in source:
                files.update(_downward_files(pod, source["downwardAPI"], pod_ip, host_ip))
        return files, volume["projected"].get("defaultMode")
    return None


async def prepare(pod: dict[str, Any], root: Path, *, lookup: envs.Lookup, pod_ip: str,
                  host_ip: str) -> dict[str, Path]:
    """Set up every volume of the pod; {volume name: the node path that holds it}."""
    base = pod_volumes_dir(root, pod["metadata"]["uid"])
    paths: dict[str, Path] = {}
    for volume in pod["spec"].get("volumes") or []:
        name = volume["name"]
        if "hostPath" in volume:
            path = Path(volume["hostPath"]["path"])
            if volume["hostPath"].get("type") == "DirectoryOrCreate":
                path.mkdir(parents=True, exist_ok=True)
            paths[name] = path
            continue
        kind = next((k for k in PLUGIN_DIRS if k in volume), None)
        if kind is None:
            continue  # persistentVolumeClaim, csi, ...: not provided by kubemu
        directory = base / PLUGIN_DIRS[kind] / name
        if kind == "emptyDir":
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o777)
        else:
            files, mode = await _files_for(pod, volume, lookup=lookup, pod_ip=pod_ip, host_ip=host_ip)
            _write_files(directory, files, mode)
        paths[name] = directory
    return paths


def container_mounts(container: dict[str, Any], paths: dict[str, Path]) -> list[Mount]:
    mounts = []
    for vm in container.get("volumeMounts") or []:
        source = paths.get(vm["name"])
        if source is None:
            continue
        if vm.get("subPath"):
            source = source / vm["subPath"]
            if not source.exists():
                source.mkdir(parents=True)
        mounts.append(Mount(str(source), vm["mountPath"], bool(vm.get("readOnly"))))
    return mounts


def remove(root: Path, uid: str) -> None:
    shutil.rmtree(Path(root) / "pods" / uid, ignore_errors=True)
