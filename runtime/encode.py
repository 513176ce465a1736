"""Encoder: records (mappings of field name → raw value) → :class:`~runtime.kernels.Columns`.

Input: a :class:`~compiler.bundle.Bundle` (its vocabularies) and records.
Output: :class:`EncodedBatch`: the columns, the per-field data-quality
counts (missing / unreadable / unlisted, with the most frequent unlisted
values), and the records whose values had the wrong shape (for the server's
``INVALID_ARGUMENT`` and the CLI's report).

Missing is its own code and never equals a value; NaN is missing; a value no
vocabulary knows is *unlisted* (known, so ``in`` fails and ``not_in`` holds);
an unreadable number is counted and then treated as missing.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.bundle import Bundle
from compiler.text import PLACEHOLDERS, clean_text, value_key
from compiler.values import MISSING, NumberRange, ParseOptions, Unreadable, parse_number
from compiler.vocab import KNOWN_UNUSED, MISSING_CODE
from runtime.kernels import Columns

SET_SEPARATORS = re.compile(r"[,;|]")
_CACHE_LIMIT = 200_000
SUGGEST_CUTOFF = 0.8  # difflib ratio a field key must reach to be offered as "did you mean"


@dataclass(frozen=True)
class Vocabulary:
    """A field's key → code map and code → value list, for data-quality suggestions."""

    keys: Mapping[str, int]
    values: Sequence[str]
    placeholders: frozenset[str] = PLACEHOLDERS

    def suggest(self, raw: str) -> str | None:
        """The field value an unlisted raw value probably means (``'Giorgia'`` → ``'georgia (US-GA)'``), if one is close."""
        key = value_key(raw, self.placeholders)
        if key is None:
            return None
        close = difflib.get_close_matches(key, list(self.keys), n=1, cutoff=SUGGEST_CUTOFF)
        if not close:
            return None
        code = self.keys[close[0]]
        value = self.values[code] if 0 <= code < len(self.values) else None
        if value is None or value_key(value, self.placeholders) == close[0]:
            return value or close[0]
        return f"{close[0]} ({value})"


@dataclass
class FieldQuality:
    present: int = 0
    missing: int = 0
    unreadable: int = 0
    unlisted: int = 0
    unlisted_values: Counter[str] = field(default_factory=Counter)
    unreadable_values: Counter[str] = field(default_factory=Counter)
    vocabulary: Vocabulary | None = field(default=None, repr=False, compare=False)

    def suggestions(self, top: int) -> list[tuple[str, int, str | None]]:
        """The ``top`` most frequent unlisted values, each with the field value it probably means (or None)."""
        return [
            (value, count, self.vocabulary.suggest(value) if self.vocabulary is not None else None)
            for value, count in self.unlisted_values.most_common(top)
        ]

    def merge(self, other: FieldQuality) -> None:
        if self.vocabulary is None:
            self.vocabulary = other.vocabulary
        self.present += other.present
        self.missing += other.missing
        self.unreadable += other.unreadable
        self.unlisted += other.unlisted
        self.unlisted_values.update(other.unlisted_values)
        self.unreadable_values.update(other.unreadable_values)


@dataclass(frozen=True)
class RecordProblem:
    record: int
    field: str
    message: str


@dataclass
class EncodedBatch:
    columns: Columns
    quality: dict[str, FieldQuality]
    problems: list[RecordProblem]
    size: int


class Encoder:
    """Encodes records for one bundle. Reuse it: it caches raw value → code per field."""

    def __init__(self, bundle: Bundle, scales: Mapping[str, float] | None = None):
        self.bundle = bundle
        self.fields = {f["name"]: f for f in bundle.meta["fields"]}
        self.scales = dict(scales or {})
        self.n_cat = sum(1 for f in self.fields.values() if f["type"] == "category")
        self.n_num = sum(1 for f in self.fields.values() if f["type"] == "number")
        self.set_start = bundle.tables.set_word_start
        self.set_words = bundle.tables.set_words
        self.total_set_words = int(self.set_words.sum())
        # Raw text → result, per field: real traffic repeats a few thousand spellings, and reading one
        # (NFKC, regexes, taxonomy lookup) costs far more than a dict lookup.
        self._cache: dict[str, dict[str, Any]] = {name: {} for name in self.fields}
        self._items: dict[str, dict[str, tuple[str, int]]] = {name: {} for name in self.fields}
        self._splits: dict[str, dict[str, tuple[str, ...]]] = {name: {} for name in self.fields}
        self._numbers: dict[str, dict[str, Any]] = {name: {} for name in self.fields}
        self.options = {name: ParseOptions.from_meta(meta.get("parse_options")) for name, meta in self.fields.items()}
        self.placeholders = frozenset(bundle.meta["placeholders"]) if "placeholders" in bundle.meta else PLACEHOLDERS
        self._vocabularies = {
            name: Vocabulary(f["keys"], f["values"], self.placeholders) for name, f in self.fields.items() if "keys" in f
        }

    def encode(self, records: Sequence[Mapping[str, Any]]) -> EncodedBatch:
        n = len(records)
        columns = Columns(
            np.full((n, self.n_cat), MISSING_CODE, np.int32),
            np.full((n, self.n_num), np.nan),
            np.full((n, self.n_num), np.nan),
            np.zeros((n, self.total_set_words), np.uint64),
            np.zeros((n, len(self.set_words)), np.uint8),
        )
        quality = {name: FieldQuality(vocabulary=self._vocabularies.get(name)) for name in self.fields}
        problems: list[RecordProblem] = []
        for i, record in enumerate(records):
            for name, meta in self.fields.items():
                raw = record.get(name)
                if _is_missing(raw):
                    quality[name].missing += 1
                    continue
                problem = self._encode_value(meta, raw, columns, i, quality[name])
                if problem is not None:
                    problems.append(RecordProblem(i, name, problem))
        return EncodedBatch(columns, quality, problems, n)

    def _encode_value(self, meta: dict[str, Any], raw: Any, columns: Columns, i: int, quality: FieldQuality) -> str | None:
        kind = meta["type"]
        if kind == "number":
            return self._encode_number(meta, raw, columns, i, quality)
        if kind == "category":
            if isinstance(raw, (list, tuple, dict, set, bool)):
                quality.unreadable += 1
                return f"expected one value, found {type(raw).__name__}"
            code = self._code(meta, raw, quality)
            if code is not None:
                columns.cat_codes[i, meta["index"]] = code
            return None
        return self._encode_set(meta, raw, columns, i, quality)

    def _code(self, meta: dict[str, Any], raw: Any, quality: FieldQuality) -> int | None:
        """The code of one category value (``vocab size`` if unlisted), or ``None`` if missing."""
        text = raw if isinstance(raw, str) else _number_text(raw)
        cache = self._cache[meta["name"]]
        hit = cache.get(text)
        if hit is None:
            key = value_key(text, self.placeholders)
            hit = ("missing", 0) if key is None else ("code", meta["keys"][key]) if key in meta["keys"] else ("unlisted", len(meta["values"]))
            if len(cache) < _CACHE_LIMIT:
                cache[text] = hit
        status, code = hit
        if status == "missing":
            quality.missing += 1
            return None
        quality.present += 1
        if status == "unlisted":
            quality.unlisted += 1
            quality.unlisted_values[clean_text(text)] += 1
        return int(code)

    def _encode_set(self, meta: dict[str, Any], raw: Any, columns: Columns, i: int, quality: FieldQuality) -> str | None:
        name = meta["name"]
        if isinstance(raw, str):
            items: Sequence[Any] = self._split(name, raw)
        elif isinstance(raw, (list, tuple, set, frozenset)):
            items = list(raw)
        else:
            quality.unreadable += 1
            return f"expected a list of values, found {type(raw).__name__}"
        bad = next((item for item in items if not isinstance(item, (str, int)) or isinstance(item, bool)), None)
        if bad is not None:
            quality.unreadable += 1
            return f"expected text items, found {type(bad).__name__}"
        resolved = [self._item(meta, str(item)) for item in items]
        if (not items and isinstance(raw, str)) or (items and all(status == "missing" for status, _ in resolved)):
            quality.missing += 1  # 'N/A; unknown' or ',' say nothing: missing, not a known empty set
            return None
        index = meta["index"]
        base = int(self.set_start[index])
        columns.set_present[i, index] = 1
        quality.present += 1
        unlisted = 0
        for item, (status, code) in zip(items, resolved, strict=True):
            if status == "code":
                columns.set_bits[i, base + (code >> 6)] |= np.uint64(1) << np.uint64(code & 63)
            elif status == "unlisted":
                unlisted += 1
                quality.unlisted_values[clean_text(str(item))] += 1
        if unlisted:
            quality.unlisted += 1
        return None

    def _split(self, name: str, raw: str) -> tuple[str, ...]:
        cache = self._splits[name]
        items = cache.get(raw)
        if items is None:
            items = tuple(part for part in SET_SEPARATORS.split(raw) if part.strip()) if value_key(raw, self.placeholders) is not None else ()
            if len(cache) < _CACHE_LIMIT:
                cache[raw] = items
        return items

    def _item(self, meta: dict[str, Any], text: str) -> tuple[str, int]:
        """One set item: ("code", bit), ("known", 0) for a value no criterion uses, ("unlisted", 0), ("missing", 0)."""
        cache = self._items[meta["name"]]
        hit = cache.get(text)
        if hit is None:
            key = value_key(text, self.placeholders)
            code = None if key is None else meta["keys"].get(key)
            if key is None:
                hit = ("missing", 0)
            elif code is None:
                hit = ("unlisted", 0)
            else:
                hit = ("known", 0) if code == KNOWN_UNUSED else ("code", code)
            if len(cache) < _CACHE_LIMIT:
                cache[text] = hit
        return hit

    def _number(self, meta: dict[str, Any], raw: Any) -> Any:
        if not isinstance(raw, str):
            return parse_number(raw, meta["parse"], self.options[meta["name"]])
        cache = self._numbers[meta["name"]]
        value = cache.get(raw)
        if value is None:
            value = parse_number(raw, meta["parse"], self.options[meta["name"]])
            if len(cache) < _CACHE_LIMIT:
                cache[raw] = value
        return value

    def _encode_number(self, meta: dict[str, Any], raw: Any, columns: Columns, i: int, quality: FieldQuality) -> str | None:
        if isinstance(raw, (list, tuple, dict, set)):  # a NumberRange is how typed callers send ranges
            quality.unreadable += 1
            return f"expected a number or a range, found {type(raw).__name__}"
        value = self._number(meta, raw)
        if value is MISSING:
            quality.missing += 1
            return None
        if isinstance(value, Unreadable):
            quality.unreadable += 1
            quality.unreadable_values[value.raw] += 1
            return None
        assert isinstance(value, NumberRange)  # parse_number returns one of three kinds
        scale = self.scales.get(meta["name"], 1.0)
        if scale != 1.0 and _is_plain_number(raw):
            value = NumberRange(value.lo * scale, value.hi * scale)
        quality.present += 1
        columns.num_lo[i, meta["index"]] = value.lo
        columns.num_hi[i, meta["index"]] = value.hi
        return None


def _is_missing(raw: Any) -> bool:
    return raw is None or (isinstance(raw, float) and math.isnan(raw))


def _number_text(raw: Any) -> str:
    """Category values that arrive as numbers (NAICS codes, ISO numeric): 541511.0 → '541511'."""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


_PLAIN = re.compile(r"^\s*-?[\d,]*\.?\d+\s*$")


def _is_plain_number(raw: Any) -> bool:
    """A number with no unit of its own, to which a column's declared scale applies."""
    return isinstance(raw, (int, float)) or (isinstance(raw, str) and bool(_PLAIN.match(raw)))
