"""Number reading and text keys, each expected value worked out by hand."""

from __future__ import annotations

import math

import pytest

from compiler.text import value_key
from compiler.values import MISSING, NumberRange, Unreadable, parse_number

INF = math.inf


@pytest.mark.parametrize(
    ("raw", "kind", "lo", "hi"),
    [
        ("51-200", "count", 51, 200),
        ("1001 - 5000", "count", 1001, 5000),
        ("10001+", "count", 10001, INF),
        ("1,200", "count", 1200, 1200),
        ("10k", "count", 10_000, 10_000),
        ("~50", "count", 50, 50),
        (40, "count", 40, 40),
        (0, "count", 0, 0),  # a typed 0 (JSON, gRPC) is taken as written; only the text "0" is a placeholder
        (12.0, "count", 12, 12),
        ("$1.2B", "money", 1.2e9, 1.2e9),
        ("36.9 M", "money", 36.9e6, 36.9e6),
        ("12.5m", "money", 12.5e6, 12.5e6),
        ("$180,000", "money", 180_000, 180_000),
        ("10-50M", "money", 10e6, 50e6),
        ("$1.82 million", "money", 1.82e6, 1.82e6),
        ("3.5 B", "money", 3.5e9, 3.5e9),
        ("2013 (1888)", "year", 2013, 2013),
        ("2022 (Johnson & Johnson spinoff)", "year", 2022, 2022),
        (1998, "year", 1998, 1998),
        ("12%", "number", 12, 12),
    ],
)
def test_readable_numbers(raw: object, kind: str, lo: float, hi: float) -> None:
    value = parse_number(raw, kind)
    assert isinstance(value, NumberRange)
    assert value.lo == pytest.approx(lo) and value.hi == pytest.approx(hi)


@pytest.mark.parametrize(
    ("raw", "kind", "reason_part"),
    [
        ("5O-200", "count", "not a number"),
        ("$180,000", "count", "money"),
        ("$1.82 million", "count", "money"),
        ("€850M", "money", "another currency"),
        ("####", "money", "spreadsheet"),
        ("#NAME?", "money", "spreadsheet"),
        ("10/14/2173", "money", "date"),
        ("0", "year", "year"),
        ("1975/1977 (1997)", "year", "year"),
        ("200-100", "count", "low end"),
        (True, "count", "yes/no"),
        ("12%", "count", "percentage"),
        ("0", "count", "headcount of 0"),
    ],
)
def test_unreadable_numbers_say_why(raw: object, kind: str, reason_part: str) -> None:
    value = parse_number(raw, kind)
    assert isinstance(value, Unreadable)
    assert reason_part in value.reason


@pytest.mark.parametrize("raw", [None, "", "  ", "N/A", "NA", "n.a.", "unknown", "-", "Select", math.nan])
def test_placeholders_are_missing_not_zero(raw: object) -> None:
    assert parse_number(raw, "count") is MISSING


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("  United\u00a0States ", "united states"),
        ("Series-A", "series a"),
        ("series_a", "series a"),
        ("SERIES   A", "series a"),
        ("Lowe&#8217;s", "lowe\u2019s"),
        ("Ｓｏｆｔｗａｒｅ", "software"),  # full-width letters fold under NFKC
        ("Straße", "strasse"),  # case folding, not lower()
    ],
)
def test_value_keys(raw: str, key: str) -> None:
    assert value_key(raw) == key


@pytest.mark.parametrize("raw", ["N/A", "n/a", "Select", "unknown", "-", "", "   ", "null", "TBD"])
def test_placeholder_keys_are_none(raw: str) -> None:
    assert value_key(raw) is None
