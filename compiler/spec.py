"""The validated, normalised form of profiles: what the documents *mean*.

Produced by :mod:`compiler.validate`; read by :mod:`compiler.tables` (to build
arrays) and by :mod:`runtime.reference` (the slow evaluator that never sees
the arrays). Values here are canonical: taxonomy node ids for closed fields,
value keys for open ones, floats with ±inf for number bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from compiler.schema import Schema

CATEGORY_OPS = ("in", "not_in")
SET_OPS = ("any", "all", "none", "at_least")
NUMBER_OPS = ("min", "max", "between")
PARTIAL_MODES = ("unknown", "overlap", "within")
DEFAULT_TIERS: tuple[tuple[str, int], ...] = (("A", 80), ("B", 60), ("C", 40), ("D", 0))
DEFAULT_ACTION = "self_serve"


@dataclass(frozen=True)
class Condition:
    """A test of one field that yields holds / fails / unknown."""

    field: str
    op: str  # in, not_in, any, all, none, at_least, range
    values: tuple[str, ...] = ()
    count: int = 0  # at_least
    lo: float = -math.inf
    hi: float = math.inf
    partial: str = "unknown"  # number: what a partly overlapping record range gives

    def describe(self) -> str:
        if self.op == "range":
            return f"{self.field} {_describe_range(self.lo, self.hi)}"
        if self.op == "at_least":
            return f"{self.field} at least {self.count} of {', '.join(self.values)}"
        return f"{self.field} {self.op.replace('_', ' ')} {', '.join(self.values)}"


def _describe_range(lo: float, hi: float) -> str:
    if math.isinf(lo):
        return f"<= {hi:g}"
    if math.isinf(hi):
        return f">= {lo:g}"
    return f"between {lo:g} and {hi:g}"


@dataclass(frozen=True)
class Criterion:
    id: str
    label: str
    condition: Condition
    weight: int = 0
    required: bool = False
    on_unknown: str = "fail"  # required: fail | pass; exclusions: ignore | exclude


@dataclass(frozen=True)
class RouteRule:
    action: str
    queue: str | None = None
    tiers: tuple[str, ...] | None = None
    profiles: tuple[str, ...] | None = None
    qualified: bool | None = True  # None: either
    conditions: tuple[Condition, ...] = ()
    escalate: bool = False
    escalate_if: tuple[Condition, ...] = ()
    origin: str = ""  # file:path, for explanations

    @property
    def unconditional(self) -> bool:
        return self.tiers is None and self.profiles is None and not self.conditions


@dataclass(frozen=True)
class Example:
    record: dict[str, Any]
    expect: dict[str, Any]
    origin: str  # file:line


@dataclass(frozen=True)
class ProfileSpec:
    id: str
    name: str
    owner: str
    description: str
    priority: int
    criteria: tuple[Criterion, ...]
    exclusions: tuple[Criterion, ...]
    tiers: tuple[tuple[str, int], ...]  # descending thresholds, the last one 0
    route: tuple[RouteRule, ...]
    examples: tuple[Example, ...]
    file: str

    @property
    def positive_points(self) -> int:
        return sum(c.weight for c in self.criteria if c.weight > 0)


@dataclass(frozen=True)
class BundleSpec:
    """Everything a compile read, validated: the input of the tables stage."""

    schema: Schema
    profiles: tuple[ProfileSpec, ...]  # in ranking order: priority descending, then id
    route: tuple[RouteRule, ...]  # the global routing file's rules
    open_values: dict[str, tuple[str, ...]] = field(default_factory=dict)  # open field → keys named
