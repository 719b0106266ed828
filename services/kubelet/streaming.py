"""`kubectl exec` and `kubectl attach` on the kubelet: WebSockets speaking Kubernetes' channel protocol
(v4/v5.channel.k8s.io).

Guarantees, as the kubelet's streaming server (remotecommand):
- Query `command` (repeated), `stdin`, `stdout`, `stderr`, `tty`. Binary frames start with a
  channel byte: 0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize (`{"Width":..,"Height":..}`);
  v5 adds 255 "close": `[255, 0]` closes the command's stdin.
- Output goes out as it comes; with `tty` the command runs on a pty (stdout and stderr both on
  channel 1) and resize events resize it.
- Attach to a container with `stdin` or `tty` goes through its shim (`AttachSession`): output from
  now on (the terminal's on channel 1 with `tty`), stdin and resize to the container. When the
  client's stdin ends (a v5 close frame for channel 0, or the connection), containerd's rule
  applies: with `stdinOnce` and no tty the container's stdin is closed (EOF) and output flows until
  the container exits; otherwise this session ends and the container runs on.
- When the command ends, channel 3 carries a metav1.Status: `Success`, or `Failure` with reason
  NonZeroExitCode and the exit code as the ExitCode cause (what kubectl turns into its exit code).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
import termios
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from services.kubelet import logs
from services.kubelet.runtime import shim
from services.kubelet.runtime.cri import AttachSession, ExecSession

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def exit_status(cmd: list[str], code: int) -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command [{' '.join(cmd)}], "
                       f"exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def failure(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError"}


async def send_status(ws: web.WebSocketResponse, status: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_bytes(bytes([ERROR]) + orjson.dumps(status))
        await ws.close()


async def _pump(ws: web.WebSocketResponse, stream: asyncio.StreamReader, channel: int) -> None:
    while chunk := await stream.read(65536):
        await ws.send_bytes(bytes([channel]) + chunk)


async def _pump_pty(ws: web.WebSocketResponse, master: int) -> None:
    loop = asyncio.get_running_loop()
    while True:
        ready = loop.create_future()
        loop.add_reader(master, ready.set_result, None)
        try:
            await ready
        finally:
            loop.remove_reader(master)
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the command and everything holding the pty have exited
            return
        if not chunk:
            return
        await ws.send_bytes(bytes([STDOUT]) + chunk)


def _write_stdin(session: ExecSession, data: bytes) -> None:
    if session.pty_master is not None:
        os.write(session.pty_master, data)
    elif session.process.stdin is not None:
        session.process.stdin.write(data)


def _close_stdin(session: ExecSession) -> None:
    if session.pty_master is not None:
        with contextlib.suppress(OSError):
            os.write(session.pty_master, b"\x04")
    elif session.process.stdin is not None:
        session.process.stdin.close()


def _resize(session: ExecSession, payload: bytes) -> None:
    if session.pty_master is None:
        return
    size = orjson.loads(payload)
    fcntl.ioctl(session.pty_master, termios.TIOCSWINSZ,
                struct.pack("HHHH", int(size.get("Height", 24)), int(size.get("Width", 80)), 0, 0))


async def _incoming(ws: web.WebSocketResponse, session: ExecSession) -> None:
    async for msg in ws:
        if msg.type is not WSMsgType.BINARY or not msg.data:
            continue
        channel, payload = msg.data[0], msg.data[1:]
        if channel == STDIN and payload:
            _write_stdin(session, payload)
        elif channel == RESIZE:
            _resize(session, payload)
        elif channel == CLOSE and payload[:1] == bytes([STDIN]):
            _close_stdin(session)


async def stream_attach(ws: web.WebSocketResponse, path: Path, running: Callable[[], bool]) -> None:
    """`kubectl attach`: what the container writes from now on, stdout on 1 and stderr on 2, until it
    stops (its stdin is /dev/null, as a container without `stdin: true`)."""
    offset = path.stat().st_size if path.exists() else 0
    assembler, pending = logs.LineAssembler(), b""
    try:
        while True:
            alive = running() and not ws.closed
            chunk = logs.read_from(path, offset)
            offset += len(chunk)
            pending += chunk
            cut = pending.rfind(b"\n") + 1
            for raw in logs.entries(pending[:cut]):
                line = assembler.feed(raw)
                if line is not None:
                    await ws.send_bytes(bytes([STDOUT if line.stream == "stdout" else STDERR]) + line.content + b"\n")
            pending = pending[cut:]
            if not alive and not chunk:
                break
            await asyncio.sleep(logs.FOLLOW_POLL_SECONDS)
    except (ConnectionError, RuntimeError):
        return
    await send_status(ws, {"metadata": {}, "status": "Success"})


async def stream_exec(ws: web.WebSocketResponse, session: ExecSession, cmd: list[str]) -> None:
    """Relay the command's streams over `ws` until it exits; then send its status and close."""
    proc = session.process
    if session.pty_master is not None:
        pumps = [asyncio.create_task(_pump_pty(ws, session.pty_master))]
    else:
        pumps = [asyncio.create_task(_pump(ws, proc.stdout, STDOUT)),
                 asyncio.create_task(_pump(ws, proc.stderr, STDERR))]
    incoming = asyncio.create_task(_incoming(ws, session))
    try:
        code = await proc.wait()
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(asyncio.gather(*pumps), 2.0)
        await send_status(ws, exit_status(cmd, code))
    finally:
        for task in (*pumps, incoming):
            task.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
        if session.pty_master is not None:
            os.close(session.pty_master)


async def _relay_output(ws: web.WebSocketResponse, session: AttachSession, channels: set[int]) -> None:
    """The shim's output frames to the client, until the shim closes (the container has exited)."""
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while True:
            kind, size = shim.HEADER.unpack(await session.reader.readexactly(shim.HEADER.size))
            data = await session.reader.readexactly(size)
            if kind in channels:
                await ws.send_bytes(bytes([kind]) + data)


async def _relay_input(ws: web.WebSocketResponse, session: AttachSession, stdin: bool) -> None:
    """The client's stdin and resize frames to the shim, until its stdin ends."""
    async for msg in ws:
        if msg.type is not WSMsgType.BINARY or not msg.data:
            continue
        channel, payload = msg.data[0], msg.data[1:]
        if channel == STDIN and stdin and payload:
            session.writer.write(shim.frame(shim.STDIN, payload))
        elif channel == RESIZE:
            session.writer.write(shim.frame(shim.RESIZE, payload))
        elif channel == CLOSE and payload[:1] == bytes([STDIN]):
            return
        await session.writer.drain()


async def stream_attach_stdio(ws: web.WebSocketResponse, session: AttachSession, *, stdin: bool,
                              stdout: bool, stderr: bool) -> None:
    """`kubectl attach` to a container with `stdin`/`tty`, through its shim; Success on channel 3 at the end."""
    channels = {STDOUT} if stdout else set()
    if stderr and not session.tty:
        channels.add(STDERR)
    output = asyncio.create_task(_relay_output(ws, session, channels))
    incoming = asyncio.create_task(_relay_input(ws, session, stdin))
    try:
        await asyncio.wait({output, incoming}, return_when=asyncio.FIRST_COMPLETED)
        if incoming.done() and stdin and session.stdin_once and not session.tty:
            with contextlib.suppress(ConnectionError):
                session.writer.write(shim.frame(shim.CLOSE_STDIN))
                await session.writer.drain()
            await output  # the container has seen EOF; its output flows until it exits
    finally:
        for task in (output, incoming):
            task.cancel()
        session.writer.close()
    await send_status(ws, {"metadata": {}, "status": "Success"})
