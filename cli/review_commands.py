"""``icp backtest``, ``icp diff`` and ``icp calibrate``: review the ICP against outcomes.

The records are read with :mod:`cli.records` and scored by the engine (``runtime.engine.Scorer``),
as in ``icp score``; :mod:`review` only groups, counts and draws. See docs/review.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from cli.records import InputError
from compiler.pipeline import open_bundle
from compiler.schema import DEFAULT_PROFILES_DIR
from review import backtest as backtest_mod
from review import calibrate as calibrate_mod
from review import diff as diff_mod
from review.data import Join, OutcomeSpec, load, split_values
from review.html import render_html


def add_review_commands(commands: Any) -> None:
    backtest = commands.add_parser("backtest", help="tiers and criteria against a historical outcome")
    backtest.add_argument("records", type=Path, help="CSV / JSON Lines / Parquet file of historical records")
    backtest.add_argument("--profiles", type=Path, default=DEFAULT_PROFILES_DIR, help="profiles folder or bundle file")
    _record_options(backtest, outcome_required=True)
    backtest.add_argument("--html", type=Path, help="also write a self-contained HTML report with charts")
    backtest.set_defaults(run=_backtest)

    diff = commands.add_parser("diff", help="what-if replay: the same records through two profile versions")
    diff.add_argument("old", help="profiles folder, bundle file, or git:REV:PATH")
    diff.add_argument("new", help="profiles folder, bundle file, or git:REV:PATH")
    diff.add_argument("--records", type=Path, required=True, help="file of records to replay")
    _record_options(diff, outcome_required=False)
    diff.add_argument("--limit", type=int, default=20, help="how many moved records to list")
    diff.set_defaults(run=_diff)

    calibrate = commands.add_parser("calibrate", help="suggest tier thresholds (prints YAML; never rewrites profiles)")
    calibrate.add_argument("records", type=Path)
    calibrate.add_argument("--profiles", type=Path, default=DEFAULT_PROFILES_DIR, help="profiles folder or bundle file")
    target = calibrate.add_mutually_exclusive_group(required=True)
    target.add_argument("--shares", help="target share per tier, best first, e.g. 10,20,30,40")
    target.add_argument("--capacity", type=float, help="at most this many tier-A records per week (needs --date)")
    calibrate.add_argument("--profile", action="append", dest="only", help="calibrate only this profile (repeatable)")
    _record_options(calibrate, outcome_required=False)
    calibrate.set_defaults(run=_calibrate)


def _record_options(parser: argparse.ArgumentParser, outcome_required: bool) -> None:
    parser.add_argument("--mapping", type=Path, help="YAML mapping of fields to input columns (as for icp score)")
    parser.add_argument("--outcome", required=outcome_required, help="the outcome column")
    parser.add_argument("--positive", required=outcome_required, help="outcome value(s) that count as positive, comma-separated")
    parser.add_argument("--negative", help="outcome value(s) that count as negative; other non-empty values are open and left out "
                                           "(default: every non-empty value that is not positive)")
    parser.add_argument("--value", help="a money column (deal value, revenue): sums and means per tier")
    parser.add_argument("--date", help="a date column (YYYY-MM-DD or M/D/YYYY)")
    parser.add_argument("--join", type=Path, help="a lookup file left-joined to the records (e.g. accounts.csv)")
    parser.add_argument("--on", help="the column both files share, for --join")
    parser.add_argument("--about", help="one line saying what the data is, printed in the reports")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON")


def _spec(args: argparse.Namespace) -> OutcomeSpec:
    if bool(args.outcome) != bool(args.positive):
        raise InputError("--outcome and --positive go together")
    if args.positive is not None and not split_values(args.positive):
        raise InputError("--positive needs at least one value")
    return OutcomeSpec(args.outcome, split_values(args.positive), split_values(args.negative) if args.negative else None,
                       args.value, args.date)


def _join(args: argparse.Namespace) -> Join | None:
    if (args.join is None) != (args.on is None):
        raise InputError("--join and --on go together")
    return Join(args.join, args.on) if args.join else None


def _outcome(args: argparse.Namespace) -> dict[str, Any]:
    return {"column": args.outcome, "positive": sorted(split_values(args.positive)),
            "negative": sorted(split_values(args.negative)) if args.negative else None, "value": args.value}


def _write_json(path: Path | None, report: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")


def _backtest(args: argparse.Namespace) -> int:
    bundle = open_bundle(args.profiles)
    data = load(args.records, [bundle], _spec(args), args.mapping, _join(args))
    if not data.included.any():
        raise InputError(f"{args.records}: no record has an outcome in column '{args.outcome}' (positive = {args.positive})")
    report = backtest_mod.backtest(data, outcome=_outcome(args))
    report["about"] = args.about
    print(backtest_mod.render_text(report, args.about))
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render_html(report, args.about), encoding="utf-8")
        print(f"\nwrote {args.html}")
    _write_json(args.json, report)
    return 0


def _diff(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="icp-diff-") as workdir:
        old, new = diff_mod.load_versions(args.old, args.new, Path(workdir))
    data = load(args.records, [old, new], _spec(args), args.mapping, _join(args))
    report = diff_mod.diff(data, args.limit)
    report["old"], report["new"] = args.old, args.new
    if args.about:
        print(f"data: {args.about}")
    print(diff_mod.render_text(report))
    _write_json(args.json, report)
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    bundle = open_bundle(args.profiles)
    shares = None
    if args.shares is not None:
        try:
            shares = [float(s) for s in args.shares.split(",") if s.strip()]
        except ValueError as error:
            raise InputError(f"--shares {args.shares}: write numbers, e.g. 10,20,30,40") from error
        if not shares or any(s < 0 for s in shares) or not sum(shares):
            raise InputError(f"--shares {args.shares}: write positive numbers, e.g. 10,20,30,40")
    if args.capacity is not None and (args.date is None or args.capacity < 0):
        raise InputError("--capacity N needs --date COLUMN (and N ≥ 0)")
    known = [p["id"] for p in bundle.meta["profiles"]]
    for profile in args.only or []:
        if profile not in known:
            raise InputError(f"--profile {profile}: no such profile ({', '.join(known)})")
    data = load(args.records, [bundle], _spec(args), args.mapping, _join(args))
    report = calibrate_mod.calibrate(data, shares, args.capacity, args.only)
    if args.about:
        print(f"data: {args.about}")
    print(calibrate_mod.render_text(report))
    _write_json(args.json, report)
    return 0
