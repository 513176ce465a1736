"""The reference evaluator: the semantics of PRODUCT.md written plainly, one record at a time.

It reads the validated profiles (:class:`~compiler.spec.BundleSpec`) and the
taxonomies' parent links, never the vocabularies or the compiled tables, so
the property tests that compare it with the kernels check the compiler as
well. It is slow on purpose (sets of node ids, ``Fraction`` arithmetic) and is
also the "plain Python" baseline of the benchmarks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from compiler.spec import DEFAULT_ACTION, BundleSpec, Condition, ProfileSpec, RouteRule
from compiler.taxonomy import Taxonomy
from compiler.text import value_key
from compiler.values import NumberRange, ParseOptions, parse_number

HOLDS, FAILS, UNKNOWN = "holds", "fails", "unknown"
UNLISTED = object()


class ReferenceEvaluator:
    def __init__(self, spec: BundleSpec):
        self.spec = spec
        self._leaves: dict[tuple[str, str], frozenset[str]] = {}
        self._children: dict[str, dict[str, list[str]]] = {}

    # ---- values -------------------------------------------------------------------------
    def _node(self, field_name: str, raw: Any) -> Any:
        """A category value as a node id / open key; ``None`` if missing; ``UNLISTED`` if unknown."""
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None
        text = str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw)
        key = value_key(text, self.spec.schema.placeholders)
        if key is None:
            return None
        field = self.spec.schema.fields[field_name]
        if field.taxonomy is None:
            return key
        found = field.taxonomy.resolve(key, field.kinds)
        return UNLISTED if found is None else field.taxonomy.nodes[found].id

    def _leaves_of(self, field_name: str, node: str) -> frozenset[str]:
        taxonomy = self.spec.schema.fields[field_name].taxonomy
        if taxonomy is None:
            return frozenset({node})
        cache_key = (taxonomy.id, node)
        if cache_key not in self._leaves:
            if taxonomy.id not in self._children:
                self._children[taxonomy.id] = _children(taxonomy)
            self._leaves[cache_key] = frozenset(_walk_leaves(self._children[taxonomy.id], node))
        return self._leaves[cache_key]

    # ---- conditions ---------------------------------------------------------------------
    def condition(self, condition: Condition, record: Mapping[str, Any]) -> str:
        field = self.spec.schema.fields[condition.field]
        raw = record.get(condition.field)
        if field.type == "number":
            outcome = self._number(condition, raw, field.parse, field.options)
        elif field.type == "category":
            outcome = self._category(condition, raw)
        else:
            outcome = self._set(condition, raw)
        if condition.op == "not_in" and outcome != UNKNOWN:
            return HOLDS if outcome == FAILS else FAILS
        return outcome

    def _number(self, condition: Condition, raw: Any, parse: str, options: ParseOptions) -> str:
        value = parse_number(raw, parse, options)
        if not isinstance(value, NumberRange):
            return UNKNOWN
        if condition.lo <= value.lo and value.hi <= condition.hi:
            return HOLDS
        if value.hi < condition.lo or value.lo > condition.hi:
            return FAILS
        return {"unknown": UNKNOWN, "overlap": HOLDS, "within": FAILS}[condition.partial]

    def _category(self, condition: Condition, raw: Any) -> str:
        if isinstance(raw, (list, tuple, set, dict, bool)):
            return UNKNOWN
        node = self._node(condition.field, raw)
        if node is None:
            return UNKNOWN
        if node is UNLISTED:
            return FAILS
        mine = self._leaves_of(condition.field, node)
        target: set[str] = set()
        for value in condition.values:
            target |= self._leaves_of(condition.field, value)
        if mine <= target:
            return HOLDS
        return UNKNOWN if mine & target else FAILS

    def _set(self, condition: Condition, raw: Any) -> str:
        placeholders = self.spec.schema.placeholders
        if raw is None or (isinstance(raw, str) and value_key(raw, placeholders) is None):
            return UNKNOWN
        from_text = isinstance(raw, str)
        if from_text:
            raw = [part for part in raw.replace(";", ",").replace("|", ",").split(",") if part.strip()]
        if not isinstance(raw, (list, tuple, set, frozenset)) or any(not isinstance(x, (str, int)) or isinstance(x, bool) for x in raw):
            return UNKNOWN
        if (from_text and not raw) or (raw and all(value_key(str(x), placeholders) is None for x in raw)):
            return UNKNOWN  # placeholders only: missing, not an empty set
        elements = [self._node(condition.field, item) for item in raw]
        element_leaves = [self._leaves_of(condition.field, e) for e in elements if e is not None and e is not UNLISTED]
        touched = 0
        for value in condition.values:
            item = self._leaves_of(condition.field, value)
            if any(leaves <= item for leaves in element_leaves):
                touched += 1
        n = len(condition.values)
        low, high = {"any": (1, n), "all": (n, n), "none": (0, 0), "at_least": (condition.count, n)}[condition.op]
        return HOLDS if low <= touched <= high else FAILS

    # ---- profiles -----------------------------------------------------------------------
    def profile(self, profile: ProfileSpec, record: Mapping[str, Any]) -> dict[str, Any]:
        positive = profile.positive_points
        earned = known = 0
        qualified = True
        blocker: str | None = None
        reasons = []
        for criterion in profile.criteria:
            outcome = self.condition(criterion.condition, record)
            reasons.append([criterion.id, outcome])
            if outcome == HOLDS:
                earned += criterion.weight
            if criterion.weight > 0 and outcome != UNKNOWN:
                known += criterion.weight
            if criterion.required and (outcome == FAILS or (outcome == UNKNOWN and criterion.on_unknown == "fail")):
                qualified, blocker = False, blocker or criterion.id
        for exclusion in profile.exclusions:
            outcome = self.condition(exclusion.condition, record)
            reasons.append([exclusion.id, outcome])
            if outcome == HOLDS or (outcome == UNKNOWN and exclusion.on_unknown == "exclude"):
                qualified, blocker = False, blocker or exclusion.id
        score = Fraction(100 * max(earned, 0), positive)
        tier = next(name for name, threshold in profile.tiers if score >= threshold)
        return {
            "profile": profile.id,
            "qualified": qualified,
            "score_exact": score,
            "score": math.floor(score * 10 + Fraction(1, 2)) / 10,
            "tier": tier,
            "coverage": round(known / positive, 4),
            "disqualified_by": blocker,
            "reasons": reasons,
            "earned": earned,
        }

    def evaluate(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The full answer for one record (the same keys as ``Results.answer`` minus the version)."""
        answers = [self.profile(p, record) for p in self.spec.profiles]
        priority = {p.id: p.priority for p in self.spec.profiles}
        qualified = [a for a in answers if a["qualified"]]
        pool = qualified or answers
        best = sorted(pool, key=lambda a: (-a["score_exact"], -priority[a["profile"]], a["profile"]))[0]
        profile = next(p for p in self.spec.profiles if p.id == best["profile"])
        action, queue, escalate = self._route(profile, best, record)
        answer = {k: v for k, v in best.items() if k not in ("score_exact", "earned")}
        answer.update(action=action, queue=queue, escalate=escalate)
        return answer

    def _route(self, profile: ProfileSpec, best: dict[str, Any], record: Mapping[str, Any]) -> tuple[str, str | None, bool]:
        rules: list[RouteRule] = (list(profile.route) if best["qualified"] else []) + list(self.spec.route)
        for rule in rules:
            if rule.qualified is not None and rule.qualified != best["qualified"]:
                continue
            if rule.tiers is not None and best["tier"] not in rule.tiers:
                continue
            if rule.profiles is not None and profile.id not in rule.profiles:
                continue
            if not all(self.condition(c, record) == HOLDS for c in rule.conditions):
                continue
            escalate = rule.escalate or (bool(rule.escalate_if) and all(self.condition(c, record) == HOLDS for c in rule.escalate_if))
            return rule.action, rule.queue, escalate
        return DEFAULT_ACTION, None, False


def _walk_leaves(children: Mapping[str, list[str]], node: str) -> set[str]:
    """Leaves under ``node``, following child links built from the parents lists."""
    leaves: set[str] = set()
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        kids = children.get(current, [])
        if not kids:
            leaves.add(current)
        stack.extend(kids)
    return leaves


def _children(taxonomy: Taxonomy) -> dict[str, list[str]]:
    children: dict[str, list[str]] = {}
    for candidate in taxonomy.nodes:
        for parent in candidate.parents:
            children.setdefault(parent, []).append(candidate.id)
    return children
