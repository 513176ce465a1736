"""Profile examples (``examples:`` in a profile), judged against the whole bundle.

Used by ``icp test`` and by the server before it activates a reloaded bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.bundle import Bundle
from compiler.values import ParseOptions, Unreadable, parse_number
from runtime.engine import Scorer

EXPECTABLE = ("profile", "qualified", "tier", "action", "queue", "escalate", "score")


@dataclass(frozen=True)
class ExampleFailure:
    profile: str
    origin: str
    differences: dict[str, tuple[Any, Any]]  # key → (expected, actual)
    answer: dict[str, Any]

    def render(self) -> str:
        lines = [f"{self.origin}: example of profile '{self.profile}' failed"]
        for key, (expected, actual) in self.differences.items():
            lines.append(f"    {key}: expected {expected!r}, got {actual!r}")
        reasons = ", ".join(f"{cid}={outcome}" for cid, outcome in self.answer["reasons"])
        lines.append(f"    (scored {self.answer['score']} against '{self.answer['profile']}': {reasons})")
        return "\n".join(lines)


def _unreadable_numbers(bundle: Bundle, record: dict[str, Any]) -> list[tuple[str, str]]:
    """An example whose record cannot be read tests nothing: say so instead of scoring it as missing."""
    found = []
    for field in bundle.meta["fields"]:
        if field["type"] == "number" and field["name"] in record:
            value = parse_number(record[field["name"]], field["parse"], ParseOptions.from_meta(field.get("parse_options")))
            if isinstance(value, Unreadable):
                found.append((field["name"], f"cannot read {value.raw!r}: {value.reason}"))
    return found


def run_examples(bundle: Bundle) -> tuple[int, list[ExampleFailure]]:
    """Score every example record; return how many ran and the ones that differ."""
    cases = [(p["id"], example) for p in bundle.meta["profiles"] for example in p["examples"]]
    if not cases:
        return 0, []
    scored = Scorer(bundle).score([example["record"] for _, example in cases])
    failures = []
    for i, (profile_id, example) in enumerate(cases):
        answer = scored.results.answer(i)
        problems = [p for p in scored.encoded.problems if p.record == i]
        differences = {
            key: (expected, answer[key])
            for key, expected in example["expect"].items()
            if key in EXPECTABLE and answer[key] != expected
        }
        for problem in problems:
            differences[f"record.{problem.field}"] = ("a valid value", problem.message)
        for name, reason in _unreadable_numbers(bundle, example["record"]):
            differences[f"record.{name}"] = ("a readable value", reason)
        if differences:
            failures.append(ExampleFailure(profile_id, example["origin"], differences, answer))
    return len(cases), failures
