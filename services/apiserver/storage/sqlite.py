"""The embedded backend: the storage interface on one SQLite file (WAL), like k3s's kine.

Guarantees (those of `base.py`, checked by the shared storage test suite):
- One global revision counter: the `log` table's AUTOINCREMENT row id. Every write appends one log
  row (key, value, create revision, previous revision, created/deleted flags) in the same
  transaction that updates `current` (the latest live value of each key, so reads at the current
  revision never scan history). Revisions are never reused, even after compaction.
- `create`/`update`/`delete` are compare-and-swap inside one write transaction; a lost race is a
  `WriteResult(ok=False)` with the current value.
- A list at a past revision reads the log as it was at that revision: a consistent snapshot for
  every page of a paged list, until that revision is compacted.
- `watch` yields every change under a prefix from `start_revision` on, in revision order, none
  missed or repeated. One tail task reads each new log row once for all watchers and keeps the
  newest `TAIL_EVENTS` in memory; a watcher serves itself from there when that window covers its
  next revision, else from the log (each read is a snapshot; the first read always goes to the log,
  to check the start against compaction). The tail wakes on this backend's own writes at once, and
  polls for writes made by another process.
- `compact(revision)` drops history superseded at `revision`; reading or watching below it raises
  `Compacted`.
- SQLite never runs on the event loop: writes go to one writer thread, which commits every write
  queued while it was busy in one transaction (group commit); reads use a reader thread with its own
  connection (WAL lets readers run beside the writer). Any SQLite error is `Unavailable`.
"""

from __future__ import annotations

import asyncio
import bisect
import concurrent.futures
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from services.apiserver.storage.base import (
    Compacted,
    EventType,
    FutureRevision,
    KeyExists,
    KeyValue,
    ListResult,
    Unavailable,
    WatchEvent,
    WriteResult,
)
from shared.logging import get_logger

log = get_logger()

DB_FILE = "kubemu.db"
WATCH_BATCH = 1000  # log rows a watcher reads per query
TAIL_EVENTS = 2_000  # newest events (up to twice as many) kept in memory for watchers caught up
POLL_INTERVAL = 0.5  # seconds; only for writes made by another process (ours wake watchers at once)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- the revision of this change
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,         -- 0: the key did not exist before
    value BLOB NOT NULL                     -- for a delete: the value deleted
);
CREATE INDEX IF NOT EXISTS log_name_id ON log (name, id);
CREATE TABLE IF NOT EXISTS current (
    name TEXT PRIMARY KEY,
    create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (name, value) VALUES ('compact_revision', 0);
"""

# Like etcd, an empty store is at revision 1; the first write gets revision 2.
_SEED_REVISION = "INSERT INTO sqlite_sequence (name, seq) SELECT 'log', 1 " \
                 "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'log')"

_AT_REVISION = """
SELECT l.name, l.value, l.create_revision, l.id FROM log l
JOIN (SELECT name, MAX(id) AS id FROM log WHERE name >= ? AND name < ? AND id <= ? GROUP BY name) m
  ON l.id = m.id
WHERE l.deleted = 0 ORDER BY l.name LIMIT ?
"""

_EVENTS = """
SELECT l.id, l.name, l.deleted, l.create_revision, l.value, p.id, p.create_revision, p.value
FROM log l LEFT JOIN log p ON p.id = l.prev_revision AND l.prev_revision > 0
WHERE l.id >= ? AND l.name >= ? AND l.name < ? ORDER BY l.id LIMIT ?
"""

_TAIL = """
SELECT l.id, l.name, l.deleted, l.create_revision, l.value, p.id, p.create_revision, p.value
FROM log l LEFT JOIN log p ON p.id = l.prev_revision AND l.prev_revision > 0
WHERE l.id > ? ORDER BY l.id LIMIT ?
"""

_COMPACT = """
DELETE FROM log WHERE id <= :rev AND (deleted = 1 OR id < (
    SELECT MAX(l2.id) FROM log l2 WHERE l2.name = log.name AND l2.id <= :rev))
"""

_MAX_KEY = "\U0010ffff"


def prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` (code point order,
    which is SQLite's BINARY order on UTF-8 and etcd's byte order)."""
    for i in range(len(prefix) - 1, -1, -1):
        if prefix[i] != _MAX_KEY:
            return prefix[:i] + chr(ord(prefix[i]) + 1)
    return _MAX_KEY * 2  # empty prefix: everything (keys never start with U+10FFFF twice)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: a commit never leaves the file corrupt; a power cut may lose the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")
    return conn


class _Batch:
    """Writes queued while the writer was busy; committed together in one transaction."""

    def __init__(self) -> None:
        self.ops: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = []


class _Tail:
    """The newest events of the whole store, read once for all watchers. Covers the revisions
    (start, rev]: every event in that range is in `events`, in order. Not ready until it knows the
    revision it starts at."""

    def __init__(self) -> None:
        self.ready = False
        self.start = self.rev = 0
        self.events: list[WatchEvent] = []
        self.revisions: list[int] = []
        self.changed = asyncio.Event()

    def covers(self, revision: int) -> bool:
        return self.ready and revision > self.start

    def since(self, revision: int, prefix: str, end: str) -> list[WatchEvent]:
        i = bisect.bisect_left(self.revisions, revision)
        return [e for e in self.events[i:] if prefix <= e.kv.key < end]

    def begin(self, revision: int) -> None:
        """Cover nothing, from `revision` on (at the first read, or after a compaction overtook us:
        the history we had not read yet may be gone, so watchers below it must ask the log)."""
        self.start = self.rev = revision
        self.events, self.revisions = [], []
        self.ready = True

    def add(self, events: list[WatchEvent], upto: int) -> None:
        self.events.extend(events)
        self.revisions.extend(e.revision for e in events)
        self.rev = upto
        if len(self.events) > 2 * TAIL_EVENTS:  # trim in chunks: the slice copy is O(n)
            drop = len(self.events) - TAIL_EVENTS
            self.start = self.revisions[drop - 1]
            del self.events[:drop], self.revisions[:drop]
        self.changed.set()
        self.changed = asyncio.Event()


class SqliteBackend:
    """The storage `Backend` on a SQLite file in `data_dir`."""

    def __init__(self, data_dir: str | Path, *, poll_interval: float = POLL_INTERVAL) -> None:
        self.path = Path(data_dir) / DB_FILE
        self._poll_interval = poll_interval
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._wconn = _connect(self.path)
            self._wconn.executescript(_SCHEMA)
            self._wconn.execute(_SEED_REVISION)
            self._rconn = _connect(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise Unavailable(f"cannot open the embedded store at {self.path}: {exc}") from exc
        self._writer_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sqlite-reader")
        self._queued: _Batch | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._tail = _Tail()
        self._tail_task: asyncio.Task[None] | None = None
        self._closed = False

    # ---- reads -------------------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        return await self._read(self._get, key)

    async def list(
        self, prefix: str, *, limit: int = 0, continue_key: str | None = None, revision: int = 0
    ) -> ListResult:
        return await self._read(self._list, prefix, limit, continue_key, revision)

    async def count(self, prefix: str) -> int:
        return await self._read(self._count, prefix)

    async def current_revision(self) -> int:
        return await self._read(_revision, self._rconn)

    def _get(self, key: str) -> KeyValue | None:
        row = self._rconn.execute(
            "SELECT value, create_revision, mod_revision FROM current WHERE name = ?", (key,)).fetchone()
        return KeyValue(key, row[0], row[1], row[2]) if row else None

    def _count(self, prefix: str) -> int:
        return self._rconn.execute(
            "SELECT COUNT(*) FROM current WHERE name >= ? AND name < ?", (prefix, prefix_end(prefix))).fetchone()[0]

    def _list(self, prefix: str, limit: int, continue_key: str | None, revision: int) -> ListResult:
        conn = self._rconn
        start = max(prefix, continue_key) if continue_key else prefix
        fetch = limit + 1 if limit else -1  # one more than asked tells whether more remain
        conn.execute("BEGIN")  # one read transaction: one snapshot for revision and rows
        try:
            current = _revision(conn)
            if revision:
                _check_readable(conn, revision, current)
                rows = conn.execute(_AT_REVISION, (start, prefix_end(prefix), revision, fetch)).fetchall()
            else:
                rows = conn.execute(
                    "SELECT name, value, create_revision, mod_revision FROM current "
                    "WHERE name >= ? AND name < ? ORDER BY name LIMIT ?", (start, prefix_end(prefix), fetch)).fetchall()
        finally:
            conn.execute("COMMIT")
        more = bool(limit) and len(rows) > limit
        items = [KeyValue(r[0], r[1], r[2], r[3]) for r in (rows[:limit] if more else rows)]
        return ListResult(items, revision or current, more)

    # ---- writes ------------------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> int:
        return await self._write(_create, key, value)

    async def update(self, key: str, value: bytes, expected_revision: int) -> WriteResult:
        return await self._write(_update, key, value, expected_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> WriteResult:
        return await self._write(_delete, key, expected_revision)

    async def compact(self, revision: int) -> None:
        await self._write(_compact, revision)

    # ---- watch -------------------------------------------------------------------------------

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[WatchEvent]:
        end = prefix_end(prefix)
        next_rev = start_revision or await self.current_revision() + 1
        tail = self._follow_tail()
        from_log = True  # the first read goes to the log: it checks the start against compaction
        while not self._closed:
            changed = tail.changed  # taken before reading, so an event added meanwhile wakes us
            if from_log or not tail.covers(next_rev):
                try:
                    events, upto = await self._read(self._events, prefix, end, next_rev)
                except Unavailable:
                    if self._closed:
                        return  # closed under us: the watch just ends
                    raise
                from_log, caught_up = False, len(events) < WATCH_BATCH
            else:
                events, upto, caught_up = tail.since(next_rev, prefix, end), tail.rev, True
            for event in events:
                yield event
            next_rev = max(next_rev, upto + 1)
            if caught_up:
                await _wait(changed, self._poll_interval)

    def _events(self, prefix: str, end: str, start: int) -> tuple[list[WatchEvent], int]:
        """Events under the prefix from `start` on, and the revision up to which they are all there."""
        conn = self._rconn
        conn.execute("BEGIN")
        try:
            compacted = _compact_revision(conn)
            if start <= compacted:
                raise Compacted(start, compacted)
            current = _revision(conn)
            rows = conn.execute(_EVENTS, (start, prefix, end, WATCH_BATCH)).fetchall()
        finally:
            conn.execute("COMMIT")
        events = [_event(row) for row in rows]
        return events, events[-1].revision if len(events) == WATCH_BATCH else current

    def _follow_tail(self) -> _Tail:
        if self._tail_task is None:
            self._tail_task = asyncio.create_task(self._run_tail())
        return self._tail

    async def _run_tail(self) -> None:
        """Read every new log row once, for all watchers; woken by our writes, else polling."""
        tail = self._tail
        try:
            while not self._closed:
                wake = self._wake
                try:
                    if not tail.ready:
                        tail.begin(await self.current_revision())
                    events, upto, compacted = await self._read(self._tail_rows, tail.rev)
                except Unavailable:  # watchers reading the log see it too; try again later
                    events, upto, compacted = [], tail.rev, 0
                if compacted > tail.rev:
                    tail.begin(compacted)
                    continue
                if events or upto > tail.rev:
                    tail.add(events, upto)
                if len(events) < WATCH_BATCH:
                    await _wait(wake, self._poll_interval)
        except Exception:  # noqa: BLE001 - a bug here must not stall the watchers
            log.exception("storage.watch_tail_failed", path=str(self.path))
        finally:
            tail.ready = False  # watchers go back to reading the log (polling)
            tail.add([], tail.rev)  # and wake up now: to end, or to notice

    def _tail_rows(self, after: int) -> tuple[list[WatchEvent], int, int]:
        """Every change after `after`, the revision up to which they are all there, the compact revision."""
        conn = self._rconn
        conn.execute("BEGIN")
        try:
            compacted = _compact_revision(conn)
            current = _revision(conn)
            rows = conn.execute(_TAIL, (after, WATCH_BATCH)).fetchall()
        finally:
            conn.execute("COMMIT")
        events = [_event(row) for row in rows]
        return events, events[-1].revision if len(events) == WATCH_BATCH else current, compacted

    # ---- plumbing ----------------------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._tail_task is not None:
            await asyncio.gather(self._tail_task, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer_pool, self._wconn.close)
        await loop.run_in_executor(self._reader_pool, self._rconn.close)
        self._writer_pool.shutdown(wait=False)
        self._reader_pool.shutdown(wait=False)

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._closed:
            raise Unavailable("the embedded store is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._reader_pool, fn, *args)
        except sqlite3.Error as exc:
            raise Unavailable(f"sqlite: {exc}") from exc

    async def _write(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._closed:
            raise Unavailable("the embedded store is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._queued is None:
            self._queued = _Batch()
        self._queued.ops.append((fn, args, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queued is not None:
            batch, self._queued = self._queued, None
            try:
                results = await loop.run_in_executor(self._writer_pool, self._commit, batch)
            except sqlite3.Error as exc:
                results = [Unavailable(f"sqlite: {exc}")] * len(batch.ops)
            except BaseException as exc:  # noqa: BLE001 - every waiting writer must hear of it
                results = [Unavailable(f"sqlite writer failed: {exc!r}")] * len(batch.ops)
            for (_, _, future), result in zip(batch.ops, results):
                if future.done():  # the caller gave up (timeout); the write may still have happened
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            self._wake.set()
            self._wake = asyncio.Event()

    def _commit(self, batch: _Batch) -> list[Any]:
        conn = self._wconn
        conn.execute("BEGIN IMMEDIATE")
        results: list[Any] = []
        try:
            for fn, args, _ in batch.ops:
                try:
                    results.append(fn(conn, *args))
                except (KeyExists, FutureRevision) as exc:  # checked before writing: nothing to undo
                    results.append(exc)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return results


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Until `event` is set or `timeout` passes (asyncio.timeout: no extra task, unlike wait_for)."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        pass


# ---- statements run in the writer thread, inside its transaction ------------------------------

def _revision(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'log'").fetchone()[0]


def _compact_revision(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT value FROM meta WHERE name = 'compact_revision'").fetchone()[0]


def _check_readable(conn: sqlite3.Connection, revision: int, current: int) -> None:
    if revision > current:
        raise FutureRevision(revision, current)
    compacted = _compact_revision(conn)
    if revision < compacted:  # the snapshot at the compact revision itself is kept, as in etcd
        raise Compacted(revision, compacted)


def _current(conn: sqlite3.Connection, key: str) -> KeyValue | None:
    row = conn.execute(
        "SELECT value, create_revision, mod_revision FROM current WHERE name = ?", (key,)).fetchone()
    return KeyValue(key, row[0], row[1], row[2]) if row else None


def _append(conn: sqlite3.Connection, key: str, *, created: bool, deleted: bool, create_revision: int,
            prev_revision: int, value: bytes) -> int:
    cur = conn.execute(
        "INSERT INTO log (name, created, deleted, create_revision, prev_revision, value) VALUES (?, ?, ?, ?, ?, ?)",
        (key, int(created), int(deleted), create_revision, prev_revision, value))
    return cur.lastrowid


def _create(conn: sqlite3.Connection, key: str, value: bytes) -> int:
    if _current(conn, key) is not None:
        raise KeyExists(key)
    rev = _append(conn, key, created=True, deleted=False, create_revision=0, prev_revision=0, value=value)
    conn.execute("UPDATE log SET create_revision = ? WHERE id = ?", (rev, rev))
    conn.execute("INSERT INTO current (name, create_revision, mod_revision, value) VALUES (?, ?, ?, ?)",
                 (key, rev, rev, value))
    return rev


def _update(conn: sqlite3.Connection, key: str, value: bytes, expected_revision: int) -> WriteResult:
    cur = _current(conn, key)
    if cur is None or cur.mod_revision != expected_revision:
        return WriteResult(False, _revision(conn), cur)
    rev = _append(conn, key, created=False, deleted=False, create_revision=cur.create_revision,
                  prev_revision=cur.mod_revision, value=value)
    conn.execute("UPDATE current SET mod_revision = ?, value = ? WHERE name = ?", (rev, value, key))
    return WriteResult(True, rev, KeyValue(key, value, cur.create_revision, rev))


def _delete(conn: sqlite3.Connection, key: str, expected_revision: int) -> WriteResult:
    cur = _current(conn, key)
    if cur is None or (expected_revision and cur.mod_revision != expected_revision):
        return WriteResult(False, _revision(conn), cur)
    rev = _append(conn, key, created=False, deleted=True, create_revision=cur.create_revision,
                  prev_revision=cur.mod_revision, value=cur.value)
    conn.execute("DELETE FROM current WHERE name = ?", (key,))
    return WriteResult(True, rev, cur)


def _compact(conn: sqlite3.Connection, revision: int) -> None:
    current = _revision(conn)
    if revision > current:
        raise FutureRevision(revision, current)
    if revision <= _compact_revision(conn):
        return  # already compacted there: nothing to do (etcd would say "compacted"; callers need not care)
    conn.execute(_COMPACT, {"rev": revision})
    conn.execute("UPDATE meta SET value = ? WHERE name = 'compact_revision'", (revision,))


def _event(row: tuple[Any, ...]) -> WatchEvent:
    rev, name, deleted, create_rev, value, prev_rev, prev_create, prev_value = row
    prev = KeyValue(name, prev_value, prev_create, prev_rev) if prev_rev is not None else None
    return WatchEvent(EventType.DELETE if deleted else EventType.PUT,
                      KeyValue(name, value, create_rev, rev), prev, rev)
