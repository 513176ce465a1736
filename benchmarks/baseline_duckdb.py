"""Baseline (3): DuckDB, the whole scoring as ONE SQL query generated from the bundle.

Steps, each timed separately (``end_to_end_s`` is their sum):

* ``prepare_s`` (Python): category values → their normalised key
  (``compiler.text.value_key``, as the encoder does), numbers → ``lo`` / ``hi``
  (``compiler.values.parse_number``), sets → a list of item keys
  (:func:`benchmarks.baselines.normalise_records`);
* ``load_s``: those columns into a DuckDB table (``CREATE TABLE ... AS SELECT
  UNNEST(?), ...`` from Python lists);
* ``query_s``: :func:`scoring_sql`, executed and fetched (``fetchnumpy``).

The query: a ``LEFT JOIN`` per category field on a vocabulary table
(key → code, from ``bundle.meta["fields"][i]["keys"]``); one ``CASE`` per
criterion/exclusion row (codes that hold / are unknown from the row's masks,
range comparisons, ``list_has_any`` per set item with the item's keys); points
and qualification per profile; the best profile from an exact integer key
(qualified first, then ``max(earned, 0) × (lcm ÷ positive)``, ties to the lower
index, as the kernel ranks) with ``greatest`` + ``CASE``; score tenths and tier.
Routing and reasons are not computed (the product computes them).
"""

from __future__ import annotations

import math
import time
from typing import Any

from compiler.bundle import Bundle
from compiler.tables import KIND_CATEGORY, KIND_NUMBER

NAME = "duckdb"
REQUIRES: str | None = "duckdb"


def _bits(words: Any) -> list[int]:
    return [64 * w + b for w, word in enumerate(int(x) for x in words) for b in range(64) if (word >> b) & 1]


def _num(x: float) -> str:
    if math.isinf(x):
        return "'inf'::DOUBLE" if x > 0 else "'-inf'::DOUBLE"
    return repr(float(x)) + "::DOUBLE"


def _str_list(items: list[str]) -> str:
    return "[" + ", ".join("'" + s.replace("'", "''") + "'" for s in items) + "]::VARCHAR[]"


def column_names(bundle: Bundle) -> dict[str, list[str]]:
    fields = bundle.meta["fields"]
    return {kind: [f["name"] for f in sorted(fields, key=lambda f: f["index"]) if f["type"] == kind] for kind in ("category", "number", "set")}


def scoring_sql(bundle: Bundle, table: str = "records") -> str:
    """The one query: ``id, best, earned, tenths, tier`` per record, ordered by ``id``."""
    t = bundle.tables
    names = column_names(bundle)
    fields = {f["name"]: f for f in bundle.meta["fields"]}
    profiles = bundle.meta["profiles"]
    n_rows = int(t.prof_excl_end[-1])
    outcome_exprs = []
    for k in range(n_rows):
        kind, field = int(t.crit_kind[k]), int(t.crit_field[k])
        if kind == KIND_CATEGORY:
            name = names["category"][field]
            size, ref, words = len(fields[name]["values"]), int(t.crit_ref[k]), int(t.crit_words[k])
            holds = [c for c in _bits(t.mask_words[ref : ref + words]) if c < size]
            unknown = [c for c in _bits(t.mask_words[ref + words : ref + 2 * words]) if c < size]
            yes, no = ("0", "1") if t.crit_negate[k] else ("1", "0")
            parts = [f"WHEN r.{name} IS NULL THEN 2"]
            if holds:
                parts.append(f"WHEN v_{name}.code IN ({', '.join(map(str, holds))}) THEN {yes}")
            if unknown:
                parts.append(f"WHEN v_{name}.code IN ({', '.join(map(str, unknown))}) THEN 2")
            expr = f"CASE {' '.join(parts)} ELSE {no} END"
        elif kind == KIND_NUMBER:
            name = names["number"][field]
            lo, hi = f"r.{name}_lo", f"r.{name}_hi"
            clo, chi = float(t.crit_lo[k]), float(t.crit_hi[k])
            partial = (2, 1, 0)[int(t.crit_partial[k])]
            expr = (
                f"CASE WHEN {lo} IS NULL THEN 2 WHEN {lo} >= {_num(clo)} AND {hi} <= {_num(chi)} THEN 1 "
                f"WHEN {hi} < {_num(clo)} OR {lo} > {_num(chi)} THEN 0 ELSE {partial} END"
            )
        else:
            name = names["set"][field]
            words = int(t.set_words[field])
            keys_of_code: dict[int, list[str]] = {}
            for key, code in fields[name]["keys"].items():
                if code >= 0:
                    keys_of_code.setdefault(code, []).append(key)
            touched = []
            for j in range(int(t.crit_ref[k]), int(t.crit_ref[k]) + int(t.crit_words[k])):
                start = int(t.item_word_start[j])
                keys = sorted(key for code in _bits(t.mask_words[start : start + words]) for key in keys_of_code.get(code, []))
                touched.append(f"list_has_any(r.{name}, {_str_list(keys)})::INTEGER" if keys else "0")
            count = " + ".join(touched) or "0"
            expr = f"CASE WHEN r.{name} IS NULL THEN 2 WHEN ({count}) BETWEEN {int(t.crit_count_lo[k])} AND {int(t.crit_count_hi[k])} THEN 1 ELSE 0 END"
        outcome_exprs.append(f"{expr} AS o{k}")
    positive = [int(x) for x in t.prof_positive]
    lcm = math.lcm(*positive)
    per_profile = []
    keys = []
    for p in range(len(profiles)):
        earned = [
            f"CASE WHEN o{k} = 1 THEN {int(t.crit_weight[k])} ELSE 0 END"
            for k in range(int(t.prof_crit_start[p]), int(t.prof_crit_end[p]))
            if int(t.crit_weight[k])
        ]
        qualified = []
        for k in range(int(t.prof_crit_start[p]), int(t.prof_crit_end[p])):
            if t.crit_required[k]:
                qualified.append(f"o{k} <> 0" if t.crit_unknown_counts[k] else f"o{k} = 1")
        for k in range(int(t.prof_crit_end[p]), int(t.prof_excl_end[p])):
            qualified.append(f"o{k} = 0" if t.crit_unknown_counts[k] else f"o{k} <> 1")
        per_profile.append(f"({' + '.join(earned) or '0'})::BIGINT AS e{p}, ({' AND '.join(qualified) or 'TRUE'}) AS q{p}")
        keys.append(f"(CASE WHEN q{p} THEN {lcm + 1} ELSE 0 END)::HUGEINT + greatest(e{p}, 0)::HUGEINT * {lcm // positive[p]} AS k{p}")
    n_profiles = len(profiles)
    best_case = " ".join(f"WHEN k{p} = g THEN {p}" for p in range(n_profiles))
    earned_list = ", ".join(f"e{p}" for p in range(n_profiles))
    positive_list = ", ".join(map(str, positive))
    tier_cases = []
    for p, profile in enumerate(profiles):
        inner = " ".join(
            f"WHEN c * 100 >= {int(threshold) * positive[p]} THEN '{name}'" for name, threshold in profile["tiers"]
        )
        tier_cases.append(f"WHEN {p} THEN CASE {inner} ELSE '{profile['tiers'][-1][0]}' END")
    joins = " ".join(
        f"LEFT JOIN vocab_{name} v_{name} ON r.{name} = v_{name}.key" for name in names["category"]
    )
    return f"""
WITH outcomes AS (
  SELECT r.id, {', '.join(outcome_exprs)}
  FROM {table} r {joins}
), points AS (
  SELECT id, {', '.join(per_profile)} FROM outcomes
), ranked AS (
  SELECT id, {earned_list}, {', '.join(keys)} FROM points
), chosen AS (
  SELECT id, {earned_list}, CASE {best_case} END AS best
  FROM (SELECT *, greatest({', '.join(f'k{p}' for p in range(n_profiles))}) AS g FROM ranked)
), scored AS (
  SELECT id, best, list_extract([{earned_list}], best + 1) AS earned,
         list_extract([{positive_list}], best + 1) AS positive
  FROM chosen
)
SELECT id, best, earned, (2000 * greatest(earned, 0) + positive) // (2 * positive) AS tenths,
       CASE best {' '.join(tier_cases)} END AS tier
FROM (SELECT *, greatest(earned, 0) AS c FROM scored)
ORDER BY id
"""


def connect(bundle: Bundle) -> Any:
    """An in-memory DuckDB with one vocabulary table per category field (not timed: part of the 'compiled' side)."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET threads TO 1")  # one core, as the product's kernel is measured
    for f in bundle.meta["fields"]:
        if f["type"] == "category":
            keys = list(f["keys"].items())
            con.execute(f"CREATE TABLE vocab_{f['name']} (key VARCHAR PRIMARY KEY, code INTEGER)")
            con.execute(
                f"INSERT INTO vocab_{f['name']} SELECT UNNEST(?::VARCHAR[]), UNNEST(?::INTEGER[])",
                [[k for k, _ in keys], [c for _, c in keys]],
            )
    return con


def load(con: Any, bundle: Bundle, normalised: dict[str, list[Any]], table: str = "records") -> None:
    """``normalised`` columns (see :func:`benchmarks.baselines.normalise_records`) → a DuckDB table."""
    names = column_names(bundle)
    n = len(next(iter(normalised.values())))
    selects, params = ["UNNEST(?::BIGINT[]) AS id"], [list(range(n))]
    for name in names["category"]:
        selects.append(f"UNNEST(?::VARCHAR[]) AS {name}")
        params.append(normalised[name])
    for name in names["number"]:
        selects += [f"UNNEST(?::DOUBLE[]) AS {name}_lo", f"UNNEST(?::DOUBLE[]) AS {name}_hi"]
        params += [normalised[name + "_lo"], normalised[name + "_hi"]]
    for name in names["set"]:
        selects.append(f"UNNEST(?::VARCHAR[][], max_depth := 1) AS {name}")
        params.append(normalised[name])
    con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(f"CREATE TABLE {table} AS SELECT {', '.join(selects)}", params)


def measure(bundle: Bundle, spec: Any, records: list[dict[str, Any]], repeats: int) -> tuple[dict[str, Any], dict[str, list]]:
    from benchmarks.baselines import normalise_records

    con = connect(bundle)
    sql = scoring_sql(bundle)
    load(con, bundle, normalise_records(bundle, records[:100]))
    con.execute(sql).fetchnumpy()  # warm-up (plan, vocab tables)
    prepare_t, load_t, query_t, e2e_t = [], [], [], []
    result: dict[str, Any] = {}
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        normalised = normalise_records(bundle, records)
        prepared = time.perf_counter()
        load(con, bundle, normalised)
        loaded = time.perf_counter()
        result = con.execute(sql).fetchnumpy()
        done = time.perf_counter()
        prepare_t.append(prepared - start)
        load_t.append(loaded - prepared)
        query_t.append(done - loaded)
        e2e_t.append(done - start)
    outputs = {
        "best": [int(x) for x in result["best"]],
        "tenths": [int(x) for x in result["tenths"]],
        "tier": [str(x) for x in result["tier"]],
    }
    return {
        "end_to_end_s": min(e2e_t),
        "end_to_end_repeats_s": e2e_t,
        "prepare_s": min(prepare_t),
        "load_s": min(load_t),
        "query_s": min(query_t),
        "sql_chars": len(sql),
    }, outputs
