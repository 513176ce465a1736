"""The icp command line on real files: compile, test, score (CSV, JSON Lines, Parquet), explain."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from compiler import compile_profiles
from compiler.bundle import load_bundle
from compiler.schema import DEFAULT_PROFILES_DIR
from tests.conftest import REPO

VISITORS = REPO / "examples" / "data" / "visitors.csv"


def test_compile_writes_a_bundle_that_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.icpb"
    assert main(["compile", str(DEFAULT_PROFILES_DIR), "-o", str(out)]) == 0
    version = compile_profiles(DEFAULT_PROFILES_DIR).version
    printed = capsys.readouterr().out
    assert f"version {version}" in printed and "enterprise-saas" in printed
    assert load_bundle(out).version == version


def test_test_passes_on_the_bundled_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test"]) == 0
    assert ", 0 failed" in capsys.readouterr().out


def test_test_fails_with_a_diff_when_an_example_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "one.yaml").write_text(
        "id: one\n"
        "criteria:\n  - {id: sw, field: industry, in: [software], weight: 10}\n"
        "examples:\n  - record: {industry: software}\n    expect: {tier: B, score: 90.0}\n"
    )
    assert main(["test", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "tier: expected 'B', got 'A'" in out
    assert "score: expected 90.0, got 100.0" in out
    assert "0 passed, 1 failed" in out


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_score_csv_keeps_rows_and_adds_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, summary = tmp_path / "scored.csv", tmp_path / "summary.json"
    assert main(["score", str(VISITORS), "-o", str(out), "--summary-json", str(summary), "--quiet"]) == 0
    rows, source = _read_csv(out), _read_csv(VISITORS)
    assert len(rows) == len(source) == 2000
    assert all(r["id"] == s["id"] for r, s in zip(rows, source, strict=True))
    counted = json.loads(summary.read_text())
    assert counted["records"] == 2000
    assert sum(t["records"] for t in counted["tiers"]) == 2000
    assert counted["out_of_icp"] == sum(1 for r in rows if r["icp_qualified"] == "False")
    # the summary's missing count for country equals a plain count of empty / placeholder cells
    plain_missing = sum(1 for s in source if s["country"].strip().casefold() in ("", "n/a", "select", "unknown", "-", "na"))
    assert counted["fields"]["country"]["missing"] == plain_missing
    tiers = {r["icp_tier"] for r in rows}
    assert {"A", "B", "C", "D"} <= tiers
    assert "data quality" in capsys.readouterr().out


def test_score_jsonl_and_parquet_agree_with_csv(tmp_path: Path) -> None:
    import pyarrow as pa  # installed by the dev extra
    import pyarrow.parquet as pq

    source = _read_csv(VISITORS)[:200]
    jsonl, parquet = tmp_path / "in.jsonl", tmp_path / "in.parquet"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in source))
    pq.write_table(pa.Table.from_pylist(source), parquet)
    small_csv = tmp_path / "in.csv"
    with small_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(source[0]))
        writer.writeheader()
        writer.writerows(source)
    for name in ("in.csv", "in.jsonl", "in.parquet"):
        suffix = Path(name).suffix
        assert main(["score", str(tmp_path / name), "-o", str(tmp_path / f"out{suffix}"), "--quiet"]) == 0
    from_csv = [(r["icp_profile"], r["icp_score"], r["icp_tier"]) for r in _read_csv(tmp_path / "out.csv")]
    from_jsonl = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    from_parquet = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [(r["icp_profile"], str(r["icp_score"]), r["icp_tier"]) for r in from_jsonl] == from_csv
    assert [(r["icp_profile"], str(r["icp_score"]), r["icp_tier"]) for r in from_parquet] == from_csv


def test_explain_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    record = ["industry=software", "employees=1001-5000", "country=DE", "tech_stack=salesforce"]
    assert main(["explain", *record]) == 0
    text = capsys.readouterr().out
    assert text.startswith("profile   enterprise-saas  [qualified]")
    assert main(["explain", "--format", "json", "--json", json.dumps({"industry": "software", "employees": "1001-5000", "country": "DE", "tech_stack": ["salesforce"]})]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["profile"] == "enterprise-saas"
    earned = sum(r["points"] for r in answer["explain"]["reasons"])
    assert earned == answer["explain"]["earned"]
    assert answer["score"] == round(1000 * earned / answer["explain"]["positive_points"]) / 10


def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["explain", "industy=software"]) == 2
    assert "unknown field(s) industy" in capsys.readouterr().err
    broken = tmp_path / "p"
    shutil.copytree(DEFAULT_PROFILES_DIR, broken)
    (broken / "enterprise-saas.yaml").write_text("id: [\n")
    assert main(["score", str(VISITORS), "-o", str(tmp_path / "o.csv"), "--profiles", str(broken)]) == 1
    assert "yaml_error" in capsys.readouterr().err


def test_the_icp_entry_point_runs_as_a_process(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "cli.main", "test"], capture_output=True, text=True, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert "failed" in done.stdout
