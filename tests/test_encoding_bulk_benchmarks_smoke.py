"""Smoke tests of the ``encoding`` and ``bulk`` benchmarks' code paths (``--quick``; no timing assertions).

They check what would make the numbers meaningless: the JSON keys the README documents,
record counts (for bulk, the rows ``icp score`` wrote equal the rows it read, for every
input and output format), positive numbers, and that the child's peak memory was measured.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from benchmarks.__main__ import BENCHMARKS, main

ENCODING_SOURCE_KEYS = {
    "source",
    "kind",
    "records",
    "fields_mapped",
    "encode",
    "score",
    "vs_bulk_budget",
    "cells",
    "distinct",
    "distinct_share",
    "cold_hit_rate",
    "cache_entries",
    "fields",
}
ENCODE_KEYS = {"cold_us_per_record", "warm_us_per_record", "cold_over_warm", "cold_repeats_s", "warm_repeats_s"}
SCORE_KEYS = {"cold_us_per_record", "warm_us_per_record", "encode_share_warm"}
FIELD_KEYS = {
    "field",
    "type",
    "records",
    "cells",
    "empty",
    "distinct",
    "distinct_share",
    "cold_hit_rate",
    "cold_us_per_record",
    "warm_us_per_record",
    "cache_entries",
}
BULK_RUN_KEYS = {
    "name",
    "input_format",
    "output_format",
    "exit_code",
    "records_in",
    "records_out",
    "summary_records",
    "rows_match",
    "wall_s",
    "records_per_s",
    "vs_target",
    "cli_elapsed_s",
    "startup_s",
    "peak_rss_mb",
    "sampled_peak_rss_mb",
    "rss_timeline_mb",
    "cpu_s",
    "output_bytes",
}


def test_both_are_registered() -> None:
    assert BENCHMARKS["encoding"] == "benchmarks.encoding"
    assert BENCHMARKS["bulk"] == "benchmarks.bulk"


def test_encoding_quick(tmp_path: Path) -> None:
    out = tmp_path / "encoding.json"
    assert main(["encoding", "--quick", "--records", "1500", "--max-rows", "300", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"benchmark", "machine", "bundle", "settings", "targets", "skipped", "sources", "duration_s"} <= set(result)
    by_name = {s["source"]: s for s in result["sources"]}
    skipped = {s["source"] for s in result["skipped"]}
    # Every real list is either measured or skipped with a reason; the synthetic set always runs.
    assert set(by_name) | skipped == {"pdl", "crunchbase", "inc5000", "yc", "synthetic"}
    assert all(s["reason"] for s in result["skipped"])
    assert by_name["synthetic"]["records"] == 1500
    for source in result["sources"]:
        assert set(source) >= ENCODING_SOURCE_KEYS, source["source"]
        assert set(source["encode"]) >= ENCODE_KEYS and set(source["score"]) >= SCORE_KEYS
        if source["kind"] == "real":
            assert 0 < source["records"] <= 300
        for key in ("cold_us_per_record", "warm_us_per_record"):
            assert source["encode"][key] > 0 and source["score"][key] > 0
        assert 0 < source["distinct_share"] <= 1 and source["cache_entries"] > 0
        assert [f["field"] for f in source["fields"]] == [
            f for f in result["bundle"]["fields"] if f in source["fields_mapped"]
        ]
        for field in source["fields"]:
            assert set(field) >= FIELD_KEYS
            assert field["records"] == source["records"] and 0 < field["distinct"] <= field["cells"] <= field["records"]
    synthetic = by_name["synthetic"]
    assert len(synthetic["fields"]) == 11  # generate_visitors writes every field
    assert {"items", "distinct_items"} <= set(next(f for f in synthetic["fields"] if f["type"] == "set"))


def test_encoding_skips_absent_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "encoding.json"
    args = ["encoding", "--quick", "--records", "200", "--data", str(tmp_path / "nowhere"), "--out", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert [s["source"] for s in result["sources"]] == ["synthetic"]
    assert len(result["skipped"]) == 4 and all("absent" in s["reason"] for s in result["skipped"])
    assert "skipped pdl" in capsys.readouterr().out


def test_bulk_quick(tmp_path: Path) -> None:
    out = tmp_path / "bulk.json"
    args = ["bulk", "--quick", "--records", "3000", "--base", "1000", "--phase-records", "1500", "--out", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert {
        "machine",
        "settings",
        "targets",
        "inputs",
        "runs",
        "records_per_s",
        "vs_target",
        "peak_rss_mb",
        "bounded_memory",
        "phases",
        "all_ok",
    } <= set(result)
    assert result["all_ok"] is True
    assert result["inputs"]["records"] == 3000 and result["inputs"]["copies"] == 3
    runs = {r["name"]: r for r in result["runs"]}
    parquet = importlib.util.find_spec("pyarrow") is not None  # in the dev extra; without it Parquet runs drop
    expected = {"csv→csv", "csv→jsonl", "csv→csv, first 1,000"} | ({"parquet→csv", "csv→parquet"} if parquet else set())
    assert set(runs) == expected
    for run in result["runs"]:
        assert set(run) >= BULK_RUN_KEYS, run["name"]
        assert run["exit_code"] == 0
        assert run["records_out"] == run["records_in"] == run["summary_records"]
        assert run["records_in"] == (1000 if "first" in run["name"] else 3000)
        for key in ("wall_s", "records_per_s", "vs_target", "cli_elapsed_s", "cpu_s", "output_bytes"):
            assert run[key] > 0, (run["name"], key)
        # Peak memory was measured (a Python process with numpy and numba is tens of MB at least).
        assert run["peak_rss_mb"] > 20 and run["sampled_peak_rss_mb"] > 0 and run["rss_timeline_mb"]
    assert result["bounded_memory"]["small_records"] == 1000 and result["bounded_memory"]["peak_ratio"] > 0
    phases = result["phases"]
    assert phases["records"] == phases["summary_records"] == 1500
    assert all(v >= 0 for v in phases["steps_us_per_record"].values()) and phases["steps_us_per_record"]["encode"] > 0
    assert set(phases["writers"]) == {"csv", "jsonl"} | ({"parquet"} if parquet else set())
    assert all(w["write_us_per_record"] > 0 for w in phases["writers"].values())
