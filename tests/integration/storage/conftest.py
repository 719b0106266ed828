"""Backends for the shared storage suite: each test runs once on SQLite and once on etcd.

`store` is (backend, key prefix): on the shared etcd every test writes under its own `etcd_prefix`.
`private_store` is for tests that compact or restart the store: SQLite in tmp_path, or an etcd of
the test's own (`private_etcd`), which the test may stop and start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.apiserver.storage.etcd import EtcdBackend
from services.apiserver.storage.sqlite import SqliteBackend


@dataclass
class Store:
    backend: Any  # a storage.base.Backend
    prefix: str
    etcd: Any = None  # the EtcdProcess of a private etcd, else None

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"


@pytest.fixture(params=["sqlite", "etcd"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        backend: Any = SqliteBackend(tmp_path / "db")
        prefix = "/registry"
    else:
        backend = EtcdBackend(request.getfixturevalue("etcd_endpoint"), timeout=5.0)
        prefix = request.getfixturevalue("etcd_prefix")
    yield Store(backend, prefix)
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
