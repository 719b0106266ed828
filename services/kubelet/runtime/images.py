"""The image catalog of the process runtime: which image names exist and what running them means.

There are no image layers here: an "image" is its config (entrypoint, cmd, env, stop signal), and
its binaries are the host's, except those the catalog provides itself (`nginx` is
`services/kubelet/images/nginx.py`, `/pause` is `pause.py`, `python` is this interpreter).
Guarantees:
- References normalize as Docker's do: `nginx`, `nginx:1.25`, `library/nginx`,
  `docker.io/library/nginx:1.25`, `nginx@sha256:...`; no tag means `latest`.
- A name outside the catalog raises `ImagePullError` with the message a failed pull gives.
- `command`/`args` combine with the image's ENTRYPOINT/CMD as Kubernetes documents: `command`
  replaces ENTRYPOINT (and drops CMD), `args` replaces CMD.
- `nginx` listens on the pod IP and the container's first port; in the `python` image a socket
  bound to 0.0.0.0 gets the pod IP (pods share the node's network namespace here, so "all
  addresses" must mean the pod's own, as it does in a pod's own namespace). Host binaries
  (busybox's `nc`, `httpd`...) bind what they are told.
"""

from __future__ import annotations

import hashlib
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from services.kubelet.runtime.cri import ImagePullError, ImageRef

IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The fast way to start a standard-library-only Python program: no site, no environment.
PY_SMALL = [sys.executable, "-S", "-I"]


@dataclass(frozen=True)
class Image:
    repo: str  # short name in the catalog
    cmd: tuple[str, ...]
    entrypoint: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = (("PATH", PATH),)
    stop_signal: int = signal.SIGTERM
    size: int = 4_000_000
    # argv[0] -> what runs on this host; "{listen}" becomes the pod IP and container port
    binaries: dict[str, tuple[str, ...]] = field(default_factory=dict)
    binds_pod_ip: bool = False  # its sockets bound to 0.0.0.0 bind the pod IP (pyhooks/sitecustomize.py)


_PYTHON = (sys.executable,)
CATALOG: dict[str, Image] = {
    "nginx": Image(
        "nginx", cmd=("nginx", "-g", "daemon off;"), stop_signal=signal.SIGQUIT, size=72_000_000,
        env=(("PATH", PATH), ("NGINX_VERSION", "1.27.3"), ("NJS_VERSION", "0.8.7"), ("PKG_RELEASE", "1~bookworm")),
        binaries={"nginx": (*PY_SMALL, str(IMAGES_DIR / "nginx.py"), "--listen", "{listen}")},
    ),
    "busybox": Image("busybox", cmd=("sh",), size=2_200_000),
    "alpine": Image("alpine", cmd=("/bin/sh",), size=3_600_000),
    "debian": Image("debian", cmd=("bash",), size=48_000_000),
    "ubuntu": Image("ubuntu", cmd=("/bin/bash",), size=29_000_000),
    "python": Image(
        "python", cmd=("python3",), size=390_000_000, binds_pod_ip=True,
        env=(("PATH", PATH), ("LANG", "C.UTF-8"), ("PYTHON_VERSION", sys.version.split()[0]),
             ("PYTHONPATH", str(IMAGES_DIR / "pyhooks"))),
        binaries={"python": _PYTHON, "python3": _PYTHON, f"python3.{sys.version_info.minor}": _PYTHON},
    ),
    "pause": Image(
        "pause", cmd=("/pause",), size=320_000,
        binaries={"/pause": (*PY_SMALL, str(IMAGES_DIR / "pause.py"))},
    ),
}
# registries whose images the catalog answers for, by repository path
_REGISTRIES = {"docker.io": "library/", "registry.k8s.io": "", "k8s.gcr.io": ""}


@dataclass(frozen=True)
class Reference:
    registry: str
    path: str
    tag: str
    digest: str

    @property
    def full(self) -> str:
        tail = f"@{self.digest}" if self.digest else f":{self.tag}"
        return f"{self.registry}/{self.path}{tail}"


def parse_reference(image: str) -> Reference:
    """Docker's normalization: `nginx` is `docker.io/library/nginx:latest`."""
    rest, _, digest = image.partition("@")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = "docker.io", rest
    name, _, tag = path.rpartition(":") if ":" in path.rsplit("/", 1)[-1] else (path, "", "")
    if registry == "docker.io" and "/" not in name:
        name = f"library/{name}"
    return Reference(registry, name, tag or ("" if digest else "latest"), digest)


def lookup(image: str) -> tuple[Image, ImageRef]:
    """The catalog image for `image`, or `ImagePullError` as a failed pull reports it."""
    ref = parse_reference(image)
    prefix = _REGISTRIES.get(ref.registry)
    short = ref.path[len(prefix):] if prefix is not None and ref.path.startswith(prefix) else None
    entry = CATALOG.get(short or "")
    if entry is None:
        raise ImagePullError(pull_error_message(image, ref))
    digest = ref.digest or "sha256:" + hashlib.sha256(f"kubemu/{ref.path}:{ref.tag}".encode()).hexdigest()
    shown = ref.full if not ref.digest else f"{ref.registry}/{ref.path}@{ref.digest}"
    return entry, ImageRef(image=shown, image_id=f"{ref.registry}/{ref.path}@{digest}", size=entry.size)


def pull_error_message(image: str, ref: Reference) -> str:
    full = ref.full
    return (
        f'failed to pull and unpack image "{full}": failed to resolve reference "{full}": '
        "pull access denied, repository does not exist or may require authorization: "
        "server message: insufficient_scope: authorization failed"
    )


def resolve_argv(image: Image, command: list[str], args: list[str]) -> list[str]:
    """ENTRYPOINT/CMD merged with the pod's command/args, as Kubernetes defines it."""
    if command:
        return [*command, *args]
    if args:
        return [*image.entrypoint, *args]
    return [*image.entrypoint, *image.cmd]


def host_argv(image: Image, argv: list[str], *, listen: str) -> list[str]:
    """Replace argv[0] by the program this host runs for it (catalog binaries), if any."""
    if not argv or argv[0] not in image.binaries:
        return argv
    program = [part.replace("{listen}", listen) for part in image.binaries[argv[0]]]
    return [*program, *argv[1:]]
