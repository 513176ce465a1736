"""``icp calibrate``: suggest tier thresholds from the score distribution.

Per profile, over the records that qualify for it as their best profile (the ones its tiers
route; a threshold change does not change which profile is best, since the best profile is
chosen by score, not tier). Thresholds are whole scores, as in the profile language, and a tier
holds exactly when ``max(earned, 0) × 100 ≥ threshold × positive points``.

- ``--shares 10,20,30,40``: the thresholds whose cumulative shares (A; A+B; A+B+C) come nearest
  to the targets, each strictly below the one above it;
- ``--capacity N`` (tier-A records per week, from the span of ``--date``): the lowest A threshold
  that keeps tier A at or under N × weeks records; lower thresholds are kept (pushed below A if
  need be).

The outcome rate each choice gives is shown beside the current thresholds. The suggestion is
printed as YAML; profile files are never rewritten.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from review.data import POSITIVE, Dataset, Scores
from review.stats import rate, wilson


def share_at(clamped: np.ndarray, positive: int, threshold: int) -> int:
    """How many records reach ``threshold`` (exactly as the engine compares)."""
    return int((clamped * 100 >= threshold * positive).sum())


def by_shares(clamped: np.ndarray, positive: int, shares: list[float]) -> list[int]:
    """Thresholds (one per tier but the last) whose cumulative shares come nearest the targets."""
    total = sum(shares)
    n = len(clamped)
    thresholds: list[int] = []
    cumulative = 0.0
    upper = 101
    for k, share in enumerate(shares[:-1]):
        cumulative += share / total
        room = len(shares) - 2 - k  # thresholds still to place below this one (each ≥ 1)
        candidates = range(upper - 1, room, -1)
        best = min(candidates, key=lambda t: (abs(share_at(clamped, positive, t) / max(n, 1) - cumulative), -t))
        thresholds.append(best)
        upper = best
    return thresholds


def by_capacity(clamped: np.ndarray, positive: int, allowed: int, current: list[int]) -> tuple[list[int], bool]:
    """The lowest A threshold keeping tier A ≤ ``allowed``; False when even 100 keeps more."""
    fits = [t for t in range(1, 101) if share_at(clamped, positive, t) <= allowed]
    thresholds = [max(min(fits) if fits else 100, len(current))]
    for k, t in enumerate(current[1:], start=1):
        thresholds.append(max(min(t, thresholds[-1] - 1), len(current) - k))
    return thresholds, bool(fits)


def weeks_spanned(dates: list[dt.date | None]) -> float | None:
    known = [d for d in dates if d is not None]
    if not known:
        return None
    return ((max(known) - min(known)).days + 1) / 7


def tier_rows(names: list[str], thresholds: list[int], clamped: np.ndarray, positive: int, label: np.ndarray) -> list[dict[str, Any]]:
    """Count, share and outcome rate per tier for these thresholds (the last tier starts at 0)."""
    cuts = [*thresholds, 0]
    tier = np.full(len(clamped), len(names) - 1, np.int64)
    for k in reversed(range(len(names))):
        tier[clamped * 100 >= cuts[k] * positive] = k
    rows = []
    for k, name in enumerate(names):
        mask = tier == k
        with_outcome = mask & (label >= 0)
        n_out = int(with_outcome.sum())
        positives = int((label[with_outcome] == POSITIVE).sum())
        interval = wilson(positives, n_out)
        rows.append({"tier": name, "threshold": cuts[k], "n": int(mask.sum()),
                     "share": int(mask.sum()) / len(clamped) if len(clamped) else None,
                     "with_outcome": n_out, "positives": positives, "rate": rate(positives, n_out),
                     "ci_low": interval[0] if interval else None, "ci_high": interval[1] if interval else None})
    return rows


def calibrate(data: Dataset, shares: list[float] | None = None, capacity: float | None = None, profile_ids: list[str] | None = None) -> dict[str, Any]:
    scores: Scores = data.scores[0]
    weeks = weeks_spanned(data.date)
    report: dict[str, Any] = {"source": str(data.source), "bundle_version": scores.bundle.version, "rows": data.rows,
                              "weeks": weeks, "shares": shares, "capacity": capacity, "profiles": []}
    if capacity is not None and weeks is None:
        from cli.records import InputError

        raise InputError("--capacity needs --date COLUMN with readable dates (YYYY-MM-DD or M/D/YYYY)")
    for p, profile in enumerate(scores.bundle.meta["profiles"]):
        if profile_ids and profile["id"] not in profile_ids:
            continue
        mine = (scores.profile == p) & scores.qualified
        clamped = np.maximum(scores.earned[mine], 0)
        positive = int(profile["positive_points"])
        label = data.label[mine]
        names = [str(n) for n, _ in profile["tiers"]]
        current = [int(t) for _, t in profile["tiers"]][:-1]
        entry: dict[str, Any] = {"profile": profile["id"], "file": profile.get("file"), "n": int(mine.sum()),
                                 "current": tier_rows(names, current, clamped, positive, label)}
        if shares is not None:
            if len(shares) not in (len(names), len(names) - 1):
                from cli.records import InputError

                raise InputError(f"--shares: profile {profile['id']} has {len(names)} tiers ({', '.join(names)}); give {len(names)} shares")
            full = shares if len(shares) == len(names) else [*shares, max(100 - sum(shares), 0)]
            suggested = by_shares(clamped, positive, full)
            entry["note"] = None
        else:
            assert capacity is not None and weeks is not None
            allowed = math.floor(capacity * weeks)
            suggested, fits = by_capacity(clamped, positive, allowed, current)
            entry["allowed_a"] = allowed
            entry["note"] = None if fits else f"even a threshold of 100 puts more than {allowed} records in tier A"
        entry["suggested"] = tier_rows(names, suggested, clamped, positive, label)
        entry["yaml"] = "tiers: {" + ", ".join(f"{n}: {t}" for n, t in zip(names, suggested, strict=False)) + "}"
        report["profiles"].append(entry)
    return report


def render_text(report: dict[str, Any]) -> str:
    lines = [f"calibration of bundle {report['bundle_version']} on {report['source']} ({report['rows']:,} records)"]
    if report["shares"] is not None:
        lines.append(f"target shares per tier: {', '.join(f'{s:g}' for s in report['shares'])} (of each profile's qualified records)")
    else:
        lines.append(f"capacity: at most {report['capacity']:g} tier-A records per week; the file spans {report['weeks']:.1f} weeks")
    yaml_lines = ["", "# suggested thresholds (paste into each profile file; nothing was rewritten)"]
    for entry in report["profiles"]:
        lines += ["", f"profile {entry['profile']}: {entry['n']:,} qualified records" + (f"; tier A allowed {entry['allowed_a']:,}" if "allowed_a" in entry else "")]
        if entry["note"]:
            lines.append(f"  note: {entry['note']}")
        lines.append(f"  {'':<10} {'tier':<5} {'from':>5} {'records':>8} {'share':>7} {'rate':>7} {'95% CI':>14}")
        for name in ("current", "suggested"):
            for r in entry[name]:
                share = "-" if r["share"] is None else f"{100 * r['share']:.1f}%"
                rate_text = "-" if r["rate"] is None else f"{100 * r['rate']:.1f}%"
                ci = "-" if r["ci_low"] is None else f"[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]"
                lines.append(f"  {name:<10} {r['tier']:<5} {r['threshold']:>5} {r['n']:>8,} {share:>7} {rate_text:>7} {ci:>14}")
        yaml_lines += [f"# {entry['profile']} ({entry['file']})", entry["yaml"]]
    return "\n".join(lines + yaml_lines)
