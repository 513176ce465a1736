"""Finishing: kernel outputs → answers (score, tier, coverage, route, reasons).

Input: the bundle, the encoded columns and :class:`KernelOutput`. Output:
:class:`Results`, columnar NumPy arrays with :meth:`Results.answer` turning one
record's row into a plain dict (for the CLI, the server and ``icp test``).
Nothing here is hot enough for Numba: large batches take a few vectorised
passes per profile and per routing rule; small ones (a unary ``Score``) are
finished record by record (:func:`finish_row`) over constants prepared once per
bundle, since the passes' fixed cost (~150 µs) would dwarf one record's work.

Scores compare exactly: ``score = 100 × max(earned, 0) ÷ positive points``,
shown to one decimal (half up); a tier holds when
``max(earned, 0) × 100 ≥ threshold × positive points``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from compiler.bundle import Bundle
from compiler.spec import DEFAULT_ACTION
from runtime.kernels import FAILS, HOLDS, SMALL_BATCH, UNKNOWN, Columns, score_records, score_records_holding_gil
from runtime.plan import plan_for

OUTCOME_NAMES = {FAILS: "fails", HOLDS: "holds", UNKNOWN: "unknown"}


@dataclass
class KernelOutput:
    best: np.ndarray
    earned: np.ndarray
    known: np.ndarray
    qualified: np.ndarray
    reasons: np.ndarray  # int8[n, m]: the best profile's criteria then exclusions (-1 padded)
    route_outcomes: np.ndarray  # int8[n, R]: every routing condition
    all_earned: np.ndarray
    all_known: np.ndarray
    all_qualified: np.ndarray


def first_route_row(bundle: Bundle) -> int:
    """Routing conditions are the table rows after the last profile's exclusions."""
    ends = bundle.tables.prof_excl_end
    return int(ends[-1]) if len(ends) else 0


def run_kernel(bundle: Bundle, columns: Columns, per_profile: bool = False) -> KernelOutput:
    plan = plan_for(bundle)
    n, n_profiles = columns.cat_codes.shape[0], plan.n_profiles
    shape = (n, n_profiles) if per_profile else (0, 0)
    out = KernelOutput(
        np.empty(n, np.int32), np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.uint8),
        np.empty((n, plan.n_reasons), np.int8), np.empty((n, plan.n_route), np.int8),
        np.empty(shape, np.int64), np.empty(shape, np.int64), np.empty(shape, np.uint8),
    )
    cat_codes, num_lo, num_hi, set_bits, set_present = columns
    kernel = score_records_holding_gil if n <= SMALL_BATCH else score_records
    kernel(
        plan.ints, plan.floats, plan.masks, plan.outcomes, plan.table, cat_codes, num_lo, num_hi, set_bits, set_present,
        out.best, out.earned, out.known, out.qualified, out.reasons, out.route_outcomes,
        out.all_earned, out.all_known, out.all_qualified,
    )
    return out


def score_tenths(earned: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """``round(1000 × max(earned, 0) / positive)`` half up, in integers (score × 10)."""
    clamped = np.maximum(earned, 0)
    return (2000 * clamped + positive) // (2 * positive)


@dataclass
class Results:
    bundle: Bundle
    kernel: KernelOutput
    score_tenths: np.ndarray  # int64[n]
    tier: np.ndarray  # object[n] tier names
    coverage: np.ndarray  # float64[n]
    reasons: np.ndarray  # int8[n, m] outcomes of the best profile's criteria then exclusions (-1 pad)
    disqualified_by: np.ndarray  # int32[n] position in reasons of what disqualified it, or -1
    action: np.ndarray  # object[n]
    queue: np.ndarray  # object[n] (None when the rule names none)
    escalate: np.ndarray  # bool[n]

    @property
    def size(self) -> int:
        return len(self.tier)

    def disqualifier_items(self) -> np.ndarray:
        """Per record, what disqualified it as an index among all profiles' items laid end to end
        (``Finishing.item_starts``), or -1 when it qualifies."""
        starts = finishing_for(self.bundle).item_starts
        return np.where(self.kernel.qualified.astype(bool), -1, starts[self.kernel.best] + np.maximum(self.disqualified_by, 0))

    def answer(self, i: int, explain: bool = False, per_profile: bool = False) -> dict[str, Any]:
        profile = self.bundle.meta["profiles"][self.kernel.best[i]]
        items = profile["criteria"] + profile["exclusions"]
        outcomes = [int(o) for o in self.reasons[i, : len(items)]]
        qualified = bool(self.kernel.qualified[i])
        answer: dict[str, Any] = {
            "profile": profile["id"],
            "qualified": qualified,
            "score": int(self.score_tenths[i]) / 10,
            "tier": self.tier[i],
            "coverage": round(float(self.coverage[i]), 4),
            "action": self.action[i],
            "queue": self.queue[i],
            "escalate": bool(self.escalate[i]),
            "disqualified_by": None if qualified else items[self.disqualified_by[i]]["id"],
            "reasons": [[item["id"], OUTCOME_NAMES[o]] for item, o in zip(items, outcomes, strict=True)],
            "version": self.bundle.version,
        }
        if explain:
            answer["explain"] = _explain(profile, items, outcomes, int(self.kernel.earned[i]))
        if per_profile and self.kernel.all_earned.shape[0]:
            answer["profiles"] = _per_profile(self.bundle, self.kernel, i)
            answer["runner_up"] = answer["profiles"][1]["profile"] if len(answer["profiles"]) > 1 else None
        return answer


def _explain(profile: dict[str, Any], items: list[dict[str, Any]], outcomes: list[int], earned: int) -> dict[str, Any]:
    """Labelled reasons with points, and what would lift the record to the next tier."""
    reasons = [
        {
            "id": item["id"],
            "label": item["label"],
            "role": item["role"],
            "outcome": OUTCOME_NAMES[o],
            "points": item["weight"] if o == HOLDS else 0,
            "weight": item["weight"],
            "required": item["required"],
        }
        for item, o in zip(items, outcomes, strict=True)
    ]
    positive = profile["positive_points"]
    clamped = max(earned, 0)
    next_tier = None
    for name, threshold in reversed(profile["tiers"]):
        if clamped * 100 < threshold * positive:
            needed = -(-threshold * positive // 100) - earned
            candidates = [r for r in reasons if r["role"] == "criterion" and r["outcome"] != "holds" and r["weight"] > 0]
            next_tier = {"tier": name, "points_needed": needed, "candidates": [
                {"id": r["id"], "label": r["label"], "weight": r["weight"], "outcome": r["outcome"]}
                for r in sorted(candidates, key=lambda r: -r["weight"])
            ]}
            break
    return {"earned": earned, "positive_points": positive, "reasons": reasons, "next_tier": next_tier}


def _per_profile(bundle: Bundle, kernel: KernelOutput, i: int) -> list[dict[str, Any]]:
    """Every profile's score for record ``i``, ranked as the kernel ranks them (qualified first,
    then score, then priority and id, which is the bundle's profile order)."""
    rows = []
    rank: dict[str, tuple[bool, Fraction, int]] = {}
    for p, profile in enumerate(bundle.meta["profiles"]):
        positive = profile["positive_points"]
        earned = int(kernel.all_earned[i, p])
        rows.append({
            "profile": profile["id"],
            "score": int(score_tenths(np.array([earned]), np.array([positive]))[0]) / 10,
            "tier": _tier_name(profile, earned),
            "qualified": bool(kernel.all_qualified[i, p]),
            "coverage": round(int(kernel.all_known[i, p]) / positive, 4),
        })
        rank[profile["id"]] = (not kernel.all_qualified[i, p], -Fraction(max(earned, 0), positive), p)
    return sorted(rows, key=lambda row: rank[row["profile"]])


def _tier_name(profile: dict[str, Any], earned: int) -> str:
    clamped = max(earned, 0)
    for name, threshold in profile["tiers"]:
        if clamped * 100 >= threshold * profile["positive_points"]:
            return str(name)
    return str(profile["tiers"][-1][0])


# Batches up to this size are finished record by record (see _finish_rows). Measured on the bundled
# profiles: ~2 µs a record that way against ~160 µs (1 record) to ~650 µs (128) for the vectorised
# passes, which win only past ~128 records.
ROW_BY_ROW_MAX = 64


def finish(bundle: Bundle, kernel: KernelOutput) -> Results:
    """Turn kernel outputs into scores, tiers, coverage, reasons and routes.

    Small batches (a unary ``Score`` is one record) are finished record by record over constants
    prepared once per bundle (:func:`finishing_for`); larger ones by vectorised passes per profile
    and per routing rule, whose fixed cost (~150 µs) dwarfs a few records. Both give the same
    arrays (``tests/server/test_unary_path.py`` checks them against each other)."""
    if 0 < kernel.best.shape[0] <= ROW_BY_ROW_MAX:
        return _finish_rows(bundle, kernel, finishing_for(bundle))
    return _finish_vectorised(bundle, kernel)


def _finish_vectorised(bundle: Bundle, kernel: KernelOutput) -> Results:
    meta, tables = bundle.meta, bundle.tables
    n = kernel.best.shape[0]
    positive = tables.prof_positive[kernel.best] if n else np.zeros(0, np.int64)
    tenths = score_tenths(kernel.earned, positive) if n else np.zeros(0, np.int64)
    tier_names = list(dict.fromkeys(name for profile in meta["profiles"] for name, _ in profile["tiers"]))
    tier_code = np.zeros(n, np.int64)
    for p, profile in enumerate(meta["profiles"]):
        chosen = np.flatnonzero(kernel.best == p)
        if not chosen.size:
            continue
        clamped = np.maximum(kernel.earned[chosen], 0)
        codes = np.full(chosen.shape[0], tier_names.index(profile["tiers"][-1][0]))
        for name, threshold in reversed(profile["tiers"]):
            codes[clamped * 100 >= threshold * profile["positive_points"]] = tier_names.index(name)
        tier_code[chosen] = codes
    coverage = kernel.known / np.maximum(positive, 1)
    reasons = kernel.reasons
    disqualified_by = _disqualifiers(bundle, kernel, reasons)
    action, queue, escalate = _route(bundle, kernel, tier_code, tier_names)
    tier = _objects(tuple(tier_names))[tier_code]
    return Results(bundle, kernel, tenths, tier, coverage, reasons, disqualified_by, action, queue, escalate)


def _disqualifiers(bundle: Bundle, kernel: KernelOutput, reasons: np.ndarray) -> np.ndarray:
    """Position (in the reasons row) of the first failed requirement or firing exclusion."""
    result = np.full(kernel.best.shape[0], -1, np.int32)
    for p, profile in enumerate(bundle.meta["profiles"]):
        chosen = np.flatnonzero((kernel.best == p) & (kernel.qualified == 0))
        if not chosen.size:
            continue
        items = profile["criteria"] + profile["exclusions"]
        outcomes = reasons[chosen, : len(items)]
        blocks = np.zeros(outcomes.shape, bool)
        for j, item in enumerate(items):
            o = outcomes[:, j]
            if item["role"] == "exclusion":
                blocks[:, j] = (o == HOLDS) | ((o == UNKNOWN) & (item["on_unknown"] == "exclude"))
            elif item["required"]:
                blocks[:, j] = (o == FAILS) | ((o == UNKNOWN) & (item["on_unknown"] == "fail"))
        result[chosen] = np.argmax(blocks, axis=1)
    return result


def _route(bundle: Bundle, kernel: KernelOutput, tier_code: np.ndarray, tier_names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First matching rule per record: its best profile's own rules, then the global ones.

    Each profile's own rules are tried on that profile's records, then every global rule once on
    all records still unrouted: the same order per record, with each global rule evaluated once
    rather than once per profile. Actions and queues are coded until the end."""
    meta = bundle.meta
    n = kernel.best.shape[0]
    rules = [rule for profile in meta["profiles"] for rule in profile["route"]] + meta["route"]
    actions = [DEFAULT_ACTION, *dict.fromkeys(rule["action"] for rule in rules)]
    queues = [None, *dict.fromkeys(rule["queue"] for rule in rules if rule["queue"] is not None)]
    action, queue, escalate = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, bool)
    offset = first_route_row(bundle)
    holds = kernel.route_outcomes == HOLDS
    qualified = kernel.qualified.astype(bool)
    ids = [p["id"] for p in meta["profiles"]]

    def matches(rule: dict[str, Any], among: np.ndarray) -> np.ndarray:
        match = among.copy()
        if rule["qualified"] is not None:
            match &= qualified == rule["qualified"]
        if rule["tiers"] is not None:
            match &= np.array([name in rule["tiers"] for name in tier_names])[tier_code]
        if rule["profiles"] is not None:
            match &= np.array([profile in rule["profiles"] for profile in ids])[kernel.best]
        for row in rule["conditions"]:
            match &= holds[:, row - offset]
        return match

    def apply(rule: dict[str, Any], match: np.ndarray) -> None:
        action[match] = actions.index(rule["action"])
        queue[match] = queues.index(rule["queue"])
        escalate[match] = rule["escalate"]
        if rule["escalate_if"]:
            escalate[match] |= np.logical_and.reduce([holds[:, r - offset] for r in rule["escalate_if"]])[match]

    pending = np.ones(n, bool)
    for p, profile in enumerate(meta["profiles"]):
        if not profile["route"]:
            continue
        mine = pending & (kernel.best == p)
        for rule in profile["route"]:
            if not mine.any():
                break
            match = matches(rule, mine)
            apply(rule, match)
            mine &= ~match
            pending &= ~match
    for rule in meta["route"]:
        if not pending.any():
            break
        match = matches(rule, pending)
        apply(rule, match)
        pending &= ~match
    return _objects(tuple(actions))[action], _objects(tuple(queues))[queue], escalate


# --- record by record: the same answers as the vectorised passes, for small batches -------------


@dataclass(frozen=True)
class _Rule:
    """A routing rule with its conditions as columns of ``KernelOutput.route_outcomes``."""

    qualified: bool | None
    tiers: frozenset[str] | None
    profiles: frozenset[str] | None
    conditions: tuple[int, ...]
    action: str
    queue: str | None
    escalate: bool
    escalate_if: tuple[int, ...]


@dataclass(frozen=True)
class _ProfileFinishing:
    id: str
    positive: int  # tables.prof_positive: scores and coverage
    tier_positive: int  # meta positive_points: tiers (the vectorised path reads each from there)
    tiers: tuple[tuple[str, int], ...]
    items: tuple[str, ...]  # criterion then exclusion ids: the reasons positions
    blocking: tuple[frozenset[int], ...]  # per reasons position: the outcomes that disqualify
    rules: tuple[_Rule, ...]  # the profile's own rules, then the global ones


@dataclass(frozen=True)
class Finishing:
    """What finishing one record needs from a bundle, prepared once per bundle version."""

    version: str
    profiles: tuple[_ProfileFinishing, ...]

    @property
    def profile_ids(self) -> list[str]:
        return [p.id for p in self.profiles]

    @property
    def item_ids(self) -> list[list[str]]:
        """Each profile's criterion and exclusion ids, in reasons order."""
        return [list(p.items) for p in self.profiles]

    @property
    def item_starts(self) -> np.ndarray:
        """Where each profile's items start among all profiles' items laid end to end (P + 1 entries)."""
        return np.cumsum([0] + [len(p.items) for p in self.profiles])


_CACHED_FINISHINGS = 8
_finishings: dict[str, Finishing] = {}
_finishings_lock = threading.Lock()  # taken only to build one (server threads finish concurrently)


def finishing_for(bundle: Bundle) -> Finishing:
    """The bundle's :class:`Finishing`, built once per version (versions hash meta and tables)."""
    found = _finishings.get(bundle.version)
    if found is None:
        with _finishings_lock:
            found = _finishings.get(bundle.version)
            if found is None:
                found = _build_finishing(bundle)
                while len(_finishings) >= _CACHED_FINISHINGS:
                    del _finishings[next(iter(_finishings))]  # the oldest
                _finishings[bundle.version] = found
    return found


def _build_finishing(bundle: Bundle) -> Finishing:
    meta = bundle.meta
    offset = first_route_row(bundle)

    def rule_of(rule: dict[str, Any]) -> _Rule:
        return _Rule(
            None if rule["qualified"] is None else bool(rule["qualified"]),
            None if rule["tiers"] is None else frozenset(rule["tiers"]),
            None if rule["profiles"] is None else frozenset(rule["profiles"]),
            tuple(int(row) - offset for row in rule["conditions"]),
            rule["action"], rule["queue"], bool(rule["escalate"]),
            tuple(int(row) - offset for row in rule["escalate_if"]),
        )

    global_rules = tuple(rule_of(rule) for rule in meta["route"])
    profiles = []
    for p, profile in enumerate(meta["profiles"]):
        blocking = []
        for item in profile["criteria"] + profile["exclusions"]:
            if item["role"] == "exclusion":
                blocking.append(frozenset({HOLDS} | ({UNKNOWN} if item["on_unknown"] == "exclude" else set())))
            elif item["required"]:
                blocking.append(frozenset({FAILS} | ({UNKNOWN} if item["on_unknown"] == "fail" else set())))
            else:
                blocking.append(frozenset())
        profiles.append(_ProfileFinishing(
            profile["id"], int(bundle.tables.prof_positive[p]), int(profile["positive_points"]),
            tuple((name, int(threshold)) for name, threshold in profile["tiers"]),
            tuple(item["id"] for item in profile["criteria"] + profile["exclusions"]), tuple(blocking),
            tuple(rule_of(rule) for rule in profile["route"]) + global_rules,
        ))
    return Finishing(bundle.version, tuple(profiles))


def finish_row(
    finishing: Finishing, best: int, earned: int, known: int, qualified: bool, outcomes: list[int], route: list[int]
) -> tuple[int, str, float, int, str, str | None, bool]:
    """One record: (score tenths, tier, coverage, disqualified_by, action, queue, escalate), as
    :func:`_finish_vectorised` gives them. ``outcomes`` is the record's reasons row, ``route`` its
    routing outcomes row."""
    profile = finishing.profiles[best]
    clamped = earned if earned > 0 else 0
    positive = profile.positive
    tenths = (2000 * clamped + positive) // (2 * positive)
    tier = profile.tiers[-1][0]
    for name, threshold in profile.tiers:
        if clamped * 100 >= threshold * profile.tier_positive:
            tier = name
            break
    coverage = known / (positive if positive > 1 else 1)
    disqualified_by = -1
    if not qualified:
        disqualified_by = 0  # as argmax of no blocking item
        for position, blocks in enumerate(profile.blocking):
            if outcomes[position] in blocks:
                disqualified_by = position
                break
    for rule in profile.rules:
        if rule.qualified is not None and rule.qualified != qualified:
            continue
        if rule.tiers is not None and tier not in rule.tiers:
            continue
        if rule.profiles is not None and profile.id not in rule.profiles:
            continue
        if any(route[column] != HOLDS for column in rule.conditions):
            continue
        escalate = rule.escalate or (bool(rule.escalate_if) and all(route[column] == HOLDS for column in rule.escalate_if))
        return tenths, tier, coverage, disqualified_by, rule.action, rule.queue, escalate
    return tenths, tier, coverage, disqualified_by, DEFAULT_ACTION, None, False


def _finish_rows(bundle: Bundle, kernel: KernelOutput, finishing: Finishing) -> Results:
    rows = [
        finish_row(finishing, *row)
        for row in zip(
            kernel.best.tolist(), kernel.earned.tolist(), kernel.known.tolist(), kernel.qualified.astype(bool).tolist(),
            kernel.reasons.tolist(), kernel.route_outcomes.tolist(), strict=True,
        )
    ]
    tenths, tier, coverage, disqualified_by, action, queue, escalate = zip(*rows, strict=True)
    return Results(
        bundle, kernel, np.array(tenths, np.int64), _objects(tier), np.array(coverage, np.float64), kernel.reasons,
        np.array(disqualified_by, np.int32), _objects(action), _objects(queue), np.array(escalate, bool),
    )


def _objects(values: tuple[Any, ...]) -> np.ndarray:
    array = np.empty(len(values), object)
    array[:] = values
    return array
