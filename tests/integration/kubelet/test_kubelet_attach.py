"""Attach to containers with `stdin`/`tty` on a real kubelet: the shim holds their stdin (or pty),
the kubelet's /attach relays it, `stdinOnce` closes it when the session's stdin ends."""

from __future__ import annotations

import aiohttp

from shared.resources import PODS
from tests.integration.kubelet.conftest import container_status, pod_manifest, wait_pod, wait_until

PROTOCOL = "v5.channel.k8s.io"


async def _session(ws: aiohttp.ClientWebSocketResponse, until: bytes | None = None) -> tuple[bytes, bytes | None]:
    """Read channel 1 until `until` is in it (then return), or to the end: (stdout, status)."""
    out, status = b"", None
    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.BINARY:
            break
        if msg.data[0] == 1:
            out += msg.data[1:]
        elif msg.data[0] == 3:
            status = msg.data[1:]
        if until is not None and until in out:
            break
    return out, status


def _terminated(pod: dict) -> dict | None:
    return container_status(pod).get("state", {}).get("terminated")


async def test_attach_to_a_tty_shell(start_kubelet, api) -> None:
    k = await start_kubelet()
    await api.create(PODS, pod_manifest("sh", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["sh"],
                                         "stdin": True, "stdinOnce": True, "tty": True},
                                        restartPolicy="Never"))
    await wait_pod(api, "sh", lambda p: p["status"].get("phase") == "Running", what="Running")
    url = f"{k.url}/attach/default/sh/c?stdin=true&stdout=true&tty=true"
    async with aiohttp.ClientSession() as s, s.ws_connect(url, protocols=[PROTOCOL]) as ws:
        await ws.send_bytes(b'\x04{"Width":100,"Height":30}')
        await ws.send_bytes(b"\x00stty size; tty; echo hello-from-$((6*7))\n")
        out, _ = await _session(ws, until=b"hello-from-42\r\n")
        await ws.send_bytes(b"\x00echo hello-from-tty\n")
        await ws.send_bytes(b"\x00exit\n")
        rest, status = await _session(ws)
    assert b"30 100" in out and b"/dev/pts/" in out  # the resize reached the pty, the shell's terminal
    assert b"hello-from-tty\r\n" in rest and status == b'{"metadata":{},"status":"Success"}'
    done = await wait_pod(api, "sh", _terminated, what="terminated")
    assert _terminated(done)["exitCode"] == 0
    async with aiohttp.ClientSession() as s, s.get(f"{k.url}/containerLogs/default/sh/c") as r:
        log = await r.text()
    assert "hello-from-tty\r\n" in log and "exit\r\n" in log  # what the terminal showed, echo included


async def test_attach_with_stdin_once_closes_stdin_when_the_session_ends(start_kubelet, api) -> None:
    k = await start_kubelet()
    await api.create(PODS, pod_manifest("cat", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["cat"],
                                         "stdin": True, "stdinOnce": True},
                                        restartPolicy="Never"))
    await wait_pod(api, "cat", lambda p: p["status"].get("phase") == "Running", what="Running")
    url = f"{k.url}/attach/default/cat/c?stdin=true&stdout=true&stderr=true"
    async with aiohttp.ClientSession() as s, s.ws_connect(url, protocols=[PROTOCOL]) as ws:
        await ws.send_bytes(b"\x00one\n")
        first, _ = await _session(ws, until=b"one\n")
        await ws.send_bytes(b"\x00two\n")
        await ws.send_bytes(b"\xff\x00")  # v5: the client's stdin has ended
        rest, status = await _session(ws)
    assert first + rest == b"one\ntwo\n" and status == b'{"metadata":{},"status":"Success"}'
    done = await wait_pod(api, "cat", _terminated, what="terminated")
    assert _terminated(done)["exitCode"] == 0


async def test_without_stdin_once_the_container_outlives_the_session(start_kubelet, api) -> None:
    k = await start_kubelet()
    await api.create(PODS, pod_manifest("keep", k.config.node_name,
                                        {"name": "c", "image": "busybox", "command": ["cat"], "stdin": True},
                                        restartPolicy="Never"))
    await wait_pod(api, "keep", lambda p: p["status"].get("phase") == "Running", what="Running")
    url = f"{k.url}/attach/default/keep/c?stdin=true&stdout=true&stderr=true"
    async with aiohttp.ClientSession() as s:
        for word in (b"first", b"second"):  # two sessions, one after the other: stdin stays open
            async with s.ws_connect(url, protocols=[PROTOCOL]) as ws:
                await ws.send_bytes(b"\x00" + word + b"\n")
                out, _ = await _session(ws, until=word + b"\n")
                await ws.send_bytes(b"\xff\x00")
                _, status = await _session(ws)
            assert out == word + b"\n" and status == b'{"metadata":{},"status":"Success"}'
    pod = await api.get(PODS, "keep", "default")
    assert "running" in container_status(pod)["state"]
    async with aiohttp.ClientSession() as s, s.get(f"{k.url}/containerLogs/default/keep/c") as r:
        assert await r.text() == "first\nsecond\n"
