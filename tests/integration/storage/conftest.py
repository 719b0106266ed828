"""Backends for the shared storage suite: each test runs once on SQLite and once on etcd.

`store` is (backend, key prefix): on the shared etcd every test writes under its own `etcd_prefix`.
`private_store` is for tests that compact or restart the store: SQLite in tmp_path, or an etcd of
the test's own (`private_etcd`), which the test may stop and start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from services.apiserver.storage.etcd import EtcdBackend
from services.apiserver.storage.sqlite import SqliteBackend


@dataclass
class Store:
    backend: Any  # a storage.base.Backend
    prefix: str
    etcd: Any = None  # the EtcdProcess of a private etcd, else None
    # Another client of the same store (a second API server): it has seen nothing this one did.
    open_another: Callable[[], Any] | None = None

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"


@pytest.fixture(params=["sqlite", "etcd"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        def open_backend() -> Any:
            return SqliteBackend(tmp_path / "db", poll_interval=0.05)
        prefix = "/registry"
    else:
        endpoint = request.getfixturevalue("etcd_endpoint")

        def open_backend() -> Any:
            return EtcdBackend(endpoint, timeout=5.0)
        prefix = request.getfixturevalue("etcd_prefix")
    opened = [open_backend()]

    def open_another() -> Any:
        opened.append(open_backend())
        return opened[-1]

    yield Store(opened[0], prefix, open_another=open_another)
    for backend in opened:
        await backend.close()


@pytest.fixture(params=["sqlite", "etcd"])
async def private_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        store = Store(SqliteBackend(tmp_path / "db"), "/registry")
    else:
        etcd = request.getfixturevalue("private_etcd")
        store = Store(EtcdBackend(etcd.endpoint, timeout=2.0, reconnect_timeout=20.0), "/registry", etcd)
    yield store
    await store.backend.close()
