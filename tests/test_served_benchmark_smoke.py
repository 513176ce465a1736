"""Smoke test of ``python -m benchmarks served`` at tiny settings (no timing assertions).

Runs the real thing (``icp serve`` subprocess, ``benchmarks.loadgen`` subprocess) for a few
seconds and checks what would make its numbers meaningless: missing keys, failed calls, counts
that do not add up between the load generator and the server's own metrics, quantiles out of
order. Also checks the Prometheus-style quantile estimate on a hand-made histogram.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.served import histogram_quantile

ROOT = Path(__file__).resolve().parent.parent

TOP_KEYS = {
    "benchmark",
    "duration_s",
    "machine",
    "note",
    "server",
    "settings",
    "targets",
    "unary",
    "unary_phases",
    "throughput",
    "errors",
}
UNARY_ROW_KEYS = {
    "rate",
    "score_latency",
    "check_latency",
    "p50_over_floor_us",
    "server_handling",
    "server_cpu_us_per_call",
    "check_server_cpu_us_per_call",
    "client_cpu_us_per_call",
    "errors",
}
THROUGHPUT_KEYS = {
    "method",
    "form",
    "batch_size",
    "concurrency",
    "wall_s",
    "batches",
    "records",
    "record_errors",
    "errors",
    "records_per_s",
    "batches_per_s",
    "latency",
    "server_cpu_s",
    "server_cpu_us_per_record",
    "client_cpu_us_per_record",
    "server_kernel_us_per_record",
    "server_records_seen",
    "server_kernel_calls",
    "server_cores_busy",
}


def _ordered(latency: dict[str, float]) -> None:
    assert 0 < latency["p50_us"] <= latency["p90_us"] <= latency["p99_us"] <= latency["max_us"]


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    # 10 observations ≤ 0.1 ms, 10 more in (0.1, 0.25] ms, 0 beyond
    cumulative = {0.0001: 10.0, 0.00025: 20.0, 0.0005: 20.0, math.inf: 20.0}
    assert histogram_quantile(0.5, cumulative) == pytest.approx(0.0001)
    assert histogram_quantile(0.25, cumulative) == pytest.approx(0.00005)  # first bucket starts at 0
    assert histogram_quantile(0.75, cumulative) == pytest.approx(0.0001 + 0.00015 * 0.5)
    assert histogram_quantile(0.99, {0.001: 1.0, math.inf: 100.0}) == pytest.approx(0.001)  # +Inf: highest bound
    assert math.isnan(histogram_quantile(0.5, {0.001: 0.0, math.inf: 0.0}))


def test_served_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "served.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "served",
            "--rates",
            "50",
            "--unary-duration",
            "0.3",
            "--batch-sizes",
            "1,10",
            "--concurrency",
            "1,2",
            "--throughput-duration",
            "0.15",
            "--idle",
            "0.1",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "| req/s |" in completed.stdout and "| method | form |" in completed.stdout
    result = json.loads(out.read_text())

    assert result.keys() >= TOP_KEYS
    assert result["benchmark"] == "served"
    assert result["errors"] == 0
    assert result["server"]["ready_s"] > 0
    assert result["server"]["exit_code"] == 0  # drained and stopped on SIGTERM
    assert "share" in result["note"]

    # unary: one Check and one Score phase at the one rate, every call answered
    phases = result["unary_phases"]
    assert sorted(p["method"] for p in phases) == ["Check", "Score"]
    for p in phases:
        assert p["errors"] == 0 and p["ok"] == p["sent"] == round(50 * 0.3)
        assert p["achieved_per_s"] > 0 and p["sent_per_s"] > 0
        assert p["latency"]["n"] == p["ok"]
        _ordered(p["latency"])
        assert p["server_cpu_s"] >= 0 and p["cpu_window_s"] > 0
    score = next(p for p in phases if p["method"] == "Score")
    handling = score["server_handling"]
    assert handling["count"] == score["ok"]  # the server's histogram saw exactly the measured calls
    assert 0 < handling["p50_us"] <= handling["p90_us"] <= handling["p99_us"]
    assert handling["mean_us"] > 0

    [row] = result["unary"]
    assert row.keys() >= UNARY_ROW_KEYS
    assert row["errors"] == 0
    assert row["p50_over_floor_us"] == pytest.approx(row["score_latency"]["p50_us"] - row["check_latency"]["p50_us"])

    # throughput: both methods × the three forms × batch sizes 1, 10 × 1 and 2 callers
    points = result["throughput"]
    assert len(points) == 2 * 3 * 2 * 2
    assert {(p["method"], p["form"], p["batch_size"], p["concurrency"]) for p in points} == {
        (m, f, b, c)
        for m in ("ScoreBatch", "ScoreStream")
        for f in ("records", "columns", "columnar")
        for b in (1, 10)
        for c in (1, 2)
    }
    for p in points:
        assert p.keys() >= THROUGHPUT_KEYS
        assert p["errors"] == 0 and p["record_errors"] == 0 and p["wrong_sizes"] == 0, p
        assert p["batches"] > 0
        assert p["records"] == p["batches"] * p["batch_size"]
        assert p["server_records_seen"] == p["records"]  # icp_batch_records on the server agrees
        assert p["server_kernel_calls"] == p["batches"]
        assert p["latency"]["n"] == p["batches"]
        _ordered(p["latency"])
        assert p["records_per_s"] == pytest.approx(p["records"] / p["wall_s"])
        assert p["batches_per_s"] == pytest.approx(p["batches"] / p["wall_s"])
        assert p["server_cpu_s"] > 0 and p["server_cpu_us_per_record"] > 0
        assert p["server_cpu_us_per_record"] == pytest.approx(p["server_cpu_s"] / p["records"] * 1e6)
        assert p["server_kernel_us_per_record"] > 0
        if p["method"] == "ScoreBatch":
            assert p["server_handling"]["count"] == p["batches"]
