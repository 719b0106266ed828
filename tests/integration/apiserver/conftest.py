from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fixtures.apiserver import ApiServerHandle
from tests.integration.apiserver.helpers import Raw


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def server(request: pytest.FixtureRequest) -> ApiServerHandle:
    """The API server under test, once on embedded SQLite and once on real etcd."""
    if request.param == "etcd":
        return request.getfixturevalue("etcd_apiserver")
    return request.getfixturevalue("apiserver")


@pytest.fixture
async def raw(server: ApiServerHandle) -> AsyncIterator[Raw]:
    client = Raw(server)
    yield client
    await client.close()
