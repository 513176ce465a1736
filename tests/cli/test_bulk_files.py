"""icp score's columnar path (Arrow reader → factorized columns → Arrow writers) against the
per-record path (``Scorer.score`` on one record, ``Results.answer``), and the CSV reader's
handling of mixed encodings and ragged rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import cli.records
from cli.main import main
from cli.records import read_batches, read_mapping
from compiler import compile_profiles
from compiler.schema import DEFAULT_PROFILES_DIR
from runtime.engine import Scorer
from tests.conftest import REPO

VISITORS = REPO / "examples" / "data" / "visitors.csv"
BUNDLE = compile_profiles(DEFAULT_PROFILES_DIR)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_output_row_is_the_answer_for_that_record_alone(tmp_path: Path) -> None:
    out = tmp_path / "scored.csv"
    assert main(["score", str(VISITORS), "-o", str(out), "--quiet"]) == 0
    rows, source = _read_csv(out), _read_csv(VISITORS)
    mapping = read_mapping(None, list(source[0]), BUNDLE.meta["fields"])
    scorer = Scorer(BUNDLE, mapping.scales)
    for row, record in zip(rows, mapping.to_records(source), strict=True):
        answer = scorer.score([record]).results.answer(0)
        assert row["icp_profile"] == answer["profile"]
        assert row["icp_qualified"] == str(answer["qualified"])
        assert row["icp_score"] == str(answer["score"])
        assert (row["icp_tier"], row["icp_action"], row["icp_queue"]) == (answer["tier"], answer["action"], answer["queue"] or "")
        assert row["icp_escalate"] == str(answer["escalate"])
        assert row["icp_coverage"] == str(answer["coverage"])
        assert row["icp_disqualified_by"] == (answer["disqualified_by"] or "")
        assert row["icp_reasons"] == ";".join(f"{cid}={outcome}" for cid, outcome in answer["reasons"])
        assert row["icp_version"] == BUNDLE.version


def test_each_cell_that_is_not_utf8_reads_as_windows_1252(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    # one line holds a UTF-8 cell and a Windows-1252 cell; a quoted cell spans two lines
    path.write_bytes("\ufeffname,city\n".encode() + b"Z\xc3\xbcrich AG,Caf\xe9\n\"two\nlines\",M\xfcnchen\n")
    header, chunks = read_batches(path)
    assert header == ["name", "city"]
    assert [row for chunk in chunks for row in chunk.rows()] == [
        {"name": "Zürich AG", "city": "Café"},
        {"name": "two\nlines", "city": "München"},
    ]


def test_a_ragged_row_is_read_on_by_the_tolerant_reader_and_nothing_is_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.records, "CHUNK_ROWS", 5)
    monkeypatch.setattr(cli.records, "_BLOCK_BYTES", 64)  # several Arrow chunks before the bad row
    lines = ["id,country,employees"] + [f"r{i},Germany,{i + 1}" for i in range(40)]
    lines[31] = "r30,Germany"  # one cell short
    lines[35] = "r34,France,7,extra"  # one cell long: the extra cell is dropped, the row kept
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    _, chunks = read_batches(path)
    kinds = []
    rows = []
    for chunk in chunks:
        kinds.append(chunk._table is not None)
        rows += chunk.rows()
    assert kinds[0] and not kinds[-1]  # Arrow first, then Python's reader from where Arrow stopped
    assert [row["id"] for row in rows] == [f"r{i}" for i in range(40)]
    assert rows[30] == {"id": "r30", "country": "Germany"} and rows[34]["employees"] == "7"
    out = tmp_path / "out.jsonl"
    assert main(["score", str(path), "-o", str(out), "--quiet"]) == 0
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in scored] == [f"r{i}" for i in range(40)]


def test_an_unclosed_quote_is_an_error_naming_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Arrow would read it to the end of the file as one cell, and the rows after it would vanish."""
    path = tmp_path / "unclosed.csv"
    path.write_text('id,country\n1,Germany\n2,"France\n3,Spain\n')
    assert main(["score", str(path), "-o", str(tmp_path / "out.csv"), "--quiet"]) == 2
    assert f"{path}:4: not valid CSV" in capsys.readouterr().err
    path.write_text('id,country\n1,"Germany, ""DE"""\n2,"Fra\nnce"\n')  # doubled and multi-line quotes are fine
    assert main(["score", str(path), "-o", str(tmp_path / "out.csv"), "--quiet"]) == 0
    rows = _read_csv(tmp_path / "out.csv")
    assert [(r["id"], r["country"]) for r in rows] == [("1", 'Germany, "DE"'), ("2", "Fra\nnce")]
