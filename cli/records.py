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


def read_mapping(path: Path | None, header: list[str], fields: list[dict[str, Any]]) -> ColumnMapping:
    """The column of each field: from a mapping file, else by header name and schema aliases."""
    if path is None:
        return _auto_mapping(header, fields)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise InputError(f"{path}: cannot read the mapping file ({error})") from error
    names = {f["name"] for f in fields}
    columns: dict[str, str] = {}
    scales: dict[str, float] = {}
    for name, spec in (data.get("fields") or {}).items():
        if name not in names:
            raise InputError(f"{path}: unknown field '{name}' (fields: {', '.join(sorted(names))})")
        column = spec.get("column") if isinstance(spec, dict) else spec
        if column not in header:
            raise InputError(f"{path}: field '{name}' maps to column '{column}', which the input does not have")
        columns[name] = str(column)
        if isinstance(spec, dict) and "scale" in spec:
            scales[name] = float(spec["scale"])
    id_column = data.get("id")
    if id_column is not None and id_column not in header:
        raise InputError(f"{path}: id column '{id_column}' is not in the input")
    return ColumnMapping(columns, scales, id_column)


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


def _decoded_lines(path: Path) -> Iterator[str]:
    """Lines decoded as UTF-8, falling back to Windows-1252 line by line (real exports mix them)."""
    with path.open("rb") as handle:
        for raw in handle:
            try:
                yield raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                yield raw.decode("cp1252", errors="replace")


def _csv(path: Path) -> tuple[list[str], Iterator[list[dict[str, Any]]]]:
    reader = csv.reader(_decoded_lines(path))
    header = next(reader, None)
    if not header:
        raise InputError(f"{path}: the file is empty")

    def chunks() -> Iterator[list[dict[str, Any]]]:
        chunk: list[dict[str, Any]] = []
        for row in reader:
            chunk.append(dict(zip(header, row, strict=False)))
            if len(chunk) == CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    return header, chunks()


def _jsonl(path: Path) -> tuple[list[str], Iterator[list[dict[str, Any]]]]:
    """The header is every key of every line (a first pass), in order of first appearance."""
    keys: dict[str, None] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                keys.update(dict.fromkeys(_json_row(line, path, number)))
    if not keys:
        raise InputError(f"{path}: the file is empty")
    header = list(keys)

    def chunks() -> Iterator[list[dict[str, Any]]]:
        chunk: list[dict[str, Any]] = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    chunk.append(_json_row(line, path, number))
                if len(chunk) == CHUNK_ROWS:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    return header, chunks()


def _json_row(line: str, path: Path, number: int) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}:{number}: not valid JSON ({error.msg})") from error
    if not isinstance(row, dict):
        raise InputError(f"{path}:{number}: each line must be a JSON object")
    return row


def _parquet(path: Path) -> tuple[list[str], Iterator[list[dict[str, Any]]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise InputError("reading Parquet needs pyarrow: pip install 'icp-scoring[parquet]'") from error
    table = pq.ParquetFile(path)
    header = list(table.schema_arrow.names)

    def chunks() -> Iterator[list[dict[str, Any]]]:
        for batch in table.iter_batches(batch_size=CHUNK_ROWS):
            yield batch.to_pylist()

    return header, chunks()


def parse_key_values(pairs: list[str]) -> dict[str, Any]:
    """``icp explain`` arguments: ``field=value`` pairs (sets as comma-separated lists)."""
    record: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InputError(f"'{pair}' is not field=value")
        record[name.strip()] = value
    return record


def read_record(text: str) -> Mapping[str, Any]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"the record is not valid JSON ({error.msg})") from error
    if not isinstance(record, dict):
        raise InputError("the record must be a JSON object")
    return record
