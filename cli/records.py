"""Reading record files in chunks and mapping their columns to fields.

Formats: CSV (UTF-8, Windows-1252, or a file mixing both: each cell that is
not UTF-8 is read as Windows-1252), JSON Lines, and Parquet. CSV and Parquet are
read by Arrow's compiled readers, in chunks, as columns. A mapping file names the
column of each field (and a scale for numbers written in units, such as
revenue in $M); without one, a column maps to a field when its header matches
the field's name or one of the schema's ``columns:`` aliases.
"""

from __future__ import annotations

import csv
import json
import math
import queue
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from compiler.text import value_key
from runtime.encode import Factorized, factorize

CHUNK_ROWS = 50_000


class InputError(Exception):
    """A file or mapping that cannot be used, with a message for the user."""


@dataclass(frozen=True)
class ColumnMapping:
    columns: dict[str, str]  # field → input column
    scales: dict[str, float] = field(default_factory=dict)
    id_column: str | None = None

    def to_records(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{name: row.get(column) for name, column in self.columns.items()} for row in rows]

    def to_columns(self, chunk: Chunk) -> dict[str, Factorized]:
        """Each mapped field's column, factorized (what :meth:`runtime.encode.Encoder.encode_columns` reads)."""
        return {name: chunk.column(column) for name, column in self.columns.items()}


MAPPING_KEYS = ("id", "fields", "description")
COLUMN_KEYS = ("column", "scale")


def read_mapping(path: Path | None, header: list[str], fields: list[dict[str, Any]]) -> ColumnMapping:
    """The column of each field: from a mapping file, else by header name and schema aliases."""
    if path is None:
        return _auto_mapping(header, fields)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise InputError(f"{path}: cannot read the mapping file ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
        raise InputError(f"{path}: a mapping file is 'fields: {{FIELD: COLUMN, ...}}' (see examples/mappings/)")
    _refuse_unknown(path, "", data, MAPPING_KEYS)
    names = {f["name"] for f in fields}
    columns: dict[str, str] = {}
    scales: dict[str, float] = {}
    for name, spec in data["fields"].items():
        if name not in names:
            raise InputError(f"{path}: unknown field '{name}' (fields: {', '.join(sorted(names))})")
        if isinstance(spec, dict):
            _refuse_unknown(path, f"fields.{name}.", spec, COLUMN_KEYS)
        column = spec.get("column") if isinstance(spec, dict) else spec
        if column not in header:
            raise InputError(f"{path}: field '{name}' maps to column '{column}', which the input does not have")
        columns[name] = str(column)
        if isinstance(spec, dict) and "scale" in spec:
            scales[name] = _scale(path, name, spec["scale"])
    id_column = data.get("id")
    if id_column is not None and id_column not in header:
        raise InputError(f"{path}: id column '{id_column}' is not in the input")
    return ColumnMapping(columns, scales, id_column)


def _refuse_unknown(path: Path, where: str, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise InputError(f"{path}: unknown key '{where}{unknown[0]}' (allowed: {', '.join(allowed)})")


def _scale(path: Path, name: str, raw: Any) -> float:
    """A positive, finite multiplier (e.g. 1000000 for a column in $M)."""
    try:
        scale = float(raw)
    except (TypeError, ValueError):
        scale = math.nan
    if isinstance(raw, bool) or not math.isfinite(scale) or scale <= 0:
        raise InputError(f"{path}: fields.{name}.scale must be a positive number such as 1000000, found {raw!r}")
    return scale


def _auto_mapping(header: list[str], fields: list[dict[str, Any]]) -> ColumnMapping:
    by_key = {value_key(column): column for column in reversed(header) if value_key(column)}
    columns = {}
    for meta in fields:
        for candidate in [meta["name"], *meta["columns"]]:
            column = by_key.get(value_key(candidate))
            if column is not None:
                columns[meta["name"]] = column
                break
    return ColumnMapping(columns, {}, by_key.get("id"))


class Chunk:
    """A run of input rows, kept as the reader had them: an Arrow table of text (CSV) or typed
    (Parquet) columns, or a list of dicts (JSON Lines, and CSV that Arrow cannot parse)."""

    def __init__(self, header: list[str], table: pa.Table | None = None, rows: list[dict[str, Any]] | None = None):
        self.header, self._table, self._rows = header, table, rows
        self.size = table.num_rows if table is not None else len(rows or ())

    def head(self, n: int) -> Chunk:
        """The first ``n`` rows."""
        if self._table is not None:
            return Chunk(self.header, self._table.slice(0, n))
        return Chunk(self.header, rows=self.rows()[:n])

    def rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            assert self._table is not None
            self._rows = self._table.to_pylist()
        return self._rows

    def column(self, name: str) -> Factorized:
        """The input column ``name`` as distinct values and each row's index (an absent cell is -1)."""
        if self._table is None:
            return factorize([row.get(name) for row in self.rows()])
        values = self._table.column(name).combine_chunks()
        if pa.types.is_string(values.type) or pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
            coded = values.dictionary_encode()
            inverse = coded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
            return Factorized(coded.dictionary.to_pylist(), inverse)
        return factorize(values.to_pylist())

    def value(self, column: str, row: int) -> Any:
        return self._table.column(column)[row].as_py() if self._table is not None else self.rows()[row].get(column)

    def table(self) -> pa.Table:
        """Every input column, for writing beside the answers (JSON values that are not text become JSON text)."""
        if self._table is not None:
            return self._table
        rows = self.rows()
        return pa.table({c: pa.array([_text_or_none(row.get(c)) for row in rows], pa.string()) for c in self.header})


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)


def read_batches(path: Path) -> tuple[list[str], Iterator[Chunk]]:
    """The header and an iterator of chunks of about CHUNK_ROWS rows."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        header, rows = _jsonl(path)
    elif suffix == ".parquet":
        return _parquet(path)
    else:
        return _csv(path)
    return header, (Chunk(header, rows=chunk) for chunk in rows)


def prefetched(chunks: Iterator[Chunk], depth: int = 2) -> Iterator[Chunk]:
    """The same chunks, read ahead by a background thread (Arrow parses without the GIL, so
    reading overlaps scoring on a second core); at most ``depth`` chunks wait in memory, and a
    reading error is raised where the chunk would have been."""
    done = object()
    waiting: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        waiting.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            waiting.put(done)
        except BaseException as error:  # re-raised in the consumer's thread
            waiting.put(error)

    reader = threading.Thread(target=read, name="icp-reader", daemon=True)
    reader.start()
    try:
        while (item := waiting.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=5)


def read_chunks(path: Path) -> tuple[list[str], Iterator[list[dict[str, Any]]]]:
    """The header and an iterator of row chunks (dicts of column → raw value)."""
    header, chunks = read_batches(path)
    return header, (chunk.rows() for chunk in chunks)


csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long text cells are data, not an error


def _decoded_lines(path: Path) -> Iterator[str]:
    """Lines decoded as UTF-8, falling back to Windows-1252 line by line (real exports mix them)."""
    with path.open("rb") as handle:
        for raw in handle:
            yield _decoded(raw, "utf-8-sig")


def _decoded(raw: bytes, utf8: str = "utf-8") -> str:
    """UTF-8 (``utf8``: or ``utf-8-sig``, dropping a byte-order mark), else Windows-1252."""
    try:
        return raw.decode(utf8)
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _as_text(values: pa.ChunkedArray) -> pa.Array:
    """A column of CSV cells as text: UTF-8, or each distinct cell that is not read as Windows-1252."""
    values = values.combine_chunks()
    try:
        return values.cast(pa.string())
    except pa.ArrowInvalid:
        coded = values.dictionary_encode()
        texts = pa.array([_decoded(raw) for raw in coded.dictionary.to_pylist()], pa.string())
        return pa.DictionaryArray.from_arrays(coded.indices, texts).cast(pa.string())


def _csv(path: Path) -> tuple[list[str], Iterator[Chunk]]:
    """Arrow's CSV reader (compiled, streaming); a file it cannot parse — rows with more or fewer
    cells than the header, say — is read on from where it stopped by Python's, which pads short
    rows with missing values."""
    header = _csv_header(path)
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise InputError(f"{path}: column name '{duplicated[0]}' appears more than once in the header")

    def chunks() -> Iterator[Chunk]:
        done = 0
        if not _quotes_balanced(path):
            # Arrow reads an unclosed quote to the end of the file as one cell (rows vanish into
            # it); Python's reader refuses it and names the line.
            yield from _python_csv_chunks(path, header, skip=0)
            return
        try:
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES, column_names=header, skip_rows=1),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.binary()), strings_can_be_null=False),
            )
            pending: list[pa.RecordBatch] = []
            for batch in reader:
                pending.append(batch)
                if sum(b.num_rows for b in pending) >= CHUNK_ROWS:
                    chunk = _text_chunk(header, pending)
                    pending = []
                    done += chunk.size
                    yield chunk
            if pending:
                chunk = _text_chunk(header, pending)
                done += chunk.size
                yield chunk
        except pa.ArrowInvalid:
            yield from _python_csv_chunks(path, header, skip=done)

    return header, chunks()


_BLOCK_BYTES = 4 << 20


def _quotes_balanced(path: Path) -> bool:
    """An even number of ``"`` in the file: every quoted cell closed (a doubled quote counts two)."""
    count = 0
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK_BYTES):
            count += block.count(b'"')
    return count % 2 == 0


def _text_chunk(header: list[str], batches: list[pa.RecordBatch]) -> Chunk:
    table = pa.Table.from_batches(batches)
    return Chunk(header, pa.table({name: _as_text(table.column(name)) for name in header}))


def _csv_header(path: Path) -> list[str]:
    reader = csv.reader(_decoded_lines(path), strict=True)
    header = next(_checked(reader, path), None)
    if not header:
        raise InputError(f"{path}: the file is empty (or its first line is)")
    return header


def _python_csv_chunks(path: Path, header: list[str], skip: int) -> Iterator[Chunk]:
    reader = csv.reader(_decoded_lines(path), strict=True)
    rows = _checked(reader, path)
    next(rows)
    for _ in range(skip):
        next(rows)
    for chunk in _chunked(dict(zip(header, row, strict=False)) for row in rows):
        yield Chunk(header, rows=chunk)


def _checked(reader: Any, path: Path) -> Iterator[list[str]]:
    """CSV rows; a malformed file (an unclosed quote, old Mac line endings) is a clear error."""
    try:
        yield from reader
    except csv.Error as error:
        raise InputError(f"{path}:{reader.line_num}: not valid CSV ({error})") from error


def _jsonl(path: Path) -> tuple[list[str], Iterator[list[dict[str, Any]]]]:
    """The header is every key of every line (a first pass), in order of first appearance."""
    keys: dict[str, None] = {}
    for number, line in enumerate(_decoded_lines(path), 1):
        if line.strip():
            keys.update(dict.fromkeys(_json_row(line, path, number)))
    if not keys:
        raise InputError(f"{path}: the file is empty")
    header = list(keys)

    def rows() -> Iterator[dict[str, Any]]:
        for number, line in enumerate(_decoded_lines(path), 1):
            if line.strip():
                yield _json_row(line, path, number)

    return header, _chunked(rows())


def _chunked(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _json_row(line: str, path: Path, number: int) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}:{number}: not valid JSON ({error.msg})") from error
    except RecursionError as error:
        raise InputError(f"{path}:{number}: JSON nested too deeply") from error
    if not isinstance(row, dict):
        raise InputError(f"{path}:{number}: each line must be a JSON object")
    return row


def _parquet(path: Path) -> tuple[list[str], Iterator[Chunk]]:
    try:
        table = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several types for damaged files
        raise InputError(f"{path}: not a readable Parquet file ({error})") from error
    header = list(table.schema_arrow.names)

    def chunks() -> Iterator[Chunk]:
        try:
            for batch in table.iter_batches(batch_size=CHUNK_ROWS):
                yield Chunk(header, pa.Table.from_batches([batch]))
        except OSError as error:
            raise InputError(f"{path}: not a readable Parquet file ({error})") from error

    return header, chunks()


def parse_key_values(pairs: list[str]) -> dict[str, Any]:
    """``icp explain`` arguments: ``field=value`` pairs (sets as comma-separated lists)."""
    record: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"'{pair}' is not field=value")
        if name in record:
            raise InputError(f"field '{name}' is given twice (a set takes comma-separated values: {name}=a,b)")
        record[name] = value
    return record


def read_record(text: str) -> Mapping[str, Any]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"the record is not valid JSON ({error.msg})") from error
    except RecursionError as error:
        raise InputError("the record's JSON is nested too deeply") from error
    if not isinstance(record, dict):
        raise InputError("the record must be a JSON object")
    return record
