"""Messages ↔ the runtime's records and results. No scoring, no metrics, no gRPC status here.

Input records become the plain mappings the encoder reads (field name → raw value); malformed
ones become :class:`RecordError` with one violation per bad field. Results become ``Result``
messages carrying the bundle version that produced them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from compiler.bundle import Bundle
from compiler.values import NumberRange
from runtime.finish import FAILS, HOLDS, UNKNOWN, Results
from server.api import pb

CATEGORY_FIELDS = ("industry", "country", "region", "state", "funding_stage")
NUMBER_FIELDS = ("employees", "revenue", "founded_year")
SET_FIELDS = ("tech_stack", "use_cases", "pain_points", "buying_triggers")
OUTCOMES = {HOLDS: pb.HOLDS, FAILS: pb.FAILS, UNKNOWN: pb.UNKNOWN}
OUTCOME_BY_NAME = {"holds": pb.HOLDS, "fails": pb.FAILS, "unknown": pb.UNKNOWN}


@dataclass(frozen=True)
class RecordError:
    index: int
    record_id: str
    violations: tuple[tuple[str, str], ...]  # (field path, description)

    def describe(self) -> str:
        first = self.violations[0]
        where = f"record {self.index}" + (f" (id {self.record_id})" if self.record_id else "")
        return f"{where}, field '{first[0]}': {first[1]}"


def _number(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "exact":
        return value.exact
    if kind == "range":
        return NumberRange(value.range.lo, value.range.hi if value.range.HasField("hi") else math.inf)
    if kind == "text":
        return value.text
    return None


def record_to_mapping(record: Any, fields: dict[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """One ``Record`` message → (field → raw value, violations). ``fields`` maps name → type."""
    values: dict[str, Any] = {}
    violations: list[tuple[str, str]] = []
    for name in CATEGORY_FIELDS:
        if record.HasField(name):
            values[name] = getattr(record, name)
    for name in NUMBER_FIELDS:
        if record.HasField(name):
            values[name] = _number(getattr(record, name))
    for name in SET_FIELDS:
        if record.HasField(name):
            values[name] = list(getattr(record, name).values)
    for map_name, kind, convert in (
        ("categories", "category", lambda v: v),
        ("sets", "set", lambda v: list(v.values)),
        ("numbers", "number", _number),
    ):
        for name, value in getattr(record, map_name).items():
            if name not in fields:
                violations.append((f"{map_name}[{name}]", f"unknown field '{name}'"))
            elif fields[name] != kind:
                violations.append((f"{map_name}[{name}]", f"'{name}' is a {fields[name]} field, not a {kind}"))
            else:
                values[name] = convert(value)
    for name, value in values.items():
        if isinstance(value, float) and math.isnan(value):
            violations.append((name, "NaN is not a number; leave the field unset when it is unknown"))
        elif isinstance(value, NumberRange) and (math.isnan(value.lo) or value.lo > value.hi):
            violations.append((name, f"range [{value.lo}, {value.hi}] is empty or not a number"))
    return values, violations


def columns_to_mappings(columns: Any, fields: dict[str, str]) -> tuple[list[str], list[dict[str, Any]], list[tuple[str, str]]]:
    """A ``ColumnarRecords`` message → (ids, mappings, batch-level violations)."""
    n = len(columns.ids)
    mappings: list[dict[str, Any]] = [{} for _ in range(n)]
    violations: list[tuple[str, str]] = []
    for position, column in enumerate(columns.columns):
        where = f"columns[{position}]"
        if column.field not in fields:
            violations.append((f"{where}.field", f"unknown field '{column.field}'"))
            continue
        if len(column.values) != n or (column.present and len(column.present) != n):
            violations.append((where, f"column '{column.field}' has {len(column.values)} values for {n} ids"))
            continue
        present = column.present or [True] * n
        is_set = fields[column.field] == "set"
        for i, (value, here) in enumerate(zip(column.values, present, strict=True)):
            if here:
                # a present empty cell of a set column is a known empty set, as `Values{}` is
                mappings[i][column.field] = [] if is_set and not value.strip() else value
    return list(columns.ids), mappings, violations


def result_messages(results: Results, ids: list[str], rows: list[int], explain: bool, per_profile: bool) -> dict[int, Any]:
    """``Result`` messages for the given rows. The common case (no explain, no per-profile scores)
    is built straight from the result arrays: the same values as ``Results.answer``, without a
    dict per record in between."""
    if explain or per_profile:
        return {i: result_message(results, i, ids[i], explain, per_profile) for i in rows}
    meta = results.bundle.meta
    names = [p["id"] for p in meta["profiles"]]
    items = [[item["id"] for item in p["criteria"] + p["exclusions"]] for p in meta["profiles"]]
    outcome_enum = {0: pb.FAILS, 1: pb.HOLDS, 2: pb.UNKNOWN}
    best, qualified = results.kernel.best.tolist(), results.kernel.qualified.tolist()
    tenths, coverage, escalate = results.score_tenths.tolist(), results.coverage.tolist(), results.escalate.tolist()
    disqualified, reasons = results.disqualified_by.tolist(), results.reasons.tolist()
    version = results.bundle.version
    messages = {}
    for i in rows:
        p = best[i]
        message = pb.Result(
            id=ids[i], profile=names[p], qualified=bool(qualified[i]), score=tenths[i] / 10, tier=results.tier[i],
            coverage=round(coverage[i], 4), bundle_version=version,
            route=pb.Route(action=results.action[i], queue=results.queue[i] or "", escalate=escalate[i]),
            disqualified_by="" if qualified[i] else items[p][disqualified[i]],
        )
        add = message.reasons.add
        for criterion, outcome in zip(items[p], reasons[i], strict=False):
            add(criterion=criterion, outcome=outcome_enum[outcome])
        messages[i] = message
    return messages


def result_message(results: Results, i: int, record_id: str, explain: bool, per_profile: bool) -> Any:
    answer = results.answer(i, explain=explain, per_profile=per_profile)
    message = pb.Result(
        id=record_id,
        profile=answer["profile"],
        qualified=answer["qualified"],
        score=answer["score"],
        tier=answer["tier"],
        coverage=answer["coverage"],
        route=pb.Route(action=answer["action"], queue=answer["queue"] or "", escalate=answer["escalate"]),
        disqualified_by=answer["disqualified_by"] or "",
        reasons=[pb.Reason(criterion=cid, outcome=OUTCOME_BY_NAME[o]) for cid, o in answer["reasons"]],
        bundle_version=answer["version"],
    )
    if explain:
        message.explained.extend(
            pb.ExplainedReason(
                criterion=r["id"], label=r["label"], outcome=OUTCOME_BY_NAME[r["outcome"]], points=r["points"],
                weight=r["weight"], required=r["required"], exclusion=r["role"] == "exclusion",
            )
            for r in answer["explain"]["reasons"]
        )
    if per_profile:
        message.profiles.extend(pb.ProfileScore(**row) for row in answer["profiles"])
        message.runner_up = answer["runner_up"] or ""
    return message


def error_result(error: RecordError, version: str) -> Any:
    return pb.Result(
        id=error.record_id,
        bundle_version=version,
        errors=[pb.FieldViolation(field=f, description=d) for f, d in error.violations],
    )


def describe(bundle: Bundle) -> Any:
    meta = bundle.meta
    return pb.DescribeBundleResponse(
        version=bundle.version,
        loaded_at=bundle.loaded_at,
        profiles=[
            pb.ProfileInfo(
                id=p["id"], name=p["name"], priority=p["priority"],
                criteria=[
                    pb.CriterionInfo(id=c["id"], label=c["label"], field=c["field"], weight=c["weight"],
                                     required=c["required"], exclusion=c["role"] == "exclusion")
                    for c in p["criteria"] + p["exclusions"]
                ],
                tiers=[pb.TierInfo(name=name, threshold=threshold) for name, threshold in p["tiers"]],
            )
            for p in meta["profiles"]
        ],
        fields=[pb.FieldInfo(name=f["name"], type=f["type"], description=f["description"]) for f in meta["fields"]],
    )
