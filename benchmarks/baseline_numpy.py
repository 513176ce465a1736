"""Baseline (2): NumPy, vectorised over all records at once, generated from the compiled tables.

Nothing is written per profile: :class:`NumpyScorer` walks the bundle's
``crit_*`` rows (layout in :mod:`compiler.tables`) and, for each row, computes
the outcome of every record with array operations:

* category row: an outcome table over the field's codes (index 0 = missing,
  ``1 + code``, last = unlisted; ``not_in`` already applied) looked up with
  ``np.take`` on the clipped codes;
* number row: range comparisons on ``num_lo`` / ``num_hi`` (NaN = missing);
* set row: per item, ``(set_bits & item_mask) != 0`` over the field's words,
  summed into a "touched" count compared with ``[count_lo, count_hi]``.

Points and qualification are summed per profile; the best profile is the
``argmax`` of an exact integer key (qualified first, then the clamped score
``max(earned, 0) / positive`` scaled to the lcm of the positive points, ties to
the lower index, as the kernel ranks), then score tenths and tier as
:func:`runtime.finish.finish` computes them. Routing and reasons are not
computed (the product computes them).

Records are encoded with the product's :class:`~runtime.encode.Encoder`;
``encode_s`` is reported separately and ``end_to_end_s`` includes it.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from compiler.bundle import Bundle
from compiler.tables import KIND_CATEGORY, KIND_NUMBER
from runtime.encode import Encoder
from runtime.kernels import FAILS, HOLDS, UNKNOWN, Columns

NAME = "numpy"
REQUIRES: str | None = None


def _bits(words: np.ndarray) -> list[int]:
    return [64 * w + b for w, word in enumerate(int(x) for x in words) for b in range(64) if (word >> b) & 1]


class NumpyScorer:
    """Scores encoded :class:`Columns` with NumPy array operations, driven by the bundle's tables."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        t = bundle.tables
        self.n_profiles = len(bundle.meta["profiles"])
        self.n_rows = int(t.prof_excl_end[-1]) if self.n_profiles else 0  # routing rows are not needed
        sizes = {f["index"]: len(f["values"]) for f in bundle.meta["fields"] if f["type"] == "category"}
        self.rows: list[tuple[Any, ...]] = []
        for k in range(self.n_rows):
            kind, field = int(t.crit_kind[k]), int(t.crit_field[k])
            if kind == KIND_CATEGORY:
                size, ref, words = sizes[field], int(t.crit_ref[k]), int(t.crit_words[k])
                table = np.full(size + 2, FAILS, np.int8)
                table[0] = UNKNOWN
                unknown = [c for c in _bits(t.mask_words[ref + words : ref + 2 * words]) if c < size]
                holds = [c for c in _bits(t.mask_words[ref : ref + words]) if c < size]
                table[np.array(unknown, np.int64) + 1] = UNKNOWN
                table[np.array(holds, np.int64) + 1] = HOLDS
                if t.crit_negate[k]:
                    known = table != UNKNOWN
                    table[known] = HOLDS - table[known]
                self.rows.append((kind, field, table, size))
            elif kind == KIND_NUMBER:
                partial = (UNKNOWN, HOLDS, FAILS)[int(t.crit_partial[k])]
                self.rows.append((kind, field, float(t.crit_lo[k]), float(t.crit_hi[k]), partial))
            else:
                base, words = int(t.set_word_start[field]), int(t.set_words[field])
                items = [
                    t.mask_words[int(t.item_word_start[j]) : int(t.item_word_start[j]) + words]
                    for j in range(int(t.crit_ref[k]), int(t.crit_ref[k]) + int(t.crit_words[k]))
                ]
                self.rows.append((kind, field, base, words, items, int(t.crit_count_lo[k]), int(t.crit_count_hi[k])))
        positive = [int(x) for x in t.prof_positive]
        self.lcm = math.lcm(*positive) if positive else 1
        if 2 * self.lcm + 1 >= 2**62:
            raise OverflowError("lcm of the positive points does not fit the int64 ranking key")

    def outcomes(self, c: Columns) -> np.ndarray:
        """int8[n, rows]: every criterion/exclusion row's outcome for every record."""
        n = c.cat_codes.shape[0]
        out = np.empty((self.n_rows, n), np.int8)
        for k, row in enumerate(self.rows):
            kind = row[0]
            if kind == KIND_CATEGORY:
                _, field, table, size = row
                np.take(table, np.clip(c.cat_codes[:, field], -1, size) + 1, out=out[k])
            elif kind == KIND_NUMBER:
                _, field, lo_bound, hi_bound, partial = row
                lo, hi = c.num_lo[:, field], c.num_hi[:, field]
                o = np.full(n, partial, np.int8)
                o[(hi < lo_bound) | (lo > hi_bound)] = FAILS
                o[(lo >= lo_bound) & (hi <= hi_bound)] = HOLDS
                o[np.isnan(lo) | np.isnan(hi)] = UNKNOWN
                out[k] = o
            else:
                _, field, base, words, items, count_lo, count_hi = row
                bits = c.set_bits[:, base : base + words]
                touched = np.zeros(n, np.int32)
                for mask in items:
                    touched += ((bits & mask) != 0).any(axis=1)
                o = np.where((touched >= count_lo) & (touched <= count_hi), HOLDS, FAILS).astype(np.int8)
                o[c.set_present[:, field] == 0] = UNKNOWN
                out[k] = o
        return out

    def score(self, c: Columns) -> dict[str, np.ndarray]:
        t = self.bundle.tables
        o = self.outcomes(c)
        n = o.shape[1]
        keys = np.empty((self.n_profiles, n), np.int64)
        earned_all = np.empty((self.n_profiles, n), np.int64)
        for p in range(self.n_profiles):
            earned = np.zeros(n, np.int64)
            qualified = np.ones(n, bool)
            for k in range(int(t.prof_crit_start[p]), int(t.prof_crit_end[p])):
                weight = int(t.crit_weight[k])
                if weight:
                    earned += np.where(o[k] == HOLDS, weight, 0)
                if t.crit_required[k]:
                    qualified &= (o[k] != FAILS) if t.crit_unknown_counts[k] else (o[k] == HOLDS)
            for k in range(int(t.prof_crit_end[p]), int(t.prof_excl_end[p])):
                qualified &= (o[k] == FAILS) if t.crit_unknown_counts[k] else (o[k] != HOLDS)
            earned_all[p] = earned
            keys[p] = qualified * (self.lcm + 1) + np.maximum(earned, 0) * (self.lcm // int(t.prof_positive[p]))
        best = np.argmax(keys, axis=0).astype(np.int32)  # first maximum: the lower index wins ties
        earned = earned_all[best, np.arange(n)]
        positive = t.prof_positive[best]
        clamped = np.maximum(earned, 0)
        tenths = (2000 * clamped + positive) // (2 * positive)
        tier = np.empty(n, object)
        for p, profile in enumerate(self.bundle.meta["profiles"]):
            chosen = best == p
            names = np.full(int(chosen.sum()), profile["tiers"][-1][0], object)
            mine = clamped[chosen]
            for name, threshold in reversed(profile["tiers"]):
                names[mine * 100 >= threshold * profile["positive_points"]] = name
            tier[chosen] = names
        return {"best": best, "tenths": tenths, "tier": tier}


def measure(bundle: Bundle, spec: Any, records: list[dict[str, Any]], repeats: int) -> tuple[dict[str, Any], dict[str, list]]:
    scorer = NumpyScorer(bundle)
    scorer.score(Encoder(bundle).encode(records[:100]).columns)  # warm-up
    encode_times, score_times, e2e_times = [], [], []
    result: dict[str, np.ndarray] = {}
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        columns = Encoder(bundle).encode(records).columns
        encoded = time.perf_counter()
        result = scorer.score(columns)
        done = time.perf_counter()
        encode_times.append(encoded - start)
        score_times.append(done - encoded)
        e2e_times.append(done - start)
    outputs = {"best": result["best"].tolist(), "tenths": result["tenths"].tolist(), "tier": list(result["tier"])}
    return {
        "end_to_end_s": min(e2e_times),
        "end_to_end_repeats_s": e2e_times,
        "encode_s": min(encode_times),
        "evaluate_s": min(score_times),
    }, outputs
