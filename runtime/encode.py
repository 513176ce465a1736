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
import functools
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from compiler.bundle import Bundle
from compiler.text import PLACEHOLDERS, clean_text, value_key
from compiler.values import MISSING, NumberRange, ParseOptions, Unreadable, parse_number
from compiler.vocab import KNOWN_UNUSED, MISSING_CODE
from runtime.kernels import Columns

SET_SEPARATORS = re.compile(r"[,;|]")
_CACHE_LIMIT = 200_000
SMALL_BATCH = 16  # records: up to here encode() reads value by value, past it column by column
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
    vocabulary: Vocabulary | None = field(default=None, repr=False, compare=False)
    # Made on first use: most fields of most batches have no unlisted or unreadable value, and a
    # unary call makes one FieldQuality per field (a Counter costs ~0.8 µs to create).
    _unlisted_values: Counter[str] | None = field(default=None, repr=False)
    _unreadable_values: Counter[str] | None = field(default=None, repr=False)

    @property
    def unlisted_values(self) -> Counter[str]:
        if self._unlisted_values is None:
            self._unlisted_values = Counter()
        return self._unlisted_values

    @property
    def unreadable_values(self) -> Counter[str]:
        if self._unreadable_values is None:
            self._unreadable_values = Counter()
        return self._unreadable_values

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
        if other._unlisted_values:
            self.unlisted_values.update(other._unlisted_values)
        if other._unreadable_values:
            self.unreadable_values.update(other._unreadable_values)


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


# What one distinct raw value of a field reads as; computed once and cached per field.
MISSING_VALUE, PRESENT, UNREADABLE = 0, 1, 2


class Reading(NamedTuple):
    status: int
    code: int = MISSING_CODE  # category: the value's code; the vocabulary size when unlisted
    lo: float = math.nan  # number: the range
    hi: float = math.nan
    bits: tuple[tuple[int, int], ...] = ()  # set: (word within the field, bit mask)
    unlisted: tuple[str, ...] = ()  # cleaned texts counted as unlisted
    unreadable: str | None = None  # an unreadable number's text
    problem: str | None = None  # a wrong shape, reported per record


_MISSING_READING = Reading(MISSING_VALUE)
_UNSEEN = object()


class ReadingTable:
    """What every distinct raw value of one field seen so far reads as, in arrays indexed by a slot.

    Slot 0 is the missing reading. A batch looks its distinct values up once (a dict lookup
    each); everything per record is then NumPy indexing. Values keyed by identity (unhashable
    wrong shapes) get slots that are dropped from the index after the batch; the table starts
    over when it would pass ``_CACHE_LIMIT`` values.
    """

    def __init__(self, set_words: int):
        self.set_words = set_words
        self._reset()

    def _reset(self) -> None:
        self.index: dict[Any, int] = {}
        self.readings: list[Reading] = []
        capacity = 1024
        self.status = np.zeros(capacity, np.int8)
        self.code = np.full(capacity, MISSING_CODE, np.int32)
        self.lo = np.full(capacity, math.nan)
        self.hi = np.full(capacity, math.nan)
        self.bits = np.zeros((capacity, self.set_words), np.uint64)
        self.has_text = np.zeros(capacity, bool)  # an unlisted or unreadable text to count
        self.has_problem = np.zeros(capacity, bool)
        self._add_all([_MISSING_READING])

    def __len__(self) -> int:
        return len(self.readings)

    def reading(self, raw: Any, read: Callable[[Any], Reading]) -> Reading:
        """What one raw value reads as (read and remembered the first time)."""
        if raw is None:
            return _MISSING_READING
        key = cache_key(raw)
        slot = self.index.get(key)
        if slot is not None:
            return self.readings[slot]
        reading = read(raw)
        if not _is_identity_key(key):
            if len(self.readings) >= _CACHE_LIMIT:
                self._reset()
            self.index[key] = self._add_all([reading])
        return reading

    def slots(self, values: Sequence[Any], keys: Sequence[Any] | None, read: Callable[[Any], Reading]) -> np.ndarray:
        """Each value's slot, reading the new ones, then the missing slot (0) at the end."""
        keys = values if keys is None else keys
        found = list(map(self.index.get, keys))
        if None in found:
            if len(self.readings) + found.count(None) > _CACHE_LIMIT:
                self._reset()
                found = list(map(self.index.get, keys))
            new = [u for u, slot in enumerate(found) if slot is None]
            first = self._add_all([read(values[u]) for u in new])
            for offset, u in enumerate(new):
                found[u] = self.index[keys[u]] = first + offset
            for u in new:
                if _is_identity_key(keys[u]):
                    del self.index[keys[u]]  # valid only while that object lives
        found.append(0)
        return np.array(found, np.int64)

    def _add_all(self, readings: list[Reading]) -> int:
        """Append readings to the arrays; the slot of the first."""
        start, end = len(self.readings), len(self.readings) + len(readings)
        if end > self.status.shape[0]:
            capacity = max(2 * self.status.shape[0], end)
            for name in ("status", "code", "lo", "hi", "bits", "has_text", "has_problem"):
                old = getattr(self, name)
                grown = np.zeros((capacity, *old.shape[1:]), old.dtype)
                grown[: old.shape[0]] = old
                setattr(self, name, grown)
        self.readings.extend(readings)
        self.status[start:end] = [r.status for r in readings]
        self.code[start:end] = [r.code for r in readings]
        self.lo[start:end] = [r.lo for r in readings]
        self.hi[start:end] = [r.hi for r in readings]
        self.bits[start:end] = 0
        for slot, reading in enumerate(readings, start):
            for word, mask in reading.bits:
                self.bits[slot, word] = mask
        self.has_text[start:end] = [bool(r.unlisted) or r.unreadable is not None for r in readings]
        self.has_problem[start:end] = [r.problem is not None for r in readings]
        return start

    def count(self, slots: np.ndarray, counts: np.ndarray, quality: FieldQuality) -> None:
        """Add a batch's counts (``counts[u]`` records hold the value in ``slots[u]``) to ``quality``."""
        status = self.status[slots]
        quality.missing += int(counts[status == MISSING_VALUE].sum())
        quality.unreadable += int(counts[status == UNREADABLE].sum())
        quality.present += int(counts[status == PRESENT].sum())
        for u in np.flatnonzero(self.has_text[slots] & (counts > 0)).tolist():
            count_texts(self.readings[int(slots[u])], int(counts[u]), quality)


def count_reading(reading: Reading, count: int, quality: FieldQuality) -> None:
    """``count`` records whose value reads as ``reading``, added to the field's counts."""
    if reading.status == MISSING_VALUE:
        quality.missing += count
    elif reading.status == UNREADABLE:
        quality.unreadable += count
    else:
        quality.present += count
    count_texts(reading, count, quality)


def count_texts(reading: Reading, count: int, quality: FieldQuality) -> None:
    if reading.unlisted:
        quality.unlisted += count
        for text in reading.unlisted:
            quality.unlisted_values[text] += count
    if reading.unreadable is not None:
        quality.unreadable_values[reading.unreadable] += count


class Encoder:
    """Encodes records for one bundle. Reuse it: it caches what each distinct raw value reads as.

    Work is per distinct value, not per record: a column is factorized, each distinct value is
    read once (and remembered across calls: real traffic repeats a few thousand spellings, and
    reading one — NFKC, regexes, taxonomy lookup — costs far more than a dict lookup), and the
    results are spread to the records with NumPy.
    """

    def __init__(self, bundle: Bundle, scales: Mapping[str, float] | None = None):
        self.bundle = bundle
        self.fields = {f["name"]: f for f in bundle.meta["fields"]}
        self.scales = dict(scales or {})
        self.n_cat = sum(1 for f in self.fields.values() if f["type"] == "category")
        self.n_num = sum(1 for f in self.fields.values() if f["type"] == "number")
        self.set_start = bundle.tables.set_word_start
        self.set_words = bundle.tables.set_words
        self.total_set_words = int(self.set_words.sum())
        self._tables = {name: ReadingTable(int(self.set_words[f["index"]]) if f["type"] == "set" else 0) for name, f in self.fields.items()}
        self.options = {name: ParseOptions.from_meta(meta.get("parse_options")) for name, meta in self.fields.items()}
        self.placeholders = frozenset(bundle.meta["placeholders"]) if "placeholders" in bundle.meta else PLACEHOLDERS
        self._vocabularies = {
            name: Vocabulary(f["keys"], f["values"], self.placeholders) for name, f in self.fields.items() if "keys" in f
        }
        read = {"category": self._read_category, "number": self._read_number, "set": self._read_set}
        self._readers = {name: functools.partial(read[meta["type"]], meta) for name, meta in self.fields.items()}
        self._keys: dict[str, str | None] = {}
        # The reading tables grow and start over: one batch at a time (the server's threads share
        # an encoder; encoding holds the GIL almost throughout, so little is lost).
        self._lock = threading.Lock()

    def encode(self, records: Sequence[Mapping[str, Any]]) -> EncodedBatch:
        """Records as mappings of field name → raw value (absent, None and NaN are missing)."""
        if len(records) <= SMALL_BATCH:
            with self._lock:
                return self._encode_few(records)
        columns = {name: factorize([record.get(name) for record in records]) for name in self.fields}
        return self.encode_columns(columns, len(records))

    def _encode_few(self, records: Sequence[Mapping[str, Any]]) -> EncodedBatch:
        """A few records (a unary call is one), value by value: the same readings and counts as
        :meth:`encode_columns`, without its NumPy passes, whose fixed cost (~25 µs a field)
        dwarfs a few values. ``tests/runtime/test_encoder_batches.py`` checks the two agree."""
        n = len(records)
        encoded = self._empty_columns(n)
        quality = {name: FieldQuality(vocabulary=self._vocabularies.get(name)) for name in self.fields}
        problems: list[RecordProblem] = []
        for name, meta in self.fields.items():
            table, read, kind, index = self._tables[name], self._readers[name], meta["type"], meta["index"]
            counts = quality[name]
            base = int(self.set_start[index]) if kind == "set" else 0
            for i, record in enumerate(records):
                reading = table.reading(record.get(name), read)
                if kind == "category":
                    encoded.cat_codes[i, index] = reading.code
                elif kind == "number":
                    encoded.num_lo[i, index], encoded.num_hi[i, index] = reading.lo, reading.hi
                else:
                    encoded.set_present[i, index] = reading.status == PRESENT
                    for word, mask in reading.bits:
                        encoded.set_bits[i, base + word] = mask
                count_reading(reading, 1, counts)
                if reading.problem is not None:
                    problems.append(RecordProblem(i, name, reading.problem))
        problems.sort(key=lambda p: p.record)
        return EncodedBatch(encoded, quality, problems, n)

    def _empty_columns(self, n: int) -> Columns:
        return Columns(
            np.full((n, self.n_cat), MISSING_CODE, np.int32),
            np.full((n, self.n_num), np.nan),
            np.full((n, self.n_num), np.nan),
            np.zeros((n, self.total_set_words), np.uint64),
            np.zeros((n, len(self.set_words)), np.uint8),
        )

    def encode_columns(self, columns: Mapping[str, Factorized], n: int) -> EncodedBatch:
        """Factorized columns of ``n`` records; a field with no column is missing everywhere."""
        with self._lock:
            return self._encode_columns(columns, n)

    def _encode_columns(self, columns: Mapping[str, Factorized], n: int) -> EncodedBatch:
        encoded = self._empty_columns(n)
        quality = {name: FieldQuality(vocabulary=self._vocabularies.get(name)) for name in self.fields}
        problems: list[RecordProblem] = []
        for name, meta in self.fields.items():
            column = columns.get(name)
            if column is None:
                quality[name].missing += n
                continue
            table = self._tables[name]
            slots = table.slots(column.values, column.keys, self._readers[name])
            per_record = slots[column.inverse]  # the last slot is the missing reading: no value (-1) lands there
            self._spread(meta, table, per_record, encoded)
            counts = np.bincount(column.inverse + 1, minlength=len(slots))  # [0]: records with no value at all
            table.count(slots[:-1], counts[1:], quality[name])
            quality[name].missing += int(counts[0])
            wrong = np.flatnonzero(table.has_problem[per_record])
            problems += [RecordProblem(i, name, str(table.readings[slot].problem)) for i, slot in zip(wrong.tolist(), per_record[wrong].tolist(), strict=True)]
        problems.sort(key=lambda p: p.record)  # stable: fields stay in schema order
        return EncodedBatch(encoded, quality, problems, n)

    def _spread(self, meta: dict[str, Any], table: ReadingTable, per_record: np.ndarray, encoded: Columns) -> None:
        index, kind = meta["index"], meta["type"]
        if kind == "category":
            encoded.cat_codes[:, index] = table.code[per_record]
        elif kind == "number":
            encoded.num_lo[:, index], encoded.num_hi[:, index] = table.lo[per_record], table.hi[per_record]
        else:
            encoded.set_present[:, index] = table.status[per_record] == PRESENT
            base, width = int(self.set_start[index]), int(self.set_words[index])
            encoded.set_bits[:, base:base + width] = table.bits[per_record]

    def _read_category(self, meta: dict[str, Any], raw: Any) -> Reading:
        if _is_missing(raw):
            return _MISSING_READING
        if isinstance(raw, (list, tuple, dict, set, bool)):
            return Reading(UNREADABLE, problem=f"expected one value, found {type(raw).__name__}")
        text = raw if isinstance(raw, str) else _number_text(raw)
        key = self._value_key(text)
        if key is None:
            return _MISSING_READING
        if key in meta["keys"]:
            return Reading(PRESENT, code=int(meta["keys"][key]))
        return Reading(PRESENT, code=len(meta["values"]), unlisted=(clean_text(text),))

    def _read_set(self, meta: dict[str, Any], raw: Any) -> Reading:
        if _is_missing(raw):
            return _MISSING_READING
        if isinstance(raw, str):
            items: Sequence[Any] = self._split(raw)
        elif isinstance(raw, (list, tuple, set, frozenset)):
            items = list(raw)
        else:
            return Reading(UNREADABLE, problem=f"expected a list of values, found {type(raw).__name__}")
        bad = next((item for item in items if not isinstance(item, (str, int)) or isinstance(item, bool)), None)
        if bad is not None:
            return Reading(UNREADABLE, problem=f"expected text items, found {type(bad).__name__}")
        keys = [self._value_key(str(item)) for item in items]
        if (not items and isinstance(raw, str)) or (items and all(key is None for key in keys)):
            return _MISSING_READING  # 'N/A; unknown' or ',' say nothing: missing, not a known empty set
        masks: dict[int, int] = {}
        unlisted = []
        for item, key in zip(items, keys, strict=True):
            code = None if key is None else meta["keys"].get(key)
            if code is None:
                if key is not None:
                    unlisted.append(clean_text(str(item)))
            elif code != KNOWN_UNUSED:
                masks[code >> 6] = masks.get(code >> 6, 0) | 1 << (code & 63)
        return Reading(PRESENT, bits=tuple(masks.items()), unlisted=tuple(unlisted))

    def _value_key(self, text: str) -> str | None:
        """``value_key`` remembered per text: set items repeat across the many distinct lists they
        come in (``salesforce`` in thousands of different tech stacks), and a key costs ~2.5 µs."""
        key = self._keys.get(text, _UNSEEN)
        if key is _UNSEEN:
            key = value_key(text, self.placeholders)
            if len(self._keys) >= _CACHE_LIMIT:
                self._keys.clear()
            self._keys[text] = key
        return key  # type: ignore[return-value]

    def _split(self, raw: str) -> tuple[str, ...]:
        if self._value_key(raw) is None:
            return ()
        return tuple(part for part in SET_SEPARATORS.split(raw) if part.strip())

    def _read_number(self, meta: dict[str, Any], raw: Any) -> Reading:
        if _is_missing(raw):
            return _MISSING_READING
        if isinstance(raw, (list, tuple, dict, set)):  # a NumberRange is how typed callers send ranges
            return Reading(UNREADABLE, problem=f"expected a number or a range, found {type(raw).__name__}")
        value = parse_number(raw, meta["parse"], self.options[meta["name"]])
        if value is MISSING:
            return _MISSING_READING
        if isinstance(value, Unreadable):
            return Reading(UNREADABLE, unreadable=value.raw)
        assert isinstance(value, NumberRange)  # parse_number returns one of three kinds
        scale = self.scales.get(meta["name"], 1.0)
        if scale != 1.0 and _is_plain_number(raw):
            return Reading(PRESENT, lo=value.lo * scale, hi=value.hi * scale)
        return Reading(PRESENT, lo=value.lo, hi=value.hi)


class Factorized(NamedTuple):
    """One field's column as its distinct raw values and, per record, which one it has.

    ``inverse[i]`` indexes ``values``; -1 means the record has no value at all. ``keys`` are
    the values' cache keys, or None when the values are their own keys (text and None).
    Producers: :func:`factorize` (Python values) and the CLI's Arrow reader (dictionary-encoded
    columns).
    """

    values: Sequence[Any]
    inverse: np.ndarray  # int64[n]
    keys: Sequence[Any] | None = None


def factorize(raws: Sequence[Any]) -> Factorized:
    """The distinct values of a column, each kept as it first appeared, and every record's index.

    Text (and None) is keyed by itself; anything else by its type and value, so ``True`` and
    ``1`` stay apart, and a list by its items and their types (one that cannot be hashed is a
    value of its own).
    """
    numbers = set(map(type, raws)) - {str, type(None)}
    if not numbers or numbers == {int} or numbers == {float}:  # values are their own keys: no 1 == 1.0 == True
        values = list(dict.fromkeys(raws))
        index = {value: u for u, value in enumerate(values)}
        return Factorized(values, np.fromiter(map(index.__getitem__, raws), np.int64, len(raws)))
    keys = [cache_key(raw) for raw in raws]
    first: dict[Any, Any] = {}
    for key, raw in zip(keys, raws, strict=True):
        first.setdefault(key, raw)
    index = {key: u for u, key in enumerate(first)}
    return Factorized(list(first.values()), np.array([index[key] for key in keys], np.int64), list(first))


_ITEM_SEPARATOR = "\x1f"


def cache_key(raw: Any) -> Any:
    """The key under which the encoder caches what ``raw`` reads as (see :class:`Factorized`)."""
    kind = type(raw)
    if kind is str or raw is None:
        return raw
    if kind is list or kind is tuple:
        try:  # a list of text, as sets arrive: its items joined, when no item holds the separator
            joined = _ITEM_SEPARATOR.join(raw)
            if joined.count(_ITEM_SEPARATOR) == len(raw) - 1:
                return (kind, joined)
        except TypeError:
            pass
        key: Any = (kind, tuple(raw), tuple(map(type, raw)))
    else:
        key = (kind, raw)
    try:
        hash(key)
    except TypeError:
        return ("object", id(raw))
    return key


def _is_identity_key(key: Any) -> bool:
    """Keyed by ``id()``: valid only while that object lives, so never cached."""
    return isinstance(key, tuple) and key[0] == "object"


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
