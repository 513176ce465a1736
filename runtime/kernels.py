"""Numba kernels: encoded records × compiled tables → points, coverage, qualification, best profile.

The kernels are fixed and typed; profiles only change the arrays they read,
so a new bundle never triggers a compile. They see only NumPy arrays (the
:class:`~compiler.tables.Tables` and :class:`Plan` named tuples and
:class:`Columns`), release the GIL, and are cached on disk.

Outcomes: ``FAILS = 0``, ``HOLDS = 1``, ``UNKNOWN = 2``.

Record arrays (``n`` records):
    cat_codes   int32[n, C]    code per category field; -1 missing; >= vocab size unlisted
    num_lo      float64[n, N]  record range low end; NaN missing
    num_hi      float64[n, N]  record range high end (may be +inf); NaN missing
    set_bits    uint64[n, W]   all set fields' words side by side (see Tables.set_word_start)
    set_present uint8[n, S]    0 when the set field is missing (an empty set is present)

Two ways to reach a row's outcome share one definition (``row_outcome`` and the
functions it calls): the kernel evaluates rows one by one only for the reasons of
the chosen profile, the routing conditions and the few "loose" rows a plan leaves
out; everything else is read from the plan's transposed tables, which
:mod:`runtime.plan` fills by calling the same functions for every value a field
can take.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numba
import numpy as np

from compiler.tables import KIND_CATEGORY, KIND_SET, Tables

FAILS, HOLDS, UNKNOWN = 0, 1, 2
NO_PROFILE = -1

_CACHE = os.environ.get("ICP_NUMBA_CACHE", "1") != "0"
_jit = numba.njit(nogil=True, cache=_CACHE)
# Helpers called per row or per record are inlined into their callers: a call passing the table
# tuples costs a reference count per array in them, which dwarfs the work of one row.
_inline = numba.njit(nogil=True, cache=_CACHE, inline="always")


class Columns(NamedTuple):
    cat_codes: np.ndarray
    num_lo: np.ndarray
    num_hi: np.ndarray
    set_bits: np.ndarray
    set_present: np.ndarray


class Plan(NamedTuple):
    """Transposed tables (see :mod:`runtime.plan`): per field value, what every profile gets.

    ``table[row, 0:P]`` earned points, ``[P:2P]`` known (covered) positive points and
    ``[2P:3P]`` the number of blocking rows (failed requirements, firing exclusions), summed
    over the profile's rows on one field for one key; a record's totals are the sums of one
    table row per field.
    """

    row_profile: np.ndarray  # int32[K]: the profile of a criterion / exclusion row; -1 for routing rows
    row_earn: np.ndarray  # int32[3K]: what row k contributes with outcome o, at 3k + o
    row_cover: np.ndarray  # int32[3K]
    row_blocks: np.ndarray  # int32[3K]
    row_key_start: np.ndarray  # int32[K]: a tabulated row's outcome for key x is row_outcomes[start + x]; -1 otherwise
    row_outcomes: np.ndarray  # int8[...]
    cat_fields: np.ndarray  # int32[A]: category fields some profile row reads
    cat_vocab: np.ndarray  # int32[A]: their vocabulary sizes (key 0 missing, 1 + code, size + 1 unlisted)
    cat_start: np.ndarray  # int32[A]: first table row of each
    num_fields: np.ndarray  # int32[B]
    num_break_start: np.ndarray  # int32[B]: the field's sorted finite bounds in num_breaks
    num_break_count: np.ndarray  # int32[B]
    num_breaks: np.ndarray  # float64[...]
    num_start: np.ndarray  # int32[B]: key 0 missing, 1 + slot(lo) * slots + slot(hi)
    set_fields: np.ndarray  # int32[D]
    set_start: np.ndarray  # int32[D]: row +0 missing, +1 present and touching no item
    set_code_start: np.ndarray  # int32[D]: the field's first entry in code_item_start
    code_item_start: np.ndarray  # int32[codes + 1]: items a set code touches (CSR)
    code_items: np.ndarray  # int32[...]
    item_row: np.ndarray  # int32[items]: the row an item belongs to (-1: none)
    loose_rows: np.ndarray  # int32[...]: rows read one by one (their fields are too wide to tabulate)
    table: np.ndarray  # int32[T, 3P]


@_jit
def _popcount(word: np.uint64) -> int:
    """Set bits of a word (SWAR: no per-bit loop)."""
    word = word - ((word >> np.uint64(1)) & np.uint64(0x5555555555555555))
    word = (word & np.uint64(0x3333333333333333)) + ((word >> np.uint64(2)) & np.uint64(0x3333333333333333))
    word = (word + (word >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((word * np.uint64(0x0101010101010101)) >> np.uint64(56))


# The row functions take arrays and scalars, never the table tuples: a tuple read inside a
# function with branches costs a reference count per array in it on every call.


@_jit
def category_outcome(mask_words: np.ndarray, ref: int, words: int, negate: int, code: int) -> int:
    """A category row (holds mask at ``mask_words[ref:]``, unknown mask after it) for a record's ``code``."""
    result = FAILS
    if code < 0:
        result = UNKNOWN
    elif (code >> 6) < words:
        bit = np.uint64(code & 63)
        if (mask_words[ref + (code >> 6)] >> bit) & np.uint64(1):
            result = HOLDS
        elif (mask_words[ref + words + (code >> 6)] >> bit) & np.uint64(1):
            result = UNKNOWN
    if negate and result != UNKNOWN:
        result = HOLDS - result
    return result


@_jit
def number_outcome(bound_lo: float, bound_hi: float, partial: int, lo: float, hi: float) -> int:
    """A number row ``[bound_lo, bound_hi]`` for a record range ``[lo, hi]`` (NaN: missing)."""
    if lo != lo or hi != hi:
        return UNKNOWN
    if lo >= bound_lo and hi <= bound_hi:
        return HOLDS
    if hi < bound_lo or lo > bound_hi:
        return FAILS
    return UNKNOWN if partial == 0 else (HOLDS if partial == 1 else FAILS)


@_jit
def count_outcome(count_lo: int, count_hi: int, touched: int) -> int:
    """A set row when the record's set touches ``touched`` of its items."""
    return HOLDS if count_lo <= touched <= count_hi else FAILS


@_jit
def _add_row(acc: np.ndarray, table: np.ndarray, row: int) -> None:
    for x in range(acc.shape[0]):
        acc[x] += table[row, x]


@_jit
def score_records(
    t: Tables,
    plan: Plan,
    c: Columns,
    best: np.ndarray,
    best_earned: np.ndarray,
    best_known: np.ndarray,
    best_qualified: np.ndarray,
    best_outcomes: np.ndarray,
    route_outcomes: np.ndarray,
    all_earned: np.ndarray,
    all_known: np.ndarray,
    all_qualified: np.ndarray,
) -> None:
    """Score every record against every profile, pick the best one, and keep its reasons.

    Outputs (preallocated; ``n`` records, ``P`` profiles, ``K`` table rows of which the last
    ``R`` are routing conditions, ``m`` = the most rows any profile has):
        best            int32[n]     best qualified profile, else the closest one
        best_earned     int64[n]     its earned points (may be negative)
        best_known      int64[n]     its positive points whose criteria were not unknown
        best_qualified  uint8[n]     1 if the best profile qualifies
        best_outcomes   int8[n, m]   outcomes of its criteria then exclusions, -1 padded
        route_outcomes  int8[n, R]   outcomes of every routing condition
        all_earned, all_known, all_qualified: [n, P] per-profile values, or shape (0, 0) to skip
    Profiles are in ranking order (priority desc, id), so on equal scores the lower index wins.

    Per record: one plan table row per category and number field, two for a set field plus a
    correction for each set row the record's codes touch, then the loose rows one by one; the
    totals of all profiles sit side by side in ``acc`` (earned, known, blocking rows).
    """
    t_kind, t_field, t_negate, t_ref, t_words = t.crit_kind, t.crit_field, t.crit_negate, t.crit_ref, t.crit_words
    t_lo, t_hi, t_partial, t_count_lo, t_count_hi = t.crit_lo, t.crit_hi, t.crit_partial, t.crit_count_lo, t.crit_count_hi
    mask_words = t.mask_words
    set_word_start, set_words = t.set_word_start, t.set_words
    prof_start, prof_excl_end, prof_positive = t.prof_crit_start, t.prof_excl_end, t.prof_positive
    cat_codes, num_lo, num_hi, set_bits, set_present = c.cat_codes, c.num_lo, c.num_hi, c.set_bits, c.set_present
    row_profile, earn, cover, blocks, table = plan.row_profile, plan.row_earn, plan.row_cover, plan.row_blocks, plan.table
    row_key_start, row_outcomes = plan.row_key_start, plan.row_outcomes
    cat_fields, cat_vocab, cat_start = plan.cat_fields, plan.cat_vocab, plan.cat_start
    num_fields, breaks, break_start, break_count, num_start = (
        plan.num_fields, plan.num_breaks, plan.num_break_start, plan.num_break_count, plan.num_start
    )
    set_fields, set_start, set_code_start = plan.set_fields, plan.set_start, plan.set_code_start
    code_item_start, code_items, item_row, loose_rows = plan.code_item_start, plan.code_items, plan.item_row, plan.loose_rows

    n_profiles = prof_positive.shape[0]
    n_rows = t_kind.shape[0]
    n_reasons, n_route = best_outcomes.shape[1], route_outcomes.shape[1]
    first_route_row = n_rows - n_route
    keep_all = all_earned.shape[0] > 0
    acc = np.zeros(3 * n_profiles, np.int32)
    outcome = np.zeros(n_rows, np.int64)
    touched_rows = np.zeros(n_rows, np.int64)
    # this record's key per category and number field, and the stamp of each set field (-1: missing)
    cat_key = np.zeros(cat_codes.shape[1], np.int64)
    num_key = np.zeros(num_lo.shape[1], np.int64)
    set_stamp = np.zeros(set_present.shape[1], np.int64)
    # Stamps instead of clearing: an item or row counts for this (record, set field) only when
    # its stamp is the current one.
    item_stamp = np.zeros(item_row.shape[0], np.int64)
    row_stamp = np.zeros(n_rows, np.int64)
    row_count = np.zeros(n_rows, np.int64)
    stamp = 0
    for i in range(cat_codes.shape[0]):
        acc[:] = 0
        for a in range(cat_fields.shape[0]):
            code = cat_codes[i, cat_fields[a]]
            size = cat_vocab[a]
            key = 0 if code < 0 else (code + 1 if code < size else size + 1)
            cat_key[cat_fields[a]] = key
            _add_row(acc, table, cat_start[a] + key)
        for b in range(num_fields.shape[0]):
            key = 0
            start, count = break_start[b], break_count[b]
            slots = 2 * count + 1
            for end in range(2):
                x = num_lo[i, num_fields[b]] if end == 0 else num_hi[i, num_fields[b]]
                if x != x:  # NaN: missing
                    key = 0
                    break
                # where x falls among the sorted bounds: 2j + 1 on bound j, 2j just below it
                low, high = 0, count
                while low < high:
                    middle = (low + high) >> 1
                    if breaks[start + middle] < x:
                        low = middle + 1
                    else:
                        high = middle
                slot = 2 * low + 1 if low < count and breaks[start + low] == x else 2 * low
                key = 1 + slot * slots if end == 0 else key + slot
            num_key[num_fields[b]] = key
            _add_row(acc, table, num_start[b] + key)
        for d in range(set_fields.shape[0]):
            field = set_fields[d]
            if set_present[i, field] == 0:
                set_stamp[field] = -1
                _add_row(acc, table, set_start[d])
                continue
            _add_row(acc, table, set_start[d] + 1)  # as if the set touched no item; touched rows corrected below
            stamp += 1
            set_stamp[field] = stamp
            n_touched = 0
            base = set_word_start[field]
            for w in range(set_words[field]):
                bits = set_bits[i, base + w]
                while bits:
                    low_bit = bits & (~bits + np.uint64(1))
                    code = set_code_start[d] + 64 * w + _popcount(low_bit - np.uint64(1))
                    bits ^= low_bit
                    for j in range(code_item_start[code], code_item_start[code + 1]):
                        item = code_items[j]
                        if item_stamp[item] != stamp:
                            item_stamp[item] = stamp
                            k = item_row[item]
                            if row_stamp[k] != stamp:
                                row_stamp[k] = stamp
                                row_count[k] = 0
                                touched_rows[n_touched] = k
                                n_touched += 1
                            row_count[k] += 1
            for q in range(n_touched):
                k = touched_rows[q]
                now = count_outcome(t_count_lo[k], t_count_hi[k], row_count[k])
                before = count_outcome(t_count_lo[k], t_count_hi[k], 0)
                p = row_profile[k]
                if now != before and p >= 0:
                    acc[p] += earn[3 * k + now] - earn[3 * k + before]
                    acc[n_profiles + p] += cover[3 * k + now] - cover[3 * k + before]
                    acc[2 * n_profiles + p] += blocks[3 * k + now] - blocks[3 * k + before]

        for k in loose_rows:
            field = t_field[k]
            if t_kind[k] == KIND_CATEGORY:
                result = category_outcome(mask_words, t_ref[k], t_words[k], t_negate[k], cat_codes[i, field])
            else:
                result = number_outcome(t_lo[k], t_hi[k], t_partial[k], num_lo[i, field], num_hi[i, field])
            outcome[k] = result
            p = row_profile[k]
            if p >= 0:
                acc[p] += earn[3 * k + result]
                acc[n_profiles + p] += cover[3 * k + result]
                acc[2 * n_profiles + p] += blocks[3 * k + result]

        chosen, chosen_earned, chosen_known, chosen_qualified = NO_PROFILE, 0, 0, False
        for p in range(n_profiles):
            earned, known, qualified = acc[p], acc[n_profiles + p], acc[2 * n_profiles + p] == 0
            if keep_all:
                all_earned[i, p], all_known[i, p], all_qualified[i, p] = earned, known, qualified
            # exact comparison of clamped scores earned/positive, in integers
            better = chosen == NO_PROFILE or (qualified and not chosen_qualified)
            if not better and qualified == chosen_qualified:
                better = np.int64(max(earned, 0)) * prof_positive[chosen] > np.int64(max(chosen_earned, 0)) * prof_positive[p]
            if better:
                chosen, chosen_earned, chosen_known, chosen_qualified = p, earned, known, qualified
        best[i], best_earned[i], best_known[i], best_qualified[i] = chosen, chosen_earned, chosen_known, chosen_qualified

        # The chosen profile's reasons, then the routing conditions: looked up from this record's keys.
        width = prof_excl_end[chosen] - prof_start[chosen]
        for j in range(n_reasons + n_route):
            if j < n_reasons:
                if j >= width:
                    best_outcomes[i, j] = -1
                    continue
                k = prof_start[chosen] + j
            else:
                k = first_route_row + j - n_reasons
            field = t_field[k]
            if t_kind[k] == KIND_SET:
                here = set_stamp[field]
                if here < 0:
                    result = UNKNOWN
                else:
                    result = count_outcome(t_count_lo[k], t_count_hi[k], row_count[k] if row_stamp[k] == here else 0)
            elif row_key_start[k] < 0:
                result = outcome[k]
            else:
                key = cat_key[field] if t_kind[k] == KIND_CATEGORY else num_key[field]
                result = row_outcomes[row_key_start[k] + key]
            if j < n_reasons:
                best_outcomes[i, j] = result
            else:
                route_outcomes[i, j - n_reasons] = result
