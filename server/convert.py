"""Messages ↔ the runtime's records and results. No scoring, no metrics, no gRPC status here.

Input records become the plain mappings the encoder reads (field name → raw value); malformed
ones become :class:`RecordError` with one violation per bad field. Results become ``Result``
messages carrying the bundle version that produced them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler.bundle import Bundle
from compiler.values import NumberRange
from runtime.encode import Factorized, cache_key, factorize
from runtime.finish import FAILS, HOLDS, UNKNOWN, Results, finishing_for
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


def columns_to_factorized(columns: Any, fields: dict[str, str]) -> tuple[Sequence[str], dict[str, Factorized], list[tuple[str, str]]]:
    """A ``ColumnarRecords`` message → (ids, field → factorized column, batch-level violations).

    A cell whose ``present`` is false is missing; a present blank cell of a set column is a known
    empty set, as ``Values{}`` is."""
    n = len(columns.ids)
    factorized: dict[str, Factorized] = {}
    violations: list[tuple[str, str]] = []
    for position, column in enumerate(columns.columns):
        where = f"columns[{position}]"
        if column.field not in fields:
            violations.append((f"{where}.field", f"unknown field '{column.field}'"))
            continue
        if column.dictionary or column.codes:
            coded, problem = _dictionary_column(column, n)
            if coded is None:
                violations.append((where, problem))
                continue
        elif len(column.values) != n or (column.present and len(column.present) != n):
            violations.append((where, f"column '{column.field}' has {len(column.values)} values for {n} ids"))
            continue
        else:
            coded = factorize(list(column.values))
            if column.present:
                coded.inverse[~np.fromiter(column.present, bool, n)] = -1
        if fields[column.field] == "set" and any(isinstance(v, str) and not v.strip() for v in coded.values):
            distinct = [[] if isinstance(v, str) and not v.strip() else v for v in coded.values]
            coded = Factorized(distinct, coded.inverse, [cache_key(v) for v in distinct])
        factorized[column.field] = coded
    return columns.ids, factorized, violations  # the message's own list: ids are read only where needed


def _dictionary_column(column: Any, n: int) -> tuple[Factorized | None, str]:
    """A dictionary-encoded column (distinct texts + int32 codes), or why it is malformed."""
    name = column.field
    if column.values or column.present:
        return None, f"column '{name}' sets dictionary/codes and values/present; use one form"
    if len(column.codes) != 4 * n:
        return None, f"column '{name}' has {len(column.codes)} bytes of codes for {n} ids (4 bytes, int32 little-endian, per record)"
    inverse = np.frombuffer(column.codes, "<i4").astype(np.int64)
    size = len(column.dictionary)
    bad = np.flatnonzero((inverse < -1) | (inverse >= size))
    if bad.size:
        return None, f"column '{name}', record {int(bad[0])}: code {int(inverse[bad[0]])} is outside the dictionary (-1 to {size - 1})"
    return Factorized(list(column.dictionary), inverse), ""


def result_messages(results: Results, ids: Sequence[str], rows: list[int], explain: bool, per_profile: bool) -> dict[int, Any]:
    """``Result`` messages for the given rows. The common case (no explain, no per-profile scores)
    is built straight from the result arrays: the same values as ``Results.answer``, without a
    dict per record in between."""
    if explain or per_profile:
        return {i: result_message(results, i, ids[i], explain, per_profile) for i in rows}
    finishing = finishing_for(results.bundle)
    names, items = finishing.profile_ids, finishing.item_ids
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


def columnar_results(results: Results, errors: list[RecordError]) -> Any:
    """A ``ColumnarResults`` message: the result arrays as packed columns, text as codes."""
    finishing = finishing_for(results.bundle)
    items = [item for profile in finishing.item_ids for item in profile]
    starts = finishing.item_starts
    best, qualified = results.kernel.best.astype(np.int64), results.kernel.qualified.astype(bool)
    tier_names, tier = _coded(results.tier)
    action_names, action = _coded(results.action)
    queue_names, queue = _coded(np.array([q or "" for q in results.queue.tolist()], object), first="")
    disqualified = results.disqualifier_items()
    reasons = _OUTCOME_CODES[results.reasons.astype(np.int64) + 1]
    score, coverage, escalate = results.score_tenths / 10, np.round(results.coverage, 4), results.escalate.astype(bool)
    if errors:
        bad = np.array([e.index for e in errors])  # every column here is this call's own array
        best[bad], disqualified[bad], reasons[bad] = -1, -1, 0
        for column in (qualified, score, tier, coverage, action, queue, escalate):
            column[bad] = 0
    return pb.ColumnarResults(
        profile_names=finishing.profile_ids, profile=best.tolist(), qualified=qualified.tolist(),
        score=score.tolist(), tier_names=tier_names, tier=tier.tolist(), coverage=coverage.tolist(),
        action_names=action_names, action=action.tolist(), queue_names=queue_names, queue=queue.tolist(),
        escalate=escalate.tolist(), criterion_names=items, criteria_start=starts.tolist(),
        disqualified_by=disqualified.tolist(), reasons_width=reasons.shape[1], reasons=reasons.astype(np.uint8).tobytes(),
        errors=[pb.RecordErrors(index=e.index, id=e.record_id, violations=[pb.FieldViolation(field=f, description=d) for f, d in e.violations])
                for e in errors],
    )


# kernel outcome (-1 padding, FAILS, HOLDS, UNKNOWN) + 1 → the API's Outcome enum (0 past the last item)
_OUTCOME_CODES = np.zeros(4, np.int64)
_OUTCOME_CODES[[FAILS + 1, HOLDS + 1, UNKNOWN + 1]] = [pb.FAILS, pb.HOLDS, pb.UNKNOWN]


def _coded(values: np.ndarray, first: str | None = None) -> tuple[list[str], np.ndarray]:
    """Distinct texts (``first`` at index 0 when given) and each value's index among them."""
    texts = values.tolist()
    names = list(dict.fromkeys(([first] if first is not None else []) + texts))
    index = {name: k for k, name in enumerate(names)}
    return names, np.fromiter(map(index.__getitem__, texts), np.int64, len(texts))


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
