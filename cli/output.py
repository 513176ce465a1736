"""Writing ``icp score`` output: every input column unchanged, then the answers.

The answer columns are built per distinct value, not per record (a million records have a few
thousand distinct reason strings), as Arrow arrays that Arrow's compiled writers turn into CSV
or Parquet; JSON Lines is written row by row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cli.records import Chunk
from compiler.bundle import Bundle
from runtime.finish import OUTCOME_NAMES, Results, finishing_for

OUTPUT_COLUMNS = (
    "icp_profile", "icp_qualified", "icp_score", "icp_tier", "icp_coverage", "icp_action",
    "icp_queue", "icp_escalate", "icp_disqualified_by", "icp_reasons", "icp_version",
)
_TYPES = {"icp_qualified": pa.bool_(), "icp_score": pa.float64(), "icp_coverage": pa.float64(), "icp_escalate": pa.bool_()}


def answer_columns(results: Results, bundle: Bundle) -> dict[str, pa.Array]:
    """The values of OUTPUT_COLUMNS for every record, typed (compact reasons: ``id=outcome;...``)."""
    finishing = finishing_for(bundle)
    items = finishing.item_ids
    best, qualified = results.kernel.best, results.kernel.qualified.astype(bool)
    n = results.size
    return {
        "icp_profile": _coded(best, finishing.profile_ids),
        "icp_qualified": pa.array(qualified),
        "icp_score": pa.array(results.score_tenths / 10),
        "icp_tier": pa.array(results.tier, pa.string()),
        "icp_coverage": pa.array(np.round(results.coverage, 4)),
        "icp_action": pa.array(results.action, pa.string()),
        "icp_queue": pa.array([q or "" for q in results.queue.tolist()], pa.string()),
        "icp_escalate": pa.array(results.escalate.astype(bool)),
        "icp_disqualified_by": _coded(results.disqualifier_items() + 1, ["", *(item for profile in items for item in profile)]),
        "icp_reasons": _reasons(best, results.reasons, items),
        "icp_version": _coded(np.zeros(n, np.int32), [bundle.version]),
    }


def _coded(codes: np.ndarray, texts: list[str]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(texts, pa.string())).cast(pa.string())


def _reasons(best: np.ndarray, reasons: np.ndarray, items: list[list[str]]) -> pa.Array:
    """One text per distinct (profile, outcomes) row, found by hashing the rows' bytes in Arrow."""
    n, width = reasons.shape
    rows = np.empty((n, 4 + width), np.uint8)
    rows[:, :4] = best.astype("<i4").view(np.uint8).reshape(n, 4)
    rows[:, 4:] = reasons.view(np.uint8)
    keys = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 + width), n, [None, pa.py_buffer(rows.tobytes())])
    coded = keys.dictionary_encode()
    texts = []
    for key in coded.dictionary.to_pylist():
        row = np.frombuffer(key, np.uint8)
        p = int(row[:4].view("<i4")[0])
        outcomes = row[4:].view(np.int8)
        texts.append(";".join(f"{cid}={OUTCOME_NAMES[int(o)]}" for cid, o in zip(items[p], outcomes, strict=False)))
    return pa.DictionaryArray.from_arrays(coded.indices, pa.array(texts, pa.string())).cast(pa.string())


def _text(values: pa.Array) -> pa.Array:
    """CSV text as Python writes the value (``True``, ``65.0``), formatted once per distinct value."""
    coded = values.dictionary_encode()
    texts = pa.array([str(v) for v in coded.dictionary.to_pylist()], pa.string())
    return pa.DictionaryArray.from_arrays(coded.indices, texts).cast(pa.string())


class Writer:
    """Writes input rows plus the icp_* columns as CSV, JSON Lines or Parquet (by the file's suffix)."""

    def __init__(self, path: Path, header: list[str]):
        self.path, self.header = path, header
        self.kind = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}.get(path.suffix.lower(), "csv")
        self._handle: Any = None

    def __enter__(self) -> Writer:
        if self.kind == "jsonl":
            self._handle = self.path.open("w", encoding="utf-8", newline="")
        return self

    def write(self, chunk: Chunk, answers: dict[str, pa.Array]) -> None:
        if self.kind == "jsonl":
            values = [answers[name].to_pylist() for name in OUTPUT_COLUMNS]
            for row, answer in zip(chunk.rows(), zip(*values, strict=True), strict=True):
                self._handle.write(json.dumps({**row, **dict(zip(OUTPUT_COLUMNS, answer, strict=True))}, default=str) + "\n")
            return
        table = chunk.table()
        columns = {name: table.column(name) for name in self.header}
        if self.kind == "csv":
            columns.update({name: _text(answers[name]) if name in _TYPES else answers[name] for name in OUTPUT_COLUMNS})
            out = pa.table(columns)
            if self._handle is None:
                self._handle = pacsv.CSVWriter(self.path, out.schema, write_options=pacsv.WriteOptions(quoting_style="needed"))
            self._handle.write_table(out)
            return
        columns.update(answers)
        out = pa.table(columns)
        if self._handle is None:
            self._handle = pq.ParquetWriter(self.path, out.schema)
        self._handle.write_table(out.cast(self._handle.schema))

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
        elif self.kind != "jsonl":  # no rows: still a file with the header
            columns = [pa.field(c, pa.string()) for c in self.header] + [pa.field(c, _TYPES.get(c, pa.string())) for c in OUTPUT_COLUMNS]
            empty = pa.schema(columns).empty_table()
            if self.kind == "csv":
                pacsv.write_csv(empty, self.path)
            else:
                pq.write_table(empty, self.path)
