"""The compactor compacts to the revision of one tick earlier, and survives a failing store."""

from __future__ import annotations

from pathlib import Path

from services.apiserver.storage import Compacted, Unavailable
from services.apiserver.storage.compactor import compact_once
from services.apiserver.storage.sqlite import SqliteBackend


async def test_compacts_to_the_previous_ticks_revision(tmp_path: Path) -> None:
    db = SqliteBackend(tmp_path)
    try:
        first = await db.create("/registry/a", b"1")
        target = await compact_once(db, 0)  # first tick: nothing compacted yet
        assert target == first
        await db.list("/registry/", revision=first - 1)  # still readable
        second = await db.create("/registry/b", b"2")
        assert await compact_once(db, target) == second
        try:
            await db.list("/registry/", revision=first - 1)
        except Compacted as exc:
            assert exc.compact_revision == first
        else:
            raise AssertionError("history below the previous tick's revision was kept")
    finally:
        await db.close()


class _Down:
    async def compact(self, revision: int) -> None:
        raise Unavailable("down")

    async def current_revision(self) -> int:
        raise Unavailable("down")


async def test_a_failed_tick_keeps_its_target() -> None:
    assert await compact_once(_Down(), 42) == 42
