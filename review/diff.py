"""``icp diff OLD NEW --records FILE``: replay the same records through two profile versions.

A version is a profiles folder, a bundle file, or ``git:REV:PATH`` (the folder ``PATH`` as it
was at revision ``REV``, exported with ``git archive`` into a temporary folder). The records are
scored by both bundles with the engine; a record's group is its tier when it qualifies, ``out``
otherwise; it *moved up* when its new group comes earlier in the order A, B, C, D, out. Why it
moved is read from the two answers: a change of best profile, criteria whose outcome changed
(a new value list or bound), whose weight or ``required`` changed, criteria added or removed,
and changed tier thresholds.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from cli.records import InputError
from compiler.bundle import Bundle
from review.backtest import OUT, tier_order
from review.data import POSITIVE, Dataset, Scores
from review.stats import rate, wilson
from runtime.finish import OUTCOME_NAMES

GIT_PREFIX = "git:"


def resolve_version(source: str, workdir: Path) -> Path:
    """A folder or bundle path; ``git:REV:PATH`` is exported into ``workdir`` first."""
    if not source.startswith(GIT_PREFIX):
        return Path(source)
    rev, sep, path = source[len(GIT_PREFIX):].partition(":")
    if not sep or not rev:
        raise InputError(f"{source}: write git:REV:PATH, e.g. git:HEAD~1:profiles/")
    path = path.strip("/") or "."
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", f"{rev}:./{path}" if path != "." else rev],
                                 capture_output=True, check=True).stdout
    except FileNotFoundError as error:
        raise InputError("git is not installed") from error
    except subprocess.CalledProcessError as error:
        raise InputError(f"{source}: git archive failed: {error.stderr.decode(errors='replace').strip()}") from error
    target = Path(tempfile.mkdtemp(prefix="icp-diff-", dir=workdir))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def _items(profile: dict[str, Any]) -> list[dict[str, Any]]:
    return list(profile["criteria"]) + list(profile["exclusions"])


def _why(old: Scores, new: Scores, i: int) -> list[str]:
    """What differs between the two answers of record ``i``."""
    old_p = old.bundle.meta["profiles"][old.profile[i]]
    new_p = new.bundle.meta["profiles"][new.profile[i]]
    reasons: list[str] = []
    if old_p["id"] != new_p["id"]:
        reasons.append(f"best profile {old_p['id']} -> {new_p['id']}")
    if bool(old.qualified[i]) != bool(new.qualified[i]):
        reasons.append("now qualifies" if new.qualified[i] else "no longer qualifies")
    before = {item["id"]: (item, int(old.reasons[i, j])) for j, item in enumerate(_items(old_p))}
    after = {item["id"]: (item, int(new.reasons[i, j])) for j, item in enumerate(_items(new_p))}
    if old_p["id"] == new_p["id"]:
        for cid, (item, outcome) in after.items():
            if cid not in before:
                reasons.append(f"{new_p['id']}: added {cid} ({OUTCOME_NAMES[outcome]})")
                continue
            was, was_outcome = before[cid]
            if was_outcome != outcome:
                reasons.append(f"{new_p['id']}: {cid} {OUTCOME_NAMES[was_outcome]} -> {OUTCOME_NAMES[outcome]}")
            if was["weight"] != item["weight"] and HOLDS_NAME in (OUTCOME_NAMES[was_outcome], OUTCOME_NAMES[outcome]):
                reasons.append(f"{new_p['id']}: {cid} weight {was['weight']} -> {item['weight']}")
            if was["required"] != item["required"]:
                reasons.append(f"{new_p['id']}: {cid} required {was['required']} -> {item['required']}")
        for cid, (_, outcome) in before.items():
            if cid not in after:
                reasons.append(f"{new_p['id']}: removed {cid} (was {OUTCOME_NAMES[outcome]})")
        if old_p["positive_points"] != new_p["positive_points"]:
            reasons.append(f"{new_p['id']}: positive points {old_p['positive_points']} -> {new_p['positive_points']}")
        if [list(t) for t in old_p["tiers"]] != [list(t) for t in new_p["tiers"]]:
            reasons.append(f"{new_p['id']}: tier thresholds {_thresholds(old_p)} -> {_thresholds(new_p)}")
    return reasons


HOLDS_NAME = "holds"


def _thresholds(profile: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{n}: {t}" for n, t in profile["tiers"]) + "}"


def _outcome_row(data: Dataset, mask: np.ndarray) -> dict[str, Any]:
    chosen = mask & data.included
    n = int(chosen.sum())
    positives = int((data.label[chosen] == POSITIVE).sum())
    interval = wilson(positives, n)
    return {"records": int(mask.sum()), "with_outcome": n, "positives": positives, "rate": rate(positives, n),
            "ci_low": interval[0] if interval else None, "ci_high": interval[1] if interval else None}


def diff(data: Dataset, limit: int = 20) -> dict[str, Any]:
    """Tier transition matrix, moved records and why, and their outcome rates."""
    old, new = data.scores
    labels = tier_order(old)
    labels += [t for t in tier_order(new) if t not in labels]
    labels = [t for t in labels if t != OUT] + [OUT]
    index = {t: k for k, t in enumerate(labels)}
    before = np.array([index[t] for t in old.group()], np.int64)
    after = np.array([index[t] for t in new.group()], np.int64)
    matrix = np.zeros((len(labels), len(labels)), np.int64)
    np.add.at(matrix, (before, after), 1)
    up, down = after < before, after > before
    old_ids, new_ids = old.profile_ids, new.profile_ids
    profile_changed = np.array([old_ids[a] != new_ids[b] for a, b in zip(old.profile, new.profile, strict=True)], bool)
    score_changed = old.score_tenths != new.score_tenths
    changed = up | down | profile_changed | score_changed
    causes: Counter[str] = Counter()
    moved: list[dict[str, Any]] = []
    for i in np.flatnonzero(changed):
        why = _why(old, new, int(i))
        causes.update(why)
        if (up[i] or down[i]) and len(moved) < limit:
            moved.append({"id": data.ids[i], "old": f"{old_ids[old.profile[i]]} {labels[before[i]]} {old.score_tenths[i] / 10}",
                          "new": f"{new_ids[new.profile[i]]} {labels[after[i]]} {new.score_tenths[i] / 10}",
                          "direction": "up" if up[i] else "down",
                          "outcome": {1: "positive", 0: "negative", -1: ""}[int(data.label[i])], "why": why})
    return {
        "source": str(data.source), "old_version": old.bundle.version, "new_version": new.bundle.version,
        "records": data.rows, "labels": labels, "matrix": matrix.tolist(),
        "moved_up": _outcome_row(data, up), "moved_down": _outcome_row(data, down),
        "unchanged": _outcome_row(data, ~(up | down)),
        "score_changed": int(score_changed.sum()), "profile_changed": int(profile_changed.sum()),
        "causes": causes.most_common(), "moved": moved,
    }


def render_text(report: dict[str, Any]) -> str:
    labels = report["labels"]
    corner = "old/new"
    lines = [f"what-if replay of {report['records']:,} records from {report['source']}",
             f"old bundle {report['old_version']}  ->  new bundle {report['new_version']}", "",
             "tier transitions (rows: old, columns: new; out = qualifies for no profile)",
             "  " + f"{corner:<10}" + "".join(f"{t:>9}" for t in labels) + f"{'total':>9}"]
    for t, row in zip(labels, report["matrix"], strict=True):
        lines.append(f"  {t:<10}" + "".join(f"{c:>9,}" for c in row) + f"{sum(row):>9,}")
    lines.append("")
    for name in ("moved_up", "moved_down", "unchanged"):
        r = report[name]
        outcome = "" if not r["with_outcome"] else (
            f"; outcome rate {100 * r['rate']:.1f}% [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}] "
            f"({r['positives']:,} of {r['with_outcome']:,} with an outcome)")
        lines.append(f"{name.replace('_', ' '):<11} {r['records']:>8,} records{outcome}")
    lines.append(f"scores changed for {report['score_changed']:,} records; best profile changed for {report['profile_changed']:,}")
    if report["causes"]:
        lines += ["", "what changed (records whose answer it touches)"]
        lines += [f"  {count:>8,}  {cause}" for cause, count in report["causes"][:25]]
    if report["moved"]:
        lines += ["", f"records that changed tier (first {len(report['moved'])})"]
        for m in report["moved"]:
            outcome = f"  [{m['outcome']}]" if m["outcome"] else ""
            lines.append(f"  {m['direction']:<4} {m['id']}: {m['old']} -> {m['new']}{outcome}")
            lines += [f"         {w}" for w in m["why"]]
    return "\n".join(lines)


def load_versions(old: str, new: str, workdir: Path) -> tuple[Bundle, Bundle]:
    from compiler.pipeline import open_bundle

    return open_bundle(resolve_version(old, workdir)), open_bundle(resolve_version(new, workdir))
