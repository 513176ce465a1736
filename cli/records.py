"""Reading record files in chunks and mapping their columns to fields.

Formats: CSV (UTF-8, Windows-1252, or a file mixing both line by line),
JSON Lines, and Parquet when pyarrow is installed. A mapping file names the
column of each field (and a scale for numbers written in units, such as
revenue in $M); without one, a column maps to a field when its header matches
the field's name or one of the schema's ``columns:`` aliases.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compiler.text import value_key

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


def read_chunks(path: Path) -> tuple[list[str], Iterator[list[dict[str, Any]]]]:
    """The header and an iterator of row chunks (dicts of column → raw value)."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _jsonl(path)
    if suffix == ".parquet":
        return _parquet(path)
    return _csv(path)


csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long text cells are data, not an error


def _decoded_lines(path: Path) -> Iterator[str]:
    """Lines decoded as UTF-8, falling back to Windows-1252 line by line (real exports mix them)."""
    with path.open("rb") as handle:
        for raw in handle:
            try:
                yield raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                yield raw.decode("cp1252", errors="replace")


def _csv(path: Path) -> tuple[list[str], Iterator[list[dict[str, Any]]]]:
    reader = csv.reader(_decoded_lines(path), strict=True)
    header = next(_checked(reader, path), None)
    if not header:
        raise InputError(f"{path}: the file is empty (or its first line is)")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise InputError(f"{path}: column name '{duplicated[0]}' appears more than once in the header")

    return header, _chunked(dict(zip(header, row, strict=False)) for row in _checked(reader, path))


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


def _parquet(path: Path) -> tuple[list[str], Iterator[list[dict[str, Any]]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise InputError("reading Parquet needs pyarrow: pip install 'icp-scoring[parquet]'") from error
    try:
        table = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several types for damaged files
        raise InputError(f"{path}: not a readable Parquet file ({error})") from error
    header = list(table.schema_arrow.names)

    def chunks() -> Iterator[list[dict[str, Any]]]:
        try:
            for batch in table.iter_batches(batch_size=CHUNK_ROWS):
                yield batch.to_pylist()
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
