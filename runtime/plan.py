"""Scoring plan: a bundle's row tables → transposed tables the kernel adds up per field.

Every outcome of a criterion depends on one field of the record, so for each field
the plan lists, per value the field can take, what each profile earns from all its
rows on that field (earned points, covered positive points, blocking rows). Scoring a
record is then one table row per field, added for all profiles at once, instead of
every criterion of every profile evaluated in turn.

* Category field: one key per code, plus missing (key 0) and unlisted (size + 1).
* Number field: the field's finite bounds cut the line into ``2m + 1`` slots (below,
  on, and between bounds); a record range is keyed by its two ends' slots. Every row
  compares only with bounds, so one representative value per slot decides it.
* Set field: a missing set and a set touching none of the rows' items are one row each;
  the rows whose items a record does touch are corrected one by one, found through the
  per-code item lists (records carry a few codes, the profiles many rows).

The tables are filled by calling the kernel's own row functions, so the plan cannot
disagree with a row read one by one. A field whose table would pass
:data:`TABLE_BUDGET_BYTES` stays "loose": its rows are read one by one per record.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from compiler.bundle import Bundle
from compiler.tables import KIND_CATEGORY, KIND_NUMBER, KIND_SET, Tables
from runtime.kernels import FAILS, HOLDS, UNKNOWN, Plan, _jit, category_outcome, count_outcome, number_outcome

TABLE_BUDGET_BYTES = 16 * 1024 * 1024  # per field
_CACHED_PLANS = 8
_plans: OrderedDict[str, Plan] = OrderedDict()


def plan_for(bundle: Bundle) -> Plan:
    """The bundle's plan, built once per bundle version (versions hash the tables' content)."""
    plan = _plans.get(bundle.version)
    if plan is None:
        plan = build_plan(bundle)
        _plans[bundle.version] = plan
        while len(_plans) > _CACHED_PLANS:
            _plans.popitem(last=False)
    else:
        _plans.move_to_end(bundle.version)
    return plan


def forget_plans() -> None:
    """Drop every cached plan (after changing :data:`TABLE_BUDGET_BYTES`)."""
    _plans.clear()


def build_plan(bundle: Bundle) -> Plan:
    t = bundle.tables
    n_profiles = t.prof_positive.shape[0]
    row_profile = _row_profiles(t)
    earn, cover, blocks = _row_contributions(t)
    vocab_sizes = {f["index"]: len(f["values"]) for f in bundle.meta["fields"] if f["type"] == "category"}
    width_bytes = 3 * n_profiles * 4
    fields_of = {kind: sorted({int(f) for f in t.crit_field[t.crit_kind == kind]}) for kind in (KIND_CATEGORY, KIND_NUMBER, KIND_SET)}

    cat_fields = [f for f in fields_of[KIND_CATEGORY] if (vocab_sizes[f] + 2) * width_bytes <= TABLE_BUDGET_BYTES]
    breaks = {f: _bounds(t, f) for f in fields_of[KIND_NUMBER]}
    num_fields = [f for f in fields_of[KIND_NUMBER] if _number_keys(len(breaks[f])) * width_bytes <= TABLE_BUDGET_BYTES]
    set_fields = fields_of[KIND_SET]

    cat_start = _starts([vocab_sizes[f] + 2 for f in cat_fields], 0)
    num_start = _starts([_number_keys(len(breaks[f])) for f in num_fields], cat_start[-1])
    set_start = _starts([2] * len(set_fields), num_start[-1])
    table = np.zeros((set_start[-1], 3 * n_profiles), np.int32)
    rows_of = {(kind, f): _rows_on(t, kind, f) for kind in fields_of for f in fields_of[kind]}
    row_key_start, row_outcomes = _outcome_layout(
        t.crit_kind.shape[0],
        [(rows_of[KIND_CATEGORY, f], vocab_sizes[f] + 2) for f in cat_fields]
        + [(rows_of[KIND_NUMBER, f], _number_keys(len(breaks[f]))) for f in num_fields],
    )
    filled = (row_profile, earn, cover, blocks, table, row_key_start, row_outcomes)

    for a, field in enumerate(cat_fields):
        _fill_category(
            t.mask_words, t.crit_ref, t.crit_words, t.crit_negate, rows_of[KIND_CATEGORY, field], vocab_sizes[field],
            cat_start[a], *filled,
        )
    break_values = [breaks[f] for f in num_fields]
    for b, field in enumerate(num_fields):
        _fill_number(
            t.crit_lo, t.crit_hi, t.crit_partial, rows_of[KIND_NUMBER, field], _representatives(break_values[b]),
            num_start[b], *filled,
        )
    for d, field in enumerate(set_fields):
        _fill_set(t.crit_count_lo, t.crit_count_hi, rows_of[KIND_SET, field], set_start[d], *filled[:5])
    code_item_start, code_items, item_row, set_code_start = _set_items(t, set_fields)

    loose = [
        k for k in range(t.crit_kind.shape[0])
        if (t.crit_kind[k] == KIND_CATEGORY and t.crit_field[k] not in cat_fields)
        or (t.crit_kind[k] == KIND_NUMBER and t.crit_field[k] not in num_fields)
    ]
    return Plan(
        row_profile=row_profile, row_earn=earn, row_cover=cover, row_blocks=blocks,
        row_key_start=row_key_start, row_outcomes=row_outcomes,
        cat_fields=_int32(cat_fields), cat_vocab=_int32([vocab_sizes[f] for f in cat_fields]), cat_start=_int32(cat_start[:-1]),
        num_fields=_int32(num_fields),
        num_break_start=_int32(np.cumsum([0] + [len(b) for b in break_values])[:-1]),
        num_break_count=_int32([len(b) for b in break_values]),
        num_breaks=np.concatenate([np.zeros(0), *break_values]).astype(np.float64),
        num_start=_int32(num_start[:-1]),
        set_fields=_int32(set_fields), set_start=_int32(set_start[:-1]), set_code_start=set_code_start,
        code_item_start=code_item_start, code_items=code_items, item_row=item_row,
        loose_rows=_int32(loose), table=table,
    )


def _outcome_layout(n_rows: int, blocks: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Where each tabulated row's outcome per key starts (-1: not tabulated), and room for them."""
    row_key_start = np.full(n_rows, -1, np.int32)
    used = 0
    for rows, n_keys in blocks:
        for k in rows:
            row_key_start[k] = used
            used += n_keys
    return row_key_start, np.zeros(used, np.int8)


def _int32(values: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int32).reshape(-1)


def _starts(sizes: list[int], first: int) -> list[int]:
    """Each block's first row, then the row after the last block."""
    return [int(x) for x in np.cumsum([first, *sizes])]


def _number_keys(n_bounds: int) -> int:
    slots = 2 * n_bounds + 1
    return 1 + slots * slots


def _row_profiles(t: Tables) -> np.ndarray:
    owner = np.full(t.crit_kind.shape[0], -1, np.int32)
    for p, (start, end) in enumerate(zip(t.prof_crit_start, t.prof_excl_end, strict=True)):
        owner[start:end] = p
    return owner


def _row_contributions(t: Tables) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row and outcome (at ``3k + o``): earned points, covered positive points, blocks (0/1)."""
    n_rows = t.crit_kind.shape[0]
    earn, cover, blocks = (np.zeros(3 * n_rows, np.int32) for _ in range(3))
    for p in range(t.prof_positive.shape[0]):
        for k in range(t.prof_crit_start[p], t.prof_excl_end[p]):
            counts_unknown = bool(t.crit_unknown_counts[k])
            if k < t.prof_crit_end[p]:
                weight = int(t.crit_weight[k])
                earn[3 * k + HOLDS] = weight
                if weight > 0:
                    cover[3 * k + HOLDS] = cover[3 * k + FAILS] = weight
                if t.crit_required[k]:
                    blocks[3 * k + FAILS] = 1
                    blocks[3 * k + UNKNOWN] = 0 if counts_unknown else 1
            else:  # an exclusion blocks when it holds (and when unknown, if it says so)
                blocks[3 * k + HOLDS] = 1
                blocks[3 * k + UNKNOWN] = 1 if counts_unknown else 0
    return earn, cover, blocks


def _rows_on(t: Tables, kind: int, field: int) -> np.ndarray:
    """Every row (criteria, exclusions, routing conditions) that reads this field."""
    return np.flatnonzero((t.crit_kind == kind) & (t.crit_field == field)).astype(np.int32)


def _bounds(t: Tables, field: int) -> np.ndarray:
    rows = _rows_on(t, KIND_NUMBER, field)
    values = np.concatenate([t.crit_lo[rows], t.crit_hi[rows]])
    return np.unique(values[np.isfinite(values)])


def _representatives(bounds: np.ndarray) -> np.ndarray:
    """One value per slot: on each bound, and just above the bound below (or just below the first)."""
    if bounds.size == 0:
        return np.zeros(1)
    values = np.empty(2 * bounds.size + 1)
    values[1::2] = bounds
    values[0] = np.nextafter(bounds[0], -np.inf)
    values[2::2] = np.nextafter(bounds, np.inf)
    return values


@_jit
def _add_rows(rows: np.ndarray, outcomes: np.ndarray, row_profile: np.ndarray, earn: np.ndarray, cover: np.ndarray,
              blocks: np.ndarray, table: np.ndarray, target: int) -> None:
    """Add rows ``rows`` with ``outcomes`` into table row ``target`` (routing rows add nothing)."""
    n_profiles = table.shape[1] // 3
    for j in range(rows.shape[0]):
        k, p = rows[j], row_profile[rows[j]]
        if p < 0:
            continue
        slot = 3 * k + outcomes[j]
        table[target, p] += earn[slot]
        table[target, n_profiles + p] += cover[slot]
        table[target, 2 * n_profiles + p] += blocks[slot]


@_jit
def _fill_category(mask_words: np.ndarray, refs: np.ndarray, words: np.ndarray, negate: np.ndarray, rows: np.ndarray,
                   size: int, start: int, row_profile: np.ndarray, earn: np.ndarray, cover: np.ndarray,
                   blocks: np.ndarray, table: np.ndarray, key_start: np.ndarray, row_outcomes: np.ndarray) -> None:
    outcomes = np.empty(rows.shape[0], np.int64)
    for key in range(size + 2):
        code = key - 1  # key 0: missing (-1); key size + 1: unlisted (code size)
        for j in range(rows.shape[0]):
            k = rows[j]
            outcomes[j] = category_outcome(mask_words, refs[k], words[k], negate[k], code)
            row_outcomes[key_start[k] + key] = outcomes[j]
        _add_rows(rows, outcomes, row_profile, earn, cover, blocks, table, start + key)


@_jit
def _fill_number(bound_lo: np.ndarray, bound_hi: np.ndarray, partial: np.ndarray, rows: np.ndarray, values: np.ndarray,
                 start: int, row_profile: np.ndarray, earn: np.ndarray, cover: np.ndarray, blocks: np.ndarray,
                 table: np.ndarray, key_start: np.ndarray, row_outcomes: np.ndarray) -> None:
    outcomes = np.full(rows.shape[0], UNKNOWN, np.int64)  # key 0: missing
    _add_rows(rows, outcomes, row_profile, earn, cover, blocks, table, start)
    for j in range(rows.shape[0]):
        row_outcomes[key_start[rows[j]]] = UNKNOWN
    slots = values.shape[0]
    for low in range(slots):
        for high in range(slots):
            key = 1 + low * slots + high
            for j in range(rows.shape[0]):
                k = rows[j]
                outcomes[j] = number_outcome(bound_lo[k], bound_hi[k], partial[k], values[low], values[high])
                row_outcomes[key_start[k] + key] = outcomes[j]
            _add_rows(rows, outcomes, row_profile, earn, cover, blocks, table, start + key)


@_jit
def _fill_set(count_lo: np.ndarray, count_hi: np.ndarray, rows: np.ndarray, start: int, row_profile: np.ndarray,
              earn: np.ndarray, cover: np.ndarray, blocks: np.ndarray, table: np.ndarray) -> None:
    missing = np.full(rows.shape[0], UNKNOWN, np.int64)
    untouched = np.empty(rows.shape[0], np.int64)
    for j in range(rows.shape[0]):
        untouched[j] = count_outcome(count_lo[rows[j]], count_hi[rows[j]], 0)
    _add_rows(rows, missing, row_profile, earn, cover, blocks, table, start)
    _add_rows(rows, untouched, row_profile, earn, cover, blocks, table, start + 1)


def _set_items(t: Tables, set_fields: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per set code (fields side by side): the items (of any row) whose mask has that code."""
    n_items = t.item_word_start.shape[0]
    item_row = np.full(n_items, -1, np.int32)
    per_code: list[list[int]] = []
    set_code_start = []
    for field in set_fields:
        n_words = int(t.set_words[field])
        set_code_start.append(len(per_code))
        field_codes: list[list[int]] = [[] for _ in range(64 * n_words)]
        for k in _rows_on(t, KIND_SET, field):
            for item in range(t.crit_ref[k], t.crit_ref[k] + t.crit_words[k]):
                item_row[item] = k
                words = t.mask_words[t.item_word_start[item] : t.item_word_start[item] + n_words]
                for code in np.flatnonzero(np.unpackbits(words.view(np.uint8), bitorder="little")):
                    field_codes[code].append(item)
        per_code += field_codes
    counts = [len(items) for items in per_code]
    code_item_start = _int32(np.cumsum([0, *counts]))
    code_items = _int32([item for items in per_code for item in items])
    return code_item_start, code_items, item_row, _int32(set_code_start)
