"""Stage 4, tables: a :class:`BundleSpec` and its vocabularies → flat NumPy arrays.

Input: ``BundleSpec`` and ``dict[str, Vocab]``. Output: :class:`Tables`, a
named tuple of arrays (the only thing the kernels see) plus
:class:`TableLayout`, the Python-side index of which criterion and which
field sits where (used by the encoder and the finishing step).

Layout:
* Fields are numbered within their type (category ``0..C-1``, number
  ``0..N-1``, set ``0..S-1``) in schema order.
* Every criterion, exclusion and routing condition is one row ``k`` of the
  ``crit_*`` arrays. A profile's criteria are rows
  ``prof_crit_start[p]:prof_crit_end[p]`` and its exclusions follow at
  ``prof_crit_end[p]:prof_excl_end[p]``; routing conditions come last.
* Category row: ``mask_words[crit_ref[k] : + crit_words[k]]`` is the *holds*
  mask over the field's codes and the next ``crit_words[k]`` words the
  *unknown* mask (codes coarser than the criterion's nodes).
* Set row: items ``crit_ref[k] : + crit_words[k]``; item ``j``'s mask is
  ``mask_words[item_word_start[j] : + set_words[field]]``; the row holds when
  the number of items the record's set touches is within
  ``[crit_count_lo, crit_count_hi]``.
* Number row: ``[crit_lo, crit_hi]`` with ±inf for open ends;
  ``crit_partial`` says what a partly overlapping record range gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from compiler.spec import BundleSpec, Condition, Criterion
from compiler.vocab import Vocab

KIND_CATEGORY, KIND_SET, KIND_NUMBER = 0, 1, 2
PARTIAL_CODES = {"unknown": 0, "overlap": 1, "within": 2}


class Tables(NamedTuple):
    crit_kind: np.ndarray  # int8[K]
    crit_field: np.ndarray  # int32[K]
    crit_negate: np.ndarray  # uint8[K]
    crit_ref: np.ndarray  # int32[K]
    crit_words: np.ndarray  # int32[K]
    crit_count_lo: np.ndarray  # int32[K]
    crit_count_hi: np.ndarray  # int32[K]
    crit_lo: np.ndarray  # float64[K]
    crit_hi: np.ndarray  # float64[K]
    crit_partial: np.ndarray  # int8[K]
    crit_weight: np.ndarray  # int64[K]
    crit_required: np.ndarray  # uint8[K]
    crit_unknown_counts: np.ndarray  # uint8[K]: required passes / exclusion fires when unknown
    crit_union: np.ndarray  # int32[K]: set rows: where the union of the row's item masks starts in mask_words
    crit_popcount: np.ndarray  # uint8[K]: set rows whose items are distinct single bits: count = popcount(record & union)
    item_word_start: np.ndarray  # int32[items]
    mask_words: np.ndarray  # uint64[W]
    set_word_start: np.ndarray  # int32[S]: a set field's first word in a record's set words
    set_words: np.ndarray  # int32[S]
    prof_crit_start: np.ndarray  # int32[P]
    prof_crit_end: np.ndarray  # int32[P]
    prof_excl_end: np.ndarray  # int32[P]
    prof_positive: np.ndarray  # int64[P]
    rows_category: np.ndarray  # int32: the category rows, so the kernel evaluates each kind in its own loop
    rows_number: np.ndarray  # int32
    rows_set: np.ndarray  # int32


@dataclass(frozen=True)
class TableLayout:
    category_fields: tuple[str, ...]
    number_fields: tuple[str, ...]
    set_fields: tuple[str, ...]
    route_conditions: dict[Condition, int]  # routing condition → its row


def build_tables(spec: BundleSpec, vocabs: dict[str, Vocab]) -> tuple[Tables, TableLayout]:
    fields = list(spec.schema.fields.values())
    layout_fields = {
        kind: tuple(f.name for f in fields if f.type == kind) for kind in ("category", "number", "set")
    }
    set_words = [max(1, math.ceil(vocabs[name].size / 64)) for name in layout_fields["set"]]
    builder = _Builder(spec, vocabs, layout_fields, set_words)
    starts, ends, excl_ends = [], [], []
    for profile in spec.profiles:
        starts.append(builder.rows)
        for criterion in profile.criteria:
            builder.add(criterion.condition, criterion)
        ends.append(builder.rows)
        for exclusion in profile.exclusions:
            builder.add(exclusion.condition, exclusion)
        excl_ends.append(builder.rows)
    route_conditions: dict[Condition, int] = {}
    rules = [r for p in spec.profiles for r in p.route] + list(spec.route)
    for condition in (c for r in rules for c in r.conditions + r.escalate_if):
        if condition not in route_conditions:
            route_conditions[condition] = builder.rows
            builder.add(condition, None)
    tables = builder.finish(
        set_words,
        np.array(starts, np.int32),
        np.array(ends, np.int32),
        np.array(excl_ends, np.int32),
        np.array([p.positive_points for p in spec.profiles], np.int64),
    )
    layout = TableLayout(layout_fields["category"], layout_fields["number"], layout_fields["set"], route_conditions)
    return tables, layout


def words_of(mask: int, n_words: int) -> list[int]:
    """A Python-int bitmask as ``n_words`` uint64 words, low word first."""
    return [(mask >> (64 * w)) & 0xFFFF_FFFF_FFFF_FFFF for w in range(n_words)]


class _Builder:
    def __init__(self, spec: BundleSpec, vocabs: dict[str, Vocab], fields: dict[str, tuple[str, ...]], set_words: list[int]):
        self.spec, self.vocabs, self.fields, self.set_word_count = spec, vocabs, fields, set_words
        self.columns: dict[str, list] = {name: [] for name in Tables._fields if name.startswith("crit_")}
        self.mask_words: list[int] = []
        self.item_word_start: list[int] = []

    @property
    def rows(self) -> int:
        return len(self.columns["crit_kind"])

    def add(self, condition: Condition, criterion: Criterion | None) -> None:
        field = self.spec.schema.fields[condition.field]
        row = {
            "crit_negate": 1 if condition.op == "not_in" else 0,
            "crit_count_lo": 0,
            "crit_count_hi": 0,
            "crit_lo": condition.lo,
            "crit_hi": condition.hi,
            "crit_partial": PARTIAL_CODES[condition.partial],
            "crit_weight": criterion.weight if criterion else 0,
            "crit_required": 1 if criterion and criterion.required else 0,
            "crit_unknown_counts": 1 if criterion and criterion.on_unknown in ("pass", "exclude") else 0,
            "crit_union": 0,
            "crit_popcount": 0,
        }
        if field.type == "category":
            row.update(self._category(condition))
        elif field.type == "set":
            row.update(self._set(condition))
        else:
            row.update(crit_kind=KIND_NUMBER, crit_field=self.fields["number"].index(field.name), crit_ref=0, crit_words=0)
        for name, value in row.items():
            self.columns[name].append(value)

    def _category(self, condition: Condition) -> dict[str, int]:
        vocab = self.vocabs[condition.field]
        target = 0
        for value in condition.values:
            target |= vocab.leaves[vocab.values.index(value)]
        holds = unknown = 0
        for code, leaves in enumerate(vocab.leaves):
            if leaves and leaves & ~target == 0:
                holds |= 1 << code
            elif leaves & target:
                unknown |= 1 << code
        n_words = max(1, math.ceil(vocab.size / 64))
        ref = len(self.mask_words)
        self.mask_words += words_of(holds, n_words) + words_of(unknown, n_words)
        field_index = self.fields["category"].index(condition.field)
        return {"crit_kind": KIND_CATEGORY, "crit_field": field_index, "crit_ref": ref, "crit_words": n_words}

    def _set(self, condition: Condition) -> dict[str, int]:
        vocab = self.vocabs[condition.field]
        field_index = self.fields["set"].index(condition.field)
        n_words = self.set_word_count[field_index]
        taxonomy_leaves = {value: leaves for value, leaves in zip(vocab.values, vocab.leaves, strict=True)}
        first_item = len(self.item_word_start)
        union, single_bits = 0, True
        for value in condition.values:
            item_leaves = self._item_leaves(condition.field, value, taxonomy_leaves)
            mask = sum(1 << code for code, leaves in enumerate(vocab.leaves) if leaves and leaves & ~item_leaves == 0)
            self.item_word_start.append(len(self.mask_words))
            self.mask_words += words_of(mask, n_words)
            single_bits = single_bits and mask.bit_count() == 1 and not mask & union
            union |= mask
        union_ref = len(self.mask_words)
        self.mask_words += words_of(union, n_words)
        n_items = len(condition.values)
        count_lo, count_hi = {
            "any": (1, n_items),
            "all": (n_items, n_items),
            "none": (0, 0),
            "at_least": (condition.count, n_items),
        }[condition.op]
        return {
            "crit_kind": KIND_SET,
            "crit_field": field_index,
            "crit_ref": first_item,
            "crit_words": n_items,
            "crit_count_lo": count_lo,
            "crit_count_hi": count_hi,
            "crit_union": union_ref,
            "crit_popcount": 1 if single_bits else 0,
        }

    def _item_leaves(self, field_name: str, value: str, vocab_leaves: dict[str, int]) -> int:
        taxonomy = self.spec.schema.fields[field_name].taxonomy
        if taxonomy is None:
            return vocab_leaves[value]
        return taxonomy.leaf_masks[taxonomy.index[value]]

    def finish(self, set_words: list[int], starts: np.ndarray, ends: np.ndarray, excl_ends: np.ndarray, positive: np.ndarray) -> Tables:
        dtypes = {
            "crit_kind": np.int8, "crit_field": np.int32, "crit_negate": np.uint8, "crit_ref": np.int32,
            "crit_words": np.int32, "crit_count_lo": np.int32, "crit_count_hi": np.int32,
            "crit_lo": np.float64, "crit_hi": np.float64, "crit_partial": np.int8, "crit_weight": np.int64,
            "crit_required": np.uint8, "crit_unknown_counts": np.uint8, "crit_union": np.int32, "crit_popcount": np.uint8,
        }
        arrays = {name: np.array(values, dtypes[name]) for name, values in self.columns.items()}
        word_start = np.cumsum([0, *set_words[:-1]]).astype(np.int32) if set_words else np.zeros(0, np.int32)
        return Tables(
            **arrays,
            item_word_start=np.array(self.item_word_start, np.int32),
            mask_words=np.array(self.mask_words, np.uint64),
            set_word_start=word_start,
            set_words=np.array(set_words, np.int32),
            prof_crit_start=starts,
            prof_crit_end=ends,
            prof_excl_end=excl_ends,
            prof_positive=positive,
            rows_category=np.flatnonzero(arrays["crit_kind"] == KIND_CATEGORY).astype(np.int32),
            rows_number=np.flatnonzero(arrays["crit_kind"] == KIND_NUMBER).astype(np.int32),
            rows_set=np.flatnonzero(arrays["crit_kind"] == KIND_SET).astype(np.int32),
        )
