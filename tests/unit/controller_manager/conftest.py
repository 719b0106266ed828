"""Unit-test fixtures for the controllers: a fake cluster (informer caches + a recording client).

Until shared/client, shared/informer and shared/controller land, minimal stand-ins with the
contract's names are installed so the controllers import; the real modules win once they exist.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest


def _install_stand_ins() -> None:
    if importlib.util.find_spec("shared.client") is None:
        client = types.ModuleType("shared.client")

        class ApiError(Exception):
            def __init__(self, message: str = "", status: dict | None = None) -> None:
                super().__init__(message)
                self.status = status or {}

        client.ApiError = ApiError
        for name in ("NotFound", "Conflict", "AlreadyExists", "Gone", "Invalid", "Unauthorized", "Forbidden",
                     "ServerUnavailable"):
            setattr(client, name, type(name, (ApiError,), {}))
        sys.modules["shared.client"] = client
    if importlib.util.find_spec("shared.controller") is None:
        controller = types.ModuleType("shared.controller")

        async def run_workers(queue, sync, workers=1, name=""):  # pragma: no cover - stand-in
            raise NotImplementedError

        controller.run_workers = run_workers
        sys.modules["shared.controller"] = controller


_install_stand_ins()

from tests.unit.controller_manager.fakes import FakeCluster  # noqa: E402


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster()
