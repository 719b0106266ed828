"""The storage interface's guarantees (storage/base.py), checked on every backend alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.apiserver.storage import (
    Compacted,
    EventType,
    FutureRevision,
    KeyExists,
    Unavailable,
    WatchEvent,
)
from services.apiserver.storage.etcd import EtcdBackend
from services.apiserver.storage.sqlite import SqliteBackend
from tests.conftest import free_port
from tests.integration.storage.conftest import Store


async def take(events: AsyncIterator[WatchEvent], n: int, timeout: float = 20.0) -> list[WatchEvent]:
    """The next `n` events of a watch (fails on a timeout: an event went missing)."""
    out: list[WatchEvent] = []
    if n == 0:
        return out

    async def read() -> None:
        async for event in events:
            out.append(event)
            if len(out) == n:
                return

    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        pytest.fail(f"watch delivered {len(out)} of {n} events")
    return out


async def nothing_more(events: AsyncIterator[WatchEvent], wait: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(events), wait)


# ---- CRUD --------------------------------------------------------------------------------------

async def test_create_get_update_delete(store: Store) -> None:
    db, key = store.backend, store.key("pods/default/a")
    before = await db.current_revision()
    rev = await db.create(key, b"v1")
    assert rev > before
    kv = await db.get(key)
    assert (kv.key, kv.value, kv.create_revision, kv.mod_revision) == (key, b"v1", rev, rev)

    updated = await db.update(key, b"v2", rev)
    assert updated.ok and updated.revision > rev
    assert (updated.kv.value, updated.kv.create_revision, updated.kv.mod_revision) == (b"v2", rev, updated.revision)
    assert await db.get(key) == updated.kv

    deleted = await db.delete(key, updated.revision)
    assert deleted.ok and deleted.revision > updated.revision
    assert deleted.kv == updated.kv  # the value deleted
    assert await db.get(key) is None
    assert await db.current_revision() >= deleted.revision  # the shared etcd has other writers


async def test_create_existing_key_raises_key_exists(store: Store) -> None:
    key = store.key("a")
    await store.backend.create(key, b"1")
    with pytest.raises(KeyExists) as exc:
        await store.backend.create(key, b"2")
    assert exc.value.key == key
    assert (await store.backend.get(key)).value == b"1"


async def test_create_after_delete_starts_a_new_object(store: Store) -> None:
    db, key = store.backend, store.key("a")
    first = await db.create(key, b"1")
    await db.delete(key)
    second = await db.create(key, b"2")
    kv = await db.get(key)
    assert second > first and (kv.create_revision, kv.mod_revision, kv.value) == (second, second, b"2")


# Each case: which write, against what expected revision ("stale": an older one, "current", 0,
# "missing": a key that does not exist) -> whether it wins.
@pytest.mark.parametrize("op, expected, ok", [
    ("update", "current", True),
    ("update", "stale", False),
    ("update", 0, False),
    ("update", "missing", False),
    ("delete", "current", True),
    ("delete", "stale", False),
    ("delete", 0, True),
    ("delete", "missing", False),
])
async def test_compare_and_swap(store: Store, op: str, expected: object, ok: bool) -> None:
    db, key = store.backend, store.key("obj")
    stale = await db.create(key, b"1")
    current = (await db.update(key, b"2", stale)).revision
    if expected == "missing":
        key, revision = store.key("nobody"), current
    else:
        revision = {"current": current, "stale": stale, 0: 0}[expected]
    result = await (db.update(key, b"3", revision) if op == "update" else db.delete(key, revision))
    assert result.ok is ok
    if ok:
        assert result.revision > current
        after = await db.get(key)
        assert (after.mod_revision if op == "update" else after) == (result.revision if op == "update" else None)
    else:
        # A lost race says what is there now (nothing for a missing key) and the store's revision.
        assert result.revision >= current
        if expected == "missing":
            assert result.kv is None
        else:
            assert (result.kv.value, result.kv.mod_revision) == (b"2", current)
            assert (await db.get(key)).mod_revision == current


async def test_concurrent_updaters_exactly_one_wins_per_revision(store: Store) -> None:
    db, key = store.backend, store.key("counter")
    await db.create(key, b"0")
    kv = await db.get(key)
    # 32 writers race on the same revision: exactly one wins, the others see the winner's value.
    results = await asyncio.gather(*(db.update(key, str(i).encode(), kv.mod_revision) for i in range(32)))
    winners = [r for r in results if r.ok]
    assert len(winners) == 1
    assert all(r.kv == winners[0].kv for r in results if not r.ok)

    # 16 read-modify-write loops increment a counter: no increment is lost, no revision won twice.
    won: list[int] = []

    async def increment(times: int) -> None:
        for _ in range(times):
            current = await db.get(key)
            while True:
                result = await db.update(key, str(int(current.value) + 1).encode(), current.mod_revision)
                if result.ok:
                    won.append(result.revision)
                    break
                current = result.kv

    await db.update(key, b"0", winners[0].revision)
    await asyncio.gather(*(increment(10) for _ in range(16)))
    assert (await db.get(key)).value == b"160"
    assert len(won) == len(set(won)) == 160


async def test_another_client_sees_and_replaces_versions_it_never_read(store: Store) -> None:
    db, other, key = store.backend, store.open_another(), store.key("shared")
    created = await db.create(key, b"1")
    watch = other.watch(store.key(""), created)
    updated = await other.update(key, b"2", created)  # `other` never read the version it replaces
    assert updated.ok and updated.kv.create_revision == created
    again = await db.update(key, b"3", updated.revision)
    assert again.ok and again.kv.create_revision == created
    events = await take(watch, 3)
    assert [(e.kv.value, e.kv.create_revision, e.revision) for e in events] == [
        (b"1", created, created), (b"2", created, updated.revision), (b"3", created, again.revision)]
    await watch.aclose()


# ---- lists ---------------------------------------------------------------------------------------

async def test_list_prefix_count_and_continue(store: Store) -> None:
    db = store.backend
    for name in ["pods/a/1", "pods/a/2", "pods/b/1", "podsx/1", "services/1"]:
        await db.create(store.key(name), name.encode())
    result = await db.list(store.key("pods/"))
    assert [kv.key for kv in result.items] == [store.key(n) for n in ["pods/a/1", "pods/a/2", "pods/b/1"]]
    last_write = max(kv.mod_revision for kv in result.items)
    assert not result.more and last_write <= result.revision <= await db.current_revision()
    assert await db.count(store.key("pods/")) == 3
    assert await db.count(store.key("pods/a/")) == 2
    assert await db.count(store.key("nothing/")) == 0
    assert (await db.list(store.key("nothing/"))).items == []
    page = await db.list(store.key("pods/"), limit=2, continue_key=store.key("pods/a/2"))
    assert [kv.key for kv in page.items] == [store.key("pods/a/2"), store.key("pods/b/1")] and not page.more


async def test_paging_a_large_prefix_reads_one_snapshot(store: Store) -> None:
    db, prefix = store.backend, store.key("configmaps/")
    names = [f"ns-{i % 7}/cm-{i:04d}" for i in range(600)]
    for chunk in range(0, len(names), 100):
        await asyncio.gather(*(db.create(prefix + n, n.encode()) for n in names[chunk:chunk + 100]))
    expected = sorted(prefix + n for n in names)

    first = await db.list(prefix, limit=37)
    assert first.more and len(first.items) == 37
    # Changes after the first page must not show in the later pages, read at its revision.
    await db.delete(expected[100])
    await db.create(prefix + "ns-0/zz-new", b"new")
    kv = await db.get(expected[200])
    await db.update(expected[200], b"changed", kv.mod_revision)

    seen, page = list(first.items), first
    while page.more:
        page = await db.list(prefix, limit=37, continue_key=seen[-1].key + "\0", revision=first.revision)
        assert page.revision == first.revision
        seen.extend(page.items)
    assert [kv.key for kv in seen] == expected
    assert all(kv.value == kv.key[len(prefix):].encode() for kv in seen)
    assert len((await db.list(prefix)).items) == 600  # one deleted, one created


async def test_list_at_future_revision_raises(store: Store) -> None:
    current = await store.backend.current_revision()
    with pytest.raises(FutureRevision):
        await store.backend.list(store.prefix + "/", revision=current + 1000)


# ---- watch ---------------------------------------------------------------------------------------

async def test_watch_from_past_revision_replays_in_order(store: Store) -> None:
    db, prefix = store.backend, store.key("pods/")
    a, b = prefix + "a", prefix + "b"
    await db.create(a, b"a0")
    r1 = (await db.update(a, b"a1", (await db.get(a)).mod_revision)).revision
    await db.create(store.key("other/x"), b"not watched")
    rb = await db.create(b, b"b0")
    rd = (await db.delete(a)).revision

    watch = db.watch(prefix, r1)
    events = await take(watch, 3)
    assert [(e.type, e.kv.key, e.revision) for e in events] == [
        (EventType.PUT, a, r1), (EventType.PUT, b, rb), (EventType.DELETE, a, rd)]
    assert events[0].kv.value == b"a1" and events[0].prev.value == b"a0"
    assert events[1].prev is None and events[1].kv.create_revision == rb
    # A delete carries the value deleted, at the deletion's revision.
    assert (events[2].kv.value, events[2].kv.mod_revision, events[2].prev.value) == (b"a1", rd, b"a1")
    # Then the live events follow.
    rc = await db.create(prefix + "c", b"c0")
    assert [(e.kv.key, e.revision) for e in await take(watch, 1)] == [(prefix + "c", rc)]
    await nothing_more(watch)
    await watch.aclose()


async def test_watch_from_zero_starts_after_now(store: Store) -> None:
    db, prefix = store.backend, store.key("w/")
    await db.create(prefix + "old", b"old")
    watch = db.watch(prefix, 0)
    first = asyncio.ensure_future(anext(watch))
    written = []
    while not first.done() and len(written) < 200:  # write until the watch, once set up, sees one
        written.append(await db.create(f"{prefix}new-{len(written)}", b"new"))
        await asyncio.wait([first], timeout=0.05)
    event = await asyncio.wait_for(first, 10)
    assert event.kv.key.startswith(prefix + "new-") and event.revision in written
    later = await take(watch, len(written) - written.index(event.revision) - 1)
    assert [e.revision for e in later] == written[written.index(event.revision) + 1:]
    await watch.aclose()


async def test_watch_sees_1000_rapid_writes_in_order(store: Store) -> None:
    db, prefix = store.backend, store.key("rapid/")
    watch = db.watch(prefix, await db.current_revision() + 1)
    reader = asyncio.ensure_future(take(watch, 1000, timeout=40))
    revisions: list[int] = []

    async def writer(w: int) -> None:
        key = f"{prefix}{w}"
        rev = await db.create(key, b"0")
        revisions.append(rev)
        for i in range(1, 50):
            result = await db.update(key, str(i).encode(), rev)
            assert result.ok
            rev = result.revision
            revisions.append(rev)

    await asyncio.gather(*(writer(w) for w in range(20)))
    events = await reader
    assert [e.revision for e in events] == sorted(revisions)
    for e in events:  # each key's values arrive in the order written
        assert e.kv.mod_revision == e.revision
        if e.prev is not None:
            assert int(e.kv.value) == int(e.prev.value) + 1
    await nothing_more(watch)
    await watch.aclose()


# ---- compaction and failures (a store of the test's own) ------------------------------------------

async def test_compaction_makes_old_revisions_compacted(private_store: Store) -> None:
    db, key = private_store.backend, private_store.key("pods/a")
    old = await db.create(key, b"0")
    for i in range(1, 5):
        await db.update(key, str(i).encode(), (await db.get(key)).mod_revision)
    keep = await db.create(private_store.key("pods/b"), b"b")
    gone = await db.create(private_store.key("pods/c"), b"c")
    await db.delete(private_store.key("pods/c"))
    compact_at = await db.current_revision()
    after = await db.create(private_store.key("pods/d"), b"d")

    await db.compact(compact_at)
    await db.compact(old)  # compacting below the compact revision again is harmless

    for start in (old, compact_at):  # at the compact revision itself too: its delete is gone
        with pytest.raises(Compacted) as exc:
            await take(db.watch(private_store.prefix + "/", start), 1)
        assert (exc.value.requested_revision, exc.value.compact_revision) == (start, compact_at)
    with pytest.raises(Compacted) as exc:
        await db.list(private_store.prefix + "/", revision=gone)
    assert exc.value.compact_revision == compact_at
    # What is current survives compaction, and so do the changes after it.
    snapshot = await db.list(private_store.prefix + "/", revision=compact_at)
    assert [(kv.key, kv.value) for kv in snapshot.items] == [(key, b"4"), (private_store.key("pods/b"), b"b")]
    assert snapshot.items[1].mod_revision == keep
    events = await take(db.watch(private_store.prefix + "/", compact_at + 1), 1)
    assert (events[0].kv.key, events[0].revision) == (private_store.key("pods/d"), after)


async def test_watch_survives_etcd_restart_without_loss_or_repeats(private_etcd) -> None:
    db = EtcdBackend(private_etcd.endpoint, timeout=2.0, reconnect_timeout=20.0)
    try:
        start = await db.current_revision() + 1
        # Two watches: one read all along (it is waiting on the stream when etcd goes away), one
        # left half-read across the restart (its next read finds the stream gone).
        active, paused = db.watch("/registry/", start), db.watch("/registry/", start)
        collector = asyncio.ensure_future(take(active, 100, timeout=40))
        written = [await db.create(f"/registry/before/{i}", b"x") for i in range(50)]
        assert [e.revision for e in await take(paused, 25)] == written[:25]

        private_etcd.stop()
        with pytest.raises(Unavailable):
            await db.create("/registry/during", b"x")
        private_etcd.start()
        written += await _retry_create(db, [f"/registry/after/{i}" for i in range(50)])

        assert [e.revision for e in await collector] == written
        assert [e.revision for e in await take(paused, 75)] == written[25:]
        for watch in (active, paused):
            await nothing_more(watch)
            await watch.aclose()
    finally:
        await db.close()


async def _retry_create(db: EtcdBackend, keys: list[str]) -> list[int]:
    """Create keys in order, waiting out the moments in which a restarted etcd is not ready yet."""
    revisions = []
    for key in keys:
        for _ in range(100):
            try:
                revisions.append(await db.create(key, b"x"))
                break
            except Unavailable:
                await asyncio.sleep(0.1)
    return revisions


async def test_unreachable_etcd_is_unavailable() -> None:
    db = EtcdBackend(f"http://127.0.0.1:{free_port()}", timeout=1.0, reconnect_timeout=0.5)
    try:
        with pytest.raises(Unavailable):
            await db.get("/registry/x")
        with pytest.raises(Unavailable):
            await db.create("/registry/x", b"x")
        with pytest.raises(Unavailable):
            await take(db.watch("/registry/", 1), 1)
    finally:
        await db.close()


async def test_embedded_store_that_cannot_be_opened_is_unavailable(tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data dir should be")
    with pytest.raises(Unavailable):
        SqliteBackend(blocker / "db")


async def test_closing_the_backend_ends_its_watches(store: Store) -> None:
    db = store.open_another()
    watch = db.watch(store.key(""), 0)
    pending = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0.2)
    await db.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, 5)
    with pytest.raises(Unavailable):
        await db.get(store.key("x"))


async def test_empty_prefix_is_every_key(private_store: Store) -> None:
    db = private_store.backend
    keys = ["/a", "/registry/pods/x", "/zz"]
    for key in keys:
        await db.create(key, b"v")
    assert [kv.key for kv in (await db.list("")).items] == keys
    assert await db.count("") == 3
    events = await take(db.watch("", 1), 3)
    assert [e.kv.key for e in events] == keys
