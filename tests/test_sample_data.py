"""The sample shipped in the repo: ``icp score examples/data/sp500.csv`` with its mapping.

Every expected count here is computed plainly from the CSV with the ``csv`` module and a
small missing-value list written for this file -- never with the product's parser or its
placeholder list -- so a change in how the product reads values shows up as a failure.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.main import main
from compiler.pipeline import open_bundle
from compiler.schema import DEFAULT_PROFILES_DIR

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "data" / "sp500.csv"
MAPPING = ROOT / "examples" / "mappings" / "sp500.yaml"

# The fields the shipped mapping maps, and their columns (checked against the file below).
MAPPED = {"industry": "GICS Sub-Industry", "founded_year": "Founded"}

# What counts as a missing value in THIS file (compared after strip + casefold). The S&P list
# writes an absent value as an empty cell, and in one place (Block, Inc.'s Headquarters
# Location) as the literal word "none"; no other null spelling (NA, N/A, -, null...) occurs
# in any column. So: empty and "none", nothing else.
MISSING_HERE = {"", "none"}

# A readable founding year in this file: one four-digit year, alone or followed by a
# parenthesised note -- "1902", "2013 (1888)", "2022 (Johnson & Johnson spinoff)" (the year
# before the note is the founding year of the listed company). Looking at the data, three
# cells name several years with no single founding year: "1975/1977 (1997)",
# "1904/1946/1959", "1881/1894 (1980)"; they start with four digits but are NOT one year,
# so they count as unreadable.
ONE_YEAR = re.compile(r"^\d{4}(?:\s*\(.*\))?$")


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _is_missing(value: str) -> bool:
    return value.strip().casefold() in MISSING_HERE


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out_dir = tmp_path_factory.mktemp("sample")
    output, summary = out_dir / "scored.csv", out_dir / "summary.json"
    code = main(["score", str(SAMPLE), "-o", str(output), "--mapping", str(MAPPING),
                 "--summary-json", str(summary), "--quiet"])
    assert code == 0
    header, rows = _read_csv(SAMPLE)
    out_header, out_rows = _read_csv(output)
    return {
        "dir": out_dir, "output": output, "summary_path": summary,
        "summary": json.loads(summary.read_text(encoding="utf-8")),
        "header": header, "rows": rows, "out_header": out_header, "out_rows": out_rows,
    }


def test_mapping_file_maps_the_columns_this_test_counts() -> None:
    mapping = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    assert mapping["fields"] == MAPPED
    assert mapping["id"] == "Symbol"


def test_sample_file_is_the_published_list() -> None:
    header, rows = _read_csv(SAMPLE)
    assert header == ["Symbol", "Security", "GICS Sector", "GICS Sub-Industry", "Headquarters Location",
                      "Date added", "CIK", "Founded"]
    assert len(rows) == 503
    assert all(len(row) == len(header) for row in rows)


def test_output_keeps_every_input_row_in_order(scored: dict[str, Any]) -> None:
    header, rows = scored["header"], scored["rows"]
    out_header, out_rows = scored["out_header"], scored["out_rows"]
    assert out_header[: len(header)] == header
    extra = out_header[len(header):]
    assert extra and all(name.startswith("icp_") for name in extra)
    assert {"icp_score", "icp_tier", "icp_version"} <= set(extra)
    assert len(out_rows) == len(rows)
    for number, (row, out_row) in enumerate(zip(rows, out_rows, strict=True), 2):
        assert len(out_row) == len(out_header), f"output line {number}"
        assert out_row[: len(header)] == row, f"output line {number} changed the input columns"


def test_summary_counts_records(scored: dict[str, Any]) -> None:
    assert scored["summary"]["records"] == len(scored["rows"]) == 503


def test_missing_counts_match_a_plain_count(scored: dict[str, Any]) -> None:
    header, rows, fields = scored["header"], scored["rows"], scored["summary"]["fields"]
    for field, column in MAPPED.items():
        index = header.index(column)
        expected = sum(_is_missing(row[index]) for row in rows)
        assert fields[field]["mapped"] is True
        assert fields[field]["missing"] == expected, field


def test_founded_year_unreadable_matches_a_plain_count(scored: dict[str, Any]) -> None:
    header, rows = scored["header"], scored["rows"]
    index = header.index(MAPPED["founded_year"])
    present = [row[index] for row in rows if not _is_missing(row[index])]
    unreadable = [value for value in present if not ONE_YEAR.match(value.strip())]
    # The data really does hold the free-text years the mapping's header comment describes.
    assert "2013 (1888)" in present and "2022 (Johnson & Johnson spinoff)" in present
    quality = scored["summary"]["fields"]["founded_year"]
    assert quality["unreadable"] == len(unreadable)
    assert {value for value, _ in quality["top_unreadable"]} <= set(unreadable)
    readable = len(present) - len(unreadable)
    assert quality["missing"] + quality["unreadable"] + readable == len(rows)
    if "present" in quality:  # the summary JSON does not carry `present` yet
        assert quality["present"] == readable


def test_tiers_and_version(scored: dict[str, Any]) -> None:
    bundle = open_bundle(DEFAULT_PROFILES_DIR)
    tier_names = {tier for profile in bundle.meta["profiles"] for tier, _ in profile["tiers"]}
    out_header, out_rows = scored["out_header"], scored["out_rows"]
    tier, version, score = (out_header.index(c) for c in ("icp_tier", "icp_version", "icp_score"))
    assert {row[tier] for row in out_rows} <= tier_names
    assert {row[version] for row in out_rows} == {bundle.version}
    assert all(0 <= float(row[score]) <= 100 for row in out_rows)


def test_command_line_run_writes_the_same_files(scored: dict[str, Any]) -> None:
    output, summary = scored["dir"] / "cli.csv", scored["dir"] / "cli.json"
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "score", str(SAMPLE), "-o", str(output), "--mapping", str(MAPPING),
         "--summary-json", str(summary), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "scored 503 records" in done.stdout
    assert output.read_bytes() == scored["output"].read_bytes()
    assert json.loads(summary.read_text(encoding="utf-8")) == scored["summary"]
