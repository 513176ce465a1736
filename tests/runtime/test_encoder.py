"""Encoder: missing, unreadable and unlisted are kept apart and counted; wrong shapes are named."""

from __future__ import annotations

import math

import numpy as np

from compiler import compile_profiles
from compiler.schema import DEFAULT_PROFILES_DIR
from runtime.encode import Encoder

BUNDLE = compile_profiles(DEFAULT_PROFILES_DIR)


def _field(name: str) -> dict:
    return next(f for f in BUNDLE.meta["fields"] if f["name"] == name)


def test_missing_unreadable_unlisted_counts() -> None:
    records = [
        {"country": "Germany", "employees": "51-200", "tech_stack": "salesforce, Frobnicator"},
        {"country": "N/A", "employees": "5O-200", "tech_stack": "N/A"},
        {"country": "Atlantis", "employees": math.nan, "tech_stack": []},
        {"employees": None},
    ]
    batch = Encoder(BUNDLE).encode(records)
    country, employees, tech = batch.quality["country"], batch.quality["employees"], batch.quality["tech_stack"]
    assert (country.present, country.missing, country.unlisted) == (2, 2, 1)
    assert dict(country.unlisted_values) == {"Atlantis": 1}
    assert (employees.present, employees.missing, employees.unreadable) == (1, 2, 1)
    assert dict(employees.unreadable_values) == {"5O-200": 1}
    assert (tech.present, tech.missing, tech.unlisted) == (2, 2, 1)
    assert dict(tech.unlisted_values) == {"Frobnicator": 1}
    assert batch.problems == []


def test_codes_ranges_and_bits() -> None:
    batch = Encoder(BUNDLE).encode([
        {"country": "deutschland", "employees": "10001+", "tech_stack": ["Salesforce"]},
        {"country": "Atlantis", "tech_stack": []},
    ])
    country = _field("country")
    codes = batch.columns.cat_codes[:, country["index"]]
    assert country["values"][codes[0]] == "DE"
    assert codes[1] == len(country["values"])  # unlisted: beyond the vocabulary
    employees = _field("employees")["index"]
    assert batch.columns.num_lo[0, employees] == 10001 and math.isinf(batch.columns.num_hi[0, employees])
    assert np.isnan(batch.columns.num_lo[1, employees])  # missing is NaN, never 0
    tech = _field("tech_stack")
    word = BUNDLE.tables.set_word_start[tech["index"]]
    salesforce = tech["values"].index("salesforce")
    assert int(batch.columns.set_bits[0, word + (salesforce >> 6)]) == 1 << (salesforce & 63)
    assert batch.columns.set_present[1, tech["index"]] == 1  # an empty set is present
    assert not batch.columns.set_bits[1].any()


def test_wrong_shapes_are_named_by_record_and_field() -> None:
    batch = Encoder(BUNDLE).encode([{"country": ["DE", "AT"]}, {"tech_stack": 42}, {"employees": {"min": 1}}])
    named = [(p.record, p.field) for p in batch.problems]
    assert named == [(0, "country"), (1, "tech_stack"), (2, "employees")]
    assert "expected one value" in batch.problems[0].message
    assert batch.columns.cat_codes[0, _field("country")["index"]] == -1  # read as missing


def test_a_declared_scale_applies_to_plain_numbers_only() -> None:
    batch = Encoder(BUNDLE, scales={"revenue": 1e6}).encode([{"revenue": "523964"}, {"revenue": "36.9 M"}, {"revenue": 12}])
    revenue = _field("revenue")["index"]
    assert list(batch.columns.num_lo[:, revenue]) == [523964e6, 36.9e6, 12e6]


def test_a_set_of_placeholders_is_missing_not_empty() -> None:
    batch = Encoder(BUNDLE).encode([{"tech_stack": "N/A; unknown"}, {"tech_stack": ","}, {"tech_stack": ["unknown"]}, {"tech_stack": []}])
    tech = _field("tech_stack")["index"]
    assert list(batch.columns.set_present[:, tech]) == [0, 0, 0, 1]
    assert batch.quality["tech_stack"].missing == 3
