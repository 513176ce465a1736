"""Numba kernels: encoded records × compiled tables → points, coverage, qualification, best profile.

The kernels are fixed and typed; profiles only change the arrays they read,
so a new bundle never triggers a compile. They see only NumPy arrays (the
:class:`~compiler.tables.Tables` named tuple and :class:`Columns`), release
the GIL, and are cached on disk.

Outcomes: ``FAILS = 0``, ``HOLDS = 1``, ``UNKNOWN = 2``.

Record arrays (``n`` records):
    cat_codes   int32[n, C]    code per category field; -1 missing; >= vocab size unlisted
    num_lo      float64[n, N]  record range low end; NaN missing
    num_hi      float64[n, N]  record range high end (may be +inf); NaN missing
    set_bits    uint64[n, W]   all set fields' words side by side (see Tables.set_word_start)
    set_present uint8[n, S]    0 when the set field is missing (an empty set is present)
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numba
import numpy as np

from compiler.tables import Tables

FAILS, HOLDS, UNKNOWN = 0, 1, 2
NO_PROFILE = -1

_jit = numba.njit(nogil=True, cache=os.environ.get("ICP_NUMBA_CACHE", "1") != "0")


class Columns(NamedTuple):
    cat_codes: np.ndarray
    num_lo: np.ndarray
    num_hi: np.ndarray
    set_bits: np.ndarray
    set_present: np.ndarray


@_jit
def _popcount(word: np.uint64) -> int:
    """Set bits of a word (SWAR: no per-bit loop)."""
    word = word - ((word >> np.uint64(1)) & np.uint64(0x5555555555555555))
    word = (word & np.uint64(0x3333333333333333)) + ((word >> np.uint64(2)) & np.uint64(0x3333333333333333))
    word = (word + (word >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((word * np.uint64(0x0101010101010101)) >> np.uint64(56))


@_jit
def score_records(
    t: Tables,
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
    Every row is evaluated once per record into a scratch buffer (number and set rows cannot be
    negated: ``not_in`` is a category operator); the tables are unpacked into locals first because
    attribute access on a tuple argument costs a reference count each time.
    """
    crit_kind, crit_field, crit_negate = t.crit_kind, t.crit_field, t.crit_negate
    crit_ref, crit_words = t.crit_ref, t.crit_words
    count_lo, count_hi = t.crit_count_lo, t.crit_count_hi
    crit_lo, crit_hi, crit_partial = t.crit_lo, t.crit_hi, t.crit_partial
    weights, required, unknown_counts = t.crit_weight, t.crit_required, t.crit_unknown_counts
    crit_union, crit_popcount = t.crit_union, t.crit_popcount
    item_word_start, mask_words = t.item_word_start, t.mask_words
    set_word_start, set_words = t.set_word_start, t.set_words
    prof_start, prof_end, prof_excl_end, prof_positive = t.prof_crit_start, t.prof_crit_end, t.prof_excl_end, t.prof_positive
    rows_category, rows_number, rows_set = t.rows_category, t.rows_number, t.rows_set
    cat_codes, num_lo, num_hi, set_bits, set_present = c.cat_codes, c.num_lo, c.num_hi, c.set_bits, c.set_present

    n_rows = crit_kind.shape[0]
    n_profiles = prof_positive.shape[0]
    first_route_row = n_rows - route_outcomes.shape[1]
    keep_all = all_earned.shape[0] > 0
    outcome = np.empty(n_rows, np.int8)
    # What each (row, outcome) contributes, laid out row * 3 + outcome, so the per-profile sums
    # below are branch-free lookups instead of three tests per row.
    earn = np.zeros(3 * n_rows, np.int64)
    cover = np.zeros(3 * n_rows, np.int64)
    blocks = np.zeros(3 * n_rows, np.uint8)
    for p in range(n_profiles):
        for k in range(prof_start[p], prof_excl_end[p]):
            if k < prof_end[p]:
                earn[3 * k + HOLDS] = weights[k]
                if weights[k] > 0:
                    cover[3 * k + HOLDS] = weights[k]
                    cover[3 * k + FAILS] = weights[k]
                if required[k]:
                    blocks[3 * k + FAILS] = 1
                    blocks[3 * k + UNKNOWN] = 0 if unknown_counts[k] else 1
            else:
                blocks[3 * k + HOLDS] = 1
                blocks[3 * k + UNKNOWN] = 1 if unknown_counts[k] else 0
    one = np.uint64(1)
    for i in range(cat_codes.shape[0]):
        # -- every row's outcome for record i, one loop per kind (fewer mispredicted branches) --
        for j in range(rows_category.shape[0]):
            k = rows_category[j]
            code = cat_codes[i, crit_field[k]]
            result = FAILS
            if code < 0:
                result = UNKNOWN
            elif (code >> 6) < crit_words[k]:
                bit = np.uint64(code & 63)
                if (mask_words[crit_ref[k] + (code >> 6)] >> bit) & one:
                    result = HOLDS
                elif (mask_words[crit_ref[k] + crit_words[k] + (code >> 6)] >> bit) & one:
                    result = UNKNOWN
            if crit_negate[k] and result != UNKNOWN:
                result = HOLDS - result
            outcome[k] = result
        for j in range(rows_number.shape[0]):
            k = rows_number[j]
            lo, hi = num_lo[i, crit_field[k]], num_hi[i, crit_field[k]]
            if lo != lo or hi != hi:  # NaN: missing
                result = UNKNOWN
            elif lo >= crit_lo[k] and hi <= crit_hi[k]:
                result = HOLDS
            elif hi < crit_lo[k] or lo > crit_hi[k]:
                result = FAILS
            else:
                partial = crit_partial[k]
                result = UNKNOWN if partial == 0 else (HOLDS if partial == 1 else FAILS)
            outcome[k] = result
        for j in range(rows_set.shape[0]):
            k = rows_set[j]
            field = crit_field[k]
            if set_present[i, field] == 0:
                outcome[k] = UNKNOWN
                continue
            base, n_words, union = set_word_start[field], set_words[field], crit_union[k]
            if (count_lo[k] == 1 and count_hi[k] == crit_words[k]) or count_hi[k] == 0:
                # any / none only ask whether the record touches the union of the items
                touched = 0
                for w in range(n_words):
                    if set_bits[i, base + w] & mask_words[union + w]:
                        touched = 1
                        break
            elif crit_popcount[k]:
                touched = 0
                for w in range(n_words):
                    touched += _popcount(set_bits[i, base + w] & mask_words[union + w])
            else:
                touched = 0
                for item in range(crit_ref[k], crit_ref[k] + crit_words[k]):
                    start = item_word_start[item]
                    for w in range(n_words):
                        if set_bits[i, base + w] & mask_words[start + w]:
                            touched += 1
                            break
            outcome[k] = HOLDS if count_lo[k] <= touched <= count_hi[k] else FAILS
        # -- points, coverage and qualification per profile; keep the best -----------------
        chosen, chosen_earned, chosen_known, chosen_qualified = NO_PROFILE, 0, 0, False
        for p in range(n_profiles):
            earned, known, blocked = 0, 0, 0
            for k in range(prof_start[p], prof_excl_end[p]):
                slot = 3 * k + outcome[k]
                earned += earn[slot]
                known += cover[slot]
                blocked |= blocks[slot]
            qualified = blocked == 0
            if keep_all:
                all_earned[i, p], all_known[i, p], all_qualified[i, p] = earned, known, qualified
            # exact comparison of clamped scores earned/positive, in integers
            better = chosen == NO_PROFILE or (qualified and not chosen_qualified)
            if not better and qualified == chosen_qualified:
                better = max(earned, 0) * prof_positive[chosen] > max(chosen_earned, 0) * prof_positive[p]
            if better:
                chosen, chosen_earned, chosen_known, chosen_qualified = p, earned, known, qualified
        best[i], best_earned[i], best_known[i], best_qualified[i] = chosen, chosen_earned, chosen_known, chosen_qualified
        width = prof_excl_end[chosen] - prof_start[chosen]
        for j in range(best_outcomes.shape[1]):
            best_outcomes[i, j] = outcome[prof_start[chosen] + j] if j < width else -1
        for r in range(route_outcomes.shape[1]):
            route_outcomes[i, r] = outcome[first_route_row + r]
