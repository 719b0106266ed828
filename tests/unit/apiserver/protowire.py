"""Protobuf wire-format builders for tests of the API server's protobuf decoding: the bytes
kubectl sends, field by field."""

from __future__ import annotations


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def ld(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings, bytes, embedded messages."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def vi(number: int, value: int) -> bytes:
    """A varint field (wire type 0): ints and bools."""
    return varint(number << 3) + varint(value)
