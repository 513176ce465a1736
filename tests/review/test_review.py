"""icp backtest / diff / calibrate on hand-made files: every figure against a plain computation.

The fixture (fixtures/deals.csv, fixtures/old/fit.yaml) worked out by hand. Profile ``fit``:
software 50, 1,000+ employees 30, US 20 (100 positive points), exclusion government;
tiers A 80, B 50, C 30, D 0.

    record  industry   employees country  stage  score group  software big     us
    r1      software   5000      US       Won    100   A      holds    holds   holds
    r2      software   2000      US       Won    100   A      holds    holds   holds
    r3      software   50        US       Lost    70   B      holds    fails   holds
    r4      software   50        Germany  Won     50   B      holds    fails   fails
    r5      retail     5000      US       Lost    50   B      fails    holds   holds
    r6      retail     5000      Germany  Won     30   C      fails    holds   fails
    r7      retail     50        US       Lost    20   D      fails    fails   holds
    r8      retail     50        Germany  Lost     0   D      fails    fails   fails
    r9      software   -         US       Lost    70   B      holds    unknown holds
    r10     retail     -         -        Won      0   D      fails    unknown unknown
    r11     software   5000      US       Open   100   A      (left out: open)
    r12     retail     50        US       -       20   D      (left out: empty)
    r13     government 5000      US       Lost    50   out    fails    holds   holds
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from cli.main import main
from compiler.bundle import Bundle
from compiler.pipeline import open_bundle as compile_folder
from review import stats
from review.backtest import backtest
from review.calibrate import calibrate
from review.data import Join, OutcomeSpec, load, split_values, write_joined
from review.diff import diff
from runtime.engine import Scorer

FIXTURES = Path(__file__).parent / "fixtures"
DEALS = FIXTURES / "deals.csv"

# (id, group, score, label: 1 won / 0 lost, value, software, big, us) for the 11 records with an outcome
ROWS = [
    ("r1", "A", 100, 1, 1000, "holds", "holds", "holds"),
    ("r2", "A", 100, 1, 500, "holds", "holds", "holds"),
    ("r3", "B", 70, 0, 0, "holds", "fails", "holds"),
    ("r4", "B", 50, 1, 300, "holds", "fails", "fails"),
    ("r5", "B", 50, 0, 0, "fails", "holds", "holds"),
    ("r6", "C", 30, 1, 200, "fails", "holds", "fails"),
    ("r7", "D", 20, 0, 0, "fails", "fails", "holds"),
    ("r8", "D", 0, 0, 0, "fails", "fails", "fails"),
    ("r9", "B", 70, 0, 0, "holds", "unknown", "holds"),
    ("r10", "D", 0, 1, 100, "fails", "unknown", "unknown"),
    ("r13", "out", 50, 0, 0, "fails", "holds", "holds"),
]


@functools.cache
def open_bundle(folder: Path) -> Bundle:
    """Each fixture folder compiled once per session (the bundle is read-only)."""
    return compile_folder(folder)


SPEC = OutcomeSpec("stage", split_values("Won"), split_values("Lost"), "value", "closed")


def plain_wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959964
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def plain_auc(scores: list[float], labels: list[int]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


@pytest.fixture(scope="module")
def report() -> dict:
    data = load(DEALS, [open_bundle(FIXTURES / "old")], SPEC)
    return backtest(data, outcome={"column": "stage", "positive": ["won"], "value": "value"})


def test_stats_by_hand() -> None:
    low, high = stats.wilson(1, 4)  # worked by hand: centre 0.37248, half-width 0.32689
    assert low == pytest.approx(0.04559, abs=1e-4) and high == pytest.approx(0.69937, abs=1e-4)
    assert stats.wilson(0, 0) is None
    # positives 100, 100, 50, 30, 0 against negatives 70, 50, 20, 0, 70:
    # 5 + 5 + (2 + ½) + 2 + ½ = 15 of 25 pairs
    assert stats.auc([100, 100, 50, 30, 0, 70, 50, 20, 0, 70], [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]) == pytest.approx(0.6)
    assert stats.auc([1, 2], [1, 1]) is None
    assert stats.lift(0.25, 0.5) == 0.5


def test_engine_agrees_with_the_hand_table() -> None:
    """The fixture's scores and tiers, from the engine, are the ones worked out by hand above."""
    data = load(DEALS, [open_bundle(FIXTURES / "old")], SPEC)
    scores = data.scores[0]
    by_id = dict(zip(data.ids, range(data.rows), strict=True))
    for rid, group, score, *_ in ROWS:
        i = by_id[rid]
        assert (scores.group()[i], scores.score_tenths[i] / 10) == (group, score), rid
    assert data.excluded_values == {"Open": 1, "(empty)": 1}


def test_backtest_figures(report: dict) -> None:
    labels = [r[3] for r in ROWS]
    base = sum(labels) / len(labels)
    assert (report["rows"], report["included"], report["excluded"], report["positives"]) == (13, 11, 2, 5)
    assert report["base_rate"] == pytest.approx(base)
    assert report["auc"] == pytest.approx(plain_auc([r[2] for r in ROWS], labels))
    assert report["auc"] == pytest.approx(17.5 / 30)  # by hand: the table above, r13's 50 is a negative
    for row in report["tiers"]:
        members = [r for r in ROWS if r[1] == row["tier"]]
        n, k = len(members), sum(r[3] for r in members)
        assert (row["n"], row["positives"]) == (n, k), row["tier"]
        if n:
            assert row["rate"] == pytest.approx(k / n)
            assert row["lift"] == pytest.approx(k / n / base)
            assert (row["ci_low"], row["ci_high"]) == pytest.approx(plain_wilson(k, n))
            assert row["value_sum"] == pytest.approx(sum(r[4] for r in members))
            assert row["value_mean"] == pytest.approx(sum(r[4] for r in members) / n)
    assert [(r["tier"], r["n"]) for r in report["tiers"]] == [("A", 2), ("B", 4), ("C", 1), ("D", 3), ("out", 1)]
    assert report["monotonic"] is False  # A 100 %, B 25 %, C 100 %, D 33 %
    profile = report["profiles"][0]
    assert profile["n"] == 11 and profile["auc"] == pytest.approx(report["auc"])
    for column, criterion in enumerate(profile["criteria"][:3]):
        for outcome in ("holds", "fails", "unknown"):
            members = [r for r in ROWS if r[5 + column] == outcome]
            n, k = len(members), sum(r[3] for r in members)
            assert (criterion[outcome]["n"], criterion[outcome]["positives"]) == (n, k), (criterion["id"], outcome)
            if n:
                assert criterion[outcome]["lift"] == pytest.approx(k / n / base)
    gov = profile["criteria"][3]
    assert gov["id"] == "gov" and gov["holds"]["n"] == 1 and gov["holds"]["rate"] == 0


def test_histogram(report: dict) -> None:
    hist = report["score_histogram"]
    # bands of 10; 100 falls in the last band
    assert hist["positive"] == [1, 0, 0, 1, 0, 1, 0, 0, 0, 2]  # r10 | r6 | r4 | r1, r2
    assert hist["negative"] == [1, 0, 1, 0, 0, 2, 0, 2, 0, 0]  # r8 | r7 | r5, r13 | r3, r9


def test_diff_transition_matrix() -> None:
    """Old → new by hand: r6 (score 30 → 50, C → C... no: 50 ≥ 30 but < 55) stays C; r3, r4, r5, r9
    fall from B to C (scores 50 < 55); r1, r2, r11 stay A; r7, r8, r10, r12 stay D; r13 stays out."""
    data = load(DEALS, [open_bundle(FIXTURES / "old"), open_bundle(FIXTURES / "new")], SPEC)
    result = diff(data)
    assert result["labels"] == ["A", "B", "C", "D", "out"]
    assert result["matrix"] == [
        [3, 0, 0, 0, 0],
        [0, 0, 4, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 4, 0],
        [0, 0, 0, 0, 1],
    ]
    assert result["moved_up"]["records"] == 0
    down = result["moved_down"]
    assert (down["records"], down["with_outcome"], down["positives"]) == (4, 4, 1)  # r4 won; r3, r5, r9 lost
    assert (down["ci_low"], down["ci_high"]) == pytest.approx(plain_wilson(1, 4))
    moved = {m["id"]: m for m in result["moved"]}
    assert set(moved) == {"r3", "r4", "r5", "r9"}
    assert "fit: removed us (was holds)" in moved["r3"]["why"]
    assert "fit: tier thresholds {A: 80, B: 50, C: 30, D: 0} -> {A: 80, B: 55, C: 30, D: 0}" in moved["r4"]["why"]
    assert "fit: big weight 30 -> 50" in moved["r5"]["why"]
    assert "fit: big weight 30 -> 50" not in moved["r4"]["why"]  # big fails for r4: its weight does not matter


def test_diff_git_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("git") is None:
        pytest.fail("git is needed for icp diff git:REV:PATH")
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "old", repo / "profiles")
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "old"], check=True)
    shutil.copy(FIXTURES / "new" / "fit.yaml", repo / "profiles" / "fit.yaml")
    monkeypatch.chdir(repo)
    out = tmp_path / "diff.json"
    assert main(["diff", "git:HEAD:profiles/", "profiles", "--records", str(DEALS), "--outcome", "stage",
                 "--positive", "Won", "--negative", "Lost", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["matrix"][1] == [0, 0, 4, 0, 0]
    assert "moved down" in capsys.readouterr().out


def test_calibrate_shares_and_capacity() -> None:
    data = load(DEALS, [open_bundle(FIXTURES / "old")], SPEC)
    # Qualified scores (r13 is out): 100 ×3, 70 ×2, 50 ×2, 30, 20 ×2, 0 ×2 (12 records).
    # 25 % = 3 records: any A in 71..100 gives exactly 3; the highest is kept -> 100.
    # 50 % = 6: 51..70 gives 5, 31..50 gives 7, equally near -> the higher, 70.
    # 75 % = 9: 21..30 gives 8, 1..20 gives 10 -> 30.
    report = calibrate(data, shares=[25, 25, 25, 25])
    entry = report["profiles"][0]
    assert entry["n"] == 12
    assert entry["yaml"] == "tiers: {A: 100, B: 70, C: 30}"
    assert [r["n"] for r in entry["suggested"]] == [3, 2, 3, 4]
    # current thresholds 80/50/30: A 3 (r1 r2 r11), B 4 (r3 r4 r5 r9), C 1 (r6), D 4
    assert [r["n"] for r in entry["current"]] == [3, 4, 1, 4]
    assert entry["suggested"][1]["rate"] == pytest.approx(0 / 2)  # r3, r9 lost
    # dates 2024-01-01 .. 2024-01-14 = 14 days = 2 weeks; 2 A per week -> at most 4: A from 71 keeps 3
    report = calibrate(data, capacity=2)
    assert report["weeks"] == pytest.approx(2.0)
    assert report["profiles"][0]["yaml"] == "tiers: {A: 71, B: 50, C: 30}"
    report = calibrate(data, capacity=1)  # at most 2: even 100 keeps 3
    assert report["profiles"][0]["note"] and report["profiles"][0]["yaml"].startswith("tiers: {A: 100,")


def test_calibrated_thresholds_give_the_counts_the_engine_gives(tmp_path: Path) -> None:
    profile = yaml.safe_load((FIXTURES / "old" / "fit.yaml").read_text())
    profile["tiers"] = {"A": 100, "B": 70, "C": 30}
    (tmp_path / "fit.yaml").write_text(yaml.safe_dump(profile))
    data = load(DEALS, [compile_folder(tmp_path)], SPEC)
    scores = data.scores[0]
    groups = list(scores.group())
    assert [groups.count(t) for t in ("A", "B", "C", "D")] == [3, 2, 3, 4]


def test_join(tmp_path: Path) -> None:
    spec = OutcomeSpec("stage", split_values("Won"), split_values("Lost"), "amount")
    data = load(FIXTURES / "pipeline.csv", [open_bundle(FIXTURES / "old")], spec, join=Join(FIXTURES / "accounts.csv", "account"))
    assert data.join_unmatched == 2  # d5 (blank account) and d6 (Nobody)
    assert list(data.scores[0].score_tenths / 10) == [100, 100, 0, 0, 0, 0]  # Acme 100; Bolt 0; no match: nothing known
    assert list(data.label) == [1, 0, 0, 1, -1, 0]
    out = tmp_path / "joined.csv"
    assert write_joined(FIXTURES / "pipeline.csv", Join(FIXTURES / "accounts.csv", "account"), out) == 2
    assert out.read_text().splitlines()[1] == "d1,Acme,Won,100,software,5000,US"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_cli_backtest_text_json_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html, out = tmp_path / "r.html", tmp_path / "r.json"
    code = main(["backtest", str(DEALS), "--profiles", str(FIXTURES / "old"), "--outcome", "stage", "--positive", "Won",
                 "--negative", "Lost", "--value", "value", "--about", "hand-made <deals> & co", "--html", str(html), "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "13 read, 11 with an outcome, 2 left out" in text and "Open 1" in text
    assert "AUC of the score 0.583" in text
    assert "  A             2        2  100.0%  [34.2, 100.0]   2.20  100.0%          1,500        750" in text
    page = html.read_text()
    assert "<script" not in page and "hand-made &lt;deals&gt; &amp; co" in page
    parser = _Collect()
    parser.feed(page)
    parser.close()
    assert parser.tags.count("svg") == 4  # rate (all), histogram, rate (fit), lift (fit)
    body = " ".join(parser.text)
    for figure in ("45.5%", "0.583", "1,500", "34.2% to 100.0%", "2.20"):
        assert figure in body, figure
    assert json.loads(out.read_text())["included"] == 11


def test_cli_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", str(DEALS), "--profiles", str(FIXTURES / "old"), "--outcome", "nope", "--positive", "x"]) == 2
    assert "--outcome nope" in capsys.readouterr().err
    assert main(["calibrate", str(DEALS), "--profiles", str(FIXTURES / "old"), "--capacity", "2"]) == 2
    assert "--date" in capsys.readouterr().err


def test_same_engine_as_icp_score() -> None:
    """The review's scores are the engine's: the same records through Scorer directly."""
    bundle = open_bundle(FIXTURES / "old")
    data = load(DEALS, [bundle], SPEC)
    records = [{"industry": "software", "employees": "50", "country": "Germany"}]
    assert Scorer(bundle).score(records).results.score_tenths[0] == data.scores[0].score_tenths[3]
