"""Encoding benchmark: what ``Encoder.encode`` costs per visitor, cold and warm, on real and synthetic values.

Sources (each scored against the bundled profiles):

* **real lists** under ``../shared/data`` (PDL, CrunchBase 2013, Inc. 5000 2019, YC),
  read with the CLI's own reader (``cli.records.read_chunks``) and mapped with the
  repository's mapping files in ``examples/mappings/`` (so the values, the columns
  mapped and the scales are exactly what ``icp score --mapping`` would encode). A
  list whose file is absent is skipped with the reason printed.
* **synthetic visitors** from ``examples/generate_visitors.py`` (a fresh seeded set,
  100,000 by default): every field mapped, all values strings as a CSV reader gives them.

For each source, best of ``repeats``: a **cold** pass (a new ``Encoder``: its per-field
caches of raw text are empty, so every distinct spelling is parsed once) and a **warm**
pass (the same ``Encoder`` again: every lookup hits). The same for ``Scorer.score``
(encoder + kernel + finishing) end to end, with the kernel's JIT loaded beforehand.
Per field: the share of distinct raw values among the cells the encoder looks up (what
the cache hit rate of a cold pass follows) and the field's own encoding cost (a pass
over records holding only that field, minus a pass over empty records).

Reading and mapping the file are not timed. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import machine_info, result_header
from cli.records import read_chunks, read_mapping
from compiler.bundle import Bundle
from compiler.pipeline import open_bundle
from compiler.schema import DEFAULT_PROFILES_DIR
from runtime.encode import SET_SEPARATORS, Encoder
from runtime.engine import Scorer

HELP = "Encoder µs/record, cold vs warm caches, on real lists and synthetic visitors"
ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DATA_DIR = ROOT.parent / "shared" / "data"
MAPPINGS = ROOT / "examples" / "mappings"
GENERATOR = ROOT / "examples" / "generate_visitors.py"

# PRODUCT.md, "Performance bars": bulk ≥ 1M records/s end to end (1 µs per record for
# everything); served ≤ 2 µs of server CPU per record. The encoder's share is read against these.
BULK_BUDGET_US_PER_RECORD = 1.0
SERVED_BUDGET_US_PER_RECORD = 2.0


@dataclass(frozen=True)
class RealList:
    name: str
    path: str  # under the data folder
    mapping: str  # under examples/mappings


REAL_LISTS = (
    RealList("pdl", "pdl-companies-2019-top/companies_sorted.csv", "pdl-companies-2019.yaml"),
    RealList("crunchbase", "crunchbase-2013/companies.csv", "crunchbase-2013.yaml"),
    RealList("inc5000", "inc5000-2019/companies_data_final.csv", "inc5000-2019.yaml"),
    RealList("yc", "yc-startups-2005-2014/Startups.csv", "yc-startups.yaml"),
)


def load_generator() -> Any:
    """``examples/generate_visitors.py`` as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("generate_visitors", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_visitors", module)
    spec.loader.exec_module(module)
    return module


@dataclass
class Source:
    name: str
    kind: str  # "real" | "synthetic"
    records: list[dict[str, Any]]
    scales: dict[str, float]
    detail: dict[str, Any]


def real_source(data_dir: Path, real: RealList, bundle: Bundle, max_rows: int | None) -> Source | str:
    """The list's records as ``icp score --mapping`` maps them, or the reason it is skipped."""
    path = data_dir / real.path
    if not data_dir.is_dir():
        return f"{data_dir} is absent (real lists live beside the clone, in ../shared/data)"
    if not path.is_file():
        return f"{path} is absent"
    started = time.perf_counter()
    header, chunks = read_chunks(path)
    mapping = read_mapping(MAPPINGS / real.mapping, header, bundle.meta["fields"])
    rows: list[dict[str, Any]] = []
    for chunk in chunks:
        rows.extend(chunk)
        if max_rows is not None and len(rows) >= max_rows:
            rows = rows[:max_rows]
            break
    records = mapping.to_records(rows)
    return Source(
        real.name,
        "real",
        records,
        dict(mapping.scales),
        {
            "path": str(path),
            "mapping": f"examples/mappings/{real.mapping}",
            "fields_mapped": sorted(mapping.columns),
            "read_s": round(time.perf_counter() - started, 3),
        },
    )


def synthetic_source(bundle: Bundle, n: int, seed: int) -> Source:
    generator = load_generator()
    started = time.perf_counter()
    rows = generator.generate(seed, n)
    generated = time.perf_counter() - started
    names = {f["name"] for f in bundle.meta["fields"]}
    mapped = [c for c in generator.COLUMNS if c in names]
    records = [{name: row[name] for name in mapped} for row in rows]
    return Source(
        "synthetic",
        "synthetic",
        records,
        {},
        {
            "generator": "examples/generate_visitors.py",
            "seed": seed,
            "fields_mapped": sorted(mapped),
            "generate_s": round(generated, 3),
            "generate_us_per_row": round(generated / max(n, 1) * 1e6, 2),
        },
    )


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def cold_warm(make: Callable[[], Any], run: Callable[[Any], Any], repeats: int) -> tuple[list[float], list[float], Any]:
    """Per repeat: a fresh object (not timed), a first (cold) and a second (warm) call. Returns the last object."""
    cold: list[float] = []
    warm: list[float] = []
    obj = None
    for _ in range(repeats):
        obj = make()
        for times in (cold, warm):
            started = time.perf_counter()
            run(obj)
            times.append(time.perf_counter() - started)
    return cold, warm, obj


def _encoding(records: Sequence[Mapping[str, Any]]) -> Callable[[Encoder], Any]:
    return lambda encoder: encoder.encode(records)


def _missing(raw: Any) -> bool:
    return raw is None or (isinstance(raw, float) and math.isnan(raw))


def _cache_key(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return raw if isinstance(raw, str) else str(raw)


def field_profile(records: Sequence[Mapping[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """Cells the encoder looks up for one field and how many distinct raw texts they hold.

    ``cells``: records where the value is not None/NaN (an empty string is looked up too: it is
    read as missing only after the cache), ``empty``: blank cells among them, ``distinct``:
    distinct raw texts (the cache's keys). A cold pass misses the cache ``distinct`` times, so its
    hit rate is ``1 - distinct / cells``. For a set field, ``items`` / ``distinct_items`` are the
    same for the split items (a second cache).
    """
    name = meta["name"]
    values = [r.get(name) for r in records]
    looked_up = [_cache_key(v) for v in values if not _missing(v)]
    distinct = len(set(looked_up))
    out: dict[str, Any] = {
        "field": name,
        "type": meta["type"],
        "records": len(values),
        "cells": len(looked_up),
        "empty": sum(1 for v in looked_up if not v.strip()),
        "distinct": distinct,
        "distinct_share": round(distinct / len(looked_up), 5) if looked_up else None,
        "cold_hit_rate": round(1 - distinct / len(looked_up), 5) if looked_up else None,
    }
    if meta["type"] == "set":
        items = [part for text in set(looked_up) for part in SET_SEPARATORS.split(text) if part.strip()]
        all_items = [part for text in looked_up for part in SET_SEPARATORS.split(text) if part.strip()]
        out["items"] = len(all_items)
        out["distinct_items"] = len(set(items))
        out["items_per_cell"] = round(len(all_items) / len(looked_up), 3) if looked_up else None
    return out


def cache_entries(encoder: Encoder) -> dict[str, int]:
    """Entries in the encoder's per-field cache of readings after a pass (a private attribute; a count only)."""
    out: dict[str, int] = {}
    for name, table in getattr(encoder, "_tables", {}).items():
        if len(table) > 1:  # slot 0 is the missing reading, always there
            out[name] = len(table) - 1
    return out


def measure_source(bundle: Bundle, source: Source, repeats: int, field_repeats: int) -> dict[str, Any]:
    records = source.records
    n = len(records)
    fields = [f for f in bundle.meta["fields"] if f["name"] in source.detail["fields_mapped"]]
    us = lambda seconds: seconds / n * 1e6  # noqa: E731

    Scorer(bundle, source.scales).score(records[: min(n, 100)])  # kernel JIT load, not timed
    enc_cold, enc_warm, encoder = cold_warm(
        lambda: Encoder(bundle, source.scales), lambda e: e.encode(records), repeats
    )
    score_cold, score_warm, _ = cold_warm(lambda: Scorer(bundle, source.scales), lambda s: s.score(records), repeats)
    construct = min(_timed(lambda: Encoder(bundle, source.scales)) for _ in range(3))
    batch = encoder.encode(records)
    entries = cache_entries(encoder)

    # Per field: records holding only that field, minus records holding nothing (the loop's own cost).
    empty: list[dict[str, Any]] = [{} for _ in range(n)]
    base_cold, base_warm, _ = cold_warm(
        lambda: Encoder(bundle, source.scales), lambda e: e.encode(empty), field_repeats
    )
    per_field = []
    for meta in fields:
        name = meta["name"]
        only = [{name: r.get(name)} for r in records]
        f_cold, f_warm, _ = cold_warm(lambda: Encoder(bundle, source.scales), _encoding(only), field_repeats)
        row = field_profile(records, meta)
        quality = batch.quality[name]
        row.update(
            cold_us_per_record=round(us(min(f_cold) - min(base_cold)), 4),
            warm_us_per_record=round(us(min(f_warm) - min(base_warm)), 4),
            cache_entries=entries.get(name, 0),
            present=quality.present,
            missing=quality.missing,
            unreadable=quality.unreadable,
            unlisted=quality.unlisted,
        )
        per_field.append(row)

    cells = sum(r["cells"] for r in per_field)
    distinct = sum(r["distinct"] for r in per_field)
    warm_enc, warm_score = min(enc_warm), min(score_warm)
    return {
        "source": source.name,
        "kind": source.kind,
        **source.detail,
        "records": n,
        "scales": source.scales,
        "encode": {
            "cold_us_per_record": us(min(enc_cold)),
            "warm_us_per_record": us(warm_enc),
            "cold_over_warm": min(enc_cold) / warm_enc,
            "cold_repeats_s": enc_cold,
            "warm_repeats_s": enc_warm,
            "warm_median_us_per_record": us(statistics.median(enc_warm)),
            "encoder_construct_ms": round(construct * 1e3, 3),
            "empty_records_warm_us_per_record": us(min(base_warm)),
        },
        "score": {
            "cold_us_per_record": us(min(score_cold)),
            "warm_us_per_record": us(warm_score),
            "cold_repeats_s": score_cold,
            "warm_repeats_s": score_warm,
            "encode_share_warm": warm_enc / warm_score,
            "rest_warm_us_per_record": us(max(warm_score - warm_enc, 0.0)),
        },
        "vs_bulk_budget": us(warm_enc) / BULK_BUDGET_US_PER_RECORD,
        "vs_served_budget": us(warm_enc) / SERVED_BUDGET_US_PER_RECORD,
        "cells": cells,
        "distinct": distinct,
        "distinct_share": distinct / cells if cells else None,
        "cold_hit_rate": 1 - distinct / cells if cells else None,
        "cache_entries": sum(entries.values()),
        "problems": len(batch.problems),
        "fields": per_field,
    }


def run(
    synthetic_records: int = 100_000,
    seed: int = 5,
    repeats: int = 3,
    field_repeats: int = 2,
    data_dir: Path = DATA_DIR,
    max_rows: int | None = None,
    profiles: Path = DEFAULT_PROFILES_DIR,
    sources: Sequence[str] = ("real", "synthetic"),
    out: Path | None = RESULTS_DIR / "encoding.json",
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    started = time.perf_counter()
    machine = machine_info(numpy=np.__version__, icp_numba_cache=os.environ.get("ICP_NUMBA_CACHE", "1"))
    bundle = open_bundle(profiles)
    results, skipped = [], []
    if "real" in sources:
        for real in REAL_LISTS:
            source = real_source(data_dir, real, bundle, max_rows)
            if isinstance(source, str):
                skipped.append({"source": real.name, "reason": source})
                log(f"encoding: skipping {real.name}: {source}")
                continue
            log(f"encoding: {real.name}, {len(source.records):,} records ...")
            results.append(measure_source(bundle, source, repeats, field_repeats))
    if "synthetic" in sources:
        log(f"encoding: synthetic, generating {synthetic_records:,} visitors ...")
        source = synthetic_source(bundle, synthetic_records, seed)
        log(f"  generated in {source.detail['generate_s']:.1f} s; measuring ...")
        results.append(measure_source(bundle, source, repeats, field_repeats))
    for r in results:
        log(
            f"  {r['source']}: encode cold {r['encode']['cold_us_per_record']:.2f} / warm "
            f"{r['encode']['warm_us_per_record']:.2f} µs/record, score warm {r['score']['warm_us_per_record']:.2f}"
        )
    result = {
        **result_header("encoding", started, machine),
        "bundle": {
            "version": bundle.version,
            "profiles": len(bundle.meta["profiles"]),
            "fields": [f["name"] for f in bundle.meta["fields"]],
            "source": str(profiles),
        },
        "settings": {
            "synthetic_records": synthetic_records,
            "seed": seed,
            "repeats": repeats,
            "field_repeats": field_repeats,
            "data_dir": str(data_dir),
            "max_rows": max_rows,
            "sources": list(sources),
            "timing": "wall clock, best of repeats; cold = first encode() of a new Encoder, warm = its second; "
            "reading and mapping files not timed; Scorer timed after a kernel warm-up call",
        },
        "targets": {
            "bulk_us_per_record": BULK_BUDGET_US_PER_RECORD,
            "served_cpu_us_per_record": SERVED_BUDGET_US_PER_RECORD,
            "source": "PRODUCT.md, Performance bars (bulk ≥ 1M records/s; served ≤ 2 µs CPU/record)",
        },
        "skipped": skipped,
        "sources": results,
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _share(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2%}" if x < 0.1 else f"{x:.1%}"


def markdown_tables(result: dict[str, Any]) -> str:
    lines = [
        "| source | records | fields | encode cold µs/rec | encode warm µs/rec | cold/warm | score cold µs/rec | "
        "score warm µs/rec | encode share of score | warm encode ÷ 1 µs bulk budget | distinct share | cold hit rate | cache entries |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["sources"]:
        e, s = r["encode"], r["score"]
        lines.append(
            f"| {r['source']} | {r['records']:,} | {len(r['fields_mapped'])} | {e['cold_us_per_record']:.2f} | "
            f"{e['warm_us_per_record']:.2f} | {e['cold_over_warm']:.2f}× | {s['cold_us_per_record']:.2f} | "
            f"{s['warm_us_per_record']:.2f} | {s['encode_share_warm']:.0%} | {r['vs_bulk_budget']:.1f}× | "
            f"{_share(r['distinct_share'])} | {_share(r['cold_hit_rate'])} | {r['cache_entries']:,} |"
        )
    lines += [
        "",
        "| source | field | type | cells | blank | distinct | distinct share | set items (distinct) | cold µs/rec | warm µs/rec |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["sources"]:
        for f in r["fields"]:
            items = f"{f['items']:,} ({f['distinct_items']:,})" if "items" in f else ""
            lines.append(
                f"| {r['source']} | {f['field']} | {f['type']} | {f['cells']:,} | {f['empty']:,} | {f['distinct']:,} | "
                f"{_share(f['distinct_share'])} | {items} | {f['cold_us_per_record']:.3f} | {f['warm_us_per_record']:.3f} |"
            )
    for s in result["skipped"]:
        lines.append(f"\nskipped {s['source']}: {s['reason']}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=100_000, help="synthetic visitors (default 100,000)")
    parser.add_argument("--seed", type=int, default=5, help="generator seed (default 5)")
    parser.add_argument("--repeats", type=int, default=3, help="cold/warm pairs, best taken (default 3)")
    parser.add_argument("--field-repeats", type=int, default=2, help="repeats of the per-field passes (default 2)")
    parser.add_argument("--data", type=Path, default=DATA_DIR, help=f"real lists folder (default {DATA_DIR})")
    parser.add_argument("--max-rows", type=int, default=None, help="first rows of each real list only")
    parser.add_argument("--profiles", type=Path, default=DEFAULT_PROFILES_DIR, help="profiles folder or bundle file")
    parser.add_argument("--sources", default="real,synthetic", help="real, synthetic or both (default)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="5,000 synthetic visitors, 2,000 rows per real list, 2 repeats (smoke test)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "encoding.json", help="JSON output")


def main(args: argparse.Namespace) -> int:
    records, repeats, max_rows, field_repeats = args.records, args.repeats, args.max_rows, args.field_repeats
    if args.quick:
        records, repeats, field_repeats = min(records, 5_000), min(repeats, 2), 1
        max_rows = min(max_rows or 2_000, 2_000)
    sources = [s.strip() for s in str(args.sources).split(",") if s.strip()]
    result = run(records, args.seed, repeats, field_repeats, args.data, max_rows, args.profiles, sources, args.out)
    print(markdown_tables(result))
    print(
        f"\n{result['duration_s']:.1f} s in all; JSON: {args.out}; load average "
        f"{result['machine']['loadavg_start']} → {result['machine']['loadavg_end']}"
    )
    return 0


__all__ = ["HELP", "add_arguments", "field_profile", "main", "markdown_tables", "run"]
