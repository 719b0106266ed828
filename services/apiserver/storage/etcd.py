"""The etcd backend: the storage interface over etcd v3, through aetcd's raw gRPC stubs.

Guarantees (those of `base.py`, checked by the shared storage test suite):
- Revisions are etcd's: an object's `mod_revision` is its resourceVersion.
- `create` is a Txn comparing `create_revision == 0`; `update`/`delete` a Txn comparing
  `mod_revision == expected` whose failure branch reads the key, so a lost race comes back in the
  same round trip with the current value. The new revision is the Txn header's revision.
- `list` is one `Range` (key range end for the prefix, `limit`, `revision`): a page read at a
  revision is a consistent snapshot, as in etcd.
- `watch` is its own gRPC Watch stream (prev_kv on). When the connection is lost (etcd restarted)
  it re-creates the watch from the last delivered `mod_revision` + 1, so no event is lost or
  repeated; it gives up with `Unavailable` after `reconnect_timeout` seconds without etcd. A
  compacted start revision raises `Compacted` with the compact revision etcd reports.
- Every unary call has a deadline (`timeout`); UNAVAILABLE and DEADLINE_EXCEEDED become
  `Unavailable` at once (the channel's reconnect backoff is short, so a restarted etcd is found fast).
Keys are full strings: prefixes are the caller's concern.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

# gRPC's fork support (on by default) aborts or fails any child forked with a preexec_fn while its
# threads run; we never use gRPC across a fork, so turn it off before grpc is first imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import aetcd  # noqa: E402
import grpc  # noqa: E402
from aetcd import rpc  # noqa: E402

from services.apiserver.storage.base import (
    Compacted,
    EventType,
    FutureRevision,
    KeyExists,
    KeyValue,
    ListResult,
    StorageError,
    Unavailable,
    WatchEvent,
    WriteResult,
)

_CHANNEL_OPTIONS = {
    # Find a restarted etcd within ~1 s instead of gRPC's default backoff (up to 2 min).
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.min_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 1000,
    # Notice a silently dead connection (etcd's default keepalive enforcement allows 5 s).
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 5_000,
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    "grpc.max_send_message_length": 16 * 1024 * 1024,
}
CREATED_CACHE = 100_000  # versions whose create_revision update() can know without asking etcd
_UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
# A watch stream that ends with one of these is resumed; anything else is a real error.
_RESUMABLE = _UNREACHABLE | {grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}


def prefix_range(prefix: str) -> tuple[bytes, bytes]:
    """etcd's (key, range_end) for every key starting with `prefix` (the empty prefix: all keys)."""
    raw = prefix.encode()
    return raw or b"\0", prefix_end(raw)


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range end for "every key starting with `prefix`" (b"\\0": to the end of the keyspace)."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"


def parse_servers(servers: str) -> tuple[str, int]:
    """The first endpoint of "--etcd-servers" ("http://127.0.0.1:2379,..."): (host, port)."""
    first = servers.split(",")[0].strip()
    url = urlsplit(first if "://" in first else f"http://{first}")
    if url.scheme not in ("http", ""):
        raise ValueError(f"etcd endpoint {first!r}: only plain http (loopback) endpoints are supported")
    return url.hostname or "127.0.0.1", url.port or 2379


class EtcdBackend:
    """The storage `Backend` on an etcd cluster (its first endpoint)."""

    def __init__(self, servers: str, *, timeout: float = 5.0, reconnect_timeout: float = 30.0) -> None:
        self.servers = servers
        host, port = parse_servers(servers)
        self.client = aetcd.Client(host=host, port=port, timeout=timeout, options=_CHANNEL_OPTIONS)
        self._timeout = timeout
        self._reconnect_timeout = reconnect_timeout
        self._kv: rpc.KVStub | None = None
        self._watch_stub: rpc.WatchStub | None = None
        # key -> (mod_revision, create_revision) of versions seen lately (bounded; oldest dropped).
        self._created: dict[str, tuple[int, int]] = {}
        self._closed = False

    # ---- reads -------------------------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        resp = await self._range(rpc.RangeRequest(key=key.encode()))
        return self._seen(_kv(resp.kvs[0])) if resp.kvs else None

    async def list(
        self, prefix: str, *, limit: int = 0, continue_key: str | None = None, revision: int = 0
    ) -> ListResult:
        key, end = prefix_range(prefix)
        if continue_key and continue_key > prefix:
            key = continue_key.encode()
        req = rpc.RangeRequest(key=key, range_end=end, limit=limit, revision=revision)
        resp = await self._range(req, revision)
        # etcd's header says the current revision; the page was read at `revision` when one was given.
        return ListResult([_kv(kv) for kv in resp.kvs], revision or resp.header.revision, resp.more)

    async def count(self, prefix: str) -> int:
        key, end = prefix_range(prefix)
        resp = await self._range(rpc.RangeRequest(key=key, range_end=end, count_only=True))
        return resp.count

    async def current_revision(self) -> int:
        # A count over one (absent or not) key: the cheapest read that returns the header.
        resp = await self._range(rpc.RangeRequest(key=b"\0", count_only=True))
        return resp.header.revision

    # ---- writes ------------------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> int:
        raw = key.encode()
        resp = await self._txn(rpc.TxnRequest(
            compare=[rpc.Compare(result=rpc.Compare.EQUAL, target=rpc.Compare.CREATE, key=raw, create_revision=0)],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=value))],
        ))
        if not resp.succeeded:
            raise KeyExists(key)
        rev = resp.header.revision
        self._remember(key, rev, rev)
        return rev

    async def update(self, key: str, value: bytes, expected_revision: int) -> WriteResult:
        if expected_revision <= 0:  # etcd would match an absent key's mod_revision 0 and create it
            return WriteResult(False, await self.current_revision(), await self.get(key))
        raw = key.encode()
        # The new value's create_revision is the old one's. Known when this backend has seen the
        # version being replaced (it almost always has: the caller read it from us); else etcd
        # sends the old value back (prev_kv), which costs it a read and us ~8% throughput.
        created = self._created.get(key)
        create_revision = created[1] if created is not None and created[0] == expected_revision else 0
        resp = await self._txn(rpc.TxnRequest(
            compare=[_mod_equals(raw, expected_revision)],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=value, prev_kv=not create_revision))],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=raw))],
        ))
        rev = resp.header.revision
        if not resp.succeeded:
            return WriteResult(False, rev, self._seen(_first_range_kv(resp)))
        create_revision = create_revision or resp.responses[0].response_put.prev_kv.create_revision
        return WriteResult(True, rev, self._seen(KeyValue(key, value, create_revision, rev)))

    async def delete(self, key: str, expected_revision: int = 0) -> WriteResult:
        raw = key.encode()
        compare = [_mod_equals(raw, expected_revision)] if expected_revision else \
            [rpc.Compare(result=rpc.Compare.GREATER, target=rpc.Compare.CREATE, key=raw, create_revision=0)]
        resp = await self._txn(rpc.TxnRequest(
            compare=compare,
            success=[rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=raw, prev_kv=True))],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=raw))],
        ))
        rev = resp.header.revision
        if not resp.succeeded:
            return WriteResult(False, rev, _first_range_kv(resp))
        deleted = resp.responses[0].response_delete_range.prev_kvs
        self._created.pop(key, None)
        return WriteResult(True, rev, _kv(deleted[0]) if deleted else None)

    async def compact(self, revision: int) -> None:
        kv = await self._stub()
        try:
            await kv.Compact(rpc.CompactionRequest(revision=revision), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if "compacted" in (exc.details() or ""):
                return  # already compacted there: nothing to do
            raise await self._error(exc, revision) from exc

    # ---- watch -------------------------------------------------------------------------------

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[WatchEvent]:
        raw, end = prefix_range(prefix)
        next_rev = start_revision
        failing_since: float | None = None
        while True:
            call = None
            try:
                # From one revision early: etcd serves a watch that starts exactly at its compact
                # revision but drops the deletes made at it, so that start must fail as Compacted,
                # and only a watch from below it makes etcd say so. The early events are skipped.
                call, created_rev = await self._open_watch(raw, end, next_rev - 1 if next_rev > 1 else next_rev)
                failing_since = None
                next_rev = next_rev or created_rev + 1
                while True:
                    resp = await call.read()
                    if resp is grpc.aio.EOF:
                        break
                    if resp.compact_revision:
                        raise Compacted(next_rev, resp.compact_revision)
                    if resp.canceled:
                        break
                    for event in resp.events:
                        if event.kv.mod_revision < next_rev:
                            continue  # the revision before the start, or delivered already
                        # Advance before yielding: the consumer has this event once we hand it over.
                        next_rev = event.kv.mod_revision + 1
                        yield self._watched(_event(event))
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in _RESUMABLE:
                    raise StorageError(f"etcd watch: {exc.code().name}: {exc.details()}") from exc
            except Compacted as exc:
                raise Compacted(next_rev, exc.compact_revision) from None  # the revision the caller wanted
            except (Unavailable, TimeoutError):
                pass
            except asyncio.CancelledError:
                # gRPC cancels the calls of a channel being closed; our own task's cancellation stays one.
                if self._closed and not asyncio.current_task().cancelling():
                    return
                raise
            finally:
                if call is not None:
                    call.cancel()
            if self._closed:
                return  # closed under us: the watch just ends
            # The stream ended or etcd went away: resume from next_rev after a short pause.
            failing_since = failing_since or time.monotonic()
            if time.monotonic() - failing_since > self._reconnect_timeout:
                raise Unavailable(f"etcd at {self.servers} unreachable for {self._reconnect_timeout:.0f}s (watch)")
            await asyncio.sleep(0.1)

    async def _open_watch(self, key: bytes, end: bytes, start: int) -> tuple[grpc.aio.StreamStreamCall, int]:
        """A new Watch stream, created (etcd answered `created`); raises Compacted, Unavailable."""
        await self._stub()
        call = self._watch_stub.Watch()
        try:
            await call.write(rpc.WatchRequest(create_request=rpc.WatchCreateRequest(
                key=key, range_end=end, start_revision=start, prev_kv=True)))
            resp = await asyncio.wait_for(call.read(), self._timeout)
        except BaseException:
            call.cancel()
            raise
        if resp is grpc.aio.EOF or not resp.created:
            call.cancel()
            raise Unavailable("etcd did not create the watch")
        if resp.compact_revision:
            call.cancel()
            raise Compacted(start, resp.compact_revision)
        if resp.canceled:
            call.cancel()
            raise StorageError(f"etcd refused the watch: {resp.cancel_reason}")
        return call, resp.header.revision

    # ---- plumbing ----------------------------------------------------------------------------

    def _remember(self, key: str, mod_revision: int, create_revision: int) -> None:
        created = self._created
        created[key] = (mod_revision, create_revision)
        if len(created) > CREATED_CACHE:
            del created[next(iter(created))]

    def _seen(self, kv: KeyValue | None) -> KeyValue | None:
        if kv is not None:
            self._remember(kv.key, kv.mod_revision, kv.create_revision)
        return kv

    def _watched(self, event: WatchEvent) -> WatchEvent:
        if event.type is EventType.PUT:
            self._remember(event.kv.key, event.kv.mod_revision, event.kv.create_revision)
        else:
            self._created.pop(event.kv.key, None)
        return event

    async def close(self) -> None:
        self._closed = True  # before the channel closes: watches that see it close then end
        await self.client.close()
        self._kv = self._watch_stub = None

    async def _stub(self) -> rpc.KVStub:
        if self._closed:
            raise Unavailable("the etcd backend is closed")
        if self._kv is None:
            await self.client.connect()
            self._kv = self.client.kvstub
            self._watch_stub = rpc.WatchStub(self.client.channel)
        return self._kv

    async def _range(self, req: rpc.RangeRequest, revision: int = 0) -> rpc.RangeResponse:
        kv = self._kv or await self._stub()
        try:
            return await kv.Range(req, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise await self._error(exc, revision) from exc

    async def _txn(self, req: rpc.TxnRequest) -> rpc.TxnResponse:
        kv = self._kv or await self._stub()
        try:
            return await kv.Txn(req, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise await self._error(exc) from exc

    async def _error(self, exc: grpc.aio.AioRpcError, revision: int = 0) -> StorageError:
        details = exc.details() or ""
        if exc.code() in _UNREACHABLE:
            return Unavailable(f"etcd at {self.servers}: {exc.code().name}: {details}")
        if "required revision has been compacted" in details:
            return Compacted(revision, await self._compact_revision())
        if "required revision is a future revision" in details:
            return FutureRevision(revision, await self.current_revision())
        return StorageError(f"etcd: {exc.code().name}: {details}")

    async def _compact_revision(self) -> int:
        """etcd reports its compact revision only to a watch that starts below it: ask one."""
        call = None
        try:
            # One absent key from revision 1: no history streams back, only the compaction notice.
            call, _ = await self._open_watch(b"\0", b"", 1)
            resp = await asyncio.wait_for(call.read(), min(self._timeout, 2.0))
            return 0 if resp is grpc.aio.EOF else resp.compact_revision
        except Compacted as exc:
            return exc.compact_revision
        except (TimeoutError, Unavailable, grpc.aio.AioRpcError):
            return 0  # unknown
        finally:
            if call is not None:
                call.cancel()


def _mod_equals(key: bytes, revision: int) -> rpc.Compare:
    return rpc.Compare(result=rpc.Compare.EQUAL, target=rpc.Compare.MOD, key=key, mod_revision=revision)


def _kv(kv: rpc.KeyValue) -> KeyValue:
    return KeyValue(kv.key.decode(), kv.value, kv.create_revision, kv.mod_revision)


def _first_range_kv(resp: rpc.TxnResponse) -> KeyValue | None:
    kvs = resp.responses[0].response_range.kvs
    return _kv(kvs[0]) if kvs else None


def _event(event: rpc.Event) -> WatchEvent:
    kv, prev = event.kv, event.prev_kv
    prev_kv = _kv(prev) if prev.mod_revision else None
    if event.type == rpc.Event.DELETE:
        # etcd's delete event carries no value; the interface gives the deleted one.
        gone = KeyValue(kv.key.decode(), prev.value, prev.create_revision, kv.mod_revision)
        return WatchEvent(EventType.DELETE, gone, prev_kv, kv.mod_revision)
    return WatchEvent(EventType.PUT, _kv(kv), prev_kv, kv.mod_revision)
