"""The process runtime with real processes: nginx on its pod IP, exits, logs, stop, recovery."""

from __future__ import annotations

import asyncio
import os
import random
import urllib.request
from pathlib import Path

import pytest

from services.kubelet import logs
from services.kubelet.runtime.cri import (
    ContainerConfig,
    ContainerMetadata,
    ContainerState,
    CRIError,
    PodSandboxConfig,
    PodSandboxMetadata,
    PortMapping,
)
from services.kubelet.runtime.process import ProcessRuntime, shutdown_node


def random_cidr() -> str:
    return f"127.{random.randint(200, 239)}.{random.randint(0, 255)}.0/24"


@pytest.fixture
async def runtime(tmp_path: Path):
    rt = ProcessRuntime(tmp_path / "root")
    await rt.start()
    rt.update_runtime_config(pod_cidr=random_cidr())
    yield rt
    for c in rt.list_containers():
        await rt.stop_container(c.id, 0)
    await rt.close()


async def sandbox(rt: ProcessRuntime, name: str = "p") -> str:
    meta = PodSandboxMetadata(name, "default", f"uid-{name}")
    return await rt.run_pod_sandbox(PodSandboxConfig(meta, hostname=name,
                                                     log_directory=str(rt.root / "pods" / name)))


async def run(rt: ProcessRuntime, sid: str, name: str, image: str, **kw) -> str:
    await rt.pull_image(image)
    cid = await rt.create_container(sid, ContainerConfig(ContainerMetadata(name), image, log_path=f"{name}/0.log",
                                                         **kw))
    await rt.start_container(cid)
    return cid


async def wait_exited(rt: ProcessRuntime, cid: str, timeout: float = 5.0):
    for _ in range(int(timeout / 0.02)):
        status = rt.container_status(cid)
        if status.state is ContainerState.EXITED:
            return status
        await asyncio.sleep(0.02)
    raise AssertionError(f"container {cid[:12]} still {rt.container_status(cid).state}")


def http_get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.status, r.read().decode()


async def get_until_up(url: str) -> tuple[int, str]:
    for _ in range(100):
        try:
            return await asyncio.to_thread(http_get, url)
        except OSError:
            await asyncio.sleep(0.03)
    raise AssertionError(f"{url} never answered")


async def test_nginx_serves_on_its_pod_ip_logs_access_and_stops_on_sigquit(runtime: ProcessRuntime) -> None:
    sid = await sandbox(runtime)
    ip = runtime.pod_sandbox_status(sid).ip
    cid = await run(runtime, sid, "web", "nginx:1.25", ports=[PortMapping(8080)])
    status, body = await get_until_up(f"http://{ip}:8080/")
    assert status == 200 and "<title>Welcome to nginx!</title>" in body
    await runtime.stop_container(cid, 5)
    st = runtime.container_status(cid)
    assert (st.state, st.exit_code, st.reason) == (ContainerState.EXITED, 0, "Completed")
    text = logs.read_log(runtime.log_path(cid)).decode()
    assert '"GET / HTTP/1.1" 200 615' in text and "signal 3 (SIGQUIT) received" in text
    raw = runtime.log_path(cid).read_text().splitlines()
    assert any(" stdout F " in line and "GET /" in line for line in raw)


async def test_env_workdir_and_exit_code_reach_the_container(runtime: ProcessRuntime, tmp_path: Path) -> None:
    sid = await sandbox(runtime, "envpod")
    cid = await run(runtime, sid, "c", "busybox", command=["sh", "-c", 'echo "$GREETING $HOSTNAME $(pwd)"; '
                                                                       "echo oops >&2; exit 3"],
                    envs=[("GREETING", "hello")], working_dir=str(tmp_path))
    st = await wait_exited(runtime, cid)
    assert (st.exit_code, st.reason) == (3, "Error")
    assert logs.read_log(runtime.log_path(cid)) == f"hello envpod {tmp_path}\noops\n".encode()


async def test_a_command_that_does_not_exist_is_a_start_error(runtime: ProcessRuntime) -> None:
    sid = await sandbox(runtime)
    with pytest.raises(CRIError, match='exec: "no-such-binary": executable file not found in \\$PATH') as err:
        await run(runtime, sid, "c", "busybox", command=["no-such-binary"])
    assert err.value.reason == "RunContainerError"
    st = runtime.list_containers(sid)[0]
    assert (st.state, st.exit_code, st.reason) == (ContainerState.EXITED, 128, "StartError")


async def test_stop_sends_sigterm_then_sigkill_after_the_timeout(runtime: ProcessRuntime) -> None:
    sid = await sandbox(runtime)
    polite = await run(runtime, sid, "polite", "busybox",
                       command=["sh", "-c", 'trap "echo got TERM; exit 0" TERM; echo ready; '
                                            "while true; do sleep 0.05; done"])
    stubborn = await run(runtime, sid, "stubborn", "busybox",
                         command=["sh", "-c", 'trap "echo ignoring TERM" TERM; echo ready; '
                                              "while true; do sleep 0.05; done"])
    await asyncio.sleep(0.3)
    await asyncio.gather(runtime.stop_container(polite, 5), runtime.stop_container(stubborn, 0.5))
    p, s = runtime.container_status(polite), runtime.container_status(stubborn)
    assert (p.exit_code, p.reason) == (0, "Completed")
    assert b"got TERM" in logs.read_log(runtime.log_path(polite))
    assert (s.exit_code, s.reason) == (137, "Error")
    assert b"ignoring TERM" in logs.read_log(runtime.log_path(stubborn))


async def test_a_new_runtime_finds_running_containers_and_their_later_exit(tmp_path: Path) -> None:
    first = ProcessRuntime(tmp_path / "root")
    await first.start()
    first.update_runtime_config(pod_cidr=random_cidr())
    sid = await sandbox(first)
    ip = first.pod_sandbox_status(sid).ip
    cid = await run(first, sid, "c", "busybox", command=["sh", "-c", "sleep 0.8; exit 4"])
    pid = first.container_status(cid).pid
    await first.close()  # the kubelet goes away; the container does not

    second = ProcessRuntime(tmp_path / "root")
    await second.start()
    st = second.container_status(cid)
    assert (st.state, st.pid) == (ContainerState.RUNNING, pid)
    os.kill(pid, 0)
    assert second.pod_sandbox_status(sid).ip == ip
    events = []
    second.on_container_event(lambda e: events.append((e.container_id, e.type.name)))
    st = await wait_exited(second, cid)
    assert st.exit_code == 4 and events == [(cid, "STOPPED")]
    await second.close()


async def test_shutdown_node_stops_whatever_is_left_running(tmp_path: Path) -> None:
    rt = ProcessRuntime(tmp_path / "root")
    await rt.start()
    rt.update_runtime_config(pod_cidr=random_cidr())
    sid = await sandbox(rt)
    cid = await run(rt, sid, "c", "busybox", command=["sleep", "30"])
    pid = rt.container_status(cid).pid
    await rt.close()
    lines = await shutdown_node(tmp_path / "root", grace=2)
    assert len(lines) == 1 and "exit code 143" in lines[0]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_exec_runs_in_the_container_environment(runtime: ProcessRuntime) -> None:
    sid = await sandbox(runtime)
    cid = await run(runtime, sid, "c", "busybox", command=["sleep", "30"], envs=[("MARK", "x1")])
    code, out = await runtime.exec_sync(cid, ["sh", "-c", "echo $MARK; exit 2"], 5)
    assert (code, out) == (2, b"x1\n")
    with pytest.raises(TimeoutError):
        await runtime.exec_sync(cid, ["sleep", "5"], 0.2)


async def test_a_non_root_container_on_a_low_port_says_why_it_failed(runtime: ProcessRuntime) -> None:
    sid = await sandbox(runtime)
    cid = await run(runtime, sid, "c", "busybox", command=["sh", "-c", "exit 1"],
                    ports=[PortMapping(80)], run_as_user=65534)
    st = await wait_exited(runtime, cid)
    assert st.exit_code == 1
    assert "needs root or CAP_NET_BIND_SERVICE" in st.message and "uid 65534" in st.message


async def test_removing_the_sandbox_kills_its_containers_and_frees_its_ip(runtime: ProcessRuntime) -> None:
    sid = await sandbox(runtime)
    ip = runtime.pod_sandbox_status(sid).ip
    cid = await run(runtime, sid, "c", "busybox", command=["sleep", "30"])
    pid = runtime.container_status(cid).pid
    await runtime.remove_pod_sandbox(sid)
    assert runtime.list_containers() == [] and runtime.ipam.ip_of(sid) is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert ip not in runtime.ipam.reserved
