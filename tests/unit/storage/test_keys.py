"""Key ranges, endpoint parsing and the backend factory: pure functions, tables of cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.apiserver.storage import open_backend
from services.apiserver.storage import etcd, sqlite


@pytest.mark.parametrize("prefix, end", [
    (b"/registry/pods/", b"/registry/pods0"),
    (b"a", b"b"),
    (b"a\xff", b"b"),
    (b"\xff\xff", b"\0"),  # nothing above: to the end of the keyspace
    (b"", b"\0"),
])
def test_etcd_prefix_end(prefix: bytes, end: bytes) -> None:
    assert etcd.prefix_end(prefix) == end


@pytest.mark.parametrize("prefix, key, end", [
    ("/registry/pods/", b"/registry/pods/", b"/registry/pods0"),
    ("", b"\0", b"\0"),  # etcd needs a key: the empty prefix is "every key from \0 on"
])
def test_etcd_prefix_range(prefix: str, key: bytes, end: bytes) -> None:
    assert etcd.prefix_range(prefix) == (key, end)


@pytest.mark.parametrize("prefix, inside, outside", [
    ("/registry/pods/", ["/registry/pods/", "/registry/pods/ns/a", "/registry/pods/\U0001f600"],
     ["/registry/pods0", "/registry/pod", "/registry/podsx"]),
    ("a\U0010ffff", ["a\U0010ffff", "a\U0010ffffz"], ["b", "a"]),
    ("", ["", "/x", "\U0010fffe"], []),
])
def test_sqlite_prefix_end_bounds_exactly_the_prefix(prefix: str, inside: list[str], outside: list[str]) -> None:
    end = sqlite.prefix_end(prefix)
    for key in inside:
        assert prefix <= key < end, key
    for key in outside:
        assert not (prefix <= key < end), key


@pytest.mark.parametrize("servers, host_port", [
    ("http://127.0.0.1:23790", ("127.0.0.1", 23790)),
    ("http://127.0.0.1:2379,http://127.0.0.2:2379", ("127.0.0.1", 2379)),
    ("127.0.0.1:4001", ("127.0.0.1", 4001)),
    ("http://localhost", ("localhost", 2379)),
])
def test_parse_servers(servers: str, host_port: tuple[str, int]) -> None:
    assert etcd.parse_servers(servers) == host_port


def test_parse_servers_refuses_tls_endpoints() -> None:
    with pytest.raises(ValueError):
        etcd.parse_servers("https://127.0.0.1:2379")


async def test_open_backend_picks_etcd_when_servers_are_given(tmp_path: Path) -> None:
    backend = open_backend(etcd_servers="http://127.0.0.1:2379", data_dir=str(tmp_path))
    assert isinstance(backend, etcd.EtcdBackend)
    await backend.close()


async def test_open_backend_embedded_in_data_dir(tmp_path: Path) -> None:
    backend = open_backend(etcd_servers=None, data_dir=str(tmp_path / "data"))
    assert isinstance(backend, sqlite.SqliteBackend)
    assert backend.path.parent == tmp_path / "data"
    await backend.close()


def test_open_backend_needs_a_store() -> None:
    with pytest.raises(ValueError):
        open_backend(etcd_servers=None, data_dir=None)
