"""The shim's stdio (runtime/shim.py): stdin held open, a pty, the attach socket's frames; and log
entries that keep a terminal's "\r"."""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys
import termios
import threading
from pathlib import Path

import pytest

from services.kubelet import logs
from services.kubelet.runtime import shim


def _spec(tmp_path: Path, argv: list[str], **kw) -> dict:
    return {"argv": argv, "env": {"PATH": os.environ["PATH"]}, "cwd": str(tmp_path), **kw}


def _serve(tmp_path: Path, spec: dict) -> tuple[threading.Thread, socket.socket, Path]:
    """Start the container and a Stdio pumping it in a thread; connect one client to it."""
    master, slave = os.openpty() if spec.get("tty") else (None, None)
    proc = shim.start(spec, slave)
    if slave is not None:
        os.close(slave)
    log_path = tmp_path / "c.log"
    stdio = shim.Stdio(proc, shim.LogWriter(str(log_path)), master, shim.listen(str(tmp_path)))

    def run() -> None:
        stdio.pump()
        proc.wait()
        stdio.logs.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(5)
    client.connect(str(tmp_path / shim.ATTACH_SOCKET))
    return thread, client, log_path


def _read_until(client: socket.socket, want: bytes) -> dict[int, bytes]:
    got: dict[int, bytes] = {}
    buf = b""
    while want not in b"".join(got.values()):
        data = client.recv(65536)
        if not data:
            break
        buf += data
        while len(buf) >= shim.HEADER.size:
            kind, size = shim.HEADER.unpack_from(buf)
            if len(buf) < shim.HEADER.size + size:
                break
            got[kind] = got.get(kind, b"") + buf[shim.HEADER.size:shim.HEADER.size + size]
            buf = buf[shim.HEADER.size + size:]
    return got


def test_frames_carry_a_type_and_a_length() -> None:
    assert shim.frame(shim.STDIN, b"hi") == b"\x00\x00\x00\x00\x02hi"
    assert shim.frame(shim.CLOSE_STDIN) == b"\xff\x00\x00\x00\x00"


def test_a_resize_sets_the_window_size_of_the_pty() -> None:
    master, slave = os.openpty()
    try:
        shim.set_window_size(master, b'{"Width":132,"Height":43}')
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8))
    finally:
        os.close(master)
        os.close(slave)
    assert (rows, cols) == (43, 132)


def test_stdin_stays_open_until_a_client_closes_it(tmp_path: Path) -> None:
    thread, client, log_path = _serve(tmp_path, _spec(tmp_path, ["cat"], stdin=True))
    client.sendall(shim.frame(shim.STDIN, b"one\n"))
    assert _read_until(client, b"one\n") == {shim.STDOUT: b"one\n"}
    client.sendall(shim.frame(shim.STDIN, b"two\n") + shim.frame(shim.CLOSE_STDIN))
    assert _read_until(client, b"never") == {shim.STDOUT: b"two\n"}  # then cat saw EOF: the shim hung up
    thread.join(5)
    assert [line.content for line in logs.parse_lines(log_path.read_bytes())] == [b"one", b"two"]


def test_a_tty_container_gets_a_terminal_and_its_output_is_logged(tmp_path: Path) -> None:
    script = "import os, sys; print(os.isatty(0), os.ttyname(0).startswith('/dev/pts/'), input())"
    thread, client, log_path = _serve(tmp_path, _spec(tmp_path, [sys.executable, "-c", script], tty=True))
    client.sendall(shim.frame(shim.STDIN, b"typed\n"))
    out = _read_until(client, b"True True typed")
    thread.join(5)
    assert set(out) == {shim.STDOUT}  # one stream: the terminal
    assert [line.content for line in logs.parse_lines(log_path.read_bytes())] == [b"typed\r", b"True True typed\r"]


@pytest.mark.parametrize("data, contents", [
    (b"2024-01-01T00:00:00Z stdout F a\r\n2024-01-01T00:00:00Z stdout F b\n", [b"a\r", b"b"]),
    (b"2024-01-01T00:00:00Z stdout P a\r\n2024-01-01T00:00:00Z stdout F b\n", [b"a\rb"]),
])
def test_log_entries_split_at_newlines_only(data: bytes, contents: list[bytes]) -> None:
    assert [line.content for line in logs.parse_lines(data)] == contents
