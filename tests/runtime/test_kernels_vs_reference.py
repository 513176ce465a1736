"""Differential property test: the compiled path (encoder → kernels → finishing) against the
reference evaluator, which reads the validated profiles and the taxonomies' parent links only."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runtime.plan
from compiler import compile_profiles, compile_spec
from runtime.engine import Scorer
from runtime.reference import ReferenceEvaluator
from tests.conftest import write_folder

# Codes follow definition order: 8 group nodes come first, so leaf m{c-8} has code c. The pools
# put leaves at codes 63/64 and 127/128 (the last bit of a word and the first of the next).
MARKET_LEAVES = [f"m{c - 8}" for c in (8, 9, 15, 20, 62, 63, 64, 65, 126, 127, 128, 129, 137)]
MARKET_NODES = ["all", "g0", "g0a", "g1", "g2", "g3", "g4", "g5", *MARKET_LEAVES]
# Set fields code only the values some criterion can match, so the tools' codes shift with the
# profiles; 70 tools under 4 categories still make two-word sets whenever a category is named.
TOOL_NODES = ["c0", "c1", "c2", "c3"] + [f"t{i}" for i in (0, 1, 5, 62, 63, 64, 69)]
TAGS = ["alpha", "beta", "gamma", "delta", "epsilon"]
PLANS = ["free", "pro", "enterprise"]

bounds = st.one_of(st.integers(0, 5000), st.sampled_from(["10k", "1,000", "~50"]))


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(["market", "plan", "tools", "tags", "size", "amount", "year"]))
    if field == "market":
        op = draw(st.sampled_from(["in", "not_in"]))
        return {"field": field, op: draw(st.lists(st.sampled_from(MARKET_NODES), min_size=1, max_size=3, unique=True))}
    if field == "plan":
        op = draw(st.sampled_from(["in", "not_in"]))
        return {"field": field, op: draw(st.lists(st.sampled_from(PLANS), min_size=1, max_size=2, unique=True))}
    if field in ("tools", "tags"):
        pool = TOOL_NODES if field == "tools" else TAGS
        items = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
        op = draw(st.sampled_from(["any", "all", "none", "at_least"]))
        if op == "at_least":
            return {"field": field, "at_least": draw(st.integers(1, len(items))), "of": items}
        return {"field": field, op: items}
    shape = draw(st.sampled_from(["min", "max", "both", "between"]))
    a, b = sorted(draw(st.lists(st.integers(0, 5000) if field != "year" else st.integers(1950, 2025), min_size=2, max_size=2)))
    condition: dict[str, Any] = {"field": field}
    if shape == "between":
        condition["between"] = [a, b]
    if shape in ("min", "both"):
        condition["min"] = a
    if shape in ("max", "both"):
        condition["max"] = b
    partial = draw(st.sampled_from([None, "unknown", "overlap", "within"]))
    if partial:
        condition["partial"] = partial
    return condition


@st.composite
def profiles(draw: st.DrawFn, index: int) -> dict[str, Any]:
    criteria = []
    for position in range(draw(st.integers(1, 5))):
        criterion = draw(conditions())
        criterion["id"] = f"k{position}"
        weight = draw(st.integers(1, 30)) if position == 0 else draw(st.integers(-10, 30))
        required = draw(st.booleans()) and position > 0
        if weight or not required:
            criterion["weight"] = weight or 5
        if required:
            criterion["required"] = True
            if draw(st.booleans()):
                criterion["on_unknown"] = "pass"
        criteria.append(criterion)
    exclusions = []
    for position in range(draw(st.integers(0, 2))):
        exclusion = draw(conditions())
        exclusion["id"] = f"x{position}"
        if draw(st.booleans()):
            exclusion["on_unknown"] = "exclude"
        exclusions.append(exclusion)
    thresholds = sorted(draw(st.lists(st.integers(1, 100), min_size=1, max_size=3, unique=True)), reverse=True)
    profile: dict[str, Any] = {
        "id": f"p{index}",
        "priority": draw(st.integers(0, 2)),
        "criteria": criteria,
        "tiers": {name: t for name, t in zip("ABC", thresholds, strict=False)},
    }
    if exclusions:
        profile["exclude"] = exclusions
    rules = []
    for position in range(draw(st.integers(0, 2))):
        when: dict[str, Any] = {"tier": draw(st.sampled_from(["A", ["A", "B"], "D"]))} if "B" in profile["tiers"] else {}
        if draw(st.booleans()):
            when["market"] = draw(st.lists(st.sampled_from(MARKET_NODES), min_size=1, max_size=2, unique=True))
        if not when and position == 0:
            when["tags"] = ["alpha"]
        rule: dict[str, Any] = {"when": when, "action": "aql", "queue": f"q{index}{position}"}
        if draw(st.booleans()):
            rule["escalate_if"] = {"tools": draw(st.lists(st.sampled_from(TOOL_NODES), min_size=1, max_size=2, unique=True))}
        rules.append(rule)
    if rules:
        profile["route"] = rules
    return profile


def numbers(field: str) -> st.SearchStrategy[Any]:
    if field == "year":
        return st.one_of(st.integers(1940, 2030), st.just("2013 (1888)"), st.just("19x5"))
    exact = st.integers(0, 6000)
    ranges = st.tuples(st.integers(0, 3000), st.integers(0, 3000)).map(lambda ab: f"{min(ab)}-{max(ab)}")
    return st.one_of(exact, ranges, exact.map(lambda v: f"{v}+"), st.just("5O-200"), st.just(math.nan), exact.map(float))


def category_values(pool: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(pool), st.sampled_from(pool).map(str.upper), st.just("nowhere"), st.just("N/A"), st.just(""))


def set_values(pool: list[str]) -> st.SearchStrategy[Any]:
    items = st.lists(st.one_of(st.sampled_from(pool), st.just("unheard-of")), max_size=4)
    return st.one_of(items, st.just([]), items.map(", ".join), st.just("N/A"), st.just("N/A; unknown"), st.just(["unknown"]), st.just(","))


def records() -> st.SearchStrategy[dict[str, Any]]:
    fields = {
        "market": category_values(MARKET_NODES + [f"m{i}" for i in range(40, 45)]),
        "plan": category_values(PLANS),
        "tools": set_values([*TOOL_NODES, "t30", "t31"]),
        "tags": set_values(TAGS),
        "size": numbers("size"),
        "amount": st.one_of(numbers("amount"), st.just("$1.5k"), st.just("2M")),
        "year": numbers("year"),
    }
    return st.fixed_dictionaries({}, optional=fields)


@st.composite
def bundles(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    count = draw(st.integers(1, 4))
    drawn = [draw(profiles(i)) for i in range(count)]
    routing = None
    if draw(st.booleans()):
        routing = {"route": [
            {"when": {"qualified": False, "market": ["g1"]}, "action": "enrich"},
            {"when": {"qualified": "any", "tier": "D"}, "action": "self_serve", "queue": "plg"},
            {"when": {"tier": "A"}, "action": "nurture", "queue": "global-a", "escalate": True},
        ]}
    return drawn, routing


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bundle=bundles(), batch=st.lists(records(), min_size=1, max_size=25))
def test_compiled_path_matches_reference(bundle: tuple[list[dict[str, Any]], dict[str, Any] | None], batch: list[dict[str, Any]]) -> None:
    _check_against_reference(bundle, batch)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bundle=bundles(), batch=st.lists(records(), min_size=1, max_size=25))
def test_rows_read_one_by_one_match_reference(bundle: tuple[list[dict[str, Any]], dict[str, Any] | None], batch: list[dict[str, Any]]) -> None:
    """With no room for tables, every category and number row is a loose row read one by one."""
    with _table_budget(0):
        _check_against_reference(bundle, batch)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bundle=bundles(), batch=st.lists(records(), min_size=1, max_size=25))
def test_int32_tables_match_reference(bundle: tuple[list[dict[str, Any]], dict[str, Any] | None], batch: list[dict[str, Any]]) -> None:
    """The int32 table branch (the property above gets int16 tables: its weights are small)."""
    with _plan_setting("USE_INT16", False):
        _check_against_reference(bundle, batch)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bundle=bundles(), batch=st.lists(records(), min_size=1, max_size=25))
def test_dense_set_rows_match_reference(bundle: tuple[list[dict[str, Any]], dict[str, Any] | None], batch: list[dict[str, Any]]) -> None:
    """Single-code set rows counted by popcount for all profiles at once (off by default)."""
    with _plan_setting("DENSE_SETS", True):
        _check_against_reference(bundle, batch)


def _big_weight_profiles(total: int) -> list[dict[str, Any]]:
    half = total // 2
    return [{
        "id": "big",
        "criteria": [
            {"id": "k0", "field": "size", "min": 10, "weight": half},
            {"id": "k1", "field": "plan", "in": ["pro"], "weight": total - half},
            {"id": "k2", "field": "tags", "any": ["alpha"], "weight": -1},
        ],
        "tiers": {"A": 50},
    }]


def test_int16_tables_only_when_every_total_fits(tmp_path: Path) -> None:
    """At the int16 limit the plan keeps int16 tables; one point more and it must widen to int32,
    else the totals below would wrap around (and differ from the reference)."""
    records = [{"size": 50, "plan": "pro"}, {"size": 50, "plan": "pro", "tags": ["alpha"]}, {"plan": "free"}, {}]
    for total, wide in ((32766, False), (32767, True), (40000, True)):  # bound = total + 1 (the -1 weight)
        folder = write_folder(tmp_path / str(total), _big_weight_profiles(total))
        compiled = compile_profiles(folder)
        assert runtime.plan.build_plan(compiled).wide is wide, total
        reference = ReferenceEvaluator(compile_spec(folder))
        scored = Scorer(compiled).score(records, per_profile=True)
        assert int(scored.results.kernel.all_earned[0, 0]) == total
        for i, record in enumerate(records):
            answer = scored.results.answer(i)
            answer.pop("version")
            assert answer == reference.evaluate(record), f"{total}: record {i}"


@contextmanager
def _plan_setting(name: str, value: Any) -> Iterator[None]:
    saved = getattr(runtime.plan, name)
    setattr(runtime.plan, name, value)
    runtime.plan.forget_plans()
    try:
        yield
    finally:
        setattr(runtime.plan, name, saved)
        runtime.plan.forget_plans()


@contextmanager
def _table_budget(budget: int) -> Iterator[None]:
    saved = runtime.plan.TABLE_BUDGET_BYTES
    runtime.plan.TABLE_BUDGET_BYTES = budget
    runtime.plan.forget_plans()
    try:
        yield
    finally:
        runtime.plan.TABLE_BUDGET_BYTES = saved
        runtime.plan.forget_plans()


def _check_against_reference(bundle: tuple[list[dict[str, Any]], dict[str, Any] | None], batch: list[dict[str, Any]]) -> None:
    drawn, routing = bundle
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(Path(tmp) / "profiles", drawn, routing)
        compiled = compile_profiles(folder)
        reference = ReferenceEvaluator(compile_spec(folder))
    scored = Scorer(compiled).score(batch, per_profile=True)
    kernel = scored.results.kernel
    for i, record in enumerate(batch):
        answer = scored.results.answer(i)
        answer.pop("version")
        assert answer == reference.evaluate(record), f"record {i}: {record}"
        for p, profile in enumerate(compiled.meta["profiles"]):  # every profile's totals, not only the best's
            expected = reference.profile(reference.spec.profiles[p], record)
            assert profile["id"] == expected["profile"]
            assert (kernel.all_earned[i, p], bool(kernel.all_qualified[i, p])) == (expected["earned"], expected["qualified"]), f"record {i}"
            assert round(int(kernel.all_known[i, p]) / profile["positive_points"], 4) == expected["coverage"], f"record {i}"
