"""The embedded backend's own machinery: watchers switching from reading the log to the shared
in-memory tail, with batches and the tail's window made tiny so every boundary is crossed."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from services.apiserver.storage import EventType
from services.apiserver.storage import sqlite
from services.apiserver.storage.sqlite import SqliteBackend
from tests.integration.storage.test_backend import take


@pytest.fixture
def tiny_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite, "WATCH_BATCH", 7)
    monkeypatch.setattr(sqlite, "TAIL_EVENTS", 20)


# (prefix, where the watch starts: "all" = revision 1, "middle" = after the first half of the
# writes, "now" = 0, started before the second half)
@pytest.mark.parametrize("prefix, start", [
    ("/registry/", "all"),
    ("/registry/a/", "all"),
    ("/registry/b/", "middle"),
    ("/registry/", "middle"),
    ("/registry/a/", "now"),
    ("/registry/", "now"),
])
async def test_watchers_from_anywhere_see_exactly_their_events(tiny_windows: None, tmp_path: Path,
                                                               prefix: str, start: str) -> None:
    db = SqliteBackend(tmp_path)
    rng = random.Random(7)
    written: list[tuple[str, int, EventType]] = []

    async def write(n: int, writer: str = "w") -> None:
        for _ in range(n):  # concurrent writers use keys of their own: every write wins
            key = f"/registry/{rng.choice('ab')}/{writer}{rng.randrange(5)}"
            current = await db.get(key)
            if current is None:
                written.append((key, await db.create(key, b"v"), EventType.PUT))
            elif rng.random() < 0.3:
                written.append((key, (await db.delete(key, current.mod_revision)).revision, EventType.DELETE))
            else:
                written.append((key, (await db.update(key, b"w", current.mod_revision)).revision, EventType.PUT))

    try:
        watch = db.watch(prefix, 1) if start == "all" else None
        await write(60)
        if start == "middle":
            watch = db.watch(prefix, written[-1][1] + 1)
        first = len(written)
        if start == "now":
            watch = db.watch(prefix, 0)
            pending = asyncio.ensure_future(anext(watch))
            await asyncio.sleep(0.2)  # "now" is when the watch starts reading
        # The tail must have begun before these writes for the watch to switch over to it.
        await asyncio.gather(write(60, "x"), write(60, "y"))
        expected = [(k, r, t) for k, r, t in (written if start == "all" else written[first:]) if k.startswith(prefix)]
        events = []
        if start == "now":
            events.append(await asyncio.wait_for(pending, 10))
        events += await take(watch, len(expected) - len(events))
        assert [(e.kv.key, e.revision, e.type) for e in events] == expected
        await watch.aclose()
    finally:
        await db.close()


async def test_the_tail_keeps_a_bounded_window(tiny_windows: None, tmp_path: Path) -> None:
    db = SqliteBackend(tmp_path)
    try:
        watch = db.watch("/registry/", 0)
        pending = asyncio.ensure_future(anext(watch))
        await asyncio.sleep(0.2)
        revisions = [await db.create(f"/registry/{i}", b"v") for i in range(100)]
        events = [await asyncio.wait_for(pending, 10)] + await take(watch, 99)
        assert [e.revision for e in events] == revisions
        tail = db._tail
        assert tail.ready and len(tail.events) <= 2 * sqlite.TAIL_EVENTS
        assert tail.start < tail.revisions[0] and tail.rev >= revisions[-1]  # covers exactly (start, rev]
        await watch.aclose()
    finally:
        await db.close()


async def test_watchers_fall_back_to_the_log_when_the_tail_fails(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    db = SqliteBackend(tmp_path, poll_interval=0.05)
    try:
        watch = db.watch("/registry/", 1)
        first = await db.create("/registry/a", b"1")
        assert [e.revision for e in await take(watch, 1)] == [first]

        def broken(after: int) -> None:
            raise RuntimeError("a bug in the tail")

        monkeypatch.setattr(db, "_tail_rows", broken)
        revisions = [await db.create(f"/registry/{i}", b"v") for i in range(5)]
        assert [e.revision for e in await take(watch, 5)] == revisions
        assert db._tail_task.done() and not db._tail.ready
        await watch.aclose()
    finally:
        await db.close()
