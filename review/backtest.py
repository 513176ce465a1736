"""``icp backtest``: how the profiles' tiers and criteria line up with a historical outcome.

Groups: per profile (the record's best profile, or its closest one when it is out of ICP) and
per tier; a record that qualifies for no profile is counted in the group ``out`` (out of ICP),
not in its nominal tier, because no tier routes it. Figures per group: count, positives, outcome
rate, its 95 % Wilson interval, lift over the base rate, coverage, and, with ``--value``, the sum
and mean of the money column. Per criterion of each profile (over the records whose best
profile it is): the outcome rate when the criterion holds, fails and is unknown, and the lift
of each. AUC is of the score (0–100) against the outcome. Excluded rows (empty or open
outcome) are left out of every figure and counted.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from review.data import POSITIVE, Dataset, Scores
from review.stats import auc, lift, rate, wilson
from runtime.kernels import FAILS, HOLDS, UNKNOWN

OUT = "out"


def tier_order(scores: Scores) -> list[str]:
    """Tier names from best to worst as the profiles list them, then ``out``."""
    names: list[str] = []
    for profile in scores.bundle.meta["profiles"]:
        for name, _ in profile["tiers"]:
            if name not in names:
                names.append(str(name))
    return [*names, OUT]


def group_figures(label: np.ndarray, value: np.ndarray, coverage: np.ndarray, mask: np.ndarray, base: float | None, money: bool) -> dict[str, Any]:
    count = int(mask.sum())
    positives = int((label[mask] == POSITIVE).sum())
    r = rate(positives, count)
    interval = wilson(positives, count)
    row: dict[str, Any] = {
        "n": count, "positives": positives, "rate": r, "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None, "lift": lift(r, base),
        "coverage": float(coverage[mask].mean()) if count else None,
    }
    if money:
        chosen = value[mask]
        known = chosen[~np.isnan(chosen)]
        row["value_sum"] = float(known.sum())
        row["value_mean"] = float(known.mean()) if known.size else None
    return row


def monotonic(rows: list[dict[str, Any]]) -> bool:
    """Each non-empty tier's rate is at least the next non-empty tier's (``out`` not included)."""
    rates = [r["rate"] for r in rows if r["tier"] != OUT and r["n"]]
    return all(a >= b for a, b in pairwise(rates))


def backtest(data: Dataset, scores: Scores | None = None, outcome: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every figure of the backtest report as plain data (JSON-ready)."""
    scores = scores or data.scores[0]
    keep = data.included
    label = data.label[keep]
    value = data.value[keep]
    money = bool(outcome and outcome.get("value"))
    coverage = scores.coverage[keep]
    group = scores.group()[keep]
    best = scores.profile[keep]
    reasons = scores.reasons[keep]
    score = scores.score_tenths[keep] / 10
    n = int(keep.sum())
    positives = int((label == POSITIVE).sum())
    base = rate(positives, n)
    everything = np.ones(n, bool)
    overall = group_figures(label, value, coverage, everything, base, money)
    tiers = tier_order(scores)
    report: dict[str, Any] = {
        "source": str(data.source), "bundle_version": scores.bundle.version, "outcome": outcome or {},
        "rows": data.rows, "included": n, "excluded": data.rows - n,
        "excluded_values": dict(sorted(data.excluded_values.items(), key=lambda kv: -kv[1])),
        "unreadable_values": data.unreadable_values, "join_unmatched": data.join_unmatched,
        "mapped_fields": data.mapped_fields,
        "positives": positives, "base_rate": base, "auc": auc(score, label == POSITIVE),
        "overall": overall,
        "tiers": [{"tier": t, **group_figures(label, value, coverage, group == t, base, money)} for t in tiers],
        "profiles": [],
        "score_histogram": histogram(score, label),
    }
    report["monotonic"] = monotonic(report["tiers"])
    for p, profile in enumerate(scores.bundle.meta["profiles"]):
        mine = best == p
        rows = [{"tier": t, **group_figures(label, value, coverage, mine & (group == t), base, money)} for t in tiers
                if t == OUT or t in [str(name) for name, _ in profile["tiers"]]]
        items = profile["criteria"] + profile["exclusions"]
        criteria = []
        for j, item in enumerate(items):
            entry: dict[str, Any] = {"id": item["id"], "label": item["label"], "role": item["role"],
                                     "weight": item["weight"], "required": item["required"]}
            for name, code in (("holds", HOLDS), ("fails", FAILS), ("unknown", UNKNOWN)):
                entry[name] = group_figures(label, value, coverage, mine & (reasons[:, j] == code), base, money)
            criteria.append(entry)
        report["profiles"].append({
            "profile": profile["id"], "name": profile.get("name") or profile["id"],
            "thresholds": {str(name): threshold for name, threshold in profile["tiers"]},
            **group_figures(label, value, coverage, mine, base, money),
            "auc": auc(score[mine], label[mine] == POSITIVE),
            "tiers": rows, "monotonic": monotonic(rows), "criteria": criteria,
        })
    return report


def histogram(score: np.ndarray, label: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Counts of positives and negatives per score band [0,10), [10,20) … [90,100]."""
    band = np.minimum((score // (100 / bins)).astype(np.int64), bins - 1)
    positive = label == POSITIVE
    return {
        "edges": [int(100 / bins * k) for k in range(bins + 1)],
        "positive": [int(((band == k) & positive).sum()) for k in range(bins)],
        "negative": [int(((band == k) & ~positive).sum()) for k in range(bins)],
    }


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def num(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def money_text(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _group_line(name: str, row: dict[str, Any], money: bool) -> str:
    interval = "-" if row["ci_low"] is None else f"[{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]"
    line = (f"  {name:<6} {row['n']:>8,} {row['positives']:>8,} {pct(row['rate']):>7} {interval:>14} "
            f"{num(row['lift']):>6} {pct(row['coverage']):>7}")
    if money:
        line += f" {money_text(row['value_sum']):>14} {money_text(row['value_mean']):>10}"
    return line


def _header(money: bool) -> str:
    line = f"  {'tier':<6} {'records':>8} {'positive':>8} {'rate':>7} {'95% CI':>14} {'lift':>6} {'cover':>7}"
    return line + (f" {'value sum':>14} {'mean':>10}" if money else "")


def render_text(report: dict[str, Any], about: str | None = None) -> str:
    money = bool(report["outcome"].get("value"))
    o = report["outcome"]
    lines = [f"backtest of bundle {report['bundle_version']} on {report['source']}"]
    if about:
        lines.append(f"data: {about}")
    lines.append(f"outcome: {o.get('column')} positive = {', '.join(o.get('positive', []))}"
                 + (f"; negative = {', '.join(o['negative'])}" if o.get("negative") else "")
                 + (f"; value = {o['value']}" if o.get("value") else ""))
    excluded = ", ".join(f"{k} {v:,}" for k, v in report["excluded_values"].items())
    lines.append(f"records: {report['rows']:,} read, {report['included']:,} with an outcome, "
                 f"{report['excluded']:,} left out (empty or open outcome{': ' + excluded if excluded else ''})")
    if report["join_unmatched"]:
        lines.append(f"join: {report['join_unmatched']:,} rows matched no lookup row (their joined fields are missing)")
    if report["unreadable_values"]:
        lines.append(f"value: {report['unreadable_values']:,} unreadable values, left out of sums and means")
    lines.append(f"fields mapped: {', '.join(report['mapped_fields'])}")
    lines.append(f"base rate {pct(report['base_rate'])} ({report['positives']:,} of {report['included']:,}); "
                 f"AUC of the score {num(report['auc'], 3)}; mean coverage {pct(report['overall']['coverage'])}")
    lines += ["", "all profiles (out = qualifies for no profile)", _header(money)]
    lines += [_group_line(r["tier"], r, money) for r in report["tiers"]]
    lines.append(f"  tiers monotonic: {'yes' if report['monotonic'] else 'NO'}")
    for prof in report["profiles"]:
        if not prof["n"]:
            lines += ["", f"profile {prof['profile']}: no records"]
            continue
        thresholds = ", ".join(f"{k} {v}" for k, v in prof["thresholds"].items())
        lines += ["", f"profile {prof['profile']} ({thresholds}): {prof['n']:,} records, rate {pct(prof['rate'])}, "
                      f"AUC {num(prof['auc'], 3)}, tiers monotonic: {'yes' if prof['monotonic'] else 'NO'}", _header(money)]
        lines += [_group_line(r["tier"], r, money) for r in prof["tiers"]]
        lines.append(f"  {'criterion':<34} {'weight':>6}  {'holds: n':>9} {'rate':>7} {'lift':>5}  {'fails: n':>9} {'rate':>7} {'lift':>5}  {'unknown: n':>10} {'rate':>7}")
        for c in prof["criteria"]:
            weight = "excl" if c["role"] == "exclusion" else ("req" if c["required"] and not c["weight"] else str(c["weight"]))
            h, f, u = c["holds"], c["fails"], c["unknown"]
            lines.append(f"  {c['id'][:34]:<34} {weight:>6}  {h['n']:>9,} {pct(h['rate']):>7} {num(h['lift']):>5}  "
                         f"{f['n']:>9,} {pct(f['rate']):>7} {num(f['lift']):>5}  {u['n']:>10,} {pct(u['rate']):>7}")
    return "\n".join(lines)
