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

from compiler.tables import KIND_CATEGORY, KIND_SET, Tables

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
    count = 0
    while word:
        word &= word - np.uint64(1)
        count += 1
    return count


@_jit
def _category_outcome(t: Tables, k: int, code: int) -> int:
    if code < 0:
        return UNKNOWN
    word, bit = code >> 6, np.uint64(code & 63)
    if word >= t.crit_words[k]:
        return FAILS
    ref = t.crit_ref[k]
    if (t.mask_words[ref + word] >> bit) & np.uint64(1):
        return HOLDS
    if (t.mask_words[ref + t.crit_words[k] + word] >> bit) & np.uint64(1):
        return UNKNOWN
    return FAILS


@_jit
def _set_outcome(t: Tables, c: Columns, k: int, i: int) -> int:
    field = t.crit_field[k]
    if c.set_present[i, field] == 0:
        return UNKNOWN
    base, n_words = t.set_word_start[field], t.set_words[field]
    touched = 0
    for item in range(t.crit_ref[k], t.crit_ref[k] + t.crit_words[k]):
        start = t.item_word_start[item]
        for w in range(n_words):
            if c.set_bits[i, base + w] & t.mask_words[start + w]:
                touched += 1
                break
    if t.crit_count_lo[k] <= touched <= t.crit_count_hi[k]:
        return HOLDS
    return FAILS


@_jit
def _number_outcome(t: Tables, k: int, lo: float, hi: float) -> int:
    if np.isnan(lo) or np.isnan(hi):
        return UNKNOWN
    if lo >= t.crit_lo[k] and hi <= t.crit_hi[k]:
        return HOLDS
    if hi < t.crit_lo[k] or lo > t.crit_hi[k]:
        return FAILS
    partial = t.crit_partial[k]
    return UNKNOWN if partial == 0 else (HOLDS if partial == 1 else FAILS)


@_jit
def criterion_outcome(t: Tables, c: Columns, k: int, i: int) -> int:
    """Outcome of table row ``k`` for record ``i``."""
    kind, field = t.crit_kind[k], t.crit_field[k]
    if kind == KIND_CATEGORY:
        outcome = _category_outcome(t, k, c.cat_codes[i, field])
    elif kind == KIND_SET:
        outcome = _set_outcome(t, c, k, i)
    else:
        outcome = _number_outcome(t, k, c.num_lo[i, field], c.num_hi[i, field])
    if t.crit_negate[k] and outcome != UNKNOWN:
        return HOLDS - outcome
    return outcome


@_jit
def _better(earned_a: int, positive_a: int, earned_b: int, positive_b: int) -> bool:
    """Is clamped score a/pa strictly above b/pb? Exact, in integers."""
    return max(earned_a, 0) * positive_b > max(earned_b, 0) * positive_a


@_jit
def score_records(
    t: Tables,
    c: Columns,
    best: np.ndarray,
    best_earned: np.ndarray,
    best_known: np.ndarray,
    best_qualified: np.ndarray,
    all_earned: np.ndarray,
    all_known: np.ndarray,
    all_qualified: np.ndarray,
) -> None:
    """Score every record against every profile and pick the best one.

    Outputs (preallocated, ``n`` records, ``P`` profiles):
        best            int32[n]   best qualified profile, else the closest one
        best_earned     int64[n]   its earned points (may be negative)
        best_known      int64[n]   its positive points whose criteria were not unknown
        best_qualified  uint8[n]   1 if the best profile qualifies
        all_earned, all_known, all_qualified: [n, P] per-profile values, or shape (0, 0) to skip
    Profiles are in ranking order (priority desc, id), so on equal scores the
    lower index wins.
    """
    n_profiles = t.prof_positive.shape[0]
    keep_all = all_earned.shape[0] > 0
    for i in range(c.cat_codes.shape[0]):
        chosen, chosen_earned, chosen_known, chosen_qualified = NO_PROFILE, 0, 0, False
        for p in range(n_profiles):
            earned, known, qualified = 0, 0, True
            for k in range(t.prof_crit_start[p], t.prof_crit_end[p]):
                outcome = criterion_outcome(t, c, k, i)
                weight = t.crit_weight[k]
                if outcome == HOLDS:
                    earned += weight
                if weight > 0 and outcome != UNKNOWN:
                    known += weight
                if t.crit_required[k] and (outcome == FAILS or (outcome == UNKNOWN and not t.crit_unknown_counts[k])):
                    qualified = False
            for k in range(t.prof_crit_end[p], t.prof_excl_end[p]):
                outcome = criterion_outcome(t, c, k, i)
                if outcome == HOLDS or (outcome == UNKNOWN and t.crit_unknown_counts[k]):
                    qualified = False
            if keep_all:
                all_earned[i, p], all_known[i, p], all_qualified[i, p] = earned, known, qualified
            positive = t.prof_positive[p]
            if (
                chosen == NO_PROFILE
                or (qualified and not chosen_qualified)
                or (qualified == chosen_qualified and _better(earned, positive, chosen_earned, t.prof_positive[chosen]))
            ):
                chosen, chosen_earned, chosen_known, chosen_qualified = p, earned, known, qualified
        best[i], best_earned[i], best_known[i], best_qualified[i] = chosen, chosen_earned, chosen_known, chosen_qualified


@_jit
def criteria_outcomes(t: Tables, c: Columns, rows: np.ndarray, out: np.ndarray) -> None:
    """``out[i, j]`` = outcome of table row ``rows[i, j]`` for record ``i`` (-1 where the row is -1).

    rows: int32[n, m]; out: int8[n, m].
    """
    for i in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            k = rows[i, j]
            out[i, j] = -1 if k < 0 else criterion_outcome(t, c, k, i)
