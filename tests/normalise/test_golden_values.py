"""Golden file of tricky real values: ``tests/fixtures/values/tricky.tsv``.

Each line is (kind or field, raw value, expected, source). The expected column was worked out
by hand from the raw value; when the product disagrees, the product is wrong. After a deliberate
change of meaning, ``UPDATE_GOLDEN=1 pytest tests/normalise/test_golden_values.py`` rewrites the
expected column from the product (then read the diff line by line before keeping it).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from compiler.diagnostics import Diagnostics
from compiler.schema import DEFAULT_PROFILES_DIR, Schema, load_schema
from compiler.text import value_key
from compiler.values import MISSING, PARSE_KINDS, NumberRange, parse_number

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "values" / "tricky.tsv"
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)


def _escape(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" if c in "\u00a0\t" else c for c in text)


def _read() -> list[tuple[int, list[str]]]:
    rows = []
    for number, line in enumerate(GOLDEN.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        assert len(parts) == 4, f"line {number}: expected 4 tab-separated columns, found {len(parts)}"
        rows.append((number, parts))
    return rows


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf"
    return str(int(x)) if x == int(x) else repr(x)


def product(kind: str, raw: str, schema: Schema) -> str:
    """The product's reading of one raw value, written as the golden file writes expectations."""
    if kind in PARSE_KINDS:
        value = parse_number(raw, kind)
        if value is MISSING:
            return "missing"
        if isinstance(value, NumberRange):
            return f"{_fmt(value.lo)}..{_fmt(value.hi)}"
        return "unreadable"
    key = value_key(raw)
    if kind == "key":
        return "missing" if key is None else key
    field = schema.fields[kind]
    assert field.taxonomy is not None, f"{kind} is not a closed field"
    if key is None:
        return "missing"
    found = field.taxonomy.resolve(key, field.kinds)
    return "unlisted" if found is None else field.taxonomy.nodes[found].id


def _same(expected: str, got: str) -> bool:
    if ".." in expected and ".." in got:
        return all(math.isclose(float(a), float(b), rel_tol=1e-12) for a, b in zip(expected.split(".."), got.split(".."), strict=False))
    return expected == got


@pytest.fixture(scope="module")
def schema() -> Schema:
    diagnostics = Diagnostics()
    loaded = load_schema(DEFAULT_PROFILES_DIR, diagnostics)
    assert loaded is not None, diagnostics.items
    return loaded


def test_golden_file_is_big_enough() -> None:
    rows = _read()
    assert len(rows) >= 200
    assert len({(k, r) for _, (k, r, _, _) in rows}) == len(rows), "a (kind, raw) pair appears twice"


def test_tricky_values(schema: Schema) -> None:
    rows = _read()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        lines = GOLDEN.read_text(encoding="utf-8").splitlines()
        for number, (kind, raw, _, source) in rows:
            lines[number - 1] = "\t".join((kind, raw, _escape(product(kind, _unescape(raw), schema)), source))
        GOLDEN.write_text("\n".join(lines) + "\n", encoding="utf-8")
        pytest.skip("golden file rewritten from the product: review the diff")
    wrong = []
    for number, (kind, raw, expected, source) in rows:
        got = product(kind, _unescape(raw), schema)
        if not _same(_unescape(expected), got):
            wrong.append(f"line {number} [{source}] {kind} {raw!r}: expected {expected}, product says {got}")
    assert not wrong, f"{len(wrong)} of {len(rows)} values read wrongly:\n" + "\n".join(wrong)
