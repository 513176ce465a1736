"""Stage 2b, validate and normalise: profile documents → :class:`BundleSpec`.

Input: the loaded profile documents, the global routing document (optional)
and the :class:`Schema`. Output: a ``BundleSpec`` whose values are canonical
(taxonomy node ids, value keys, float bounds), or diagnostics. Every check
reports file, line, column and the path inside the document; nothing here
raises on bad input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.diagnostics import Diagnostic, Diagnostics
from compiler.load import Document
from compiler.schema import FieldSpec, Schema
from compiler.spec import (
    CATEGORY_OPS,
    DEFAULT_TIERS,
    NUMBER_OPS,
    PARTIAL_MODES,
    SET_OPS,
    BundleSpec,
    Condition,
    Criterion,
    Example,
    ProfileSpec,
    RouteRule,
)
from compiler.suggest import closest
from compiler.text import slug, value_key
from compiler.values import NumberRange, parse_number

PROFILE_KEYS = ("id", "name", "owner", "description", "priority", "criteria", "exclude", "tiers", "route", "examples")
CRITERION_KEYS = ("id", "label", "field", "weight", "required", "on_unknown", "of", "partial", "description")
OPS_BY_TYPE = {"category": CATEGORY_OPS, "set": SET_OPS, "number": NUMBER_OPS}
RULE_KEYS = ("when", "action", "queue", "escalate", "escalate_if")
EXPECT_KEYS = ("profile", "tier", "action", "queue", "escalate", "score", "qualified")
ROUTE_BUILTINS = ("tier", "profile", "qualified")
MAX_WEIGHT = 1_000_000  # keeps every sum of points far inside int64
MAX_PROFILE_POINTS = 2**31 - 1  # a profile's points either way: the kernel adds them up in int32 (half the bytes to move)


@dataclass
class _Context:
    document: Document
    schema: Schema
    diagnostics: Diagnostics
    open_values: dict[str, set[str]]

    def report(self, code: str, path: tuple, message: str, suggestion: str | None = None, at_key: bool = False) -> None:
        self.diagnostics.add(self.document.diagnostic(code, path, message, suggestion, at_key=at_key))


def validate_bundle(
    profile_documents: Sequence[Document], routing: Document | None, schema: Schema, diagnostics: Diagnostics
) -> BundleSpec | None:
    """Validate every profile and the global routing rules; ``None`` if anything is wrong."""
    open_values: dict[str, set[str]] = {}
    profiles: list[ProfileSpec] = []
    seen: dict[str, str] = {}
    for document in profile_documents:
        context = _Context(document, schema, diagnostics, open_values)
        profile = _profile(context)
        if profile is None:
            continue
        if profile.id in seen:
            context.report("duplicate_profile", ("id",), f"profile id '{profile.id}' is already used by {seen[profile.id]}")
            continue
        seen[profile.id] = document.file
        profiles.append(profile)
    global_route: tuple[RouteRule, ...] = ()
    if routing is not None:
        context = _Context(routing, schema, diagnostics, open_values)
        if _mapping(context, (), routing.data, ("route", "description")) is not None:
            global_route = _rules(context, ("route",), _listed(routing.data, "route"), None, profiles)
    if not profile_documents:
        diagnostics.add(_no_profiles())
    if diagnostics:
        return None
    profiles.sort(key=lambda p: (-p.priority, p.id))
    return BundleSpec(schema, tuple(profiles), global_route, {f: tuple(sorted(v)) for f, v in open_values.items()})


def _no_profiles() -> Diagnostic:
    return Diagnostic("no_profiles", "the folder holds no profile files (*.yaml with an id and criteria)")


def _mapping(context: _Context, path: tuple, data: Any, allowed: Sequence[str]) -> Mapping[str, Any] | None:
    if not isinstance(data, dict):
        context.report("wrong_type", path, f"expected a mapping, found {_type_name(data)}")
        return None
    for key in data:
        if key not in allowed:
            context.report("unknown_key", (*path, key), f"unknown key '{key}'", closest(key, allowed), at_key=True)
    return data


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "nothing"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _profile(context: _Context) -> ProfileSpec | None:
    data = _mapping(context, (), context.document.data, PROFILE_KEYS)
    if data is None:
        return None
    before = len(context.diagnostics.items) + context.diagnostics.dropped
    profile_id = _text(context, ("id",), data.get("id"), required=True)
    priority = data.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        context.report("wrong_type", ("priority",), f"priority must be a whole number, found {_type_name(priority)}")
        priority = 0
    criteria = _criteria(context, ("criteria",), data.get("criteria"), exclusion=False)
    exclusions = _criteria(context, ("exclude",), data.get("exclude") or [], exclusion=True)
    written = data.get("criteria")
    if not written and isinstance(written, list | None):
        context.report("empty_profile", ("criteria",) if "criteria" in data else (), "the profile has no criteria")
    elif criteria and len(criteria) == len(written) and sum(c.weight for c in criteria if c.weight > 0) == 0:
        context.report(
            "no_positive_points", ("criteria",), "no criterion has a positive weight, so no score can be computed",
            "give at least one criterion a weight such as 'weight: 10'",
        )
    elif sum(abs(c.weight) for c in criteria) > MAX_PROFILE_POINTS:
        context.report(
            "bad_value", ("criteria",),
            f"the weights add up to {sum(abs(c.weight) for c in criteria):,} points either way; a profile has at most {MAX_PROFILE_POINTS:,}",
            "scale the weights down: only their ratios change scores",
        )
    tiers = _tiers(context, data.get("tiers"))
    examples = _examples(context, _listed(data, "examples"), tiers)
    spec_so_far = ProfileSpec(profile_id or "", "", "", "", priority, criteria, exclusions, tiers, (), (), context.document.file)
    route = _rules(context, ("route",), _listed(data, "route"), spec_so_far, [])
    texts = {key: _text(context, (key,), data.get(key)) for key in ("name", "owner", "description")}
    if len(context.diagnostics.items) + context.diagnostics.dropped > before or profile_id is None:
        return None
    return ProfileSpec(
        id=profile_id,
        name=texts["name"] or profile_id,
        owner=texts["owner"] or "",
        description=texts["description"] or "",
        priority=priority,
        criteria=criteria,
        exclusions=exclusions,
        tiers=tiers,
        route=route,
        examples=examples,
        file=context.document.file,
    )


def _listed(data: Mapping[str, Any], key: str) -> Any:
    """A list-valued key: absent or null is an empty list; anything else is checked by the caller."""
    value = data.get(key)
    return [] if value is None else value


def _text(context: _Context, path: tuple, value: Any, required: bool = False) -> str | None:
    if value is None:
        if required:
            context.report("missing_key", path[:-1], f"'{path[-1]}' is required")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        context.report("wrong_type", path, f"expected text, found {_type_name(value)}")
        return None
    return str(value)


def _criteria(context: _Context, path: tuple, items: Any, exclusion: bool) -> tuple[Criterion, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        context.report("wrong_type", path, f"expected a list of criteria, found {_type_name(items)}")
        return ()
    result: list[Criterion] = []
    ids: set[str] = set()
    for index, item in enumerate(items):
        criterion = _criterion(context, (*path, index), item, exclusion)
        if criterion is None:
            continue
        if criterion.id in ids:
            context.report("duplicate_id", (*path, index), f"criterion id '{criterion.id}' is used twice in this profile", "give one of them an explicit 'id:'")
            continue
        ids.add(criterion.id)
        result.append(criterion)
    return tuple(result)


def _criterion(context: _Context, path: tuple, item: Any, exclusion: bool) -> Criterion | None:
    all_ops = CATEGORY_OPS + SET_OPS + NUMBER_OPS
    data = _mapping(context, path, item, CRITERION_KEYS + all_ops)
    if data is None:
        return None
    condition = _condition(context, path, data.get("field"), data)
    if condition is None:
        return None
    weight = data.get("weight", 0)
    if isinstance(weight, bool) or not isinstance(weight, int):
        context.report("wrong_type", (*path, "weight"), f"weight must be whole points, found {weight!r}", "weights are integers, e.g. 'weight: 10'")
        return None
    if abs(weight) > MAX_WEIGHT:
        context.report("bad_value", (*path, "weight"), f"a weight is at most {MAX_WEIGHT:,} points either way, found {weight:,}")
        return None
    required = data.get("required", False)
    if not isinstance(required, bool):
        context.report("wrong_type", (*path, "required"), f"required must be true or false, found {required!r}")
        return None
    on_unknown = _on_unknown(context, path, data, exclusion, required)
    if exclusion and ("weight" in data or required):
        context.report("bad_key", path, "an exclusion has no weight and is not required: it disqualifies when it holds")
        return None
    if not exclusion and weight == 0 and not required:
        context.report("no_effect", path, "this criterion has no weight and is not required, so it changes nothing", "add 'weight: N' or 'required: true'")
        return None
    label = _text(context, (*path, "label"), data.get("label")) or condition.describe()
    criterion_id = _text(context, (*path, "id"), data.get("id")) or slug(label)
    return Criterion(criterion_id, label, condition, weight, required, on_unknown)


def _on_unknown(context: _Context, path: tuple, data: Mapping[str, Any], exclusion: bool, required: bool) -> str:
    allowed = ("ignore", "exclude") if exclusion else ("fail", "pass")
    value = data.get("on_unknown", allowed[0])
    if value not in allowed:
        context.report("bad_value", (*path, "on_unknown"), f"on_unknown must be {' or '.join(allowed)}", closest(str(value), allowed))
        return allowed[0]
    if not exclusion and not required and "on_unknown" in data:
        context.report("no_effect", (*path, "on_unknown"), "on_unknown applies only to required criteria and exclusions", at_key=True)
    return str(value)


def _condition(context: _Context, path: tuple, field_name: Any, data: Mapping[str, Any]) -> Condition | None:
    field = _field(context, (*path, "field"), field_name)
    if field is None:
        return None
    ops = [key for key in data if key in CATEGORY_OPS + SET_OPS + NUMBER_OPS]
    allowed = OPS_BY_TYPE[field.type]
    wrong = [op for op in ops if op not in allowed]
    if wrong:
        context.report(
            "wrong_operator", (*path, wrong[0]), f"'{wrong[0]}' does not apply to {field.type} field '{field.name}'",
            f"use {', '.join(allowed)}", at_key=True,
        )
        return None
    if field.type == "number":
        return _number_condition(context, path, field, data, ops)
    if "partial" in data:
        context.report("bad_key", (*path, "partial"), "'partial' applies to number criteria only", at_key=True)
        return None
    if len(ops) != 1:
        context.report("missing_operator" if not ops else "bad_key", path, f"say exactly one of {', '.join(allowed)} for field '{field.name}'")
        return None
    op = ops[0]
    count = 0
    if op == "at_least":
        count, values = _at_least(context, path, field, data)
    else:
        if "of" in data:
            context.report("bad_key", (*path, "of"), "'of' goes with 'at_least'", at_key=True)
        values = _values(context, (*path, op), field, data[op])
    if values is None:
        return None
    return Condition(field.name, op, values, count)


def _at_least(context: _Context, path: tuple, field: FieldSpec, data: Mapping[str, Any]) -> tuple[int, tuple[str, ...] | None]:
    count = data["at_least"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        context.report("wrong_type", (*path, "at_least"), "at_least takes a whole number of items, e.g. 'at_least: 2, of: [a, b, c]'")
        return 0, None
    if "of" not in data:
        context.report("missing_key", path, "at_least needs 'of: [values]'")
        return 0, None
    values = _values(context, (*path, "of"), field, data["of"])
    if values is not None and count > len(values):
        context.report("never_holds", (*path, "at_least"), f"at_least {count} of {len(values)} values can never hold")
        return 0, None
    return count, values


def _field(context: _Context, path: tuple, name: Any) -> FieldSpec | None:
    if name is None:
        context.report("missing_key", path[:-1], "'field' is required")
        return None
    field = context.schema.fields.get(str(name))
    if field is None:
        context.report("unknown_field", path, f"unknown field '{name}'", closest(str(name), list(context.schema.fields)))
    return field


def _values(context: _Context, path: tuple, field: FieldSpec, raw: Any) -> tuple[str, ...] | None:
    if field.type != "set" and not isinstance(raw, list):
        raw = [raw]
    if not isinstance(raw, list):
        context.report("wrong_type", path, f"expected a list of values, found {_type_name(raw)}")
        return None
    if not raw:
        context.report("empty_list", path, "the list of values is empty")
        return None
    values: list[str] = []
    ok = True
    for index, item in enumerate(raw):
        resolved = _value(context, (*path, index), field, item)
        ok = ok and resolved is not None
        if resolved is not None and resolved not in values:
            values.append(resolved)
    return tuple(values) if ok else None


def _value(context: _Context, path: tuple, field: FieldSpec, item: Any) -> str | None:
    if isinstance(item, (dict, list, bool)) or item is None:
        context.report("wrong_type", path, f"expected a value, found {_type_name(item)}")
        return None
    key = value_key(str(item), context.schema.placeholders)
    if key is None:
        context.report("bad_value", path, f"'{item}' reads as a missing value", "write the value itself; missing is handled by on_unknown")
        return None
    taxonomy = field.taxonomy
    if taxonomy is None:
        context.open_values.setdefault(field.name, set()).add(key)
        return key
    node = taxonomy.resolve(key, field.kinds)
    if node is None:
        names = [n.name for n in taxonomy.nodes] + [n.id for n in taxonomy.nodes]
        context.report("unknown_value", path, f"unknown {field.name} '{item}'", closest(str(item), names))
        return None
    return taxonomy.nodes[node].id


def _number_condition(context: _Context, path: tuple, field: FieldSpec, data: Mapping[str, Any], ops: list[str]) -> Condition | None:
    if not ops or ("between" in ops and len(ops) > 1):
        context.report("missing_operator" if not ops else "bad_key", path, f"say min, max, both, or between for number field '{field.name}'")
        return None
    lo, hi = -math.inf, math.inf
    if "between" in data:
        pair = data["between"]
        if not isinstance(pair, list) or len(pair) != 2:
            context.report("wrong_type", (*path, "between"), "between takes two bounds, e.g. 'between: [1000, 20000]'")
            return None
        lo_value = _bound(context, (*path, "between", 0), field, pair[0])
        hi_value = _bound(context, (*path, "between", 1), field, pair[1])
        if lo_value is None or hi_value is None:
            return None
        lo, hi = lo_value.lo, hi_value.hi
    else:
        if "min" in data:
            bound = _bound(context, (*path, "min"), field, data["min"])
            if bound is None:
                return None
            lo = bound.lo
        if "max" in data:
            bound = _bound(context, (*path, "max"), field, data["max"])
            if bound is None:
                return None
            hi = bound.hi
    if lo > hi:
        where = path + (("between", 0) if "between" in data else ("min",))
        context.report("min_above_max", where, f"the lower bound {lo:,.0f} is above the upper bound {hi:,.0f}", "swap the two bounds")
        return None
    partial = data.get("partial", "unknown")
    if partial not in PARTIAL_MODES:
        context.report("bad_value", (*path, "partial"), f"partial must be one of {', '.join(PARTIAL_MODES)}", closest(str(partial), PARTIAL_MODES))
        return None
    return Condition(field.name, "range", lo=lo, hi=hi, partial=str(partial))


def _bound(context: _Context, path: tuple, field: FieldSpec, raw: Any) -> NumberRange | None:
    value = parse_number(raw, field.parse, field.options)
    if not isinstance(value, NumberRange):
        reason = getattr(value, "reason", "missing")
        context.report("bad_value", path, f"cannot read {raw!r} as a {field.name} bound: {reason}")
        return None
    if value.lo != value.hi:
        context.report("bad_value", path, f"a bound is one number, found the range {raw!r}", "use between: [low, high]")
        return None
    return value


def _tiers(context: _Context, raw: Any) -> tuple[tuple[str, int], ...]:
    if raw is None:
        return DEFAULT_TIERS
    if not isinstance(raw, dict) or not raw:
        context.report("wrong_type", ("tiers",), "tiers is a mapping of tier name to minimum score, e.g. {A: 80, B: 60, C: 40}")
        return DEFAULT_TIERS
    tiers: list[tuple[str, int]] = []
    for name, threshold in raw.items():
        path = ("tiers", name)
        if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= 100:
            context.report("wrong_type", path, f"a tier threshold is a whole score from 0 to 100, found {threshold!r}")
            return DEFAULT_TIERS
        if tiers and threshold == tiers[-1][1]:
            context.report("tier_overlap", path, f"tiers '{tiers[-1][0]}' and '{name}' both start at {threshold}", "give each tier its own threshold")
            return DEFAULT_TIERS
        if tiers and threshold > tiers[-1][1]:
            context.report("tier_order", path, f"tier '{name}' ({threshold}) is listed after '{tiers[-1][0]}' ({tiers[-1][1]})", "list tiers from the highest threshold down")
            return DEFAULT_TIERS
        tiers.append((str(name), threshold))
    if tiers[-1][1] > 0:
        if any(name == "D" for name, _ in tiers):
            context.report("tier_floor", ("tiers",), "the lowest tier must start at 0 when a tier is named 'D'", "add a tier with threshold 0")
            return DEFAULT_TIERS
        tiers.append(("D", 0))
    return tuple(tiers)


def _rules(
    context: _Context, path: tuple, items: Any, profile: ProfileSpec | None, profiles: Sequence[ProfileSpec]
) -> tuple[RouteRule, ...]:
    """Routing rules of one profile (``profile`` given) or of the global routing file."""
    if not isinstance(items, list):
        context.report("wrong_type", path, f"expected a list of routing rules, found {_type_name(items)}")
        return ()
    rules: list[RouteRule] = []
    for index, item in enumerate(items):
        rule = _rule(context, (*path, index), item, profile, profiles)
        if rule is None:
            continue
        if any(r.unconditional and r.qualified in (None, rule.qualified) for r in rules):
            context.report("unreachable_rule", (*path, index), "this rule can never match: an earlier rule without conditions catches every record")
            continue
        rules.append(rule)
    return tuple(rules)


def _rule(
    context: _Context, path: tuple, item: Any, profile: ProfileSpec | None, profiles: Sequence[ProfileSpec]
) -> RouteRule | None:
    data = _mapping(context, path, item, RULE_KEYS)
    if data is None:
        return None
    action = data.get("action")
    if action not in context.schema.actions:
        context.report(
            "unknown_value" if action is not None else "missing_key", path + (("action",) if action is not None else ()),
            f"unknown action '{action}'" if action is not None else "'action' is required",
            closest(str(action), context.schema.actions) if action is not None else f"one of {', '.join(context.schema.actions)}",
        )
        return None
    when = {} if data.get("when") is None else data["when"]
    if _mapping(context, (*path, "when"), when, ROUTE_BUILTINS + tuple(context.schema.fields)) is None:
        return None
    tiers = _names(context, (*path, "when", "tier"), when.get("tier"))
    if when.get("tier") == []:
        context.report("unreachable_rule", (*path, "when", "tier"), "an empty list of tiers never matches")
        return None
    known_tiers = {name for name, _ in profile.tiers} if profile else {name for p in profiles for name, _ in p.tiers} | {"A", "B", "C", "D"}
    for position, tier in enumerate(tiers or ()):
        if tier not in known_tiers:
            context.report("unreachable_rule", (*path, "when", "tier", position), f"no profile here has a tier '{tier}', so this rule can never match", closest(tier, sorted(known_tiers)))
            return None
    names = _names(context, (*path, "when", "profile"), when.get("profile"))
    if names is not None and profile is not None and profile.id not in names:
        context.report("unreachable_rule", (*path, "when", "profile"), f"a rule in profile '{profile.id}' only applies when '{profile.id}' is the best profile")
        return None
    if names is not None and profile is None:
        for position, name in enumerate(names):
            if name not in {p.id for p in profiles}:
                context.report("unknown_value", (*path, "when", "profile", position), f"unknown profile '{name}'", closest(name, [p.id for p in profiles]))
                return None
    qualified = when.get("qualified", True)
    if qualified not in (True, False, "any"):
        context.report("bad_value", (*path, "when", "qualified"), "qualified is true, false or any")
        return None
    if profile is not None and qualified is False:
        context.report("unreachable_rule", (*path, "when", "qualified"), "a profile's own rules apply only to records that qualify for it", "move this rule to routing.yaml")
        return None
    conditions = _route_conditions(context, (*path, "when"), when)
    escalate_if = _route_conditions(context, (*path, "escalate_if"), data.get("escalate_if") or {})
    escalate = data.get("escalate", False)
    if conditions is None or escalate_if is None or not isinstance(escalate, bool):
        if not isinstance(escalate, bool):
            context.report("wrong_type", (*path, "escalate"), "escalate is true or false")
        return None
    queue = _text(context, (*path, "queue"), data.get("queue"))
    line = context.document.locate(path).line
    return RouteRule(
        action=str(action), queue=queue, tiers=tiers, profiles=names,
        qualified=None if qualified == "any" else bool(qualified), conditions=conditions,
        escalate=escalate, escalate_if=escalate_if, origin=f"{context.document.file}:{line}",
    )


def _names(context: _Context, path: tuple, raw: Any) -> tuple[str, ...] | None:
    """Tier or profile names in a routing condition (one or a list); ``None`` when absent."""
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else [raw]
    if any(isinstance(item, (list, dict)) or item is None for item in items):
        context.report("wrong_type", path, "expected a name or a list of names")
        return ()
    return tuple(str(item) for item in items)


def _route_conditions(context: _Context, path: tuple, when: Any) -> tuple[Condition, ...] | None:
    if not isinstance(when, dict):
        context.report("wrong_type", path, f"expected a mapping of field to values, found {_type_name(when)}")
        return None
    conditions: list[Condition] = []
    for name, raw in when.items():
        if name in ROUTE_BUILTINS:
            continue
        field = _field(context, (*path, name), name)
        if field is None:
            return None
        if isinstance(raw, dict):
            data = {"field": name, **raw}
            if _mapping(context, (*path, name), raw, OPS_BY_TYPE[field.type] + (("of",) if field.type == "set" else ("partial",) if field.type == "number" else ())) is None:
                return None
        elif field.type == "number":
            context.report("wrong_type", (*path, name), "a number condition is a mapping such as {min: 1000}")
            return None
        else:
            data = {"field": name, ("in" if field.type == "category" else "any"): raw}
        condition = _condition_at(context, (*path, name), data)
        if condition is None:
            return None
        conditions.append(condition)
    return tuple(conditions)


def _condition_at(context: _Context, path: tuple, data: dict[str, Any]) -> Condition | None:
    """A routing condition: diagnostics point inside ``when.<field>`` rather than at a ``field:`` key."""
    shifted = _ShiftedContext(context, path)
    return _condition(shifted, (), data["field"], data)


class _ShiftedContext(_Context):
    """Reports paths relative to a routing condition's own location."""

    def __init__(self, base: _Context, prefix: tuple):
        super().__init__(base.document, base.schema, base.diagnostics, base.open_values)
        self.prefix = prefix

    def report(self, code: str, path: tuple, message: str, suggestion: str | None = None, at_key: bool = False) -> None:
        relative = tuple(p for p in path if p != "field")
        super().report(code, self.prefix + relative, message, suggestion, at_key)


def _check_expect(context: _Context, path: tuple, expect: Mapping[str, Any], tiers: tuple[tuple[str, int], ...]) -> bool:
    """Expected values of the right kind; whether they are right is ``icp test``'s job."""
    kinds: dict[str, tuple[type, ...]] = {
        "profile": (str,), "tier": (str,), "action": (str,), "queue": (str, type(None)),
        "escalate": (bool,), "qualified": (bool,), "score": (int, float),
    }
    ok = True
    for key, value in expect.items():
        wanted = kinds.get(key)
        if wanted is None:
            continue
        bad_score = key == "score" and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100)
        if not isinstance(value, wanted) or bad_score:
            context.report("wrong_type", (*path, key), f"expected {'a score from 0 to 100' if key == 'score' else 'true or false' if wanted == (bool,) else 'text'}, found {value!r}")
            ok = False
        elif key == "action" and value not in context.schema.actions:
            context.report("unknown_value", (*path, key), f"unknown action '{value}'", closest(str(value), context.schema.actions))
            ok = False
        elif key == "tier" and expect.get("profile") in (None, context.document.data.get("id")) and value not in {t for t, _ in tiers}:
            context.report("unknown_value", (*path, key), f"this profile has no tier '{value}'", closest(str(value), [t for t, _ in tiers]))
            ok = False
    return ok


def _examples(context: _Context, raw: Any, tiers: tuple[tuple[str, int], ...]) -> tuple[Example, ...]:
    if not isinstance(raw, list):
        context.report("wrong_type", ("examples",), f"expected a list of examples, found {_type_name(raw)}")
        return ()
    examples: list[Example] = []
    for index, item in enumerate(raw):
        path = ("examples", index)
        data = _mapping(context, path, item, ("record", "expect", "name"))
        if data is None:
            continue
        record = data.get("record")
        expect = _mapping(context, (*path, "expect"), data.get("expect"), EXPECT_KEYS)
        if not isinstance(record, dict) or expect is None:
            if not isinstance(record, dict):
                context.report("wrong_type", (*path, "record"), "an example needs 'record:' (a mapping of field to value)")
            continue
        if not expect:
            context.report("missing_key", (*path, "expect"), "say what the example should give, e.g. {profile: x, tier: A}")
            continue
        if not _check_expect(context, (*path, "expect"), expect, tiers):
            continue
        for field in record:
            if field not in context.schema.fields and field != "id":
                context.report("unknown_field", (*path, "record", field), f"unknown field '{field}'", closest(field, list(context.schema.fields)), at_key=True)
        line = context.document.locate(path).line
        examples.append(Example(dict(record), dict(expect), f"{context.document.file}:{line}"))
    return tuple(examples)
