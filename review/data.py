"""Historical records with an outcome, scored by the engine.

Records are read with :mod:`cli.records` (``read_chunks``, ``read_mapping``), so a mapping file
works as in ``icp score``; each chunk is scored by :class:`runtime.engine.Scorer`, the one
scoring path. The outcome column is read by flags: ``--outcome COLUMN --positive VALUE[,VALUE]``
(and ``--negative`` to name the closed-lost values when the column also holds open ones); a row
whose outcome is empty, or neither positive nor negative, is kept out of the rates and counted.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cli.records import InputError, read_chunks, read_mapping
from compiler.bundle import Bundle
from runtime.engine import Scorer

POSITIVE, NEGATIVE, EXCLUDED = 1, 0, -1


def _key(value: Any) -> str:
    return "" if value is None else str(value).strip().casefold()


def split_values(text: str | None) -> frozenset[str]:
    return frozenset(_key(v) for v in (text or "").split(",") if _key(v))


@dataclass(frozen=True)
class OutcomeSpec:
    column: str | None = None
    positive: frozenset[str] = frozenset()
    negative: frozenset[str] | None = None  # None: every non-empty value that is not positive
    value: str | None = None  # a money column (deal value, revenue)
    date: str | None = None

    def label(self, raw: Any) -> int:
        key = _key(raw)
        if not key:
            return EXCLUDED
        if key in self.positive:
            return POSITIVE
        if self.negative is None or key in self.negative:
            return NEGATIVE
        return EXCLUDED


@dataclass(frozen=True)
class Join:
    """A left join of one lookup file: its columns are added to each row whose ``on`` value matches."""

    path: Path
    on: str


@dataclass
class Scores:
    """One bundle's answers for every record, as columns."""

    bundle: Bundle
    profile: np.ndarray  # int32 best (or closest) profile index
    qualified: np.ndarray  # bool
    earned: np.ndarray  # int64
    positive_points: np.ndarray  # int64 of the best profile
    score_tenths: np.ndarray  # int64
    tier: np.ndarray  # object
    coverage: np.ndarray  # float64
    reasons: np.ndarray  # int8[n, m]

    @property
    def profile_ids(self) -> list[str]:
        return [p["id"] for p in self.bundle.meta["profiles"]]

    def group(self) -> np.ndarray:
        """The tier of a qualified record, ``out`` for one that is out of ICP."""
        return np.where(self.qualified, self.tier, "out").astype(object)


@dataclass
class Dataset:
    source: Path
    rows: int
    ids: list[str]
    label: np.ndarray  # int8: 1 positive, 0 negative, -1 excluded (empty or open outcome)
    value: np.ndarray  # float64 (nan when absent or unreadable)
    date: list[dt.date | None]
    scores: list[Scores]  # one per bundle, in the order given
    excluded_values: dict[str, int] = field(default_factory=dict)  # outcome value → rows left out
    unreadable_values: int = 0
    unreadable_dates: int = 0
    join_unmatched: int = 0
    mapped_fields: list[str] = field(default_factory=list)

    @property
    def included(self) -> np.ndarray:
        return self.label != EXCLUDED


_NUMBER = re.compile(r"[^0-9.eE+-]")


def parse_money(raw: Any) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    text = _NUMBER.sub("", str(raw))
    try:
        return float(text) if text else None
    except ValueError:
        return None


def parse_date(raw: Any) -> dt.date | None:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = _key(raw)
    if not text:
        return None
    match = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})", text)
    try:
        if match:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        match = re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})", text)
        if match:
            return dt.date(int(match[3]), int(match[1]), int(match[2]))
    except ValueError:
        return None
    return None


def _lookup(join: Join) -> dict[str, dict[str, Any]]:
    header, chunks = read_chunks(join.path)
    if join.on not in header:
        raise InputError(f"{join.path}: no column '{join.on}' to join on (columns: {', '.join(header)})")
    table: dict[str, dict[str, Any]] = {}
    for rows in chunks:
        for row in rows:
            table.setdefault(_key(row.get(join.on)), row)
    return table


def _joined(header: list[str], chunks: Iterator[list[dict[str, Any]]], join: Join | None, counter: list[int]) -> tuple[list[str], Iterator[list[dict[str, Any]]]]:
    if join is None:
        return header, chunks
    if join.on not in header:
        raise InputError(f"--on {join.on}: the records have no such column")
    lookup = _lookup(join)
    extra = [c for c in next(iter(lookup.values()), {}) if c not in header]

    def rows() -> Iterator[list[dict[str, Any]]]:
        for chunk in chunks:
            out = []
            for row in chunk:
                match = lookup.get(_key(row.get(join.on)))
                if match is None:
                    counter[0] += 1
                    out.append(row)
                else:
                    out.append({**{c: match.get(c) for c in extra}, **row})
            yield out

    return header + extra, rows()


def load(path: Path, bundles: list[Bundle], spec: OutcomeSpec, mapping_path: Path | None = None, join: Join | None = None) -> Dataset:
    """Read, join, label and score every record of ``path`` with each bundle."""
    header, chunks = read_chunks(path)
    unmatched = [0]
    header, chunks = _joined(header, chunks, join, unmatched)
    for flag, column in (("--outcome", spec.column), ("--value", spec.value), ("--date", spec.date)):
        if column is not None and column not in header:
            raise InputError(f"{flag} {column}: {path} has no such column (columns: {', '.join(header)})")
    mappings = [read_mapping(mapping_path, header, b.meta["fields"]) for b in bundles]
    if not mappings[-1].columns:
        raise InputError(f"{path}: no column maps to a field; write a mapping file (see examples/review/)")
    scorers = [Scorer(b, m.scales) for b, m in zip(bundles, mappings, strict=True)]
    parts: list[list[dict[str, np.ndarray]]] = [[] for _ in bundles]
    ids: list[str] = []
    labels: list[int] = []
    values: list[float] = []
    dates: list[dt.date | None] = []
    data = Dataset(path, 0, ids, np.zeros(0, np.int8), np.zeros(0), dates, [], mapped_fields=sorted(mappings[-1].columns))
    id_column = mappings[-1].id_column
    for rows in chunks:
        for row in rows:
            data.rows += 1
            ids.append(str(row.get(id_column)) if id_column else str(data.rows))
            label = spec.label(row.get(spec.column)) if spec.column else EXCLUDED
            labels.append(label)
            if label == EXCLUDED and spec.column:
                shown = str(row.get(spec.column) or "").strip() or "(empty)"
                data.excluded_values[shown] = data.excluded_values.get(shown, 0) + 1
            money = parse_money(row.get(spec.value)) if spec.value else None
            if spec.value and money is None and _key(row.get(spec.value)):
                data.unreadable_values += 1
            values.append(np.nan if money is None else money)
            when = parse_date(row.get(spec.date)) if spec.date else None
            if spec.date and when is None and _key(row.get(spec.date)):
                data.unreadable_dates += 1
            dates.append(when)
        for k, (scorer, mapping) in enumerate(zip(scorers, mappings, strict=True)):
            results = scorer.score(mapping.to_records(rows)).results
            kernel = results.kernel
            parts[k].append({
                "profile": kernel.best.astype(np.int32), "qualified": kernel.qualified.astype(bool),
                "earned": kernel.earned.astype(np.int64),
                "positive_points": scorer.bundle.tables.prof_positive[kernel.best].astype(np.int64),
                "score_tenths": results.score_tenths.astype(np.int64), "tier": results.tier,
                "coverage": results.coverage.astype(np.float64), "reasons": results.reasons,
            })
    for bundle, chunks_of in zip(bundles, parts, strict=True):
        if chunks_of:
            columns = {name: np.concatenate([c[name] for c in chunks_of]) for name in chunks_of[0]}
        else:
            columns = {name: np.zeros(0, kind) for name, kind in (("profile", np.int32), ("qualified", bool), ("earned", np.int64),
                       ("positive_points", np.int64), ("score_tenths", np.int64), ("tier", object), ("coverage", np.float64))}
            columns["reasons"] = np.zeros((0, 0), np.int8)
        data.scores.append(Scores(bundle, **columns))
    data.label = np.array(labels, np.int8)
    data.value = np.array(values, np.float64)
    data.join_unmatched = unmatched[0]
    return data


def write_joined(records: Path, join: Join, output: Path) -> int:
    """Write the left join of ``records`` and ``join`` as CSV (the Maven example's preparation step)."""
    header, chunks = read_chunks(records)
    unmatched = [0]
    header, chunks = _joined(header, chunks, join, unmatched)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, header, extrasaction="ignore")
        writer.writeheader()
        for rows in chunks:
            writer.writerows(rows)
    return unmatched[0]
