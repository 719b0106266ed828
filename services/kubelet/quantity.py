"""The two quantity conversions the kubelet needs: CPU in millicores and memory in bytes.

Guarantees: `cpu_milli("1.5") == 1500`, `cpu_milli("250m") == 250`, `memory_bytes("128Mi") ==
134217728`, `memory_bytes("1G") == 10**9`, `memory_bytes("2e3") == 2000`; values round up, as
Kubernetes' `MilliValue`/`Value` do; a malformed quantity raises ValueError.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse(text: str | int | float) -> Fraction:
    if isinstance(text, (int, float)):
        return Fraction(text)
    match = _QUANTITY.match(text.strip())
    if not match:
        raise ValueError(f"quantities must match the regular expression '{_QUANTITY.pattern}'")
    number, suffix = Fraction(match.group(1)), match.group(2)
    if suffix in _BINARY:
        return number * 2 ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * Fraction(10) ** _DECIMAL[suffix]
    if suffix[:1] in ("e", "E"):
        return number * Fraction(10) ** int(suffix[1:])
    raise ValueError("unable to parse quantity's suffix")


def cpu_milli(text: str | int | float) -> int:
    return math.ceil(parse(text) * 1000)


def memory_bytes(text: str | int | float) -> int:
    return math.ceil(parse(text))


def value(resource: str, text: str | int | float) -> int:
    """CPU in millicores, everything else in whole units (bytes, pods)."""
    return cpu_milli(text) if resource == "cpu" else memory_bytes(text)
