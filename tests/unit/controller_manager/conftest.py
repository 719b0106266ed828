"""Unit-test fixtures for the controllers: a fake cluster (informer caches + a recording client)."""

from __future__ import annotations

import pytest

from tests.unit.controller_manager.fakes import FakeCluster


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster()
