"""The encoder reads each distinct value once and spreads it to the records: a batch must encode
exactly as its records do one at a time, by a fresh encoder each (no cache, one value per column)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import compile_profiles
from compiler.schema import DEFAULT_PROFILES_DIR
from compiler.values import NumberRange
from runtime.encode import Encoder, factorize
from tests.conftest import write_folder

BUNDLE = compile_profiles(DEFAULT_PROFILES_DIR)

# Messy values of every shape a caller or a file gives, for every field kind.
CATEGORY_VALUES = ["Germany", "deutschland", "DE", "N/A", "", "Atlantis", "  germany ", 1, 1.0, 276, True, None,
                   math.nan, ["DE"], {"a": 1}, "software", "Software", "banking", "US-CA"]
NUMBER_VALUES = ["51-200", "10001+", "5O-200", "$1.2B", "36.9 M", 0, "0", 12, 12.0, -5, True, None, math.nan,
                 NumberRange(10, 20), NumberRange(0, math.inf), ["1"], "n/a", "2013 (1888)"]
SET_VALUES = ["salesforce, hubspot", "Salesforce", "N/A; unknown", ",", "", [], ["salesforce"], ["salesforce", "Frobnicator"],
              ("hubspot",), ["unknown"], [1], [None], 42, None, math.nan, "frobnicator|salesforce", {"x"}]

FIELDS = {f["name"]: f for f in BUNDLE.meta["fields"]}
POOLS = {name: {"category": CATEGORY_VALUES, "number": NUMBER_VALUES, "set": SET_VALUES}[f["type"]] for name, f in FIELDS.items()}


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(sorted(FIELDS)), unique=True, max_size=6))
    n = draw(st.integers(1, 12))
    return [
        {name: draw(st.sampled_from(POOLS[name])) for name in names if draw(st.booleans())}
        for _ in range(n)
    ]


def _quality_tuple(quality: Any) -> tuple[Any, ...]:
    return (quality.present, quality.missing, quality.unreadable, quality.unlisted,
            dict(quality.unlisted_values), dict(quality.unreadable_values))


@settings(max_examples=150, deadline=None)
@given(records())
def test_a_batch_encodes_as_its_records_do_one_by_one(batch: list[dict[str, Any]]) -> None:
    """Column by column (``encode_columns``, what batches past SMALL_BATCH take), value by value
    (``encode`` of a few records) and one record at a time by fresh encoders all agree."""
    warm = Encoder(BUNDLE)
    warm.encode(batch[::-1])  # fill the value cache first: a cached reading must equal a fresh one
    columns = {name: factorize([record.get(name) for record in batch]) for name in FIELDS}
    together = warm.encode_columns(columns, len(batch))
    alone = [Encoder(BUNDLE).encode([record]) for record in batch]
    few = Encoder(BUNDLE).encode(batch)
    for name in ("cat_codes", "num_lo", "num_hi", "set_bits", "set_present"):
        np.testing.assert_array_equal(getattr(few.columns, name), getattr(together.columns, name), err_msg=name)
    assert [_quality_tuple(few.quality[f]) for f in FIELDS] == [_quality_tuple(together.quality[f]) for f in FIELDS]
    assert few.problems == together.problems
    for name in ("cat_codes", "num_lo", "num_hi", "set_bits", "set_present"):
        expected = np.concatenate([getattr(one.columns, name) for one in alone])
        np.testing.assert_array_equal(getattr(together.columns, name), expected, err_msg=name)
    for field in FIELDS:
        totals = [0, 0, 0, 0, {}, {}]
        for one in alone:
            for k, part in enumerate(_quality_tuple(one.quality[field])):
                if isinstance(part, dict):
                    for key, count in part.items():
                        totals[k][key] = totals[k].get(key, 0) + count  # type: ignore[union-attr]
                else:
                    totals[k] += part  # type: ignore[operator]
        assert _quality_tuple(together.quality[field]) == tuple(totals), field
    expected_problems = [(i, p.field, p.message) for i, one in enumerate(alone) for p in one.problems]
    assert [(p.record, p.field, p.message) for p in together.problems] == expected_problems


def test_one_record_alone_reads_as_worked_out_by_hand() -> None:
    """The oracle above is the encoder itself on one record; pin that down for a few values."""
    one = Encoder(BUNDLE).encode([{"country": True, "employees": "51-200", "tech_stack": ["salesforce", "Frobnicator"]}])
    assert [(p.field, p.message) for p in one.problems] == [("country", "expected one value, found bool")]
    employees = FIELDS["employees"]["index"]
    assert (one.columns.num_lo[0, employees], one.columns.num_hi[0, employees]) == (51, 200)
    assert dict(one.quality["tech_stack"].unlisted_values) == {"Frobnicator": 1}
    assert one.quality["country"].unreadable == 1 and one.quality["industry"].missing == 1


def test_factorize_keeps_values_of_different_types_apart() -> None:
    raws: list[Any] = ["a", 1, True, 1.0, "1", None, ["x", "y"], ("x", "y"), ["x", "y"], [{"k": 1}], "a", math.nan]
    column = factorize(raws)
    assert [column.values[u] for u in column.inverse] == raws  # (the same NaN object: equal as list items)
    for raw, u in zip(raws, column.inverse, strict=True):
        assert type(column.values[u]) is type(raw)
    # 'a' twice and the list ['x', 'y'] twice share an entry; 1, True, 1.0, '1' and the tuple do not
    assert len(column.values) == len(raws) - 2
    assert factorize(["b", "a", "b", None]).inverse.tolist() == [0, 1, 0, 2]


@settings(max_examples=60, deadline=None)
@given(st.lists(records(), min_size=2, max_size=4))
def test_a_full_value_table_starts_over_and_still_reads_right(batches: list[list[dict[str, Any]]]) -> None:
    import runtime.encode

    limit = runtime.encode._CACHE_LIMIT
    runtime.encode._CACHE_LIMIT = 3  # every batch overflows the table
    try:
        encoder, small = Encoder(BUNDLE), Encoder(BUNDLE)
        for batch in batches:
            columns = {name: factorize([record.get(name) for record in batch]) for name in FIELDS}
            together, fresh = encoder.encode_columns(columns, len(batch)), Encoder(BUNDLE).encode(batch)
            assert small.encode(batch).problems == fresh.problems  # the value-by-value table overflows too
            for name in ("cat_codes", "num_lo", "num_hi", "set_bits", "set_present"):
                np.testing.assert_array_equal(getattr(together.columns, name), getattr(fresh.columns, name), err_msg=name)
            assert [_quality_tuple(together.quality[f]) for f in FIELDS] == [_quality_tuple(fresh.quality[f]) for f in FIELDS]
    finally:
        runtime.encode._CACHE_LIMIT = limit


_WIDE = compile_profiles(write_folder(Path(tempfile.mkdtemp()) / "wide", [
    {"id": "wide", "criteria": [{"field": "tools", "any": ["c0", "c1", "c2", "c3"], "weight": 1}]},
]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from([f"t{i}" for i in range(70)] + ["Frobnicator", "N/A"]), max_size=5), min_size=1, max_size=20))
def test_a_set_two_words_wide_reads_the_same_in_every_path(sets: list[list[str]]) -> None:
    """The tools field has 70 codes, so bits land in the field's second word too."""
    tools = next(f for f in _WIDE.meta["fields"] if f["name"] == "tools")
    assert _WIDE.tables.set_words[tools["index"]] == 2
    batch = [{"tools": items} for items in sets] + [{"tools": ", ".join(items)} for items in sets]
    few = Encoder(_WIDE).encode(batch[:16])
    together = Encoder(_WIDE).encode_columns({"tools": factorize([r["tools"] for r in batch[:16]])}, len(batch[:16]))
    np.testing.assert_array_equal(few.columns.set_bits, together.columns.set_bits)
    np.testing.assert_array_equal(few.columns.set_present, together.columns.set_present)
    # and by hand: each named tool's bit, at its code, in the right word
    base = int(_WIDE.tables.set_word_start[tools["index"]])
    for row, record in enumerate(batch[:16]):
        items = record["tools"] if isinstance(record["tools"], list) else [i.strip() for i in record["tools"].split(",")]
        expected = np.zeros(2, np.uint64)
        for item in items:
            if item in tools["keys"]:
                code = tools["keys"][item]
                expected[code >> 6] |= np.uint64(1) << np.uint64(code & 63)
        np.testing.assert_array_equal(few.columns.set_bits[row, base:base + 2], expected)


def test_threads_sharing_one_encoder_get_what_each_would_alone() -> None:
    """The server's handler threads share one Encoder: its reading tables grow and start over
    while other threads read them. Each batch must still encode as a fresh encoder encodes it."""
    import sys
    import threading

    import runtime.encode

    batches = [
        [{"employees": str(1000 * t + i), "country": ["Germany", "France", "Atlantis"][i % 3], "tech_stack": f"salesforce, tool{t}-{i}"}
         for i in range(n)]
        for t in range(4) for n in (5, 40)  # value by value, and column by column
    ]
    expected = [Encoder(BUNDLE).encode(batch) for batch in batches]
    shared, failures = Encoder(BUNDLE), []
    limit, interval = runtime.encode._CACHE_LIMIT, sys.getswitchinterval()
    runtime.encode._CACHE_LIMIT = 50  # the tables start over again and again
    sys.setswitchinterval(1e-6)

    def work(k: int) -> None:
        for _ in range(30):
            got = shared.encode(batches[k])
            if not (np.array_equal(got.columns.num_lo, expected[k].columns.num_lo, equal_nan=True)
                    and np.array_equal(got.columns.cat_codes, expected[k].columns.cat_codes)
                    and _quality_tuple(got.quality["tech_stack"]) == _quality_tuple(expected[k].quality["tech_stack"])):
                failures.append(k)

    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(batches))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        runtime.encode._CACHE_LIMIT, _ = limit, sys.setswitchinterval(interval)
    assert failures == []
