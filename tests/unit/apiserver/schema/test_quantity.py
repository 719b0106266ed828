"""resource.Quantity parsing and canonical formatting, as Kubernetes does them."""

from __future__ import annotations

from fractions import Fraction

import pytest

from services.apiserver.quantity import ERR_FORMAT_WRONG, ERR_NUMERIC, ERR_SUFFIX, QuantityError, parse_quantity

CASES = [
    # (input, exact value, canonical string)
    ("0", Fraction(0), "0"),
    ("100m", Fraction(1, 10), "100m"),
    ("1.5", Fraction(3, 2), "1500m"),
    ("0.1", Fraction(1, 10), "100m"),
    ("1", Fraction(1), "1"),
    ("1500", Fraction(1500), "1500"),
    ("2000", Fraction(2000), "2k"),
    ("128Mi", Fraction(128 * 2**20), "128Mi"),
    ("1024Ki", Fraction(2**20), "1Mi"),
    ("1.5Ki", Fraction(1536), "1536"),
    ("0.5Gi", Fraction(2**29), "512Mi"),
    ("512", Fraction(512), "512"),
    ("1G", Fraction(10**9), "1G"),
    ("1k", Fraction(1000), "1k"),
    ("2e3", Fraction(2000), "2e3"),
    ("1E", Fraction(10**18), "1E"),
    ("5n", Fraction(5, 10**9), "5n"),
    ("1.0000000001", Fraction(1000000001, 10**9), "1000000001n"),  # rounded up to nano
    ("-1", Fraction(-1), "-1"),
    ("+2k", Fraction(2000), "2k"),
    (".5", Fraction(1, 2), "500m"),
    ("250u", Fraction(250, 10**6), "250u"),
]


@pytest.mark.parametrize("text,value,canonical", CASES)
def test_parse_and_format(text, value, canonical) -> None:
    q = parse_quantity(text)
    assert q.value == value
    assert str(q) == canonical


@pytest.mark.parametrize("text,message", [
    ("lots", ERR_FORMAT_WRONG),
    ("", ERR_FORMAT_WRONG),
    ("1 Gi", ERR_FORMAT_WRONG),
    ("1..2", ERR_NUMERIC),
    (".", ERR_NUMERIC),
    ("1Gb", ERR_FORMAT_WRONG),
    ("1KM", ERR_SUFFIX),
    ("1mi", ERR_SUFFIX),
    ("1e", ERR_SUFFIX),
])
def test_invalid(text, message) -> None:
    with pytest.raises(QuantityError) as err:
        parse_quantity(text)
    assert str(err.value) == message


def test_format_wrong_message_is_kubernetes() -> None:
    assert ERR_FORMAT_WRONG == ("quantities must match the regular expression "
                                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def test_milli_and_int_values_round_up() -> None:
    assert parse_quantity("100m").milli_value() == 100
    assert parse_quantity("1.5").int_value() == 2
    assert parse_quantity("1n").milli_value() == 1
