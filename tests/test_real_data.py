"""``icp score`` on five real company lists from ../shared/data, with the shipped mappings.

Every expected count is computed plainly from the CSV with the ``csv`` module, regexes and
small missing-value lists written per list here (not the product's parser or placeholder
list), so a change in how the product reads real values shows up as a failure.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.main import main

pytestmark = pytest.mark.shared_data

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "examples" / "mappings"


@pytest.fixture(scope="module")
def shared_data() -> Path:
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not data.is_dir():
        pytest.skip("../shared/data is not beside this clone: real-data tests skipped (CI has it; a user's clone does not)")
    return data


@dataclass(frozen=True)
class Number:
    """A number column: the cells that read as a number, and the ones that must be unreadable."""

    readable: re.Pattern[str]
    # Cells that are written but must not read as a number (e.g. money in a headcount column).
    # Every non-missing cell that is not `readable` counts as unreadable; this pattern names the
    # ones the list is known to hold, so the test also checks they are all there.
    known_unreadable: re.Pattern[str] | None = None


@dataclass(frozen=True)
class RealList:
    name: str
    path: str  # under shared/data
    mapping: str  # under examples/mappings
    columns: dict[str, str]  # field -> column, as the mapping file says
    # What counts as a missing value in this list (after strip + casefold); see each list below.
    missing: frozenset[str]
    numbers: dict[str, Number] = field(default_factory=dict)
    encoding: str = "utf-8"


YEAR = re.compile(r"^\d{4}$")

LISTS = [
    # People Data Labs leaves unknown values empty; no null spelling occurs in its columns.
    RealList(
        "pdl-companies-2019-top", "pdl-companies-2019-top/companies_sorted.csv", "pdl-companies-2019.yaml",
        {"industry": "industry", "employees": "size range", "founded_year": "year founded", "country": "country"},
        frozenset({""}),
        {
            # "1001 - 5000", "5001 - 10000", "10001+": all readable, so 0 unreadable.
            "employees": Number(re.compile(r"^\d+ - \d+$|^\d+\+$")),
            "founded_year": Number(YEAR),
        },
    ),
    # CrunchBase leaves unknown values empty. "other" in category_code is a real CrunchBase
    # category (the taxonomy's catch-all), not a null, so it is not in the list. The file mixes
    # Windows-1252 and UTF-8 bytes: it is read as latin-1, which decodes any byte and leaves the
    # row structure (ASCII commas, quotes, newlines) intact; the mapped columns are ASCII.
    RealList(
        "crunchbase-2013", "crunchbase-2013/companies.csv", "crunchbase-2013.yaml",
        {"industry": "category_code", "country": "country_code", "state": "state_code",
         "founded_year": "founded_year"},
        frozenset({""}),
        {"founded_year": Number(YEAR)},
        encoding="latin-1",
    ),
    # Fortune has no empty cell in the mapped columns; "-" (Market Cap) is its only null
    # spelling elsewhere in the file.
    RealList(
        "fortune1000", "fortune1000/Fortune_1000.csv", "fortune1000.yaml",
        {"revenue": "revenue", "employees": "num. of employees", "industry": "sector", "state": "state"},
        frozenset({"", "-"}),
        {"revenue": Number(re.compile(r"^\d+(?:\.\d+)?$")), "employees": Number(re.compile(r"^\d+$"))},
    ),
    # Inc. is an R export: missing is the literal "NA" (employees 370, revenue_millions 3).
    # "0" employees (2 rows, each with $20M+ revenue) is a placeholder: the product reads an exact
    # headcount of 0 as unreadable (docs/values.md), and so does the count below.
    RealList(
        "inc5000-2019", "inc5000-2019/companies_data_final.csv", "inc5000-2019.yaml",
        {"revenue": "Revenue", "employees": "employees", "industry": "industry", "founded_year": "year_founded"},
        frozenset({"", "na"}),
        {
            "revenue": Number(re.compile(r"^\d+(?:\.\d+)? [MB]$")),
            # 40, 1,200 are headcounts; $180,000, $1.82 million, $15 M, $0 are money, and a bare 0
            # is a placeholder: unreadable.
            "employees": Number(
                re.compile(r"^\d{1,3}(?:,\d{3})+$|^[1-9]\d*$"),
                re.compile(r"^\$\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:m|million|b|billion|k))?$|^0$", re.IGNORECASE),
            ),
            # Shifted rows hold 474, 30, 136, and 22 and 0 occur: not four-digit years.
            "founded_year": Number(YEAR, re.compile(r"^\d{1,3}$")),
        },
    ),
    # YC leaves unknown values empty; no null spelling occurs in the mapped columns.
    RealList(
        "yc-startups-2005-2014", "yc-startups-2005-2014/Startups.csv", "yc-startups.yaml",
        {"founded_year": "Year Founded", "country": "Headquarters (Country)", "state": "Headquarters (US State)"},
        frozenset({""}),
        {"founded_year": Number(YEAR)},
    ),
]


def _read_rows(path: Path, encoding: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))
    return rows[0], rows[1:]


BY_NAME = {item.name: item for item in LISTS}


@pytest.fixture(scope="module")
def scored(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Any]]:
    """Scores a list once per module (on first use) and returns its input, output and summary."""
    cache: dict[str, dict[str, Any]] = {}

    def get(name: str) -> dict[str, Any]:
        if name not in cache:
            item = BY_NAME[name]
            source = shared_data / item.path
            out_dir = tmp_path_factory.mktemp(name)
            output, summary = out_dir / "scored.csv", out_dir / "summary.json"
            code = main(["score", str(source), "-o", str(output), "--mapping", str(MAPPINGS / item.mapping),
                         "--summary-json", str(summary), "--quiet"])
            assert code == 0, f"icp score exited with {code} on {name} (see the captured stderr)"
            header, rows = _read_rows(source, item.encoding)
            cache[name] = {
                "list": item, "code": code, "header": header, "rows": rows, "output": output,
                "summary": json.loads(summary.read_text(encoding="utf-8")),
            }
        return cache[name]

    return get


def _column(run: dict[str, Any], column: str) -> list[str]:
    index = run["header"].index(column)
    return [row[index] for row in run["rows"]]


def _is_missing(item: RealList, value: str) -> bool:
    return value.strip().casefold() in item.missing


NAMES = pytest.mark.parametrize("name", list(BY_NAME))


@NAMES
def test_mapping_file_is_what_the_test_counts(name: str) -> None:
    item = BY_NAME[name]
    data = yaml.safe_load((MAPPINGS / item.mapping).read_text(encoding="utf-8"))
    columns = {field: spec["column"] if isinstance(spec, dict) else spec for field, spec in data["fields"].items()}
    assert columns == item.columns


@NAMES
def test_scores_without_crashing_and_keeps_every_row(scored: Callable[[str], dict[str, Any]], name: str) -> None:
    run = scored(name)
    assert run["code"] == 0
    assert all(len(row) == len(run["header"]) for row in run["rows"])
    assert run["summary"]["records"] == len(run["rows"])
    with run["output"].open(encoding="utf-8", newline="") as handle:
        out = list(csv.reader(handle))
    assert len(out) - 1 == len(run["rows"])
    score = out[0].index("icp_score")
    outside = [row[score] for row in out[1:] if not 0 <= float(row[score]) <= 100]
    assert outside == []


@NAMES
def test_missing_matches_a_plain_count(scored: Callable[[str], dict[str, Any]], name: str) -> None:
    run = scored(name)
    item: RealList = run["list"]
    fields = run["summary"]["fields"]
    for field_name, column in item.columns.items():
        expected = sum(_is_missing(item, value) for value in _column(run, column))
        assert fields[field_name]["mapped"] is True
        assert fields[field_name]["missing"] == expected, f"{name} {field_name} ({column})"


@NAMES
def test_numbers_readable_unreadable_missing_add_up(scored: Callable[[str], dict[str, Any]], name: str) -> None:
    run = scored(name)
    item: RealList = run["list"]
    fields = run["summary"]["fields"]
    for field_name, number in item.numbers.items():
        values = [v for v in _column(run, item.columns[field_name]) if not _is_missing(item, v)]
        readable = [v for v in values if number.readable.match(v.strip())]
        unreadable = Counter(v for v in values if not number.readable.match(v.strip()))
        if number.known_unreadable is not None:
            assert all(number.known_unreadable.match(v.strip()) for v in unreadable), unreadable
        quality = fields[field_name]
        assert quality["unreadable"] == sum(unreadable.values()), f"{name} {field_name}: {unreadable}"
        assert {value for value, _ in quality["top_unreadable"]} <= set(unreadable)
        assert quality["missing"] + quality["unreadable"] + len(readable) == len(run["rows"])
        if "present" in quality:  # the summary JSON does not carry `present` yet
            assert quality["present"] == len(readable)


def test_pdl_size_ranges_all_read(scored: Callable[[str], dict[str, Any]]) -> None:
    run = scored("pdl-companies-2019-top")
    assert len(run["rows"]) == 21_000
    assert Counter(_column(run, "size range")) == {"1001 - 5000": 15861, "5001 - 10000": 3044, "10001+": 2095}
    assert run["summary"]["fields"]["employees"]["unreadable"] == 0
    assert run["summary"]["fields"]["employees"]["missing"] == 0


def test_inc_headcounts_written_as_money_are_unreadable(scored: Callable[[str], dict[str, Any]]) -> None:
    run = scored("inc5000-2019")
    money = re.compile(r"^\$")  # a headcount cell that starts with a dollar sign is money
    written_as_money = Counter(v for v in _column(run, "employees") if money.match(v.strip()))
    assert sorted(written_as_money) == sorted(["$0", "$180,000", "$1.82 million", "$15 M", "$5.1 million"])
    zero = Counter(v for v in _column(run, "employees") if v.strip() == "0")
    assert zero == {"0": 2}
    quality = run["summary"]["fields"]["employees"]
    assert quality["unreadable"] == sum(written_as_money.values()) + 2
    expected = written_as_money + zero
    top = dict(quality["top_unreadable"])  # the report keeps the five most frequent
    assert len(top) == 5 and top["0"] == 2
    assert all(expected[value] == count for value, count in top.items())


# ---- unlisted values, counted independently ------------------------------------------------------

TAXONOMIES = ROOT / "profiles" / "taxonomies"
# The default schema's closed category fields in these mappings and the taxonomy file each reads.
# Every kind of the file is among the field's `kinds`, so any id, name or alias of any node is listed.
FIELD_TAXONOMY = {"industry": "industry.yaml", "country": "geo.yaml", "state": "geo.yaml"}
NUMBER_FIELDS = {"employees", "revenue", "founded_year"}  # a number is readable or not, never unlisted


def _plain_key(value: str) -> str:
    """Our own plain normalisation: strip, casefold, runs of whitespace / _ / - as one space."""
    return re.sub(r"[\s_\-]+", " ", value.strip().casefold()).strip()


def _taxonomy_keys(file: str) -> set[str]:
    """Every id, name and alias of the taxonomy file, read with PyYAML and normalised plainly."""
    nodes = yaml.safe_load((TAXONOMIES / file).read_text(encoding="utf-8"))["nodes"]
    return {_plain_key(str(written)) for node in nodes for written in (node["id"], node.get("name", node["id"]), *node.get("aliases", []))}


@NAMES
def test_unlisted_matches_a_plain_count(scored: Callable[[str], dict[str, Any]], name: str) -> None:
    run = scored(name)
    item: RealList = run["list"]
    fields = run["summary"]["fields"]
    assert set(item.columns) <= set(FIELD_TAXONOMY) | NUMBER_FIELDS, "a mapped field this test does not classify"
    for field_name, column in item.columns.items():
        quality = fields[field_name]
        if field_name in NUMBER_FIELDS:
            assert quality["unlisted"] == 0, f"{name} {field_name}"
            continue
        keys = _taxonomy_keys(FIELD_TAXONOMY[field_name])
        unlisted = Counter(
            _plain_key(value) for value in _column(run, column)
            if not _is_missing(item, value) and _plain_key(value) not in keys
        )
        assert quality["unlisted"] == sum(unlisted.values()), f"{name} {field_name} ({column}): {unlisted.most_common(10)}"
        # The report's most frequent unlisted values are values found here, with the same counts,
        # and they are the most frequent ones (ties at the cut may be broken either way).
        top: Counter[str] = Counter()
        for value, count in quality["top_unlisted"]:
            top[_plain_key(value)] += count
        assert all(unlisted[value] == count for value, count in top.items()), f"{name} {field_name}: {top} vs {unlisted}"
        largest = sorted(unlisted.values(), reverse=True)[: len(quality["top_unlisted"])]
        assert sorted((count for _, count in quality["top_unlisted"]), reverse=True) == largest, f"{name} {field_name}"


def test_unlisted_values_of_the_real_lists_are_the_known_ones(scored: Callable[[str], dict[str, Any]]) -> None:
    """What the plain counts above find, spelled out (each checked by hand against the taxonomies)."""
    top = {
        (name, field_name): dict(scored(name)["summary"]["fields"][field_name]["top_unlisted"])
        for name, field_name in [
            ("pdl-companies-2019-top", "industry"), ("crunchbase-2013", "industry"),
            ("inc5000-2019", "industry"), ("yc-startups-2005-2014", "state"),
        ]
    }
    assert top == {
        ("pdl-companies-2019-top", "industry"): {"program development": 6},  # no clear meaning (SOURCES.md)
        ("crunchbase-2013", "industry"): {"other": 361},  # CrunchBase's catch-all category, not a null
        ("inc5000-2019", "industry"): {"Vancouver, WA": 1, "San Francisco, CA": 1, "Chicago, IL": 1},  # shifted rows
        ("yc-startups-2005-2014", "state"): {"Giorgia": 2, "California, New York": 2},  # a typo; two states in one cell
    }
