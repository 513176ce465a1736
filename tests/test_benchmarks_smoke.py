"""Smoke test of the kernel benchmark's code path (tiny sizes, no timing assertions).

Checks what would make the benchmark's numbers meaningless: the synthetic
columns must score exactly like the same records sent through the real
encoder, and the JSON must carry the keys the README documents, with
positive numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks import kernel
from benchmarks.synthetic import raw_records, synthetic_columns, write_profiles
from compiler import compile_profiles
from runtime.encode import Encoder
from runtime.finish import run_kernel

RUN_KEYS = {
    "profiles",
    "records",
    "timed_records",
    "criteria_rows",
    "bytes_per_record",
    "first_call_s",
    "kernel_s",
    "ns_per_record",
    "evaluations_per_s_per_core",
    "target_evaluations_per_s_per_core",
    "target_ns_per_record",
    "vs_target",
    "floor_s",
    "floor_ns_per_record",
    "floor_gb_per_s",
    "floor_ratio",
    "two_threads_s",
    "two_threads_speedup",
    "sanity",
    "outputs",
}
POSITIVE = (
    "kernel_s",
    "ns_per_record",
    "evaluations_per_s_per_core",
    "vs_target",
    "floor_s",
    "floor_ns_per_record",
    "floor_ratio",
    "two_threads_s",
    "two_threads_speedup",
    "bytes_per_record",
)


def test_synthetic_columns_score_like_the_encoder_path(tmp_path: Path) -> None:
    bundle = compile_profiles(write_profiles(tmp_path / "profiles", 2, seed=3))
    columns = synthetic_columns(bundle, 2_000, seed=3)
    encoded = Encoder(bundle).encode(raw_records(bundle, columns))
    assert not encoded.problems
    direct, via_encoder = run_kernel(bundle, columns), run_kernel(bundle, encoded.columns)
    np.testing.assert_array_equal(direct.best, via_encoder.best)
    np.testing.assert_array_equal(direct.earned, via_encoder.earned)
    np.testing.assert_array_equal(direct.known, via_encoder.known)
    np.testing.assert_array_equal(direct.qualified, via_encoder.qualified)
    # The data exercises the kernel: both profiles win somewhere, some records qualify, some do not,
    # and missing / unlisted values are present.
    assert set(np.unique(direct.best)) == {0, 1}
    assert 0 < direct.qualified.sum() < len(direct.qualified)
    assert (columns.cat_codes == -1).any() and np.isnan(columns.num_lo).any()
    sizes = {f["index"]: len(f["values"]) for f in bundle.meta["fields"] if f["type"] == "category"}
    assert any((columns.cat_codes[:, i] >= size).any() for i, size in sizes.items())


def test_kernel_benchmark_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "kernel.json"
    result = kernel.run([2], records=2_000, repeats=1, sanity_records=2_000, out=out, sweep_sizes=(1, 100, 5_000), log=lambda line: None)
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(result))
    assert {"benchmark", "duration_s", "machine", "settings", "targets", "sanity_ok", "runs"} <= set(written)
    assert written["sanity_ok"] is True
    (run,) = written["runs"]
    assert set(run) >= RUN_KEYS
    assert run["profiles"] == 2 and run["records"] == 2_000
    assert run["sanity"] == {"records": 2_000, "mismatches": 0, "encoder_problems": 0, "agree": True}
    for key in POSITIVE:
        assert run[key] > 0, key
    assert "| 2 | 2,000 |" in kernel.markdown_table(written)
    # sizes above the run's records are left out; each point is one call's median over many calls
    assert [(p["records"], p["calls"]) for p in run["sweep"]] == [(1, 20_000), (100, 20_000)]
    assert all(p["median_call_s"] > 0 and p["ns_per_record"] == p["median_call_s"] / p["records"] * 1e9 for p in run["sweep"])
