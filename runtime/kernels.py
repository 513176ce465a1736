"""Numba kernels: encoded records × compiled tables → points, coverage, qualification, best profile.

The kernels are fixed and typed; profiles only change the arrays they read,
so a new bundle never triggers a compile. They see only flat NumPy arrays (the
:class:`Plan`'s packed arrays and the :class:`Columns`), release the GIL, and are
cached on disk.

Outcomes: ``FAILS = 0``, ``HOLDS = 1``, ``UNKNOWN = 2``.

Record arrays (``n`` records):
    cat_codes   int32[n, C]    code per category field; -1 missing; >= vocab size unlisted
    num_lo      float64[n, N]  record range low end; NaN missing
    num_hi      float64[n, N]  record range high end (may be +inf); NaN missing
    set_bits    uint64[n, W]   all set fields' words side by side (see Tables.set_word_start)
    set_present uint8[n, S]    0 when the set field is missing (an empty set is present)

Two ways to reach a row's outcome share one definition (``category_outcome``,
``number_outcome``, ``count_outcome``): the kernel evaluates rows one by one only
for the set rows a record touches and the few "loose" rows a plan leaves out;
everything else is read from the plan's transposed tables, which
:mod:`runtime.plan` fills by calling the same functions for every value a field
can take.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from compiler.tables import KIND_CATEGORY

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


# The plan reaches the kernel as a few flat arrays (Numba unboxes every array argument on every
# call, and a named tuple of arrays is typed element by element in Python: ~60 arrays cost
# 10-25 µs per call). Small integers sit at the head of ``ints``; then the offsets of its
# sections, in the order of ``INT_SECTIONS``.
S_PROFILES, S_WIDTH, S_ROWS, S_FIRST_ROUTE, S_CATS, S_NUMS, S_SETS, S_LOOSE, S_GROUP_ROWS, S_WIDE, S_GROUPS, S_UNION = range(12)
N_SCALARS = 12
INT_SECTIONS = (
    "prof_start", "prof_width", "prof_positive",
    "row_profile", "row_earn", "row_cover", "row_blocks", "row_kind", "row_field", "row_negate", "row_ref",
    "row_words", "row_partial", "row_count_lo", "row_count_hi", "row_untouched", "row_ostart", "row_src",
    "cat_col", "cat_size", "num_col", "num_bstart", "num_bchunks", "num_slots", "set_col", "set_wstart",
    "set_nwords", "set_code_start", "slot_member", "slot_mult", "group_row", "group_first",
    "code_item_start", "code_items", "item_row", "loose_rows",
    "dense_depth", "dense_start", "dense_ustart", "dense_lo", "dense_hi", "dense_untouched", "dense_earn", "dense_cover",
    "dense_blocks", "dense_row",
)
(
    I_PROF_START, I_PROF_WIDTH, I_PROF_POSITIVE,
    I_ROW_PROFILE, I_ROW_EARN, I_ROW_COVER, I_ROW_BLOCKS, I_ROW_KIND, I_ROW_FIELD, I_ROW_NEGATE, I_ROW_REF,
    I_ROW_WORDS, I_ROW_PARTIAL, I_ROW_COUNT_LO, I_ROW_COUNT_HI, I_ROW_UNTOUCHED, I_ROW_OSTART, I_ROW_SRC,
    I_CAT_COL, I_CAT_SIZE, I_NUM_COL, I_NUM_BSTART, I_NUM_BCHUNKS, I_NUM_SLOTS, I_SET_COL, I_SET_WSTART,
    I_SET_NWORDS, I_SET_CODE_START, I_SLOT_MEMBER, I_SLOT_MULT, I_GROUP_ROW, I_GROUP_FIRST,
    I_CODE_ITEM_START, I_CODE_ITEMS, I_ITEM_ROW, I_LOOSE_ROWS,
    I_DENSE_DEPTH, I_DENSE_START, I_DENSE_USTART, I_DENSE_LO, I_DENSE_HI, I_DENSE_UNTOUCHED, I_DENSE_EARN, I_DENSE_COVER,
    I_DENSE_BLOCKS, I_DENSE_ROW,
) = range(len(INT_SECTIONS))
CHUNK = 32  # table rows are padded to a multiple of this many entries (64 bytes of int16)
CHUNK_BYTES = 64
BREAK_CHUNK = 8  # a number field's bounds are padded with NaN to a multiple of this


class Plan(NamedTuple):
    """Transposed tables (see :mod:`runtime.plan`), packed into the few arrays the kernel takes.

    ``table`` holds one row of ``width`` entries (``ints[S_WIDTH]``, ``3P`` padded to
    :data:`CHUNK`) per key of a field *group*: ``[0:P]`` earned points, ``[P:2P]`` known
    (covered) positive points, ``[2P:3P]`` blocking rows (failed requirements, firing
    exclusions), summed over the profiles' rows on the group's fields. A record's totals are
    the sum of one row per group. Entries are int16 when no total can pass ±32767
    (``ints[S_WIDE] == 0``), else int32 stored in the same int16 buffer (two per entry).

    ``ints`` (int32): the scalars ``S_*`` then the section offsets (``INT_SECTIONS``) then the
    sections; ``floats`` (float64): rows' low bounds [0:K], high bounds [K:2K], each profile's
    1 / positive points [2K:2K+P], then each number field's sorted bounds (NaN padded);
    ``masks`` (uint64): the bundle's mask words (for rows read one by one); ``outcomes``
    (int8): per row and key, the row's outcome (for reasons and routes).
    """

    ints: np.ndarray
    floats: np.ndarray
    masks: np.ndarray
    outcomes: np.ndarray
    table: np.ndarray
    n_profiles: int
    n_reasons: int  # the most rows (criteria + exclusions) any profile has
    n_route: int
    wide: bool  # int32 table entries (else int16)
    groups: int  # table rows added per record


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


def _chunk_pointer(context, builder, array_type, array, index):
    """Pointer to ``array[index:]`` as a vector of :data:`CHUNK_BYTES` bytes."""
    data = context.make_array(array_type)(context, builder, array).data
    lanes = CHUNK_BYTES * 8 // array_type.dtype.bitwidth
    pointer = builder.gep(data, [index], inbounds=True)
    return builder.bitcast(pointer, ir.VectorType(context.get_data_type(array_type.dtype), lanes).as_pointer())


def _sum_rows(add: bool):
    """``acc[at:at+lanes] (+)= tab[r + at : r + at + lanes]`` summed over four rows, as 64-byte vectors.

    Written as an intrinsic because LLVM does not vectorise the plain loop well at these
    widths (96 int16 at 32 profiles: its unrolled vector loop needs more and falls back to
    scalar code, and it cannot prove ``acc`` and ``tab`` apart to vectorise the unrolled lanes).
    """

    @intrinsic
    def sum_rows(typingctx, acc, tab, at, r0, r1, r2, r3):
        sig = types.void(acc, tab, types.int64, types.int64, types.int64, types.int64, types.int64)

        def codegen(context, builder, signature, args):
            acc_type, tab_type = signature.args[0], signature.args[1]
            total = None
            for row in args[3:]:
                value = builder.load(_chunk_pointer(context, builder, tab_type, args[1], builder.add(row, args[2])), align=2)
                total = value if total is None else builder.add(total, value)
            target = _chunk_pointer(context, builder, acc_type, args[0], args[2])
            if add:
                total = builder.add(total, builder.load(target, align=2))
            builder.store(total, target, align=2)

        return sig, codegen

    return sum_rows


_set_rows4, _add_rows4 = _sum_rows(False), _sum_rows(True)


@intrinsic
def _ctpop(typingctx, word):
    """Set bits of a uint64 word (LLVM's ctpop: one instruction, vectorisable)."""
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


# Inlined copies for the record loop (a call passing an array costs a reference count per call).
_category_row = _inline(category_outcome.py_func)
_number_row = _inline(number_outcome.py_func)
_count_row = _inline(count_outcome.py_func)


@_jit
def score_records(
    ints: np.ndarray,
    floats: np.ndarray,
    masks: np.ndarray,
    outcomes: np.ndarray,
    table: np.ndarray,
    cat_codes: np.ndarray,
    num_lo: np.ndarray,
    num_hi: np.ndarray,
    set_bits: np.ndarray,
    set_present: np.ndarray,
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

    Inputs: the :class:`Plan`'s ``ints, floats, masks, outcomes, table``, then the five
    :class:`Columns`. Outputs (preallocated; ``n`` records, ``P`` profiles, ``K`` rows of which
    the last ``R`` are routing conditions, ``m`` = the most rows any profile has):
        best            int32[n]     best qualified profile, else the closest one
        best_earned     int64[n]     its earned points (may be negative)
        best_known      int64[n]     its positive points whose criteria were not unknown
        best_qualified  uint8[n]     1 if the best profile qualifies
        best_outcomes   int8[n, m]   outcomes of its criteria then exclusions, -1 padded
        route_outcomes  int8[n, R]   outcomes of every routing condition
        all_earned, all_known, all_qualified: [n, P] per-profile values, or shape (0, 0) to skip
    Profiles are in ranking order (priority desc, id), so on equal scores the lower index wins.
    """
    width = ints[S_WIDTH]
    if ints[S_WIDE]:
        _score(table.view(np.int32), np.zeros(width, np.int32), ints, floats, masks, outcomes,
               cat_codes, num_lo, num_hi, set_bits, set_present, best, best_earned, best_known, best_qualified,
               best_outcomes, route_outcomes, all_earned, all_known, all_qualified)
    else:
        _score(table, np.zeros(width, np.int16), ints, floats, masks, outcomes,
               cat_codes, num_lo, num_hi, set_bits, set_present, best, best_earned, best_known, best_qualified,
               best_outcomes, route_outcomes, all_earned, all_known, all_qualified)


# The same entry point holding the GIL, for small batches: their work is microseconds, and a call
# that releases the GIL must win it back from the server's other threads afterwards, which in a
# busy server is most of a unary call's latency tail (measured: kernel wall p99 ~1 ms against
# ~0.2 ms of CPU). A function of its own, not a second dispatcher of the same Python function:
# Numba's disk cache keys entries by function and signature, not by nogil, so two dispatchers of
# one function load each other's code (measured: the large-batch kernel lost its 2-thread
# speed-up). Called from compiled code, score_records runs in this caller's GIL state.
@numba.njit(nogil=False, cache=_CACHE)
def score_records_holding_gil(ints, floats, masks, outcomes, table, cat_codes, num_lo, num_hi, set_bits, set_present,
                              best, best_earned, best_known, best_qualified, best_outcomes, route_outcomes,
                              all_earned, all_known, all_qualified):
    score_records(ints, floats, masks, outcomes, table, cat_codes, num_lo, num_hi, set_bits, set_present,
                  best, best_earned, best_known, best_qualified, best_outcomes, route_outcomes,
                  all_earned, all_known, all_qualified)


KERNELS = (score_records, score_records_holding_gil)
SMALL_BATCH = 64  # records: up to here the GIL is held


@_jit
def _score(tab, acc, ints, floats, masks, outcomes, cat_codes, num_lo, num_hi, set_bits, set_present,
           best, best_earned, best_known, best_qualified, best_outcomes, route_outcomes,
           all_earned, all_known, all_qualified):
    """The record loop of :func:`score_records`; ``tab`` and ``acc`` are int16 or int32."""
    n_profiles, width, n_rows = ints[S_PROFILES], ints[S_WIDTH], ints[S_ROWS]
    first_route, n_cat, n_num, n_set = ints[S_FIRST_ROUTE], ints[S_CATS], ints[S_NUMS], ints[S_SETS]
    n_loose, group_rows = ints[S_LOOSE], ints[S_GROUP_ROWS]
    o = N_SCALARS
    prof_start = ints[ints[o + I_PROF_START]:ints[o + I_PROF_START + 1]]
    prof_width = ints[ints[o + I_PROF_WIDTH]:ints[o + I_PROF_WIDTH + 1]]
    prof_positive = ints[ints[o + I_PROF_POSITIVE]:ints[o + I_PROF_POSITIVE + 1]]
    row_profile = ints[ints[o + I_ROW_PROFILE]:ints[o + I_ROW_PROFILE + 1]]
    earn = ints[ints[o + I_ROW_EARN]:ints[o + I_ROW_EARN + 1]]
    cover = ints[ints[o + I_ROW_COVER]:ints[o + I_ROW_COVER + 1]]
    blocks = ints[ints[o + I_ROW_BLOCKS]:ints[o + I_ROW_BLOCKS + 1]]
    row_kind = ints[ints[o + I_ROW_KIND]:ints[o + I_ROW_KIND + 1]]
    row_field = ints[ints[o + I_ROW_FIELD]:ints[o + I_ROW_FIELD + 1]]
    row_negate = ints[ints[o + I_ROW_NEGATE]:ints[o + I_ROW_NEGATE + 1]]
    row_ref = ints[ints[o + I_ROW_REF]:ints[o + I_ROW_REF + 1]]
    row_words = ints[ints[o + I_ROW_WORDS]:ints[o + I_ROW_WORDS + 1]]
    row_partial = ints[ints[o + I_ROW_PARTIAL]:ints[o + I_ROW_PARTIAL + 1]]
    count_lo = ints[ints[o + I_ROW_COUNT_LO]:ints[o + I_ROW_COUNT_LO + 1]]
    count_hi = ints[ints[o + I_ROW_COUNT_HI]:ints[o + I_ROW_COUNT_HI + 1]]
    untouched = ints[ints[o + I_ROW_UNTOUCHED]:ints[o + I_ROW_UNTOUCHED + 1]]
    ostart = ints[ints[o + I_ROW_OSTART]:ints[o + I_ROW_OSTART + 1]]
    src = ints[ints[o + I_ROW_SRC]:ints[o + I_ROW_SRC + 1]]
    cat_col = ints[ints[o + I_CAT_COL]:ints[o + I_CAT_COL + 1]]
    cat_size = ints[ints[o + I_CAT_SIZE]:ints[o + I_CAT_SIZE + 1]]
    num_col = ints[ints[o + I_NUM_COL]:ints[o + I_NUM_COL + 1]]
    num_bstart = ints[ints[o + I_NUM_BSTART]:ints[o + I_NUM_BSTART + 1]]
    num_bchunks = ints[ints[o + I_NUM_BCHUNKS]:ints[o + I_NUM_BCHUNKS + 1]]
    num_slots = ints[ints[o + I_NUM_SLOTS]:ints[o + I_NUM_SLOTS + 1]]
    set_col = ints[ints[o + I_SET_COL]:ints[o + I_SET_COL + 1]]
    set_wstart = ints[ints[o + I_SET_WSTART]:ints[o + I_SET_WSTART + 1]]
    set_nwords = ints[ints[o + I_SET_NWORDS]:ints[o + I_SET_NWORDS + 1]]
    set_code_start = ints[ints[o + I_SET_CODE_START]:ints[o + I_SET_CODE_START + 1]]
    slot_member = ints[ints[o + I_SLOT_MEMBER]:ints[o + I_SLOT_MEMBER + 1]]
    group_first = ints[ints[o + I_GROUP_FIRST]:ints[o + I_GROUP_FIRST + 1]]
    slot_mult = ints[ints[o + I_SLOT_MULT]:ints[o + I_SLOT_MULT + 1]]
    group_row = ints[ints[o + I_GROUP_ROW]:ints[o + I_GROUP_ROW + 1]]
    code_item_start = ints[ints[o + I_CODE_ITEM_START]:ints[o + I_CODE_ITEM_START + 1]]
    code_items = ints[ints[o + I_CODE_ITEMS]:ints[o + I_CODE_ITEMS + 1]]
    item_row = ints[ints[o + I_ITEM_ROW]:ints[o + I_ITEM_ROW + 1]]
    loose_rows = ints[ints[o + I_LOOSE_ROWS]:ints[o + I_LOOSE_ROWS + 1]]
    dense_depth = ints[ints[o + I_DENSE_DEPTH]:ints[o + I_DENSE_DEPTH + 1]]
    dense_start = ints[ints[o + I_DENSE_START]:ints[o + I_DENSE_START + 1]]
    dense_ustart = ints[ints[o + I_DENSE_USTART]:ints[o + I_DENSE_USTART + 1]]
    dense_lo = ints[ints[o + I_DENSE_LO]:ints[o + I_DENSE_LO + 1]]
    dense_hi = ints[ints[o + I_DENSE_HI]:ints[o + I_DENSE_HI + 1]]
    dense_untouched = ints[ints[o + I_DENSE_UNTOUCHED]:ints[o + I_DENSE_UNTOUCHED + 1]]
    dense_earn = ints[ints[o + I_DENSE_EARN]:ints[o + I_DENSE_EARN + 1]]
    dense_cover = ints[ints[o + I_DENSE_COVER]:ints[o + I_DENSE_COVER + 1]]
    dense_blocks = ints[ints[o + I_DENSE_BLOCKS]:ints[o + I_DENSE_BLOCKS + 1]]
    dense_row = ints[ints[o + I_DENSE_ROW]:ints[o + I_DENSE_ROW + 1]]
    union = masks[ints[S_UNION]:]
    row_lo, row_hi = floats[0:n_rows], floats[n_rows:2 * n_rows]
    inverse = floats[2 * n_rows:2 * n_rows + n_profiles]

    n_reasons, n_route = best_outcomes.shape[1], route_outcomes.shape[1]
    keep_all = all_earned.shape[0] > 0
    n_slots = n_cat + n_num + n_set
    keys = np.zeros(n_slots + n_loose, np.int64)
    base = np.zeros(group_rows, np.int64)
    score = np.zeros(max(n_profiles, 1), np.float64)
    score_bits = score.view(np.int64)
    scratch = np.zeros(1, np.float64)
    scratch_bits = scratch.view(np.int64)
    # Stamps instead of clearing: an item or row counts for this record only when its stamp is the current one.
    item_stamp = np.zeros(item_row.shape[0], np.int64)
    row_stamp = np.zeros(n_rows, np.int64)
    row_count = np.zeros(n_rows, np.int64)
    touched = np.zeros(n_rows, np.int64)
    delta = np.zeros(3 * n_profiles, np.int32)
    p2 = 2 * n_profiles
    lanes = CHUNK_BYTES // tab.itemsize
    n_chunks = width // lanes

    for i in range(cat_codes.shape[0]):
        # 1. this record's key per field
        for a in range(n_cat):
            code = cat_codes[i, cat_col[a]]
            key = min(code + 1, cat_size[a] + 1)  # 1 + code; size + 1 for unlisted codes (>= size)
            keys[a] = 0 if code < 0 else key
        for b in range(n_num):
            lo, hi = num_lo[i, num_col[b]], num_hi[i, num_col[b]]
            key = 0
            if lo == lo and hi == hi:  # not NaN (missing)
                # slot of x: (bounds < x) + (bounds <= x): 2j + 1 on bound j, 2j just below it (NaN pads count 0)
                slot_lo, slot_hi = 0, 0
                at = num_bstart[b]
                for _ in range(num_bchunks[b]):
                    for lane in range(BREAK_CHUNK):
                        v = floats[at + lane]
                        slot_lo += (v < lo) + (v <= lo)
                        slot_hi += (v < hi) + (v <= hi)
                    at += BREAK_CHUNK
                key = 1 + slot_lo * num_slots[b] + slot_hi
            keys[n_cat + b] = key
        stamp = i + 1
        n_touched = 0
        for d in range(n_set):
            field = set_col[d]
            if set_present[i, field] == 0:
                keys[n_cat + n_num + d] = 0
                continue
            keys[n_cat + n_num + d] = 1  # tabulated as touching no item; touched rows corrected below
            word0 = set_wstart[d]
            for w in range(set_nwords[d]):
                bits = set_bits[i, word0 + w]
                while bits:
                    code = set_code_start[d] + 64 * w + trailing_zeros(bits)
                    bits &= bits - np.uint64(1)
                    for j in range(code_item_start[code], code_item_start[code + 1]):
                        k = code_items[j]
                        if k < 0:  # an item with several codes: count it once
                            item = -1 - k
                            if item_stamp[item] == stamp:
                                continue
                            item_stamp[item] = stamp
                            k = item_row[item]
                        if row_stamp[k] != stamp:
                            row_stamp[k] = stamp
                            row_count[k] = 1
                            touched[n_touched] = k
                            n_touched += 1
                        else:
                            row_count[k] += 1

        # 2. one table row per field group, four rows per pass (padded with an all-zero row)
        for g in range(group_rows):
            row = group_row[g]
            for j in range(group_first[g], group_first[g + 1]):
                row += keys[slot_member[j]] * slot_mult[j]
            base[g] = row * width
        for chunk in range(n_chunks):  # (a range with a variable step would divide per record)
            _set_rows4(acc, tab, chunk * lanes, base[0], base[1], base[2], base[3])
        for q in range(4, group_rows, 4):
            for chunk in range(n_chunks):
                _add_rows4(acc, tab, chunk * lanes, base[q], base[q + 1], base[q + 2], base[q + 3])

        # 3. corrections for the set rows this record touches, then the loose rows
        for q in range(n_touched):
            k = touched[q]
            now = _count_row(count_lo[k], count_hi[k], row_count[k])
            before = untouched[k]
            p = row_profile[k]
            if now != before and p >= 0:
                acc[p] += earn[3 * k + now] - earn[3 * k + before]
                acc[n_profiles + p] += cover[3 * k + now] - cover[3 * k + before]
                acc[p2 + p] += blocks[3 * k + now] - blocks[3 * k + before]
        # profile set rows of distinct single codes: counted for all profiles at once, branch free
        for x in range(p2 + n_profiles):
            delta[x] = 0
        for d in range(n_set):
            if set_present[i, set_col[d]] == 0:
                continue
            word0, n_words = set_wstart[d], set_nwords[d]
            for layer in range(dense_depth[d]):
                at = (dense_start[d] + layer) * n_profiles
                uat = (dense_ustart[d] + layer * n_words) * n_profiles
                if n_words == 1:  # the usual case: a loop over profiles only, which vectorises
                    word = set_bits[i, word0]
                    for p in range(n_profiles):
                        e = at + p
                        found = _ctpop(word & union[uat + p])
                        flip = np.int32((dense_lo[e] <= found) & (found <= dense_hi[e])) ^ dense_untouched[e]
                        delta[p] += flip * dense_earn[e]
                        delta[n_profiles + p] += flip * dense_cover[e]
                        delta[p2 + p] += flip * dense_blocks[e]
                    continue
                for p in range(n_profiles):
                    found = 0
                    for w in range(n_words):
                        found += _ctpop(set_bits[i, word0 + w] & union[uat + w * n_profiles + p])
                    e = at + p
                    flip = np.int32((dense_lo[e] <= found) & (found <= dense_hi[e])) ^ dense_untouched[e]
                    delta[p] += flip * dense_earn[e]
                    delta[n_profiles + p] += flip * dense_cover[e]
                    delta[p2 + p] += flip * dense_blocks[e]
        for x in range(p2 + n_profiles):
            acc[x] += delta[x]
        for q in range(n_loose):
            k = loose_rows[q]
            field = row_field[k]
            if row_kind[k] == KIND_CATEGORY:
                result = _category_row(masks, row_ref[k], row_words[k], row_negate[k], cat_codes[i, field])
            else:
                result = _number_row(row_lo[k], row_hi[k], row_partial[k], num_lo[i, field], num_hi[i, field])
            keys[n_slots + q] = result
            p = row_profile[k]
            if p >= 0:
                acc[p] += earn[3 * k + result]
                acc[n_profiles + p] += cover[3 * k + result]
                acc[p2 + p] += blocks[3 * k + result]

        # 4. the best profile: qualified ones first, then the highest clamped score earned / positive.
        # A float score (max(earned, 0) * (1 / positive), within 2^-51 of the exact ratio) only
        # shortlists: every profile within 1e-14 of the top is compared exactly, in integers.
        if keep_all:
            for p in range(n_profiles):
                all_earned[i, p] = acc[p]
                all_known[i, p] = acc[n_profiles + p]
                all_qualified[i, p] = acc[p2 + p] == 0
        fewest_blocks = 1
        for p in range(n_profiles):
            fewest_blocks = min(fewest_blocks, acc[p2 + p])
        any_qualified = fewest_blocks == 0
        for p in range(n_profiles):
            earned = max(acc[p], 0)
            s = earned * inverse[p]
            score[p] = s if (acc[p2 + p] == 0) == any_qualified else -1.0
        top = np.int64(-1)
        for p in range(n_profiles):
            top = max(top, score_bits[p])  # non-negative doubles order as their bit patterns
        scratch_bits[0] = top
        scratch[0] = scratch[0] * (1.0 - 1e-14)
        threshold = scratch_bits[0]
        chosen, chosen_earned = NO_PROFILE, np.int64(0)
        for p in range(n_profiles):
            if score_bits[p] >= threshold:
                earned = np.int64(max(acc[p], 0))
                if chosen == NO_PROFILE or earned * prof_positive[chosen] > chosen_earned * prof_positive[p]:
                    chosen, chosen_earned = p, earned
        if chosen == NO_PROFILE:  # no profiles
            best[i], best_earned[i], best_known[i], best_qualified[i] = NO_PROFILE, 0, 0, 0
            for j in range(n_reasons):
                best_outcomes[i, j] = -1
            start, count = 0, 0
        else:
            best[i], best_earned[i], best_known[i] = chosen, acc[chosen], acc[n_profiles + chosen]
            best_qualified[i] = any_qualified
            start, count = prof_start[chosen], prof_width[chosen]

        # 5. its reasons, then the routing conditions, looked up from this record's keys
        for j in range(count):
            k = start + j
            best_outcomes[i, j] = outcomes[ostart[k] + keys[src[k]]]
        for j in range(count, n_reasons):
            best_outcomes[i, j] = -1
        for j in range(n_route):
            k = first_route + j
            route_outcomes[i, j] = outcomes[ostart[k] + keys[src[k]]]
        for q in range(n_touched):
            k = touched[q]
            if k >= first_route:
                route_outcomes[i, k - first_route] = _count_row(count_lo[k], count_hi[k], row_count[k])
            elif start <= k < start + count:
                best_outcomes[i, k - start] = _count_row(count_lo[k], count_hi[k], row_count[k])
        if chosen != NO_PROFILE:
            for d in range(n_set):
                if set_present[i, set_col[d]] == 0:
                    continue
                word0, n_words = set_wstart[d], set_nwords[d]
                for layer in range(dense_depth[d]):
                    e = (dense_start[d] + layer) * n_profiles + chosen
                    k = dense_row[e]
                    if k >= 0:
                        found = 0
                        for w in range(n_words):
                            found += _ctpop(set_bits[i, word0 + w] & union[(dense_ustart[d] + layer * n_words + w) * n_profiles + chosen])
                        best_outcomes[i, k - start] = HOLDS if dense_lo[e] <= found <= dense_hi[e] else FAILS
