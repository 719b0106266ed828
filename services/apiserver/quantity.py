"""Kubernetes `resource.Quantity`: parse "100m", "1.5", "128Mi", "1G", "2e3" exactly, print canonically.

Guarantees (as k8s.io/apimachinery/pkg/api/resource):
- `parse_quantity` accepts exactly the strings Kubernetes accepts and raises `QuantityError` with
  Kubernetes' messages otherwise (`quantities must match the regular expression ...`,
  `unable to parse numeric part of quantity`, `unable to parse quantity's suffix`).
- Values are exact `Fraction`s, rounded up (away from zero) to nano precision as Kubernetes does.
- `str(q)` is Kubernetes' canonical form: "1.5" -> "1500m", "2000" -> "2k", "1536Mi" -> "1536Mi",
  "1024Ki" -> "1Mi", "0.5Gi" -> "512Mi", "2e3" -> "2e3", "0" -> "0".
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from fractions import Fraction

QUANTITY_REGEX = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{QUANTITY_REGEX}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXP = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_BY_EXP = {exp // 10: suffix for suffix, exp in _BINARY.items()}
_NUMBER = re.compile(r"^[0-9]*(\.[0-9]*)?$")
_SPLIT = re.compile(QUANTITY_REGEX)
_NANO = 10**9


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity; `str(err)` is Kubernetes' message."""


@dataclass(frozen=True, slots=True)
class Quantity:
    value: Fraction
    format: str = DECIMAL_SI

    def __str__(self) -> str:
        return format_quantity(self)

    def milli_value(self) -> int:
        """Value in thousandths, rounded up (away from zero), as Quantity.MilliValue."""
        return _round_away(self.value * 1000)

    def int_value(self) -> int:
        """Value rounded up (away from zero), as Quantity.Value."""
        return _round_away(self.value)


def _round_away(value: Fraction) -> int:
    return math.ceil(value) if value >= 0 else -math.ceil(-value)


def parse_quantity(text: str) -> Quantity:
    """Parse a quantity string; raise `QuantityError` with Kubernetes' message when it is not one."""
    if not isinstance(text, str) or not text:
        raise QuantityError(ERR_FORMAT_WRONG)
    return _parse(text)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Quantity:
    # Cached: every pod write parses the same few strings ("100m", "128Mi") in validation, in
    # defaulting and in the QoS class, and Fraction arithmetic is slow. Quantities are immutable.
    if text == "0":
        return Quantity(Fraction(0))
    match = _SPLIT.match(text)
    if not match:
        raise QuantityError(ERR_FORMAT_WRONG)
    number, suffix = match.group(1), match.group(2)
    sign = -1 if number.startswith("-") else 1
    digits = number.lstrip("+-")
    if not _NUMBER.match(digits) or digits in ("", "."):
        raise QuantityError(ERR_NUMERIC)
    base, exponent, fmt = _parse_suffix(suffix)
    value = sign * Fraction(digits) * Fraction(base) ** exponent
    return Quantity(_round_up_to_nano(value), fmt)


def _parse_suffix(suffix: str) -> tuple[int, int, str]:
    if suffix in _BINARY:
        return 2, _BINARY[suffix], BINARY_SI
    if suffix in _DECIMAL:
        return 10, _DECIMAL[suffix], DECIMAL_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        try:
            return 10, int(suffix[1:]), DECIMAL_EXPONENT
        except ValueError:
            pass
    raise QuantityError(ERR_SUFFIX)


def _round_up_to_nano(value: Fraction) -> Fraction:
    scaled = value * _NANO
    if scaled.denominator == 1:
        return value
    return Fraction(_round_away(scaled), _NANO)


def is_quantity(text: object) -> bool:
    try:
        parse_quantity(text)  # type: ignore[arg-type]
    except QuantityError:
        return False
    return True


def format_quantity(q: Quantity) -> str:
    """Kubernetes' canonical string for `q` (Quantity.String)."""
    if q.value == 0:
        return "0"
    if q.format == BINARY_SI and abs(q.value) >= 1024 and q.value.denominator == 1:
        return _format_binary(int(q.value))
    return _format_decimal(q.value, q.format)


def _format_binary(value: int) -> str:
    exp = 0
    while exp < 6 and value % 1024 == 0:
        value //= 1024
        exp += 1
    return f"{value}{_BINARY_BY_EXP.get(exp, '')}"


def _format_decimal(value: Fraction, fmt: str) -> str:
    # mantissa * 10**exp with an integer mantissa and exp a multiple of 3, exp as large as possible
    mantissa, exp = value * _NANO, -9
    while mantissa.denominator != 1:  # cannot happen after nano rounding; kept for safety
        mantissa, exp = mantissa * 1000, exp - 3
    m = int(mantissa)
    while m % 1000 == 0 and (fmt == DECIMAL_EXPONENT or exp < 18):
        m, exp = m // 1000, exp + 3
    if fmt == DECIMAL_EXPONENT:
        return f"{m}e{exp}" if exp else str(m)
    return f"{m}{_DECIMAL_BY_EXP[exp]}"
