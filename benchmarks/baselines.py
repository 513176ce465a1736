"""Baselines benchmark: the product vs. four other ways of scoring the same records (issue #5).

Same seeded profiles (:func:`benchmarks.synthetic.write_profiles`), same
records: :func:`benchmarks.synthetic.raw_records` turned into string columns as
a CSV reader delivers them (:func:`string_records`: every value a string, ``""``
when missing, sets comma separated), held in memory; file parsing is not part
of any timing. Every way ends at the same results: best profile, score (tenths)
and tier, compared record by record with the product's.

* ``product``: the records as string columns, ``factorize`` + ``Scorer(bundle).score_columns``
  end to end (a fresh ``Scorer``, so reading every distinct value + kernel + finish); ``encode`` and ``kernel``
  (``run_kernel`` on the encoded columns) are also reported;
* ``python``: the plain per-record evaluator, :mod:`benchmarks.baseline_reference`;
* ``numpy``: vectorised, generated from the tables, :mod:`benchmarks.baseline_numpy`;
* ``duckdb``: one generated SQL query, :mod:`benchmarks.baseline_duckdb`;
* ``zen``: a generated GoRules ZEN decision graph, :mod:`benchmarks.baseline_zen`.

Every baseline but the product runs in a subprocess per (profiles, records)
with a timeout (``--timeout``); one that times out is reported as
``timed out`` and not run on more records. A baseline whose package is
missing loses its rows only (the reason is printed). Ratios are product end
to end ÷ baseline end to end (records/s), next to PRODUCT.md's targets;
nothing asserts on time.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import machine_info, result_header
from benchmarks.synthetic import raw_records, synthetic_columns, write_profiles
from compiler.bundle import Bundle, load_bundle, save_bundle
from compiler.pipeline import compile_profiles, compile_spec
from compiler.text import value_key
from compiler.values import NumberRange, ParseOptions, parse_number
from runtime.encode import SET_SEPARATORS, Encoder, factorize
from runtime.engine import Scorer
from runtime.finish import run_kernel

HELP = "the product vs. plain Python, NumPy, DuckDB SQL and GoRules ZEN on the same records"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent

# PRODUCT.md, "Performance bars": product records/s ÷ baseline records/s, same records, same results.
TARGETS = {"python": 100.0, "duckdb": 50.0, "zen": 1000.0}
BASELINES = {
    "python": "benchmarks.baseline_reference",
    "numpy": "benchmarks.baseline_numpy",
    "duckdb": "benchmarks.baseline_duckdb",
    "zen": "benchmarks.baseline_zen",
}
PACKAGES = {"duckdb": ("duckdb", "duckdb"), "zen": ("zen", "zen-engine")}  # import name, PyPI name


def missing_package(baseline: str) -> str | None:
    """The reason a baseline cannot run here (its package is not installed), or None."""
    if baseline not in PACKAGES:
        return None
    module, dist = PACKAGES[baseline]
    if importlib.util.find_spec(module) is None:
        return f"{dist} is not installed: pip install '.[bench]'"
    return None


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


def string_records(raw: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """:func:`raw_records` output as a CSV reader would give it: strings, ``""`` missing, sets joined by ``,``."""
    out = []
    for record in raw:
        row = {}
        for name, value in record.items():
            if value is None:
                row[name] = ""
            elif isinstance(value, list):
                row[name] = ",".join(value)
            else:
                row[name] = str(value)
        out.append(row)
    return out


def normalise_records(bundle: Bundle, records: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """Raw records → columns of normalised values, following the encoder's rules (for DuckDB and ZEN).

    Category field ``f``: ``f`` = ``value_key(raw)`` or None. Number field:
    ``f_lo``, ``f_hi`` from ``parse_number`` (None when missing or unreadable;
    ``f_hi`` may be inf). Set field: a list of item keys (placeholders
    dropped), None when missing (``""`` or placeholders only). Not looked up
    in any vocabulary: that is the baseline's job.
    """
    columns: dict[str, list[Any]] = {}
    for field in sorted(bundle.meta["fields"], key=lambda f: (f["type"], f["index"])):
        name, kind = field["name"], field["type"]
        values = [record.get(name) for record in records]
        if kind == "category":
            cache: dict[Any, Any] = {}
            column = []
            for raw in values:
                if raw is None or raw in cache:
                    column.append(cache.get(raw))
                    continue
                key = value_key(raw if isinstance(raw, str) else str(raw))
                cache[raw] = key
                column.append(key)
            columns[name] = column
        elif kind == "number":
            options = ParseOptions.from_meta(field.get("parse_options"))
            lo, hi = [], []
            for raw in values:
                value = parse_number(raw, field["parse"], options)
                if isinstance(value, NumberRange):
                    lo.append(value.lo)
                    hi.append(value.hi)
                else:
                    lo.append(None)
                    hi.append(None)
            columns[name + "_lo"], columns[name + "_hi"] = lo, hi
        else:
            column = []
            for raw in values:
                column.append(_set_keys(raw))
            columns[name] = column
    return columns


def _set_keys(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        if value_key(raw) is None:
            return None
        items: list[Any] = [part for part in SET_SEPARATORS.split(raw) if part.strip()]
        if not items:
            return None
    else:
        items = list(raw)
    keys = [value_key(str(item)) for item in items]
    if items and all(k is None for k in keys):
        return None
    return [k for k in keys if k is not None]


# --------------------------------------------------------------------------------------------
# The product
# --------------------------------------------------------------------------------------------


def measure_product(bundle: Bundle, records: list[dict[str, Any]], repeats: int) -> tuple[dict[str, Any], dict[str, list]]:
    """The records as string columns (as Arrow's CSV reader gives them to ``icp score``), then
    ``factorize`` + ``Scorer(bundle).score_columns`` end to end (a fresh Scorer each repeat, so
    every distinct value is read again), and encode / kernel alone."""
    names = [f["name"] for f in bundle.meta["fields"]]
    columns = {name: [record.get(name) for record in records] for name in names}
    Scorer(bundle).score(records[:1000])  # JIT load, excluded
    e2e, encode, kernel = [], [], []
    scored = None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        scored = Scorer(bundle).score_columns({name: factorize(values) for name, values in columns.items()}, len(records))
        e2e.append(time.perf_counter() - start)
        start = time.perf_counter()
        encoded = Encoder(bundle).encode_columns({name: factorize(values) for name, values in columns.items()}, len(records)).columns
        encode.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_kernel(bundle, encoded)
        kernel.append(time.perf_counter() - start)
    assert scored is not None
    results = scored.results
    outputs = {
        "best": results.kernel.best.tolist(),
        "tenths": results.score_tenths.tolist(),
        "tier": [str(x) for x in results.tier],
    }
    return {
        "end_to_end_s": min(e2e),
        "end_to_end_repeats_s": e2e,
        "encode_s": min(encode),
        "kernel_s": min(kernel),
    }, outputs


def compare(expected: dict[str, list], got: dict[str, list]) -> dict[str, Any]:
    """Record-by-record agreement on best profile, score tenths and tier."""
    n = len(expected["best"])
    if any(len(got.get(key, [])) != n for key in ("best", "tenths", "tier")):
        return {"records": n, "mismatches": n, "agree": False, "first": "different number of results"}
    bad = [
        i
        for i in range(n)
        if (expected["best"][i], expected["tenths"][i], expected["tier"][i]) != (got["best"][i], got["tenths"][i], got["tier"][i])
    ]
    check: dict[str, Any] = {"records": n, "mismatches": len(bad), "agree": not bad}
    if bad:
        i = bad[0]
        check["first"] = {
            "record": i,
            "product": [expected[k][i] for k in ("best", "tenths", "tier")],
            "baseline": [got[k][i] for k in ("best", "tenths", "tier")],
        }
    return check


# --------------------------------------------------------------------------------------------
# Workers (one subprocess per baseline × profiles × records)
# --------------------------------------------------------------------------------------------


def run_worker(baseline: str, profiles_dir: Path, records_file: Path, n: int, repeats: int, out: Path, version: str) -> int:
    """In the subprocess: load the parent's bundle file, read records, measure, write ``{"timings", "outputs"}``.

    The bundle is the parent's compiled file (``bundle.zip`` beside the profiles), not a recompile,
    so every baseline scores exactly the bundle the product scored; only the Python evaluator
    compiles the profiles again (it reads the validated spec, not the tables).
    """
    reason = missing_package(baseline)
    if reason:
        print(reason, file=sys.stderr)
        return 3
    module = importlib.import_module(BASELINES[baseline])
    spec = compile_spec(profiles_dir) if baseline == "python" else None
    bundle = load_bundle(profiles_dir.parent / "bundle.zip")
    if bundle.version != version:
        print(f"bundle version {bundle.version} != {version}", file=sys.stderr)
        return 2
    records = json.loads(records_file.read_text(encoding="utf-8"))[:n]
    timings, outputs = module.measure(bundle, spec, records, repeats)
    out.write_text(json.dumps({"timings": timings, "outputs": outputs}), encoding="utf-8")
    return 0


def run_in_subprocess(
    baseline: str, profiles_dir: Path, records_file: Path, n: int, repeats: int, version: str, timeout: float, tmp: Path
) -> dict[str, Any]:
    out = tmp / f"{baseline}-{n}.json"
    command = [
        sys.executable, "-m", "benchmarks.baselines", "--worker", baseline, "--profiles-dir", str(profiles_dir),
        "--records-file", str(records_file), "--n", str(n), "--repeats", str(repeats), "--version", version,
        "--worker-out", str(out),
    ]  # fmt: skip
    started = time.perf_counter()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "timed out", "timeout_s": timeout}
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not out.is_file():
        return {"status": "failed", "exit_code": proc.returncode, "stderr": proc.stderr[-2000:]}
    data = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    return {"status": "ok", "subprocess_s": round(wall, 2), **data}


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


def _row(profiles: int, n: int, name: str, variant: str, seconds: float | None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"profiles": profiles, "records": n, "baseline": name, "variant": variant}
    if seconds is not None:
        row.update(seconds=seconds, records_per_s=n / seconds if seconds > 0 else math.inf)
    row.update(extra)
    return row


def measure_profiles(
    n_profiles: int,
    sizes: Sequence[int],
    baselines: Sequence[str],
    repeats: int,
    seed: int,
    timeout: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="icp-baselines-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        profiles_dir = write_profiles(tmp / "profiles", n_profiles, seed=seed)
        bundle = compile_profiles(profiles_dir)
        save_bundle(bundle, tmp / "bundle.zip")
        largest = max(sizes)
        columns = synthetic_columns(bundle, largest, seed=seed + n_profiles)
        records = string_records(raw_records(bundle, columns))
        records_file = tmp / "records.json"
        records_file.write_text(json.dumps(records), encoding="utf-8")
        setup_s = time.perf_counter() - started
        log(f"baselines: {n_profiles} profiles, {largest:,} records generated in {setup_s:.1f} s")
        rows: list[dict[str, Any]] = []
        skipped: dict[str, str] = {}
        for n in sizes:
            subset = records[:n]
            timings, expected = measure_product(bundle, subset, repeats)
            product_e2e = timings["end_to_end_s"]
            rows.append(_row(n_profiles, n, "product", "end to end (encode + kernel + finish)", product_e2e, timings=timings))
            rows.append(_row(n_profiles, n, "product", "encode only", timings["encode_s"]))
            rows.append(_row(n_profiles, n, "product", "kernel only", timings["kernel_s"]))
            log(f"  {n:,} records: product {n / product_e2e:,.0f} records/s end to end")
            for name in baselines:
                if name in skipped:
                    rows.append(_row(n_profiles, n, name, "end to end", None, status=skipped[name]))
                    continue
                reason = missing_package(name)
                if reason:
                    skipped[name] = f"not run: {reason}"
                    log(f"  {name}: {reason}")
                    rows.append(_row(n_profiles, n, name, "end to end", None, status=skipped[name]))
                    continue
                result = run_in_subprocess(name, profiles_dir, records_file, n, repeats, bundle.version, timeout, tmp)
                if result["status"] != "ok":
                    detail = result["status"] + (f" (> {timeout:g} s)" if result["status"] == "timed out" else "")
                    if result["status"] == "failed":
                        detail += f": exit {result['exit_code']}: {result['stderr'].strip().splitlines()[-1:] or ''}"
                    skipped[name] = f"not run: {result['status']} at {n:,} records"
                    log(f"  {name}: {detail}")
                    rows.append(_row(n_profiles, n, name, "end to end", None, status=detail))
                    continue
                t = result["timings"]
                check = compare(expected, result["outputs"])
                ratio = (n / product_e2e) / (n / t["end_to_end_s"])
                rows.append(
                    _row(
                        n_profiles, n, name, "end to end", t["end_to_end_s"], status="ok", timings=t, check=check,
                        product_ratio=ratio, target_ratio=TARGETS.get(name), subprocess_s=result["subprocess_s"],
                    )
                )  # fmt: skip
                for key, label in (
                    ("evaluate_s", "evaluate only"),
                    ("encode_s", "encode only (product's Encoder)"),
                    ("prepare_s", "prepare only (keys, numbers in Python)"),
                    ("load_s", "load into DuckDB only"),
                    ("query_s", "SQL query only"),
                ):
                    if key in t:
                        rows.append(
                            _row(n_profiles, n, name, label, t[key], product_ratio=(n / product_e2e) / (n / t[key]) if t[key] else None)
                        )
                log(
                    f"  {name}: {n / t['end_to_end_s']:,.0f} records/s, product ÷ {name} = {ratio:,.1f}×, "
                    f"check {'ok' if check['agree'] else 'MISMATCH'} ({check['mismatches']} of {check['records']:,})"
                )
        fields = bundle.meta["fields"]
        rows_per_profile = int(bundle.tables.prof_excl_end[-1]) / n_profiles
    return {
        "profiles": n_profiles,
        "bundle_version": bundle.version,
        "rows_per_profile": round(rows_per_profile, 2),
        "fields": {f["name"]: f["type"] for f in fields},
        "setup_s": round(setup_s, 2),
        "rows": rows,
    }


def _machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version


    packages: dict[str, str | None] = {}
    for dist in ("duckdb", "zen-engine"):
        try:
            packages[dist] = version(dist)
        except PackageNotFoundError:
            packages[dist] = None
    return machine_info(numpy=np.__version__, **packages)


def run(
    profile_counts: Sequence[int] = (8, 32),
    sizes: Sequence[int] = (1_000, 10_000, 100_000),
    baselines: Sequence[str] = tuple(BASELINES),
    repeats: int = 3,
    seed: int = 20240601,
    timeout: float = 60.0,
    out: Path | None = RESULTS_DIR / "baselines.json",
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    started = time.perf_counter()
    machine = _machine()
    runs = [measure_profiles(p, sorted(sizes), baselines, repeats, seed, timeout, log) for p in profile_counts]
    checks = [r["check"] for run_ in runs for r in run_["rows"] if "check" in r]
    result = {
        **result_header("baselines", started, machine),
        "settings": {
            "seed": seed,
            "repeats": repeats,
            "sizes": list(sizes),
            "profiles": list(profile_counts),
            "baselines": list(baselines),
            "timeout_s": timeout,
            "records": "synthetic.raw_records as strings (string_records): '' missing, sets comma separated",
            "timing": "wall clock, best of repeats (one run when a run takes > 2 s) after a warm-up; each baseline in its own subprocess",
            "ratio": "product end-to-end records/s ÷ baseline records/s",
        },
        "targets": {**{f"product_over_{k}": v for k, v in TARGETS.items()}, "source": "PRODUCT.md, Performance bars"},
        "checks_ok": all(c["agree"] for c in checks),
        "workers_failed": [
            f"{r['baseline']} × {r['profiles']} profiles × {r['records']} records"
            for run_ in runs
            for r in run_["rows"]
            if str(r.get("status", "")).startswith("failed")
        ],
        "runs": runs,
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    return result


def markdown_table(result: dict[str, Any]) -> str:
    lines = [
        "| profiles | records | baseline | variant | records/s | product ÷ baseline | target | same results |",
        "|---:|---:|---|---|---:|---:|---:|---|",
    ]
    for run_ in result["runs"]:
        for r in run_["rows"]:
            rate = f"{r['records_per_s']:,.0f}" if "records_per_s" in r else r.get("status", "")
            ratio = f"{r['product_ratio']:,.1f}×" if r.get("product_ratio") else ""
            target = f"≥ {r['target_ratio']:,.0f}×" if r.get("target_ratio") else ""
            check = r.get("check")
            same = "" if check is None else ("yes" if check["agree"] else "NO") + f" ({check['records'] - check['mismatches']:,}/{check['records']:,})"
            lines.append(f"| {r['profiles']} | {r['records']:,} | {r['baseline']} | {r['variant']} | {rate} | {ratio} | {target} | {same} |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profiles", default="8,32", help="profile counts, comma separated (default 8,32)")
    parser.add_argument("--records", default="1000,10000,100000", help="record counts, comma separated (default 1000,10000,100000)")
    parser.add_argument("--baselines", default=",".join(BASELINES), help=f"which baselines (default {','.join(BASELINES)})")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats, best taken (default 3; 1 for runs > 2 s)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per baseline subprocess (default 60)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "baselines.json", help="JSON output")


def main(args: argparse.Namespace) -> int:
    result = run(
        [int(x) for x in str(args.profiles).split(",") if x.strip()],
        [int(x) for x in str(args.records).split(",") if x.strip()],
        [x.strip() for x in str(args.baselines).split(",") if x.strip()],
        args.repeats,
        args.seed,
        args.timeout,
        args.out,
    )
    print(markdown_table(result))
    print(f"\n{result['duration_s']:.1f} s in all; JSON: {args.out}")
    if not result["checks_ok"]:
        print("WARNING: some baseline gave different results from the product (see 'check' in the JSON)", file=sys.stderr)
        return 1
    if result["workers_failed"]:
        print(f"WARNING: baseline workers failed (not a timeout): {result['workers_failed']}", file=sys.stderr)
        return 1
    return 0


def _worker_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baselines", description="one baseline measurement (internal)")
    parser.add_argument("--worker", required=True, choices=sorted(BASELINES))
    parser.add_argument("--profiles-dir", type=Path, required=True)
    parser.add_argument("--records-file", type=Path, required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--version", required=True)
    parser.add_argument("--worker-out", type=Path, required=True)
    a = parser.parse_args(argv)
    return run_worker(a.worker, a.profiles_dir, a.records_file, a.n, a.repeats, a.worker_out, a.version)


__all__ = [
    "HELP", "add_arguments", "compare", "main", "markdown_table", "measure_product", "normalise_records", "run",
    "string_records",
]  # fmt: skip

if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
