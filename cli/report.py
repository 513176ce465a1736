"""The end-of-run summary of ``icp score``: tiers, routes, and data quality per field."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from runtime.encode import FieldQuality

TOP_VALUES = 5


@dataclass
class RunSummary:
    records: int = 0
    tiers: Counter[tuple[str, str, bool]] = field(default_factory=Counter)  # (profile, tier, qualified)
    routes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (action, queue)
    out_of_icp: int = 0
    problems: int = 0
    quality: dict[str, FieldQuality] = field(default_factory=dict)

    def add_quality(self, quality: dict[str, FieldQuality]) -> None:
        for name, counts in quality.items():
            self.quality.setdefault(name, FieldQuality()).merge(counts)

    def as_dict(self, mapped: set[str]) -> dict[str, Any]:
        return {
            "records": self.records,
            "out_of_icp": self.out_of_icp,
            "invalid_values": self.problems,
            "tiers": [
                {"profile": p, "tier": t, "qualified": q, "records": n} for (p, t, q), n in sorted(self.tiers.items())
            ],
            "routes": [{"action": a, "queue": q, "records": n} for (a, q), n in sorted(self.routes.items())],
            "fields": {
                name: {
                    "mapped": name in mapped,
                    "present": q.present,
                    "missing": q.missing,
                    "unreadable": q.unreadable,
                    "unlisted": q.unlisted,
                    "top_unlisted": q.unlisted_values.most_common(TOP_VALUES),
                    "suggestions": [
                        {"value": v, "records": c, "suggestion": s} for v, c, s in q.suggestions(TOP_VALUES) if s is not None
                    ],
                    "top_unreadable": q.unreadable_values.most_common(TOP_VALUES),
                }
                for name, q in self.quality.items()
            },
        }

    def render(self, mapped: set[str]) -> str:
        n = max(self.records, 1)
        lines = [f"scored {self.records} records ({self.out_of_icp} out of ICP)"]
        lines.append("\nqualified, by best profile and tier:")
        lines += [f"  {p:<28} {t:<3} {c:>9}  {100 * c / n:5.1f}%" for (p, t, ok), c in sorted(self.tiers.items()) if ok]
        closest: Counter[str] = Counter()
        for (p, _, ok), c in self.tiers.items():
            if not ok:
                closest[p] += c
        if closest:
            lines.append("\nout of ICP, by closest profile:")
            lines += [f"  {p:<32} {c:>9}  {100 * c / n:5.1f}%" for p, c in sorted(closest.items())]
        lines.append("\nby route:")
        lines += [f"  {a:<12} {q or '-':<24} {c:>9}  {100 * c / n:5.1f}%" for (a, q), c in sorted(self.routes.items())]
        lines.append("\ndata quality (share of records):")
        lines.append(f"  {'field':<16} {'missing':>8} {'unreadable':>11} {'unlisted':>9}  most frequent unlisted (no profile or taxonomy names them, → a close field value) / unreadable")
        for name, q in self.quality.items():
            if name not in mapped:
                lines.append(f"  {name:<16} {'(no column)':>8}")
                continue
            suggested = {v: s for v, _, s in q.suggestions(TOP_VALUES) if s is not None}
            top = ", ".join(
                f"{v!r}×{c}" + (f" → {suggested[v]}?" if v in suggested else "")
                for v, c in (q.unlisted_values + q.unreadable_values).most_common(TOP_VALUES)
            )
            lines.append(
                f"  {name:<16} {100 * q.missing / n:7.1f}% {100 * q.unreadable / n:10.1f}% {100 * q.unlisted / n:8.1f}%  {top}"
            )
        if self.problems:
            lines.append(f"\n{self.problems} values had the wrong shape (a list where one value was expected...): read as missing")
        return "\n".join(lines)
