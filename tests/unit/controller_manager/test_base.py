"""The controller base: one log line per sync, at info only when it wrote something or failed."""

from __future__ import annotations

import pytest
import structlog

from shared.resources import PODS

from services.controller_manager.base import Controller


class Probe(Controller):
    queue_name = "probe"

    async def sync(self, key: str) -> None:
        if key == "write":
            await self.client.delete(PODS, "x", namespace="default")
        if key == "fail":
            raise RuntimeError("boom")


@pytest.mark.parametrize(("key", "level", "writes", "result"), [
    ("noop", "debug", 0, "success"),
    ("write", "info", 1, "error"),     # the fake client says NotFound: a write attempted, then an error
    ("fail", "info", 0, "error"),
])
async def test_sync_log_line(cluster, key, level, writes, result):
    probe = Probe(cluster.ctx())
    with structlog.testing.capture_logs() as logs:
        try:
            await probe.timed_sync(key)
        except Exception:
            pass
    [line] = [entry for entry in logs if entry["event"] == "controller.synced"]
    assert (line["log_level"], line["writes"], line["result"]) == (level, writes, result)
