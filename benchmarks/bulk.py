"""Bulk benchmark: ``icp score`` on a 1,000,000-row file end to end, as a real subprocess.

The input is generated once into a temporary folder with
``examples/generate_visitors.py``: a seeded base set (100,000 visitors by default;
generating costs ~70 µs a row, so 1M rows directly would take over a minute) written
``records / base`` times with fresh ids (``v-0000001`` ...), so every row is a realistic
visitor and ids are unique. A Parquet copy (every column a string, as the CSV reader gives
them) is written with pyarrow.

Runs (each ``python -m cli.main score IN -o OUT --quiet --summary-json S`` with the bundled
profiles, as a user would run it):

* ``csv→csv`` and ``parquet→csv``: the input formats;
* ``csv→jsonl`` and ``csv→parquet``: the output writers (``--formats``);
* ``csv→csv`` on the first ``base`` rows only: the same process on a tenth of the file, so
  peak memory at 1M can be compared with peak memory at 100k (streaming in 50,000-row
  chunks should keep them close).

For each run: wall time of the subprocess (start-up, compiling the profiles, reading,
scoring, writing), the CLI's own elapsed time (it prints ``wrote ... in Ts``; everything
after the bundle is open), records/s, peak memory of the child (``ru_maxrss`` from
``os.wait4`` on its pid; RSS also sampled from ``/proc/PID/status`` during the run), and
the rows in the output (must equal the rows in the input).

Then, in this process, a per-phase breakdown of the CLI's loop on the first ``--phase-records``
rows (reading, mapping, encoding, kernel, finishing, the summary tally, building the output
columns, and writing each output format), so the writers' share is visible. Nothing
asserts on time; the bar (≥ 1M records/s) is reported as a ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.encoding import load_generator
from benchmarks.machine import machine_info, result_header
from cli.records import CHUNK_ROWS

HELP = "icp score on a 1M-row CSV / Parquet file end to end: records/s, wall time, peak memory"
ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"

TARGET_RECORDS_PER_S = 1_000_000  # PRODUCT.md, "Performance bars": bulk
RSS_SAMPLE_S = 0.2
_WROTE = re.compile(r"wrote .* in ([0-9.]+)s \(([0-9,]+) records/s\)")


# --------------------------------------------------------------------------------------------
# Input files
# --------------------------------------------------------------------------------------------


def write_inputs(folder: Path, records: int, base: int, seed: int, parquet: bool = True) -> dict[str, Any]:
    """``visitors.csv`` (``records`` rows: the base set repeated with new ids) and ``visitors.parquet``."""
    generator = load_generator()
    base = max(1, min(base, records))
    started = time.perf_counter()
    rows = generator.generate(seed, base)
    generated = time.perf_counter() - started
    path = folder / "visitors.csv"
    started = time.perf_counter()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(generator.COLUMNS)
        columns = generator.COLUMNS[1:]
        written = 0
        while written < records:
            for row in rows[: records - written]:
                written += 1
                writer.writerow([f"v-{written:07d}", *(row[c] for c in columns)])
    concatenated = time.perf_counter() - started
    info: dict[str, Any] = {
        "csv": str(path),
        "records": records,
        "base_records": base,
        "copies": math.ceil(records / base),
        "seed": seed,
        "generate_base_s": round(generated, 3),
        "generate_us_per_row": round(generated / base * 1e6, 2),
        "generate_all_directly_estimate_s": round(generated / base * records, 1),
        "write_csv_s": round(concatenated, 3),
        "csv_bytes": path.stat().st_size,
    }
    if parquet:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        started = time.perf_counter()
        convert = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in generator.COLUMNS}, strings_can_be_null=False
        )
        table = pacsv.read_csv(path, convert_options=convert)
        parquet_path = folder / "visitors.parquet"
        pq.write_table(table, parquet_path, row_group_size=CHUNK_ROWS * 2)
        del table
        info.update(
            parquet=str(parquet_path),
            write_parquet_s=round(time.perf_counter() - started, 3),
            parquet_bytes=parquet_path.stat().st_size,
        )
    return info


def head_csv(source: Path, target: Path, rows: int) -> Path:
    """The header and the first ``rows`` rows of ``source`` (one line per row in this file)."""
    with source.open("r", encoding="utf-8") as inp, target.open("w", encoding="utf-8") as out:
        for i, line in enumerate(inp):
            if i > rows:
                break
            out.write(line)
    return target


# --------------------------------------------------------------------------------------------
# One subprocess run
# --------------------------------------------------------------------------------------------


def _vm_kb(pid: int) -> tuple[int, int] | None:
    """``VmRSS`` and ``VmHWM`` (peak RSS of the current image, reset by exec) of a live process, in KiB."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    values[line[:5]] = int(line.split()[1])
    except (OSError, ValueError):
        return None
    return (values["VmRSS"], values["VmHWM"]) if len(values) == 2 else None


# Runs the command as ITS child and reports that grandchild's wall time and rusage. Why not
# Popen + wait4 directly: a child forked from this (large) process inherits its memory
# high-water mark, which survives exec, so ru_maxrss would report this process's size (seen:
# 448 MB for every run). Forked from this small launcher, the command's ru_maxrss is its own.
LAUNCHER = """
import json, os, sys, time
report, pidfile, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
with open(pidfile, "w") as f:
    f.write(str(pid))
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(report, "w") as f:
    json.dump({"wall_s": wall, "exit_code": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss,
               "utime_s": usage.ru_utime, "stime_s": usage.ru_stime}, f)
"""


def count_output_rows(path: Path) -> int:
    """Data rows in an ``icp score`` output (CSV header excluded)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if suffix in (".jsonl", ".ndjson"):
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    with path.open("r", encoding="utf-8", newline="") as handle:
        return max(0, sum(1 for _ in csv.reader(handle)) - 1)


def score_subprocess(
    input_path: Path, output_path: Path, records_in: int, name: str, profiles: Path | None = None, timeout: float = 1800
) -> dict[str, Any]:
    """``python -m cli.main score`` as a subprocess; wall time, peak RSS (``wait4``, see LAUNCHER), output rows."""
    summary_path = output_path.with_name(output_path.stem + ".summary.json")
    log_path = output_path.with_name(output_path.stem + ".log")
    command = [
        sys.executable,
        "-m",
        "cli.main",
        "score",
        str(input_path),
        "-o",
        str(output_path),
        "--quiet",
        "--summary-json",
        str(summary_path),
    ]
    if profiles is not None:
        command += ["--profiles", str(profiles)]
    samples: list[tuple[float, int, int]] = []  # (seconds, VmRSS KiB, VmHWM KiB)
    report_path = output_path.with_name(output_path.stem + ".rusage.json")
    pid_path = output_path.with_name(output_path.stem + ".pid")
    launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(report_path), str(pid_path), *command]
    with log_path.open("w", encoding="utf-8") as log:
        started = time.perf_counter()
        child = subprocess.Popen(launcher, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()

        def pid() -> int | None:
            try:
                return int(pid_path.read_text())
            except (OSError, ValueError):
                return None

        def poll() -> None:
            scored = None
            while not done.is_set():
                scored = scored or pid()
                vm = _vm_kb(scored) if scored else None
                if vm is not None:
                    samples.append((time.perf_counter() - started, *vm))
                done.wait(RSS_SAMPLE_S)

        def kill() -> None:
            scored = pid()
            if scored:
                os.kill(scored, 9)
            child.kill()

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            child.wait()
        finally:
            timer.cancel()
            done.set()
        outer_wall = time.perf_counter() - started
        poller.join()
    usage = json.loads(report_path.read_text()) if report_path.is_file() else {}
    wall = usage.get("wall_s", outer_wall)
    exit_code = usage.get("exit_code", child.returncode)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    match = _WROTE.search(text)
    cli_elapsed = float(match.group(1)) if match else None
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    rows_out = count_output_rows(output_path) if output_path.is_file() else 0
    peak_mb = usage.get("maxrss_kb", 0) / 1024  # Linux: KiB
    result: dict[str, Any] = {
        "name": name,
        "input": input_path.name,
        "input_format": input_path.suffix.lstrip("."),
        "output_format": output_path.suffix.lstrip("."),
        "command": " ".join(["python", *command[1:]]).replace(str(input_path.parent) + "/", ""),
        "exit_code": exit_code,
        "records_in": records_in,
        "records_out": rows_out,
        "summary_records": summary.get("records"),
        "rows_match": rows_out == records_in and summary.get("records") == records_in,
        "wall_s": round(wall, 3),
        "outer_wall_s": round(outer_wall, 3),
        "records_per_s": records_in / wall,
        "vs_target": records_in / wall / TARGET_RECORDS_PER_S,
        "cli_elapsed_s": cli_elapsed,
        "cli_records_per_s": records_in / cli_elapsed if cli_elapsed else None,
        "startup_s": round(wall - cli_elapsed, 3) if cli_elapsed is not None else None,
        "peak_rss_mb": round(peak_mb, 1),
        "peak_rss_source": "ru_maxrss from os.wait4, the command forked from a small launcher",
        "sampled_peak_rss_mb": round(max((hwm for _, _, hwm in samples), default=0) / 1024, 1),
        "rss_samples": len(samples),
        "rss_timeline_mb": _timeline(samples),
        "cpu_s": round(usage.get("utime_s", 0) + usage.get("stime_s", 0), 3),
        "output_bytes": output_path.stat().st_size if output_path.is_file() else 0,
    }
    if exit_code != 0:
        result["log_tail"] = text[-2000:]
    return result


def _timeline(samples: list[tuple[float, int, int]], points: int = 11) -> list[list[float]]:
    """RSS (MB) at ~``points`` evenly spaced moments of the run: flat once chunks stream."""
    if not samples:
        return []
    step = max(1, len(samples) // (points - 1))
    picked = samples[::step]
    if picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    return [[round(t, 2), round(kb / 1024, 1)] for t, kb, _ in picked]


# --------------------------------------------------------------------------------------------
# Phases, in process
# --------------------------------------------------------------------------------------------


def phases(input_path: Path, records: int, folder: Path, formats: Sequence[str]) -> dict[str, Any]:
    """The CLI's loop (``cli.main._score``) on the first ``records`` rows, each step timed.

    Uses the CLI's own (private) helpers so the steps are the ones ``icp score`` runs; every
    chunk is written to each of ``formats``. Per step: seconds and µs per record.
    """
    import itertools

    from cli.main import _tally
    from cli.output import Writer, answer_columns
    from cli.records import read_batches, read_mapping
    from cli.report import RunSummary
    from compiler.pipeline import open_bundle
    from compiler.schema import DEFAULT_PROFILES_DIR
    from runtime.encode import Encoder
    from runtime.finish import finish, run_kernel

    started = time.perf_counter()
    bundle = open_bundle(DEFAULT_PROFILES_DIR)
    open_s = time.perf_counter() - started
    header, chunks = read_batches(input_path)
    mapping = read_mapping(None, header, bundle.meta["fields"])
    encoder = Encoder(bundle, mapping.scales)
    run_kernel(bundle, encoder.encode([{}]).columns)  # JIT load, not timed
    encoder = Encoder(bundle, mapping.scales)
    summary = RunSummary()
    steps = dict.fromkeys(["read", "factorize", "encode", "kernel", "finish", "tally", "output_columns"], 0.0)
    writes = dict.fromkeys(formats, 0.0)
    writers = {fmt: Writer(folder / f"phases.{fmt}", header) for fmt in formats}
    for w in writers.values():
        w.__enter__()
    n = 0
    try:
        iterator = iter(chunks)
        while n < records:
            t0 = time.perf_counter()
            chunk = next(iterator, None)
            t1 = time.perf_counter()
            if chunk is None:
                break
            chunk = chunk.head(records - n)
            columns = mapping.to_columns(chunk)
            t2 = time.perf_counter()
            encoded = encoder.encode_columns(columns, chunk.size)
            t3 = time.perf_counter()
            kernel = run_kernel(bundle, encoded.columns)
            t4 = time.perf_counter()
            results = finish(bundle, kernel)
            t5 = time.perf_counter()
            _tally(summary, results, encoded.quality, len(encoded.problems), bundle)
            t6 = time.perf_counter()
            answers = answer_columns(results, bundle)
            t7 = time.perf_counter()
            for step, seconds in zip(steps, itertools.pairwise((t0, t1, t2, t3, t4, t5, t6, t7)), strict=True):
                steps[step] += seconds[1] - seconds[0]
            for fmt, writer in writers.items():
                w0 = time.perf_counter()
                writer.write(chunk, answers)
                writes[fmt] += time.perf_counter() - w0
            n += chunk.size
    finally:
        for fmt, writer in writers.items():
            w0 = time.perf_counter()
            writer.__exit__(None, None, None)
            writes[fmt] += time.perf_counter() - w0
    n = max(n, 1)
    common = sum(steps.values())
    per_format = {
        fmt: {
            "write_s": round(writes[fmt], 3),
            "write_us_per_record": writes[fmt] / n * 1e6,
            "total_us_per_record": (common + writes[fmt]) / n * 1e6,
            "write_share": writes[fmt] / (common + writes[fmt]),
        }
        for fmt in formats
    }
    return {
        "records": n,
        "chunk_rows": CHUNK_ROWS,
        "open_bundle_s": round(open_s, 3),
        "steps_s": {k: round(v, 3) for k, v in steps.items()},
        "steps_us_per_record": {k: v / n * 1e6 for k, v in steps.items()},
        "steps_share_without_write": {k: v / common for k, v in steps.items()} if common else {},
        "writers": per_format,
        "summary_records": summary.records,
    }


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


def run(
    records: int = 1_000_000,
    base: int = 100_000,
    seed: int = 11,
    formats: Sequence[str] = ("jsonl", "parquet"),
    parquet_input: bool = True,
    phase_records: int = 200_000,
    small_run: bool = True,
    keep: Path | None = None,
    out: Path | None = RESULTS_DIR / "bulk.json",
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    started = time.perf_counter()
    machine = machine_info(icp_numba_cache=os.environ.get("ICP_NUMBA_CACHE", "1"))
    try:
        import pyarrow

        machine["pyarrow"] = pyarrow.__version__
    except ImportError:  # the `parquet` / `dev` extra: without it the Parquet runs are dropped
        parquet_input = False
        formats = [f for f in formats if f != "parquet"]
    folder = Path(tempfile.mkdtemp(prefix="icp-bulk-")) if keep is None else keep
    folder.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    try:
        log(f"bulk: writing {records:,} rows ({base:,} generated, repeated with new ids) into {folder} ...")
        inputs = write_inputs(folder, records, base, seed, parquet_input)
        log(
            f"  generated {inputs['base_records']:,} in {inputs['generate_base_s']:.1f} s "
            f"({inputs['generate_us_per_row']:.0f} µs/row), CSV written in {inputs['write_csv_s']:.1f} s"
            + (f", Parquet in {inputs['write_parquet_s']:.1f} s" if "parquet" in inputs else "")
        )
        csv_in = Path(inputs["csv"])
        plan: list[tuple[str, Path, str, int]] = [("csv→csv", csv_in, "csv", records)]
        if parquet_input:
            plan.append(("parquet→csv", Path(inputs["parquet"]), "csv", records))
        plan += [(f"csv→{fmt}", csv_in, fmt, records) for fmt in formats if fmt != "csv"]
        if small_run and base < records:
            plan.append((f"csv→csv, first {base:,}", head_csv(csv_in, folder / "head.csv", base), "csv", base))
        for index, (name, path, fmt, n) in enumerate(plan):
            log(f"bulk: {name} ({n:,} records) ...")
            output = folder / f"out{index}.{fmt}"
            r = score_subprocess(path, output, n, name)
            runs.append(r)
            log(
                f"  {r['wall_s']:.1f} s wall ({r['records_per_s']:,.0f} records/s, CLI {r['cli_elapsed_s']} s), "
                f"peak RSS {r['peak_rss_mb']:.0f} MB, rows out {r['records_out']:,}, exit {r['exit_code']}"
            )
            output.unlink(missing_ok=True)
        phase = None
        if phase_records > 0:
            log(f"bulk: phases of the CLI loop on {min(phase_records, records):,} rows, in process ...")
            phase = phases(csv_in, min(phase_records, records), folder, ["csv", *[f for f in formats if f != "csv"]])
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    main_run = runs[0]
    small = next((r for r in runs if r["records_in"] < records), None)
    result = {
        **result_header("bulk", started, machine),
        "settings": {
            "records": records,
            "base_records": base,
            "seed": seed,
            "chunk_rows": CHUNK_ROWS,
            "formats": list(formats),
            "parquet_input": parquet_input,
            "phase_records": phase_records,
            "profiles": "bundled (default --profiles), compiled by each run",
            "timing": "wall clock of the subprocess from spawn to exit; one run each",
        },
        "targets": {
            "records_per_s": TARGET_RECORDS_PER_S,
            "memory": "bounded (streaming in chunks)",
            "source": "PRODUCT.md, Performance bars (Bulk)",
        },
        "inputs": {k: v for k, v in inputs.items() if k not in ("csv", "parquet")},
        "runs": runs,
        "records_per_s": main_run["records_per_s"],
        "vs_target": main_run["vs_target"],
        "peak_rss_mb": main_run["peak_rss_mb"],
        "bounded_memory": (
            {
                "small_records": small["records_in"],
                "small_peak_rss_mb": small["peak_rss_mb"],
                "large_records": records,
                "large_peak_rss_mb": main_run["peak_rss_mb"],
                "peak_ratio": main_run["peak_rss_mb"] / small["peak_rss_mb"] if small["peak_rss_mb"] else None,
                "records_ratio": records / small["records_in"],
            }
            if small
            else None
        ),
        "phases": phase,
        "all_ok": all(r["exit_code"] == 0 and r["rows_match"] for r in runs),
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def markdown_tables(result: dict[str, Any]) -> str:
    lines = [
        "| run | records | wall s | records/s | vs 1M/s | CLI s (after start-up) | CLI records/s | start-up s | "
        "peak RSS MB | CPU s | rows out | output MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        cli_rate = f"{r['cli_records_per_s']:,.0f}" if r["cli_records_per_s"] else "n/a"
        rows_out = f"{r['records_out']:,}" + ("" if r["rows_match"] else " MISMATCH")
        lines.append(
            f"| {r['name']} | {r['records_in']:,} | {r['wall_s']:.1f} | {r['records_per_s']:,.0f} | {r['vs_target']:.3f}× | "
            f"{r['cli_elapsed_s']} | {cli_rate} | {r['startup_s']} | {r['peak_rss_mb']:.0f} | {r['cpu_s']:.1f} | "
            f"{rows_out} | {r['output_bytes'] / 1e6:.0f} |"
        )
    b = result["bounded_memory"]
    if b:
        lines.append(
            f"\nPeak RSS: {b['large_peak_rss_mb']:.0f} MB at {b['large_records']:,} records vs "
            f"{b['small_peak_rss_mb']:.0f} MB at {b['small_records']:,} ({b['peak_ratio']:.2f}× the memory for "
            f"{b['records_ratio']:.0f}× the records)."
        )
    p = result["phases"]
    if p:
        lines += [
            "",
            f"Phases of the CLI loop, in process, {p['records']:,} records (µs/record):",
            "",
            "| " + " | ".join(p["steps_us_per_record"]) + " | " + " | ".join(f"write {f}" for f in p["writers"]) + " |",
            "|" + "---:|" * (len(p["steps_us_per_record"]) + len(p["writers"])),
            "| "
            + " | ".join(f"{v:.2f}" for v in p["steps_us_per_record"].values())
            + " | "
            + " | ".join(
                f"{w['write_us_per_record']:.2f} ({w['write_share']:.0%} of total)" for w in p["writers"].values()
            )
            + " |",
        ]
    i = result["inputs"]
    lines.append(
        f"\nInput: {i['records']:,} rows = {i['copies']} × {i['base_records']:,} generated in {i['generate_base_s']:.1f} s "
        f"({i['generate_us_per_row']:.0f} µs/row; all {i['records']:,} directly ≈ {i['generate_all_directly_estimate_s']:.0f} s); "
        f"CSV {i['csv_bytes'] / 1e6:.0f} MB written in {i['write_csv_s']:.1f} s"
        + (
            f"; Parquet {i['parquet_bytes'] / 1e6:.0f} MB in {i['write_parquet_s']:.1f} s"
            if "parquet_bytes" in i
            else ""
        )
        + "."
    )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=1_000_000, help="rows in the input file (default 1,000,000)")
    parser.add_argument("--base", type=int, default=100_000, help="visitors generated, then repeated (default 100,000)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--formats",
        default="jsonl,parquet",
        help="extra output formats to time from the CSV (default jsonl,parquet; '' for none)",
    )
    parser.add_argument("--no-parquet-input", action="store_true", help="skip the Parquet input run")
    parser.add_argument(
        "--no-small-run", action="store_true", help="skip the run on the first --base rows (memory comparison)"
    )
    parser.add_argument(
        "--phase-records", type=int, default=200_000, help="rows for the in-process phase breakdown (0: skip)"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="write the files here and keep them (default: a temp dir, removed)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="20,000 rows from 5,000 generated, 10,000-row phases (smoke test)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bulk.json", help="JSON output")


def main(args: argparse.Namespace) -> int:
    records, base, phase_records = args.records, args.base, args.phase_records
    if args.quick:
        records, base, phase_records = min(records, 20_000), min(base, 5_000), min(phase_records, 10_000)
    formats = [f.strip() for f in str(args.formats).split(",") if f.strip()]
    result = run(
        records,
        base,
        args.seed,
        formats,
        not args.no_parquet_input,
        phase_records,
        not args.no_small_run,
        args.keep,
        args.out,
    )
    print(markdown_tables(result))
    print(
        f"\n{result['duration_s']:.1f} s in all; JSON: {args.out}; load average "
        f"{result['machine']['loadavg_start']} → {result['machine']['loadavg_end']}"
    )
    if not result["all_ok"]:
        print("WARNING: a run failed or wrote a different number of rows than it read", file=sys.stderr)
        return 1
    return 0


__all__ = [
    "HELP",
    "add_arguments",
    "count_output_rows",
    "main",
    "markdown_tables",
    "run",
    "score_subprocess",
    "write_inputs",
]
