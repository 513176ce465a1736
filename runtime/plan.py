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
from runtime.kernels import (
    BREAK_CHUNK,
    CHUNK,
    FAILS,
    HOLDS,
    INT_SECTIONS,
    N_SCALARS,
    S_CATS,
    S_FIRST_ROUTE,
    S_GROUP_ROWS,
    S_GROUPS,
    S_LOOSE,
    S_NUMS,
    S_PROFILES,
    S_ROWS,
    S_SETS,
    S_UNION,
    S_WIDE,
    S_WIDTH,
    UNKNOWN,
    Plan,
    _jit,
    category_outcome,
    count_outcome,
    number_outcome,
)

TABLE_BUDGET_BYTES = 16 * 1024 * 1024  # per field
GROUP_ROWS = 256  # fields whose key counts multiply to at most this share one table
USE_INT16 = True  # int16 table entries when every total fits (tests turn it off to force int32)
DENSE_SETS = False  # count single-code set rows by popcount for all profiles at once (measured slower: see docs/performance.md)
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
    n_rows = t.crit_kind.shape[0]
    row_profile = _row_profiles(t)
    earn, cover, blocks = _row_contributions(t)
    vocab_sizes = {f["index"]: len(f["values"]) for f in bundle.meta["fields"] if f["type"] == "category"}
    width_bytes = 3 * n_profiles * 4
    fields_of = {kind: sorted({int(f) for f in t.crit_field[t.crit_kind == kind]}) for kind in (KIND_CATEGORY, KIND_NUMBER, KIND_SET)}

    cat_fields = [f for f in fields_of[KIND_CATEGORY] if (vocab_sizes[f] + 2) * width_bytes <= TABLE_BUDGET_BYTES]
    breaks = {f: _bounds(t, f) for f in fields_of[KIND_NUMBER]}
    num_fields = [f for f in fields_of[KIND_NUMBER] if _number_keys(len(breaks[f])) * width_bytes <= TABLE_BUDGET_BYTES]
    set_fields = fields_of[KIND_SET]

    # 1. one table per field (rows: the field's keys), filled by the kernel's own row functions
    key_counts = [vocab_sizes[f] + 2 for f in cat_fields] + [_number_keys(len(breaks[f])) for f in num_fields] + [2] * len(set_fields)
    field_start = _starts(key_counts, 0)
    cat_start, num_start = field_start[: len(cat_fields)], field_start[len(cat_fields) : len(cat_fields) + len(num_fields)]
    set_start = field_start[len(cat_fields) + len(num_fields) : -1]
    table = np.zeros((field_start[-1], 3 * n_profiles), np.int32)
    rows_of = {(kind, f): _rows_on(t, kind, f) for kind in fields_of for f in fields_of[kind]}
    row_key_start, row_outcomes = _outcome_layout(
        n_rows,
        [(rows_of[KIND_CATEGORY, f], vocab_sizes[f] + 2) for f in cat_fields]
        + [(rows_of[KIND_NUMBER, f], _number_keys(len(breaks[f]))) for f in num_fields]
        + [(rows_of[KIND_SET, f], 2) for f in set_fields],
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
    untouched = np.zeros(n_rows, np.int32)
    for d, field in enumerate(set_fields):
        rows = rows_of[KIND_SET, field]
        _fill_set(t.crit_count_lo, t.crit_count_hi, rows, set_start[d], *filled[:5])
        for k in rows:
            untouched[k] = count_outcome(int(t.crit_count_lo[k]), int(t.crit_count_hi[k]), 0)
            row_outcomes[row_key_start[k]] = UNKNOWN  # key 0: missing; key 1: present, touching no item
            row_outcomes[row_key_start[k] + 1] = untouched[k]
    dense = _dense_set_rows(t, set_fields, row_profile, untouched, earn, cover, blocks)
    code_item_start, code_items, item_row, set_code_start = _set_items(t, set_fields, dense["rows"])

    loose = [
        k for k in range(n_rows)
        if (t.crit_kind[k] == KIND_CATEGORY and t.crit_field[k] not in cat_fields)
        or (t.crit_kind[k] == KIND_NUMBER and t.crit_field[k] not in num_fields)
    ]
    # where each row's outcome is read for reasons: outcomes[ostart[k] + keys[src[k]]]; a loose row's
    # key is its outcome, read through the identity triple at outcomes[0:3]
    n_slots = len(key_counts)
    row_src = np.zeros(n_rows, np.int32)
    for slot, (kind, field) in enumerate(
        [(KIND_CATEGORY, f) for f in cat_fields] + [(KIND_NUMBER, f) for f in num_fields] + [(KIND_SET, f) for f in set_fields]
    ):
        row_src[rows_of[kind, field]] = slot
    row_ostart = row_key_start + 3
    for q, k in enumerate(loose):
        row_src[k], row_ostart[k] = n_slots + q, 0
    outcomes = np.concatenate([np.array([FAILS, HOLDS, UNKNOWN], np.int8), row_outcomes])

    # 2. field groups: small fields share one table (keys multiplied out), so a record adds fewer rows
    groups = _groups(key_counts, TABLE_BUDGET_BYTES // max(width_bytes, 1))
    slot_member, slot_mult, group_first = [], [], [0]  # group g's slots: slot_member[group_first[g]:group_first[g + 1]]
    group_tables, group_start = [], []
    first = 0
    for members in groups:
        combined = np.zeros((1, 3 * n_profiles), np.int64)
        for slot in members:
            slot_member.append(slot)
            slot_mult.append(combined.shape[0])
            own = table[field_start[slot] : field_start[slot + 1]].astype(np.int64)
            combined = (own[:, None, :] + combined[None, :, :]).reshape(-1, 3 * n_profiles)
        group_first.append(len(slot_member))
        group_tables.append(combined)
        group_start.append(first)
        first += combined.shape[0]
    zero_row = first
    group_rows = max(4, -(-len(groups) // 4) * 4)
    group_row = _int32(group_start + [zero_row] * (group_rows - len(groups)))
    group_first += [group_first[-1]] * (group_rows - len(groups))

    # 3. entry width: int16 when no profile's totals can pass ±32767, whatever the record
    bound = max([_largest_total(t, row_profile, c) for c in (earn, cover, blocks)] + [0])
    wide = not (USE_INT16 and bound <= np.iinfo(np.int16).max)
    width = max(CHUNK, -(-3 * n_profiles // CHUNK) * CHUNK)
    dtype = np.int32 if wide else np.int16
    rows = np.zeros((zero_row + 1, width), np.int64)
    if group_tables:
        rows[:zero_row, : 3 * n_profiles] = np.concatenate(group_tables)
    packed = _aligned((zero_row + 1) * width * np.dtype(dtype).itemsize // 2)
    packed.view(dtype)[:] = rows.reshape(-1).astype(dtype)
    assert (packed.view(dtype).reshape(rows.shape) == rows).all()

    positive = t.prof_positive.astype(np.int64)
    assert (positive > 0).all() and (positive <= np.iinfo(np.int32).max).all()
    breaks_padded = [np.concatenate([b, np.full(-len(b) % BREAK_CHUNK, np.nan)]) for b in break_values]
    float_sections = [t.crit_lo.astype(np.float64), t.crit_hi.astype(np.float64), 1.0 / positive.astype(np.float64)]
    break_at = 2 * n_rows + n_profiles + np.cumsum([0] + [len(b) for b in breaks_padded])[:-1]
    sections = {
        "prof_start": t.prof_crit_start, "prof_width": t.prof_excl_end - t.prof_crit_start, "prof_positive": positive,
        "row_profile": row_profile, "row_earn": earn, "row_cover": cover, "row_blocks": blocks,
        "row_kind": t.crit_kind, "row_field": t.crit_field, "row_negate": t.crit_negate, "row_ref": t.crit_ref,
        "row_words": t.crit_words, "row_partial": t.crit_partial, "row_count_lo": t.crit_count_lo,
        "row_count_hi": t.crit_count_hi, "row_untouched": untouched, "row_ostart": row_ostart, "row_src": row_src,
        "cat_col": cat_fields, "cat_size": [vocab_sizes[f] for f in cat_fields],
        "num_col": num_fields, "num_bstart": break_at, "num_bchunks": [len(b) // BREAK_CHUNK for b in breaks_padded],
        "num_slots": [2 * len(b) + 1 for b in break_values],
        "set_col": set_fields, "set_wstart": t.set_word_start[set_fields], "set_nwords": t.set_words[set_fields],
        "set_code_start": set_code_start, "slot_member": slot_member, "slot_mult": slot_mult, "group_row": group_row,
        "group_first": group_first,
        "code_item_start": code_item_start, "code_items": code_items, "item_row": item_row, "loose_rows": loose,
        "dense_depth": dense["depth"], "dense_start": dense["start"], "dense_ustart": dense["ustart"],
        "dense_lo": dense["lo"], "dense_hi": dense["hi"], "dense_untouched": dense["untouched"], "dense_earn": dense["earn"],
        "dense_cover": dense["cover"], "dense_blocks": dense["blocks"], "dense_row": dense["row"],
    }
    scalars = {
        S_PROFILES: n_profiles, S_WIDTH: width, S_ROWS: n_rows, S_FIRST_ROUTE: int(t.prof_excl_end[-1]) if n_profiles else 0,
        S_CATS: len(cat_fields), S_NUMS: len(num_fields), S_SETS: len(set_fields), S_LOOSE: len(loose),
        S_GROUP_ROWS: group_rows, S_WIDE: int(wide), S_GROUPS: len(groups), S_UNION: t.mask_words.shape[0],
    }
    parts = [_int32(sections[name]) for name in INT_SECTIONS]
    offsets = N_SCALARS + len(INT_SECTIONS) + 1 + np.cumsum([0] + [len(p) for p in parts])
    head = np.zeros(N_SCALARS, np.int64)
    for index, value in scalars.items():
        head[index] = value
    ints = np.concatenate([_int32(head), _int32(offsets), *parts])
    assert ints.size < np.iinfo(np.int32).max
    return Plan(
        ints=ints, floats=np.concatenate([*float_sections, *breaks_padded]), masks=np.concatenate([t.mask_words.astype(np.uint64), dense['union']]),
        outcomes=outcomes, table=packed, n_profiles=n_profiles,
        n_reasons=int((t.prof_excl_end - t.prof_crit_start).max()) if n_profiles else 0,
        n_route=n_rows - scalars[S_FIRST_ROUTE], wide=wide, groups=len(groups),
    )


def _groups(key_counts: list[int], max_rows: int) -> list[list[int]]:
    """Slots (fields) joined into groups whose key products stay within :data:`GROUP_ROWS` (and the budget)."""
    limit = min(GROUP_ROWS, max_rows)
    groups: list[list[int]] = []
    product = 0
    for slot in sorted(range(len(key_counts)), key=lambda s: (key_counts[s], s)):
        if groups and product * key_counts[slot] <= limit:
            groups[-1].append(slot)
            product *= key_counts[slot]
        else:
            groups.append([slot])
            product = key_counts[slot]
    return groups


def _largest_total(t: Tables, row_profile: np.ndarray, contribution: np.ndarray) -> int:
    """The largest |total| any profile can reach in one of its columns: per row its largest |contribution|, summed."""
    per_row = np.abs(contribution.astype(np.int64)).reshape(-1, 3).max(axis=1) if contribution.size else np.zeros(0, np.int64)
    totals = np.zeros(t.prof_positive.shape[0] + 1, np.int64)
    np.add.at(totals, row_profile, per_row)  # routing rows (-1) land in the last slot
    return int(totals[:-1].max()) if t.prof_positive.shape[0] else 0


def _aligned(n: int) -> np.ndarray:
    """A zeroed int16 buffer of ``n`` entries starting on a 64-byte boundary."""
    raw = np.zeros(n + 32, np.int16)
    skip = (-raw.ctypes.data % 64) // 2
    return raw[skip : skip + n]


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


def _dense_set_rows(t: Tables, set_fields: list[int], row_profile: np.ndarray, untouched: np.ndarray, earn: np.ndarray,
                    cover: np.ndarray, blocks: np.ndarray) -> dict:
    """Profile set rows whose items are distinct single codes, laid out to be counted for all profiles at once.

    Per set field ``d``: ``depth[d]`` layers (the most such rows one profile has on the field),
    each ``P`` lanes wide (lane ``p``: one of profile ``p``'s rows, or a dummy that never flips).
    A layer's entry ``e = (start[d] + s) * P + p`` has the row's bounds, whether it holds
    untouched, what flipping from that outcome adds (earned, covered, blocks) and the row;
    its union mask word ``w`` is at ``union[(ustart[d] + s * words + w) * P + p]`` (after the
    bundle's mask words). A record's count for the row is ``popcount(set words & union)``.
    """
    n_profiles = t.prof_positive.shape[0]
    rows: set[int] = set()
    depth, start, ustart = [], [], []
    lo: list[int] = []
    hi: list[int] = []
    holds: list[int] = []
    d_earn: list[int] = []
    d_cover: list[int] = []
    d_blocks: list[int] = []
    row_of: list[int] = []
    union: list[int] = []
    layers, unions = 0, 0
    for field in set_fields:
        words = int(t.set_words[field])
        per_profile: list[list[int]] = [[] for _ in range(n_profiles)]
        for k in _rows_on(t, KIND_SET, field):
            if DENSE_SETS and t.crit_popcount[k] and row_profile[k] >= 0:
                per_profile[row_profile[k]].append(int(k))
                rows.add(int(k))
        layer_count = max([len(r) for r in per_profile] + [0])
        depth.append(layer_count)
        start.append(layers)
        ustart.append(unions)
        layers += layer_count
        unions += layer_count * words
        for s in range(layer_count):
            lane = [r[s] if s < len(r) else -1 for r in per_profile]
            for k in lane:
                if k < 0:
                    for column, value in ((lo, 1), (hi, 0), (holds, 0), (d_earn, 0), (d_cover, 0), (d_blocks, 0), (row_of, -1)):
                        column.append(value)  # a dummy lane: never holds, never flips
                    continue
                before = int(untouched[k])
                after = HOLDS if before == FAILS else FAILS
                lo.append(int(t.crit_count_lo[k]))
                hi.append(int(t.crit_count_hi[k]))
                holds.append(int(before == HOLDS))
                d_earn.append(int(earn[3 * k + after] - earn[3 * k + before]))
                d_cover.append(int(cover[3 * k + after] - cover[3 * k + before]))
                d_blocks.append(int(blocks[3 * k + after] - blocks[3 * k + before]))
                row_of.append(k)
            for w in range(words):
                union.extend(int(t.mask_words[t.crit_union[k] + w]) if k >= 0 else 0 for k in lane)
    return {
        "rows": rows, "depth": depth, "start": start, "ustart": ustart, "lo": lo, "hi": hi, "untouched": holds,
        "earn": d_earn, "cover": d_cover, "blocks": d_blocks, "row": row_of, "union": np.array(union, np.uint64),
    }


def _set_items(t: Tables, set_fields: list[int], dense: set[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per set code (fields side by side): what a record having that code touches.

    An entry ``k >= 0`` is row ``k`` itself: the row's items are distinct single codes
    (``crit_popcount``), so each code of the record touches at most one of its items and the
    row's count is the number of its codes the record has. An entry ``-1 - item`` is an item of
    another row, counted once however many of the record's codes it holds. Dense rows
    (:func:`_dense_set_rows`) are counted by the kernel's popcounts instead and are left out.
    """
    n_items = t.item_word_start.shape[0]
    item_row = np.full(n_items, -1, np.int32)
    per_code: list[list[int]] = []
    set_code_start = []
    for field in set_fields:
        n_words = int(t.set_words[field])
        set_code_start.append(len(per_code))
        field_codes: list[list[int]] = [[] for _ in range(64 * n_words)]
        for k in _rows_on(t, KIND_SET, field):
            if int(k) in dense:
                continue
            for item in range(t.crit_ref[k], t.crit_ref[k] + t.crit_words[k]):
                item_row[item] = k
                words = t.mask_words[t.item_word_start[item] : t.item_word_start[item] + n_words]
                codes = np.flatnonzero(np.unpackbits(words.view(np.uint8), bitorder="little"))
                for code in codes:
                    field_codes[code].append(int(k) if t.crit_popcount[k] else -1 - item)
        per_code += field_codes
    counts = [len(entries) for entries in per_code]
    code_item_start = _int32(np.cumsum([0, *counts]))
    code_items = _int32([entry for entries in per_code for entry in entries])
    return code_item_start, code_items, item_row, _int32(set_code_start)
