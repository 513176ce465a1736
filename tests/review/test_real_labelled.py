"""icp backtest / calibrate / diff on the labelled sets in ../shared/data, with the example
profiles and mappings of examples/review/. The counts are checked against a plain csv count."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from cli.main import main

pytestmark = pytest.mark.shared_data
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "review"


@pytest.fixture(scope="module")
def shared_data() -> Path:
    data = REPO.parent / "shared" / "data"
    if not data.is_dir():
        pytest.skip("../shared/data is not beside this clone: real labelled-data review tests skipped")
    return data


def _column(path: Path, column: str) -> Counter[str]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        return Counter((row.get(column) or "").strip().casefold() for row in csv.DictReader(handle))


CASES = {
    # name: (records, example folder, outcome, positive, negative, extra args)
    "maven": ("maven-crm-opportunities/sales_pipeline.csv", "maven", "deal_stage", "Won", "Lost",
              ["--join", "{data}/maven-crm-opportunities/accounts.csv", "--on", "account", "--value", "close_value"]),
    "xeducation": ("xeducation-leads/Leads.csv", "xeducation", "Converted", "1", None, []),
    "yc": ("yc-startups-2005-2014/Startups.csv", "yc", "Satus", "Operating,Exited", "Dead", []),
    "crunchbase": ("crunchbase-2013/companies.csv", "crunchbase", "status", "acquired,ipo", None, []),
}


@pytest.mark.parametrize("name", list(CASES))
def test_backtest_real(name: str, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records, folder, outcome, positive, negative, extra = CASES[name]
    out = tmp_path / "report.json"
    args = ["backtest", str(shared_data / records), "--profiles", str(EXAMPLES / folder / "profiles"),
            "--mapping", str(EXAMPLES / folder / "mapping.yaml"), "--outcome", outcome, "--positive", positive,
            "--json", str(out), "--html", str(tmp_path / "report.html")]
    args += ["--negative", negative] if negative else []
    args += [a.replace("{data}", str(shared_data)) for a in extra]
    assert main(args) == 0
    report = json.loads(out.read_text())
    counts = _column(shared_data / records, outcome)
    pos = sum(counts[v.casefold()] for v in positive.split(","))
    neg = sum(counts[v.casefold()] for v in negative.split(",")) if negative else sum(counts.values()) - pos - counts[""]
    assert (report["positives"], report["included"]) == (pos, pos + neg)
    assert sum(r["n"] for r in report["tiers"]) == pos + neg
    assert sum(r["positives"] for r in report["tiers"]) == pos
    assert 0 <= report["auc"] <= 1
    print(f"{name}: base {report['base_rate']:.3f} AUC {report['auc']:.3f} tiers "
          + " ".join(f"{r['tier']} {r['n']} {r['rate'] if r['rate'] is None else round(r['rate'], 3)}" for r in report["tiers"]))
    assert "base rate" in capsys.readouterr().out


def test_maven_counts_and_money(shared_data: Path, tmp_path: Path) -> None:
    """6,711 closed deals (4,238 won), 2,089 open left out; won value summed against a plain sum."""
    out = tmp_path / "maven.json"
    data = shared_data / "maven-crm-opportunities"
    assert main(["backtest", str(data / "sales_pipeline.csv"), "--profiles", str(EXAMPLES / "maven" / "profiles"),
                 "--mapping", str(EXAMPLES / "maven" / "mapping.yaml"), "--join", str(data / "accounts.csv"), "--on", "account",
                 "--outcome", "deal_stage", "--positive", "Won", "--negative", "Lost", "--value", "close_value", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert (report["included"], report["positives"], report["excluded"]) == (6711, 4238, 2089)
    assert report["excluded_values"] == {"Engaging": 1589, "Prospecting": 500}
    with (data / "sales_pipeline.csv").open(newline="") as handle:
        won_value = sum(float(r["close_value"]) for r in csv.DictReader(handle) if r["deal_stage"] == "Won")
    assert sum(r["value_sum"] for r in report["tiers"]) == pytest.approx(won_value)


def test_maven_calibrate_and_diff(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = shared_data / "maven-crm-opportunities"
    common = ["--mapping", str(EXAMPLES / "maven" / "mapping.yaml"), "--join", str(data / "accounts.csv"), "--on", "account",
              "--outcome", "deal_stage", "--positive", "Won", "--negative", "Lost"]
    out = tmp_path / "cal.json"
    assert main(["calibrate", str(data / "sales_pipeline.csv"), "--profiles", str(EXAMPLES / "maven" / "profiles"),
                 "--capacity", "40", "--date", "close_date", "--json", str(out), *common]) == 0
    report = json.loads(out.read_text())
    entry = report["profiles"][0]
    assert entry["note"] is None
    assert entry["suggested"][0]["n"] <= entry["allowed_a"] == int(40 * report["weeks"])
    assert "tiers: {A:" in capsys.readouterr().out
    out = tmp_path / "diff.json"
    assert main(["diff", str(EXAMPLES / "maven" / "profiles"), str(EXAMPLES / "maven" / "profiles-v2"),
                 "--records", str(data / "sales_pipeline.csv"), "--json", str(out), *common]) == 0
    report = json.loads(out.read_text())
    assert sum(map(sum, report["matrix"])) == 8800
