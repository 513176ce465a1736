"""Seeded synthetic data for the benchmarks: profile folders, encoded columns, raw records.

Three generators, all deterministic for a given seed:

* :func:`write_profiles` writes ``n`` realistic profiles (8–10 criteria each,
  mixing category ``in``/``not_in``, set ``any``/``all``/``at_least``, number
  ``between``/``min``/``max``, a required criterion and exclusions) as YAML
  into a folder, against the bundled default schema.
* :func:`synthetic_columns` builds encoded :class:`~runtime.kernels.Columns`
  for ``n`` records straight from NumPy (1M records in about a second), using
  the bundle's vocabularies: ~10% missing per field, some unlisted codes,
  exact numbers, ``[lo, hi]`` ranges and open ``lo+`` ranges, set bits only
  inside each set field's vocabulary.
* :func:`raw_records` turns encoded columns back into raw records (plain
  dicts, as a file or an RPC would deliver them), so the real
  :class:`~runtime.encode.Encoder` can re-encode them and a check can confirm
  that both paths give the kernel the same input.

Example:
    >>> from pathlib import Path; import tempfile
    >>> from compiler import compile_profiles
    >>> folder = write_profiles(Path(tempfile.mkdtemp()), 2, seed=1)
    >>> bundle = compile_profiles(folder)
    >>> columns = synthetic_columns(bundle, 1000, seed=1)
    >>> columns.cat_codes.shape[0]
    1000
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from compiler.bundle import Bundle
from compiler.diagnostics import CompileError, Diagnostics
from compiler.schema import Schema, load_schema
from compiler.tables import KIND_CATEGORY
from compiler.text import value_key
from runtime.kernels import Columns

MISSING_RATE = 0.10
UNLISTED_RATE = 0.02
TARGETED_RATE = 0.35  # share of category values drawn from values some profile names (else popularity-skewed)

# Open vocabulary for tech_stack: real product names, a few of them competitors.
TECH = (
    "salesforce",
    "hubspot",
    "marketo",
    "pardot",
    "outreach",
    "salesloft",
    "gong",
    "zoominfo",
    "clearbit",
    "segment",
    "snowflake",
    "databricks",
    "bigquery",
    "redshift",
    "dbt",
    "looker",
    "tableau",
    "power-bi",
    "aws",
    "gcp",
    "azure",
    "kubernetes",
    "terraform",
    "datadog",
    "new-relic",
    "okta",
    "auth0",
    "stripe",
    "zuora",
    "netsuite",
    "sap",
    "oracle-erp",
    "workday",
    "servicenow",
    "zendesk",
    "intercom",
    "slack",
    "jira",
    "github",
    "gitlab",
    "shopify",
    "magento",
    "twilio",
    "sendgrid",
    "mailchimp",
    "6sense",
    "demandbase",
)
# Markets most B2B profiles target (ISO codes; the geo taxonomy's country ids).
MAJOR_COUNTRIES = (
    "US",
    "CA",
    "GB",
    "DE",
    "FR",
    "NL",
    "AU",
    "JP",
    "IN",
    "BR",
    "SE",
    "ES",
    "IT",
    "SG",
    "CH",
    "IE",
    "AT",
    "MX",
)
COMPETITORS = ("leadrouter-pro", "scoreforce", "icpmatic", "fitscore")

# Headcount buckets as enrichment vendors write them; the last one is open ("10001+").
EMPLOYEE_BUCKETS: tuple[tuple[float, float], ...] = (
    (1, 10),
    (11, 50),
    (51, 200),
    (201, 500),
    (501, 1000),
    (1001, 5000),
    (5001, 10000),
    (10001, math.inf),
)
REVENUE_BUCKETS: tuple[tuple[float, float], ...] = (
    (0, 1e6),
    (1e6, 1e7),
    (1e7, 5e7),
    (5e7, 1e8),
    (1e8, 5e8),
    (5e8, 1e9),
    (1e9, math.inf),
)



# --------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------


def write_profiles(folder: Path, n_profiles: int, seed: int = 0) -> Path:
    """Write ``n_profiles`` seeded profiles as YAML into ``folder`` (created) and return it.

    Uses the bundled default schema.
    """
    folder.mkdir(parents=True, exist_ok=True)
    schema = _schema_for(folder)
    rng = np.random.default_rng(seed)
    pools = _value_pools(schema)
    width = max(3, len(str(n_profiles - 1)))
    for p in range(n_profiles):
        profile = _profile(rng, pools, p)
        text = yaml.safe_dump(profile, sort_keys=False, default_flow_style=None, width=200)
        (folder / f"p{p:0{width}d}.yaml").write_text(text, encoding="utf-8")
    return folder


def _schema_for(folder: Path) -> Schema:
    diagnostics = Diagnostics()
    schema = load_schema(folder, diagnostics)
    if schema is None:
        raise CompileError(diagnostics)
    return schema


def _value_pools(schema: Schema) -> dict[str, list[str]]:
    """Node ids a profile may name, per purpose."""

    def nodes(field: str, kinds: tuple[str, ...] = ()) -> list[str]:
        taxonomy = schema.fields[field].taxonomy
        assert taxonomy is not None, f"field {field} has no closed vocabulary"
        # value_key drops ids that read as a missing value (Namibia's ISO code "NA").
        return [n.id for n in taxonomy.nodes if (not kinds or n.kind in kinds) and value_key(n.id) is not None]

    industries = nodes("industry", ("industry",))
    sectors = nodes("industry", ("sector",))
    return {
        "industry": industries or nodes("industry"),
        "sector": sectors or nodes("industry"),
        "country": nodes("country", ("country",)),
        "sales_region": nodes("country", ("sales-region",)) or nodes("country", ("region", "subregion")),
        "region": nodes("region", ("sales-region", "subregion")),
        "state": nodes("state", ("subdivision",)),
        "funding_stage": nodes("funding_stage"),
        "use_cases": nodes("use_cases"),
        "pain_points": nodes("pain_points"),
        "buying_triggers": nodes("buying_triggers"),
    }


def _pick(rng: np.random.Generator, pool: list[str] | tuple[str, ...], lo: int, hi: int) -> list[str]:
    k = min(len(pool), int(rng.integers(lo, hi + 1)))
    return [str(pool[i]) for i in sorted(rng.choice(len(pool), size=k, replace=False))]


def _weight(rng: np.random.Generator) -> int:
    return int(rng.choice([5, 10, 10, 15, 15, 20, 25, 30]))


def _profile(rng: np.random.Generator, pools: dict[str, list[str]], p: int) -> dict[str, Any]:
    """One profile: always a required geography, an industry and a headcount band, plus 5–7 others."""
    w = lambda: _weight(rng)  # noqa: E731
    partial = lambda: str(rng.choice(["unknown", "overlap", "within"]))  # noqa: E731

    def geography() -> dict[str, Any]:
        if rng.random() < 0.5:
            values = _pick(rng, pools["sales_region"], 1, 2)
        else:
            major = [c for c in MAJOR_COUNTRIES if c in pools["country"]]
            values = _pick(rng, major if major and rng.random() < 0.8 else pools["country"], 2, 8)
        criterion = {"label": "Target geography", "field": "country", "in": values, "required": True}
        if rng.random() < 0.25:
            criterion["on_unknown"] = "pass"
        return criterion

    def industry() -> dict[str, Any]:
        values = _pick(rng, pools["industry"], 1, 4) + (_pick(rng, pools["sector"], 1, 1) if rng.random() < 0.4 else [])
        return {"label": "Target industry", "field": "industry", "in": values, "weight": w()}

    def employees() -> dict[str, Any]:
        lo = int(rng.choice([10, 50, 200, 500, 1000, 5000]))
        hi = lo * int(rng.choice([5, 10, 20, 50]))
        return {
            "label": "Headcount band",
            "field": "employees",
            "between": [lo, hi],
            "weight": w(),
            "partial": partial(),
        }

    makers: list[Callable[[], dict[str, Any]]] = [
        lambda: {
            "label": "Revenue floor",
            "field": "revenue",
            "min": f"${int(rng.choice([1, 5, 10, 50, 100]))}M",
            "weight": w(),
        },
        lambda: {
            "label": "Revenue ceiling",
            "field": "revenue",
            "max": f"${int(rng.choice([50, 200, 500, 1000]))}M",
            "weight": w(),
            "partial": partial(),
        },
        lambda: {
            "label": "Young company",
            "field": "founded_year",
            "min": int(rng.integers(1995, 2018)),
            "weight": w(),
        },
        lambda: {"label": "Established", "field": "founded_year", "max": int(rng.integers(1990, 2015)), "weight": w()},
        lambda: {"label": "Sales region", "field": "region", "in": _pick(rng, pools["region"], 1, 2), "weight": w()},
        lambda: {
            "label": "Not these states",
            "field": "state",
            "not_in": _pick(rng, pools["state"], 2, 5),
            "weight": w(),
        },
        lambda: {
            "label": "Funding stage",
            "field": "funding_stage",
            "in": _pick(rng, pools["funding_stage"], 2, 4),
            "weight": w(),
        },
        lambda: {
            "label": "Not bootstrapped",
            "field": "funding_stage",
            "not_in": _pick(rng, pools["funding_stage"], 1, 2),
            "weight": -int(rng.choice([5, 10])),
        },
        lambda: {
            "label": "Runs a tool we integrate with",
            "field": "tech_stack",
            "any": _pick(rng, TECH, 2, 4),
            "weight": w(),
        },
        lambda: {"label": "Modern data stack", "field": "tech_stack", "all": _pick(rng, TECH, 2, 2), "weight": w()},
        lambda: {
            "label": "Use cases",
            "field": "use_cases",
            "any": _pick(rng, pools["use_cases"], 1, 3),
            "weight": w(),
        },
        lambda: _pain_points(_pick(rng, pools["pain_points"], 3, 4), w()),
        lambda: {
            "label": "Buying trigger",
            "field": "buying_triggers",
            "any": _pick(rng, pools["buying_triggers"], 2, 3),
            "weight": w(),
        },
    ]
    n_criteria = int(rng.integers(8, 11))
    chosen = sorted(rng.choice(len(makers), size=n_criteria - 3, replace=False))
    criteria = [geography(), industry(), employees()] + [makers[i]() for i in chosen]
    for index, criterion in enumerate(criteria):
        criterion["id"] = f"c{index}"
    exclusions: list[dict[str, Any]] = [
        {"id": "competitor", "label": "Runs a competitor", "field": "tech_stack", "any": _pick(rng, COMPETITORS, 1, 2)}
    ]
    if rng.random() < 0.6:
        exclusion = {
            "id": "wrong-sector",
            "label": "Sector we do not serve",
            "field": "industry",
            "in": _pick(rng, pools["sector"], 1, 2),
        }
        if rng.random() < 0.3:
            exclusion["on_unknown"] = "exclude"
        exclusions.append(exclusion)
    geo_values = criteria[0]["in"]
    route = [
        {
            "when": {"tier": "A", "country": geo_values[:1]},
            "action": "aql",
            "queue": f"q{p}-priority",
            "escalate_if": {"buying_triggers": pools["buying_triggers"][:1]},
        },
        {"when": {"tier": ["A", "B"]}, "action": "aql", "queue": f"q{p}"},
        {"when": {"tier": "C"}, "action": "nurture"},
    ]
    return {
        "id": f"synthetic-{p}",
        "name": f"Synthetic profile {p}",
        "priority": int(rng.integers(0, 20)),
        "criteria": criteria,
        "exclude": exclusions,
        "tiers": {"A": 80, "B": 60, "C": 40},
        "route": route,
    }


def _pain_points(values: list[str], weight: int) -> dict[str, Any]:
    return {"label": "Pain points", "field": "pain_points", "weight": weight, "at_least": 2, "of": values}


# --------------------------------------------------------------------------------------------
# Encoded columns
# --------------------------------------------------------------------------------------------


def reachable_codes(field: dict[str, Any]) -> np.ndarray:
    """Codes the encoder can produce for a category/set field (some taxonomy nodes no key reaches)."""
    return np.array(sorted({code for code in field.get("keys", {}).values() if code >= 0}), np.int64)


def _targeted_codes(bundle: Bundle, field_index: int) -> np.ndarray:
    """Codes that make some category row on this field hold (from the tables' holds masks)."""
    t = bundle.tables
    codes: set[int] = set()
    for k in np.flatnonzero((t.crit_kind == KIND_CATEGORY) & (t.crit_field == field_index)):
        ref, n_words = int(t.crit_ref[k]), int(t.crit_words[k])
        for w in range(n_words):
            word = int(t.mask_words[ref + w])
            codes.update(64 * w + b for b in range(64) if (word >> b) & 1)
    return np.array(sorted(codes), np.int64)


def _skewed_choice(rng: np.random.Generator, values: np.ndarray, n: int) -> np.ndarray:
    """Popularity-skewed draw (Zipf-like over a random ranking), as real firmographics are."""
    ranking = rng.permutation(values)
    weights = 1.0 / np.arange(1, len(ranking) + 1) ** 1.1
    return ranking[rng.choice(len(ranking), size=n, p=weights / weights.sum())]


def synthetic_columns(bundle: Bundle, n: int, seed: int = 0) -> Columns:
    """Encoded columns for ``n`` synthetic records, generated with NumPy (no Python loop over records)."""
    rng = np.random.default_rng(seed)
    t = bundle.tables
    fields = bundle.meta["fields"]
    n_cat = sum(f["type"] == "category" for f in fields)
    n_num = sum(f["type"] == "number" for f in fields)
    total_words = int(t.set_words.sum())
    cat_codes = np.empty((n, n_cat), np.int32)
    num_lo = np.empty((n, n_num), np.float64)
    num_hi = np.empty((n, n_num), np.float64)
    set_bits = np.zeros((n, total_words), np.uint64)
    set_present = np.zeros((n, len(t.set_words)), np.uint8)
    for field in fields:
        index, kind = field["index"], field["type"]
        if kind == "category":
            cat_codes[:, index] = _category_codes(rng, bundle, field, n)
        elif kind == "number":
            num_lo[:, index], num_hi[:, index] = _number_ranges(rng, field["parse"], n)
        else:
            base, words = int(t.set_word_start[index]), int(t.set_words[index])
            present, bits = _set_words(rng, field, words, n)
            set_present[:, index] = present
            set_bits[:, base : base + words] = bits
    return Columns(cat_codes, num_lo, num_hi, set_bits, set_present)


def _category_codes(rng: np.random.Generator, bundle: Bundle, field: dict[str, Any], n: int) -> np.ndarray:
    size = len(field["values"])
    reachable = reachable_codes(field)
    codes = _skewed_choice(rng, reachable, n) if reachable.size else np.full(n, size, np.int64)
    targeted = np.intersect1d(_targeted_codes(bundle, field["index"]), reachable)
    if targeted.size:
        pick = rng.random(n) < TARGETED_RATE
        codes[pick] = targeted[rng.integers(0, targeted.size, int(pick.sum()))]
    u = rng.random(n)
    unlisted = (u >= MISSING_RATE) & (u < MISSING_RATE + UNLISTED_RATE)
    codes[unlisted] = size + rng.integers(0, 4, int(unlisted.sum()))  # any code >= size is unlisted
    codes[u < MISSING_RATE] = -1
    return codes.astype(np.int32)


def _number_ranges(rng: np.random.Generator, parse: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact values, vendor buckets ``[lo, hi]`` and open ``lo+`` ranges, ~10% missing (NaN)."""
    if parse == "year":
        value = np.floor(2024 - rng.gamma(1.6, 12.0, n)).clip(1850, 2024)
        lo, hi = value.copy(), value.copy()
    else:
        if parse == "money":
            value = np.floor(np.exp(rng.normal(math.log(2e7), 2.2, n))).clip(1e4, 5e11)
            buckets, range_share = REVENUE_BUCKETS, 0.25
        else:
            value = np.floor(np.exp(rng.normal(math.log(150), 1.9, n))).clip(1, 500_000)
            buckets, range_share = EMPLOYEE_BUCKETS, 0.35
        lo, hi = value.copy(), value.copy()
        as_range = rng.random(n) < range_share
        edges = np.array([b[0] for b in buckets[1:]])
        which = np.searchsorted(edges, value, side="right")
        bucket_lo = np.array([b[0] for b in buckets], np.float64)[which]
        bucket_hi = np.array([b[1] for b in buckets], np.float64)[which]
        lo[as_range], hi[as_range] = bucket_lo[as_range], bucket_hi[as_range]
    missing = rng.random(n) < MISSING_RATE
    lo[missing] = np.nan
    hi[missing] = np.nan
    return lo, hi


def _set_words(rng: np.random.Generator, field: dict[str, Any], words: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Set present flags and bit words: ~2.5 items per present set, bits only below the vocab size."""
    reachable = reachable_codes(field)
    present = (rng.random(n) >= MISSING_RATE).astype(np.uint8)
    bits = np.zeros((n, words), np.uint64)
    if reachable.size:
        density = min(0.5, 2.5 / reachable.size)
        for code in reachable:
            has = (rng.random(n) < density) & (present == 1)
            bits[has, code >> 6] |= np.uint64(1) << np.uint64(code & 63)
    return present, bits


# --------------------------------------------------------------------------------------------
# Raw records (for the encoder path)
# --------------------------------------------------------------------------------------------


def raw_records(bundle: Bundle, columns: Columns, rows: slice | np.ndarray | None = None) -> list[dict[str, Any]]:
    """Raw records (field name → value as a data file writes it) that encode to ``columns[rows]``.

    Categories become one of their keys (an unlisted code becomes a made-up
    name), numbers an int or text such as ``51-200`` / ``10001+``, sets a list
    of keys (an empty list when present but empty), missing values ``None``.
    Kernel outputs on ``Encoder(bundle).encode(raw_records(...))`` equal those
    on the columns themselves (unlisted codes may differ: every code >= the
    vocab size means the same).
    """
    idx = np.arange(columns.cat_codes.shape[0])[rows if rows is not None else slice(None)]
    key_of = {f["name"]: _first_key_per_code(f) for f in bundle.meta["fields"] if f["type"] != "number"}
    t = bundle.tables
    records = []
    for i in idx:
        record: dict[str, Any] = {}
        for field in bundle.meta["fields"]:
            name, index, kind = field["name"], field["index"], field["type"]
            if kind == "category":
                code = int(columns.cat_codes[i, index])
                if code < 0:
                    value: Any = None
                elif code >= len(field["values"]):
                    value = f"unlisted {name} {code}"
                else:
                    value = key_of[name][code]
            elif kind == "number":
                value = _number_text(float(columns.num_lo[i, index]), float(columns.num_hi[i, index]))
            else:
                if not columns.set_present[i, index]:
                    value = None
                else:
                    base, words = int(t.set_word_start[index]), int(t.set_words[index])
                    value = [
                        key_of[name][64 * w + b]
                        for w in range(words)
                        for b in range(64)
                        if (int(columns.set_bits[i, base + w]) >> b) & 1
                    ]
            record[name] = value
        records.append(record)
    return records


def _first_key_per_code(field: dict[str, Any]) -> dict[int, str]:
    keys: dict[int, str] = {}
    for key, code in sorted(field.get("keys", {}).items()):
        if code >= 0 and code not in keys:
            keys[code] = key
    return keys


def _number_text(lo: float, hi: float) -> int | str | None:
    if math.isnan(lo):
        return None
    if lo == hi:
        return int(lo)
    if math.isinf(hi):
        return f"{int(lo)}+"
    return f"{int(lo)}-{int(hi)}"
