"""The runtime's pure parts: image references, the catalog, argv merging, IPAM, CRI log reading."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from services.kubelet import logs
from services.kubelet.runtime import images
from services.kubelet.runtime.cri import (
    ContainerConfig,
    ContainerMetadata,
    ContainerState,
    ImagePullError,
    PodSandboxConfig,
    PodSandboxMetadata,
    PortMapping,
)
from services.kubelet.runtime.fake import FakeRuntime
from services.kubelet.runtime.ipam import HostLocalIPAM, IPAMError
from services.kubelet.runtime.process import privileged_port_problem


@pytest.mark.parametrize("image, full", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25"),
    ("library/nginx:1.25-alpine", "docker.io/library/nginx:1.25-alpine"),
    ("docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36"),
    ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("python@sha256:abcd", "docker.io/library/python@sha256:abcd"),
])
def test_references_normalize_as_docker_does(image: str, full: str) -> None:
    assert images.parse_reference(image).full == full


@pytest.mark.parametrize("image", ["nginx", "nginx:1.25", "busybox", "alpine:3.20", "debian", "ubuntu:24.04",
                                   "python:3.12", "registry.k8s.io/pause:3.10"])
def test_catalog_images_resolve(image: str) -> None:
    entry, ref = images.lookup(image)
    assert ref.image_id.split("@")[1].startswith("sha256:")
    assert entry.repo in image


@pytest.mark.parametrize("image", ["nginxx", "myorg/nginx", "quay.io/nginx", "localhost:5000/busybox"])
def test_unknown_images_fail_as_a_pull_does(image: str) -> None:
    with pytest.raises(ImagePullError, match="pull access denied, repository does not exist"):
        images.lookup(image)


@pytest.mark.parametrize("command, args, argv", [
    ([], [], ["sh"]),
    (["sleep"], ["10"], ["sleep", "10"]),
    (["echo"], [], ["echo"]),
    ([], ["echo", "hi"], ["echo", "hi"]),
])
def test_command_and_args_merge_with_entrypoint_and_cmd(command, args, argv) -> None:
    assert images.resolve_argv(images.CATALOG["busybox"], command, args) == argv


def test_nginx_binary_is_ours_and_listens_on_pod_ip_and_port() -> None:
    nginx = images.CATALOG["nginx"]
    argv = images.host_argv(nginx, images.resolve_argv(nginx, [], []), listen="127.244.1.5:8080")
    assert argv[-4:] == ["--listen", "127.244.1.5:8080", "-g", "daemon off;"] and argv[-5].endswith("nginx.py")
    assert nginx.stop_signal == signal.SIGQUIT


def test_ipam_skips_network_gateway_and_broadcast_and_is_idempotent() -> None:
    ipam = HostLocalIPAM(None)
    ipam.set_cidr("127.244.9.0/30")  # .0 network, .1 gateway, .2 the only pod IP, .3 broadcast
    assert ipam.allocate("a") == "127.244.9.2"
    assert ipam.allocate("a") == "127.244.9.2"
    with pytest.raises(IPAMError, match="no IP addresses available"):
        ipam.allocate("b")
    ipam.release("a")
    assert ipam.allocate("b") == "127.244.9.2"


def test_ipam_goes_round_robin_and_persists(tmp_path: Path) -> None:
    ipam = HostLocalIPAM(tmp_path)
    ipam.set_cidr("127.244.9.0/24")
    assert [ipam.allocate(s) for s in "abc"] == ["127.244.9.2", "127.244.9.3", "127.244.9.4"]
    ipam.release("a")
    assert ipam.allocate("d") == "127.244.9.5"
    again = HostLocalIPAM(tmp_path)
    again.set_cidr("127.244.9.0/24")
    assert again.ip_of("b") == "127.244.9.3" and again.allocate("e") == "127.244.9.6"


def test_ipam_without_a_cidr_says_so() -> None:
    with pytest.raises(IPAMError, match="no pod CIDR"):
        HostLocalIPAM(None).allocate("a")


def test_low_port_problem_is_named_for_a_non_root_container() -> None:
    web = ContainerConfig(ContainerMetadata("web"), "nginx", ports=[PortMapping(80)], run_as_user=65534)
    assert "needs root or CAP_NET_BIND_SERVICE" in privileged_port_problem(web)
    assert "uid 65534" in privileged_port_problem(web)
    high = ContainerConfig(ContainerMetadata("web"), "nginx", ports=[PortMapping(8080)], run_as_user=65534)
    assert privileged_port_problem(high) == ""


CRI_LOG = (
    b"2026-01-02T03:04:05.1Z stdout F first\n"
    b"2026-01-02T03:04:06Z stderr P par\n"
    b"2026-01-02T03:04:06.5Z stderr F tial\n"
    b"2026-01-02T03:04:07.000000001Z stdout F third\n"
)


def test_cri_log_lines_join_partials_and_tail(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(CRI_LOG)
    assert logs.read_log(path) == b"first\npartial\nthird\n"
    assert logs.read_log(path, tail_lines=2) == b"partial\nthird\n"
    assert logs.read_log(path, tail_lines=1, timestamps=True) == b"2026-01-02T03:04:07.000000001Z third\n"
    assert logs.read_log(path, since_ns=logs.parse_timestamp_ns("2026-01-02T03:04:06Z")) == b"partial\nthird\n"
    assert logs.read_log(path, limit_bytes=3) == b"fir"
    assert logs.read_log(tmp_path / "missing.log") == b""


async def test_follow_yields_appended_lines_until_the_container_stops(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(CRI_LOG[:38])
    running = True
    got: list[bytes] = []

    async def reader() -> None:
        async for chunk in logs.follow_log(path, lambda: running):
            got.append(chunk)

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.05)
    with path.open("ab") as f:
        f.write(CRI_LOG[38:])
    await asyncio.sleep(0.3)
    running = False
    await asyncio.wait_for(task, 2)
    assert b"".join(got) == b"first\npartial\nthird\n"


def _sandbox() -> PodSandboxConfig:
    return PodSandboxConfig(PodSandboxMetadata("p", "default", "uid-1"), hostname="p")


async def test_fake_runtime_runs_at_once_or_after_a_delay_and_reports_exits() -> None:
    for delay in (0.0, 0.05):
        rt = FakeRuntime(start_delay=delay, missing_images={"nginxx"})
        rt.update_runtime_config(pod_cidr="127.244.3.0/24")
        events = []
        rt.on_container_event(lambda e: events.append(e.type.name))
        sid = await rt.run_pod_sandbox(_sandbox())
        assert rt.pod_sandbox_status(sid).ip == "127.244.3.2"
        cid = await rt.create_container(sid, ContainerConfig(ContainerMetadata("c"), "nginx"))
        await rt.start_container(cid)
        assert rt.container_status(cid).state is (ContainerState.RUNNING if not delay else ContainerState.CREATED)
        await asyncio.sleep(delay * 2)
        assert rt.container_status(cid).state is ContainerState.RUNNING
        rt.exit_container(cid, 2)
        status = rt.container_status(cid)
        assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, 2, "Error")
        assert events == ["CREATED", "STARTED", "STOPPED"]
        with pytest.raises(ImagePullError):
            await rt.pull_image("nginxx:1.0")
