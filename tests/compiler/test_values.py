"""Number reading and text keys, each expected value worked out by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize(
    ("raw", "value"),
    [("yes", 1), ("No", 0), ("TRUE", 1), ("false", 0), ("y", 1), ("N", 0), ("1", 1), ("0", 0), (True, 1), (False, 0), (1, 1), (0, 0)],
)
def test_booleans_as_people_write_them(raw: object, value: int) -> None:
    assert parse_number(raw, "boolean") == NumberRange(value, value)


@pytest.mark.parametrize("raw", ["Secure", "maybe", "2", 2])
def test_other_words_are_not_booleans(raw: object) -> None:
    assert isinstance(parse_number(raw, "boolean"), Unreadable)


def test_percentages_with_a_space_and_years_written_as_dates() -> None:
    assert parse_number("12.5 %", "number") == NumberRange(12.5, 12.5)
    assert parse_number("1/1/1986", "year") == NumberRange(1986, 1986)
    assert parse_number("2012-Q2", "year") == NumberRange(2012, 2012)
    assert isinstance(parse_number("1904/1946/1959", "year"), Unreadable)


def test_text_bands_when_the_schema_maps_them() -> None:
    from compiler.values import parse_options

    options, problems = parse_options("count", {"bands": {"Small": "1-50", "Mid": "51-1000", "Big": "1001+"}})
    assert problems == []
    assert parse_number("small", "count", options) == NumberRange(1, 50)
    assert parse_number(" BIG ", "count", options) == NumberRange(1001, INF)
    assert parse_number("120", "count", options) == NumberRange(120, 120)
    assert isinstance(parse_number("Huge", "count", options), Unreadable)
    _, problems = parse_options("count", {"bands": {"Small": "lots", "N/A": "1-5"}})
    assert [key for key, _ in problems] == ["bands", "bands"]


def test_currency_policy_converts_with_a_rate_or_says_why_not() -> None:
    from compiler.values import parse_options

    options, problems = parse_options("money", {"rates": {"EUR": 1.08, "gbp": 1.27}})
    assert problems == []
    assert parse_number("€850M", "money", options).lo == pytest.approx(918e6)
    assert parse_number("GBP 2m", "money", options).lo == pytest.approx(2.54e6)
    assert parse_number("$5M", "money", options) == NumberRange(5e6, 5e6)
    unreadable = parse_number("¥300M", "money", options)
    assert isinstance(unreadable, Unreadable) and "JPY" in unreadable.reason and "rate" in unreadable.reason
    eur, _ = parse_options("money", {"currency": "EUR", "rates": {"USD": 0.92}})
    assert parse_number("850M", "money", eur) == NumberRange(850e6, 850e6)  # a bare number is in the field's currency
    assert parse_number("$100", "money", eur).lo == pytest.approx(92)
    _, problems = parse_options("money", {"currency": "XYZ", "rates": {"EUR": -1}})
    assert len(problems) == 2
    _, problems = parse_options("count", {"rates": {"EUR": 1.08}})
    assert problems and problems[0][0] == "rates"


def test_new_placeholders_and_keys() -> None:
    assert value_key("undisclosed amount") is None
    assert value_key("#NAME?") is None
    assert parse_number("#NAME?", "money").reason.startswith("a spreadsheet")  # type: ignore[union-attr]
    assert value_key("Virginia[2]") == "virginia"
    assert value_key("Travel & Tourism") == value_key("Travel and Tourism")
    assert value_key("AT&T") == "at&t"


def test_suggestions_for_unlisted_values() -> None:
    from runtime.encode import FieldQuality, Vocabulary

    vocabulary = Vocabulary({"georgia": 0, "ga": 0, "california": 1}, ["US-GA", "US-CA"])
    assert vocabulary.suggest("Giorgia") == "georgia (US-GA)"
    assert vocabulary.suggest("Texas") is None
    quality = FieldQuality(vocabulary=vocabulary)
    quality.unlisted_values.update({"Giorgia": 2, "Narnia": 1})
    assert quality.suggestions(5) == [("Giorgia", 2, "georgia (US-GA)"), ("Narnia", 1, None)]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=18), st.sampled_from(["count", "money", "year", "number", "boolean"]))
def test_plain_digits_read_as_the_full_reading_reads_them(raw: str, kind: str) -> None:
    """parse_number reads ASCII digit strings directly; it must give what the full text reading gives."""
    from compiler.values import DEFAULT_OPTIONS, _parse_text_value

    assert parse_number(raw, kind) == _parse_text_value(raw, kind, DEFAULT_OPTIONS)
    assert parse_number(raw.zfill(4), kind) == _parse_text_value(raw.zfill(4), kind, DEFAULT_OPTIONS)
