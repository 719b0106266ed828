"""Fixtures shared by every test layer.

A real etcd comes from `KUBEMU_TEST_ETCD` (`.ci/run` starts one). Without it, etcd tests skip on a
developer machine and fail under CI (`CI` set), so a broken CI setup can never pass silently.
Tests share that etcd, so each one works under its own key prefix (`etcd_prefix`).
"""

from __future__ import annotations

import os

# Set before anything imports grpc (the etcd backend, aetcd in tests): in-process kubelets fork
# container processes with a preexec_fn, which gRPC's fork support breaks (see storage/etcd.py).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures.apiserver"]


@pytest.fixture(scope="session", autouse=True)
def _logs_into_captured_output() -> Iterator[None]:
    """Services run in-process by tests log with structlog's defaults, into the stream pytest
    captures (bound here, while capture is on; a WriteLogger, because PrintLogger re-reads
    sys.stdout). A server thread that logs between two tests then lands in the captured output,
    shown with a failure, instead of on the terminal between the progress dots."""
    import structlog

    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.stdout))
    yield


def _require(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: this test must not be skipped)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def etcd_endpoint() -> str:
    endpoint = os.environ.get("KUBEMU_TEST_ETCD")
    if not endpoint:
        _require("KUBEMU_TEST_ETCD is not set; start etcd or run .ci/run")
    return endpoint


@pytest.fixture
def etcd_prefix() -> str:
    """A key prefix no other test uses, e.g. `/kubemu-test-1a2b3c4d`."""
    return f"/kubemu-test-{uuid.uuid4().hex[:8]}"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class EtcdProcess:
    """A private etcd this test may stop and restart (the shared one must never be)."""

    data_dir: Path
    client_port: int
    peer_port: int
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def start(self) -> None:
        url, peer = self.endpoint, f"http://127.0.0.1:{self.peer_port}"
        self.proc = subprocess.Popen(
            ["etcd", "--name", "kubemu-test", "--data-dir", str(self.data_dir),
             "--listen-client-urls", url, "--advertise-client-urls", url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"kubemu-test={peer}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"etcd exited with {self.proc.returncode}")
                time.sleep(0.05)
        raise RuntimeError("etcd did not become healthy in 15 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def private_etcd(tmp_path: Path) -> Iterator[EtcdProcess]:
    """An etcd process of this test's own, on free ports, that the test may restart."""
    if shutil.which("etcd") is None:
        _require("no etcd binary on PATH")
    etcd = EtcdProcess(tmp_path / "etcd", free_port(), free_port())
    etcd.start()
    try:
        yield etcd
    finally:
        etcd.stop()
