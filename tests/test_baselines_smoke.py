"""Smoke test of ``python -m benchmarks baselines`` (tiny sizes, no timing assertions).

The real test is correctness: every available baseline (plain Python, NumPy,
one DuckDB query, a ZEN decision graph), generated from the same bundle, must
give the same best profile, score and tier as the product on the same ~200
string records. DuckDB and ZEN are skipped only when their package is missing.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import baselines
from benchmarks.synthetic import raw_records, synthetic_columns, write_profiles
from compiler import compile_profiles
from compiler.pipeline import compile_spec

N_RECORDS = 200


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, list[dict[str, str]], dict[str, list]]:
    folder = write_profiles(tmp_path_factory.mktemp("baselines") / "profiles", 4, seed=11)
    bundle = compile_profiles(folder)
    records = baselines.string_records(raw_records(bundle, synthetic_columns(bundle, N_RECORDS, seed=11)))
    _, expected = baselines.measure_product(bundle, records, repeats=1)
    return bundle, compile_spec(folder), records, expected


def _require(package: str, dist: str) -> None:
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{dist} is not installed: pip install '.[bench]'")


@pytest.mark.parametrize("name", ["python", "numpy", "duckdb", "zen"])
def test_baseline_gives_the_products_results(setup: tuple[Any, Any, list[dict[str, str]], dict[str, list]], name: str) -> None:
    if name in baselines.PACKAGES:
        _require(*baselines.PACKAGES[name])
    bundle, spec, records, expected = setup
    module = importlib.import_module(baselines.BASELINES[name])
    timings, outputs = module.measure(bundle, spec, records, repeats=1)
    check = baselines.compare(expected, outputs)
    assert check == {"records": N_RECORDS, "mismatches": 0, "agree": True}, check
    assert timings["end_to_end_s"] > 0
    # The data is not degenerate: several profiles win, several tiers occur.
    assert len(set(expected["best"])) > 1 and len(set(expected["tier"])) > 1


def test_benchmark_writes_json_and_table(tmp_path: Path) -> None:
    """The whole path (subprocess workers included) on 100 records; missing packages drop only their rows."""
    out = tmp_path / "baselines.json"
    result = baselines.run([2], [100], ["python", "duckdb"], repeats=1, timeout=120, out=out, log=lambda line: None)
    written = json.loads(out.read_text())
    assert written["benchmark"] == "baselines" and written["checks_ok"] is True
    (run,) = written["runs"]
    by_name = {(r["baseline"], r["variant"]): r for r in run["rows"]}
    assert by_name[("product", "end to end (encode + kernel + finish)")]["records_per_s"] > 0
    for name in ("python", "duckdb"):  # one in-repo and one third-party worker (each is a subprocess)
        row = by_name[(name, "end to end")]
        if name in baselines.PACKAGES and baselines.missing_package(name):
            assert "pip install '.[bench]'" in row["status"]
            continue
        assert row["status"] == "ok", row
        assert row["check"]["agree"] and row["check"]["records"] == 100
        assert row["product_ratio"] > 0
    table = baselines.markdown_table(result)
    assert "| 2 | 100 | product |" in table and "| 2 | 100 | python | end to end |" in table
