"""Kernel benchmark: ``score_records`` on 1M synthetic records × 1 / 8 / 32 (/ 128) profiles.

For each profile count: seeded profiles are written and compiled, encoded
columns are generated with NumPy (:mod:`benchmarks.synthetic`), and then,
after a warm-up call excluded from timing, best of ``repeats``:

* the kernel: :func:`runtime.finish.run_kernel` (``per_profile=False``, best
  profile chosen in the kernel), one thread;
* the memory floor: :func:`read_columns`, a ``nogil`` Numba loop that reads
  every encoded column of every record once (sums them), one thread, on the
  same arrays;
* two threads: the records split in two halves, ``run_kernel`` on each half
  from a ``ThreadPoolExecutor(2)`` (the kernel releases the GIL);
* a records sweep (1, 10, 100, ... records per call): the median time of one
  ``run_kernel`` call per batch size, so the fixed cost per call (allocating
  outputs, finding the plan) shows next to the per-record cost.

Not timed: a sanity check that the synthetic columns and the real encoder
(fed :func:`benchmarks.synthetic.raw_records` for the same records) give the
same kernel outputs. Targets come from PRODUCT.md ("Performance bars") and
are reported as ratios next to the measurements; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numba
import numpy as np

from benchmarks.machine import machine_info, result_header
from benchmarks.synthetic import (
    MISSING_RATE,
    UNLISTED_RATE,
    raw_records,
    synthetic_columns,
    write_profiles,
)
from compiler import compile_profiles
from compiler.bundle import Bundle
from runtime.encode import Encoder
from runtime.finish import KernelOutput, run_kernel
from runtime.kernels import Columns

HELP = "score_records throughput vs. the memory floor, 1 and 2 threads"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

# PRODUCT.md, "Performance bars": ≥ 500 million record×profile evaluations per second per core
# (≤ 64 ns per record at 32 profiles).
TARGET_EVALUATIONS_PER_S = 500e6
TARGET_NS_AT_32 = 64.0

_jit = numba.njit(nogil=True, cache=os.environ.get("ICP_NUMBA_CACHE", "1") != "0")


@_jit
def _read_floor(cat: np.ndarray, lo: np.ndarray, hi: np.ndarray, bits: np.ndarray, present: np.ndarray) -> np.uint64:
    """Sum of every word of every column (floats read as their bit patterns so the loop vectorises).

    cat int32[n*C], lo uint64[n*N], hi uint64[n*N], bits uint64[n*W], present uint8[n*S].
    """
    total = np.uint64(0)
    for x in cat:
        total += np.uint64(x)
    for x in lo:
        total += x
    for x in hi:
        total += x
    for x in bits:
        total += x
    for x in present:
        total += np.uint64(x)
    return total


def read_columns(columns: Columns) -> int:
    """Read every encoded column of every record once: the memory-bandwidth floor for the kernel."""
    return int(
        _read_floor(
            columns.cat_codes.reshape(-1),
            columns.num_lo.view(np.uint64).reshape(-1),
            columns.num_hi.view(np.uint64).reshape(-1),
            columns.set_bits.reshape(-1),
            columns.set_present.reshape(-1),
        )
    )


def slice_columns(columns: Columns, start: int, stop: int) -> Columns:
    """Records ``start:stop`` (row slices of C-contiguous arrays stay C-contiguous: no new compile)."""
    return Columns(*(array[start:stop] for array in columns))


def columns_bytes(columns: Columns) -> int:
    return sum(int(array.nbytes) for array in columns)


def best_of(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls (the caller takes the min)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def check_encoder_agrees(bundle: Bundle, columns: Columns, n: int) -> dict[str, Any]:
    """Kernel outputs on the first ``n`` synthetic records vs. the same records through the real encoder."""
    n = min(n, columns.cat_codes.shape[0])
    direct = slice_columns(columns, 0, n)
    encoded = Encoder(bundle).encode(raw_records(bundle, columns, slice(0, n)))
    a, b = run_kernel(bundle, direct), run_kernel(bundle, encoded.columns)
    differs = (a.best != b.best) | (a.earned != b.earned) | (a.known != b.known) | (a.qualified != b.qualified)
    return {
        "records": n,
        "mismatches": int(differs.sum()),
        "encoder_problems": len(encoded.problems),
        "agree": bool(not differs.any() and not encoded.problems),
    }


def _outputs_summary(out: KernelOutput, n_profiles: int) -> dict[str, Any]:
    return {
        "qualified_share": round(float(out.qualified.mean()), 4) if out.qualified.size else 0.0,
        "profiles_chosen": int(np.unique(out.best).size),
        "profiles": n_profiles,
    }


def measure(
    n_profiles: int,
    n_records: int,
    repeats: int,
    seed: int,
    sanity_records: int,
    threads: bool = True,
    max_call_s: float | None = None,
    sweep_sizes: Sequence[int] = (),
) -> dict[str, Any]:
    """Everything for one profile count (see the module docstring).

    ``max_call_s`` caps one kernel call: when a call on ``n_records`` would
    take longer (estimated from a second warm-up call), the kernel is timed
    on the first records only (at least 10,000). The floor is always read over
    all ``n_records`` (so it is not flattered by a prefix that fits in cache);
    both are compared per record.
    """
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="icp-bench-") as tmp:
        bundle = compile_profiles(write_profiles(Path(tmp) / "profiles", n_profiles, seed=seed))
    compiled = time.perf_counter()
    columns = synthetic_columns(bundle, n_records, seed=seed + n_profiles)
    generated = time.perf_counter()
    sanity = check_encoder_agrees(bundle, columns, sanity_records)

    warm = slice_columns(columns, 0, min(n_records, 10_000))
    first = time.perf_counter()
    run_kernel(bundle, warm)  # JIT load (disk cache) or compile; excluded from timing
    first_call_s = time.perf_counter() - first
    read_columns(warm)
    estimate = time.perf_counter()
    run_kernel(bundle, warm)
    estimated_call_s = (time.perf_counter() - estimate) / warm.cat_codes.shape[0] * n_records
    timed_records = n_records
    if max_call_s is not None and estimated_call_s > max_call_s:
        timed_records = max(warm.cat_codes.shape[0], int(n_records * max_call_s / estimated_call_s))
    timed = slice_columns(columns, 0, timed_records)

    kernel_times = best_of(lambda: run_kernel(bundle, timed), repeats)
    floor_times = best_of(lambda: read_columns(columns), repeats)
    result_out = run_kernel(bundle, timed)

    two_thread_times: list[float] = []
    if threads:
        half = timed_records // 2
        halves = [slice_columns(timed, 0, half), slice_columns(timed, half, timed_records)]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda c: run_kernel(bundle, c), [slice_columns(h, 0, 1000) for h in halves]))
            two_thread_times = best_of(lambda: list(pool.map(lambda c: run_kernel(bundle, c), halves)), repeats)

    kernel_s, floor_s = min(kernel_times), min(floor_times)
    evaluations = timed_records * n_profiles
    evaluations_per_s = evaluations / kernel_s
    nbytes = columns_bytes(columns)
    t = bundle.tables
    rows = int(t.prof_excl_end[-1]) if n_profiles else 0
    run: dict[str, Any] = {
        "profiles": n_profiles,
        "records": n_records,
        "timed_records": timed_records,
        "estimated_full_call_s": round(estimated_call_s, 3),
        "criteria_rows": rows,
        "rows_per_profile": round(rows / n_profiles, 2),
        "bytes_per_record": round(nbytes / n_records, 1),
        "setup_s": {"profiles": round(compiled - start, 3), "columns": round(generated - compiled, 3)},
        "first_call_s": round(first_call_s, 4),
        "kernel_s": kernel_s,
        "kernel_repeats_s": kernel_times,
        "ns_per_record": kernel_s / timed_records * 1e9,
        "ns_per_evaluation": kernel_s / evaluations * 1e9,
        "evaluations_per_s_per_core": evaluations_per_s,
        "target_evaluations_per_s_per_core": TARGET_EVALUATIONS_PER_S,
        "target_ns_per_record": n_profiles / TARGET_EVALUATIONS_PER_S * 1e9,
        "vs_target": evaluations_per_s / TARGET_EVALUATIONS_PER_S,
        "floor_s": floor_s,
        "floor_repeats_s": floor_times,
        "floor_ns_per_record": floor_s / n_records * 1e9,
        "floor_gb_per_s": nbytes / floor_s / 1e9,
        "floor_ratio": (kernel_s / timed_records) / (floor_s / n_records),
        "sanity": sanity,
        "outputs": _outputs_summary(result_out, n_profiles),
    }
    if sweep_sizes:
        run["sweep"] = records_sweep(bundle, columns, [s for s in sweep_sizes if s <= n_records])
    if two_thread_times:
        two_s = min(two_thread_times)
        run.update(
            two_threads_s=two_s,
            two_threads_repeats_s=two_thread_times,
            two_threads_speedup=kernel_s / two_s,
            two_threads_evaluations_per_s=evaluations / two_s,
        )
    return run


SWEEP_SIZES = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
SWEEP_RECORDS_PER_SIZE = 2_000_000  # records scored per batch size (so small sizes get many calls)


def records_sweep(bundle: Bundle, columns: Columns, sizes: Sequence[int]) -> list[dict[str, Any]]:
    """Median wall time of one ``run_kernel`` call for each batch size (calls walk through the records)."""
    n = columns.cat_codes.shape[0]
    points = []
    for size in sizes:
        calls = max(3, min(20_000, SWEEP_RECORDS_PER_SIZE // size))
        times = []
        for call in range(calls):
            start = (call * size) % max(1, n - size + 1)
            batch = slice_columns(columns, start, start + size)
            began = time.perf_counter()
            run_kernel(bundle, batch)
            times.append(time.perf_counter() - began)
        median = float(np.median(times))
        points.append({"records": size, "calls": calls, "median_call_s": median, "ns_per_record": median / size * 1e9})
    return points


def run(
    profile_counts: Sequence[int] = (1, 8, 32, 128),
    records: int = 1_000_000,
    large_records: int = 250_000,
    large_from: int = 64,
    repeats: int = 3,
    seed: int = 20240601,
    sanity_records: int = 3_000,
    threads: bool = True,
    out: Path | None = RESULTS_DIR / "kernel.json",
    max_call_s: float | None = 8.0,
    sweep_sizes: Sequence[int] = SWEEP_SIZES,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    """Run the kernel benchmark, write JSON to ``out`` (unless ``None``) and return the result."""
    started = time.perf_counter()
    machine = machine_info(numpy=np.__version__, numba=numba.__version__, icp_numba_cache=os.environ.get("ICP_NUMBA_CACHE", "1"))
    runs = []
    for n_profiles in profile_counts:
        n = large_records if n_profiles >= large_from else records
        log(f"kernel: {n_profiles} profiles × {n:,} records ...")
        runs.append(measure(n_profiles, n, repeats, seed, sanity_records, threads, max_call_s, sweep_sizes))
        r = runs[-1]
        log(
            f"  {r['ns_per_record']:.1f} ns/record, floor ×{r['floor_ratio']:.1f}, sanity {'ok' if r['sanity']['agree'] else 'MISMATCH'}"
        )
    result = {
        **result_header("kernel", started, machine),
        "settings": {
            "seed": seed,
            "repeats": repeats,
            "records": records,
            "large_records": large_records,
            "large_from_profiles": large_from,
            "missing_rate": MISSING_RATE,
            "unlisted_rate": UNLISTED_RATE,
            "sanity_records": sanity_records,
            "max_call_s": max_call_s,
            "sweep_sizes": list(sweep_sizes),
            "timing": "wall clock, best of repeats after a warm-up call; run_kernel includes allocating its outputs",
        },
        "targets": {
            "evaluations_per_s_per_core": TARGET_EVALUATIONS_PER_S,
            "ns_per_record_at_32_profiles": TARGET_NS_AT_32,
            "source": "PRODUCT.md, Performance bars",
        },
        "sanity_ok": all(r["sanity"]["agree"] for r in runs),
        "runs": runs,
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def markdown_table(result: dict[str, Any]) -> str:
    """The runs as a markdown table (columns explained in benchmarks/README.md)."""
    header = (
        "| profiles | records timed | ns/record | target ns/record | M eval/s/core | vs target | "
        "floor ns/record | kernel/floor | 2-thread speed-up | qualified | encoder check |"
    )
    lines = [header, "|" + "---:|" * 11]
    for r in result["runs"]:
        speedup = f"{r['two_threads_speedup']:.2f}×" if "two_threads_speedup" in r else "n/a"
        lines.append(
            f"| {r['profiles']} | {r['timed_records']:,} | {r['ns_per_record']:.1f} | {r['target_ns_per_record']:.0f} | "
            f"{r['evaluations_per_s_per_core'] / 1e6:.3g} | {r['vs_target']:.3g}× | {r['floor_ns_per_record']:.2f} | "
            f"{r['floor_ratio']:.3g}× | {speedup} | {r['outputs']['qualified_share']:.1%} | "
            f"{'ok' if r['sanity']['agree'] else 'MISMATCH'} ({r['sanity']['records']:,}) |"
        )
    sweeps = [r for r in result["runs"] if r.get("sweep")]
    if sweeps:
        sizes = [point["records"] for point in sweeps[0]["sweep"]]
        lines += ["", "ns per record by records per call (median call):", "",
                  "| profiles | " + " | ".join(f"{size:,}" for size in sizes) + " |", "|---:" * (len(sizes) + 1) + "|"]
        for r in sweeps:
            by_size = {point["records"]: point["ns_per_record"] for point in r["sweep"]}
            cells = [f"{by_size[size]:,.0f}" if size in by_size else "—" for size in sizes]
            lines.append(f"| {r['profiles']} | " + " | ".join(cells) + " |")
        fixed = [f"{r['profiles']} profiles {r['sweep'][0]['median_call_s'] * 1e6:.1f} µs" for r in sweeps if r["sweep"][0]["records"] == 1]
        if fixed:
            lines += ["", "fixed cost per call (median 1-record call): " + ", ".join(fixed)]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profiles", default="1,8,32,128", help="profile counts, comma separated (default 1,8,32,128)")
    parser.add_argument("--records", type=int, default=1_000_000, help="records per run (default 1,000,000)")
    parser.add_argument(
        "--large-records",
        type=int,
        default=250_000,
        help="records for runs with >= --large-from profiles (default 250,000)",
    )
    parser.add_argument(
        "--large-from", type=int, default=64, help="profile count from which --large-records applies (default 64)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats, best taken (default 3)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--sanity-records", type=int, default=3_000, help="records checked against the real encoder (not timed)"
    )
    parser.add_argument(
        "--max-call-s",
        type=float,
        default=8.0,
        help="cap on one timed kernel call: if slower, time the kernel on a prefix of the records (default 8; 0 = no cap)",
    )
    parser.add_argument("--no-threads", action="store_true", help="skip the 2-thread measurement")
    parser.add_argument(
        "--sweep",
        default=",".join(str(size) for size in SWEEP_SIZES),
        help="records per call for the sweep, comma separated ('' to skip; sizes above the run's records are left out)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR / "kernel.json",
        help="JSON output (default benchmarks/results/kernel.json)",
    )


def main(args: argparse.Namespace) -> int:
    counts = [int(x) for x in str(args.profiles).split(",") if x.strip()]
    result = run(
        counts,
        args.records,
        args.large_records,
        args.large_from,
        args.repeats,
        args.seed,
        args.sanity_records,
        not args.no_threads,
        args.out,
        args.max_call_s or None,
        [int(x) for x in str(args.sweep).split(",") if x.strip()],
    )
    print(markdown_table(result))
    print(
        f"\n{result['duration_s']:.1f} s in all; JSON: {args.out}; load average {result['machine']['loadavg_start']} → {result['machine']['loadavg_end']}"
    )
    if not result["sanity_ok"]:
        print(
            "WARNING: the synthetic columns and the encoder path disagree; these timings score the wrong input",
            file=sys.stderr,
        )
        return 1
    return 0


__all__ = ["HELP", "add_arguments", "check_encoder_agrees", "main", "markdown_table", "measure", "read_columns", "run"]
