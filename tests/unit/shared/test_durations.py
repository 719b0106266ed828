"""Go's time.ParseDuration, with Go's error messages."""

from __future__ import annotations

import pytest

from shared.durations import parse_go_duration


@pytest.mark.parametrize("text,seconds", [
    ("1h30m", 5400.0), ("90s", 90.0), ("1.5h", 5400.0), ("300ms", 0.3), ("-2m", -120.0), ("0", 0.0),
    ("1µs", 1e-6), ("2h45m10s", 9910.0),
])
def test_parses(text, seconds) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text,message", [
    ("1", 'time: missing unit in duration "1"'),
    ("1x", 'time: unknown unit "x" in duration "1x"'),
    ("", 'time: invalid duration ""'),
    ("h", 'time: invalid duration "h"'),
])
def test_go_errors(text, message) -> None:
    with pytest.raises(ValueError) as info:
        parse_go_duration(text)
    assert str(info.value) == message
