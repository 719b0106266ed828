"""Parsing of Kubernetes resource quantities ("500m", "1Gi", "2", "1e3") into integers.

Guarantees: `milli_value` and `value` round up like apimachinery's `Quantity.MilliValue()`
and `Quantity.Value()`; a malformed quantity raises ValueError. Results are memoised because a
cluster repeats the same few strings ("100m", "128Mi") many thousands of times.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|([a-zA-Z]*))$")


@functools.lru_cache(maxsize=4096)
def parse(quantity: str | int | float) -> Fraction:
    """The exact value of `quantity` (a string, or a bare number as YAML may give)."""
    if isinstance(quantity, (int, float)) and not isinstance(quantity, bool):
        return Fraction(quantity)
    match = _QUANTITY.match(str(quantity).strip())
    if match is None:
        raise ValueError(f"quantities must match the regular expression '{_QUANTITY.pattern}': {quantity!r}")
    number, exponent, suffix = match.groups()
    if exponent:
        return Fraction(number) * Fraction(10) ** int(exponent[1:])
    if suffix not in _SUFFIXES:
        raise ValueError(f"unknown quantity suffix {suffix!r} in {quantity!r}")
    return Fraction(number) * _SUFFIXES[suffix]


@functools.lru_cache(maxsize=4096)
def milli_value(quantity: str | int | float) -> int:
    """`quantity` in thousandths, rounded up ("100m" -> 100, "1" -> 1000, "0.0001" -> 1)."""
    return math.ceil(parse(quantity) * 1000)


@functools.lru_cache(maxsize=4096)
def value(quantity: str | int | float) -> int:
    """`quantity` as a whole number, rounded up ("1Ki" -> 1024, "1500m" -> 2)."""
    return math.ceil(parse(quantity))
