"""Request handling shared by Score, ScoreBatch and ScoreStream: messages → runtime → messages.

One batch is scored by one :class:`~server.state.Serving` (read once by the caller), so every
result of a response carries the same bundle version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.engine import Scored
from server.convert import (
    RecordError,
    columnar_results,
    columns_to_factorized,
    error_result,
    record_to_mapping,
    result_messages,
)
from server.errors import InvalidArgument, ResourceExhausted
from server.metrics import Metrics
from server.state import Serving


@dataclass(frozen=True)
class Limits:
    max_batch_records: int = 10_000
    max_message_bytes: int = 16 * 1024 * 1024


class DecisionSink(Protocol):
    def record(self, serving: Serving, ids: Sequence[str], scored: Scored, rows: Sequence[int]) -> None: ...


@dataclass
class BatchAnswer:
    version: str
    results: list[Any]
    errors: list[RecordError] = field(default_factory=list)
    columns: Any = None  # a ColumnarResults message, when the request asked for one


def score_batch(
    serving: Serving,
    request: Any,
    limits: Limits,
    metrics: Metrics,
    decisions: DecisionSink | None = None,
) -> BatchAnswer:
    """Score a ``ScoreBatchRequest`` (records or columns); malformed records get error entries."""
    if request.records and request.HasField("columns"):
        raise InvalidArgument("send either records or columns, not both", (("columns", "set together with records"),))
    if request.columnar_results and (request.explain or request.per_profile):
        raise InvalidArgument(
            "explain and per_profile answer with one Result per record; leave columnar_results unset",
            (("columnar_results", "not with explain or per_profile"),),
        )
    problems: dict[int, list[tuple[str, str]]] = {}
    if request.HasField("columns"):
        ids, columns, violations = columns_to_factorized(request.columns, serving.field_types)
        if violations:
            raise InvalidArgument(f"malformed columns: {violations[0][1]}", tuple(violations))
        _check_size(len(ids), limits)
        scored = serving.scorer.score_columns(columns, len(ids))
    else:
        ids = [record.id for record in request.records]
        _check_size(len(ids), limits)
        mappings = []
        for index, record in enumerate(request.records):
            values, violations = record_to_mapping(record, serving.field_types)
            mappings.append(values)
            if violations:
                problems[index] = violations
        scored = serving.scorer.score(mappings, per_profile=request.per_profile)
    return _answer(serving, ids, scored, problems, request, metrics, decisions)


def score_one(serving: Serving, request: Any, limits: Limits, metrics: Metrics, decisions: DecisionSink | None = None) -> Any:
    """Score a ``ScoreRequest``; a malformed record raises ``InvalidArgument`` naming its fields."""
    values, violations = record_to_mapping(request.record, serving.field_types)
    problems = {0: violations} if violations else {}
    scored = serving.scorer.score([values], per_profile=request.per_profile)
    answer = _answer(serving, [request.record.id], scored, problems, request, metrics, decisions)
    if answer.errors:
        error = answer.errors[0]
        raise InvalidArgument(error.describe(), error.violations)
    return answer.results[0]


def _check_size(n: int, limits: Limits) -> None:
    if n > limits.max_batch_records:
        raise ResourceExhausted(
            f"a batch of {n} records exceeds the limit of {limits.max_batch_records} (max_batch_records); split it",
            (("records", f"at most {limits.max_batch_records} records per call"),),
        )


def _answer(
    serving: Serving,
    ids: Sequence[str],
    scored: Scored,
    problems: dict[int, list[tuple[str, str]]],
    request: Any,
    metrics: Metrics,
    decisions: DecisionSink | None,
) -> BatchAnswer:
    for problem in scored.encoded.problems:
        problems.setdefault(problem.record, []).append((problem.field, problem.message))
    version = serving.bundle.version
    errors = [RecordError(i, ids[i], tuple(v)) for i, v in sorted(problems.items())]
    good = [i for i in range(len(ids)) if i not in problems] if problems else list(range(len(ids)))
    if getattr(request, "columnar_results", False):
        answer = BatchAnswer(version, [], errors, columnar_results(scored.results, errors))
    else:
        explain, per_profile = request.explain, request.per_profile
        scored_messages = result_messages(scored.results, ids, good, explain, per_profile)
        results = [
            error_result(RecordError(i, ids[i], tuple(problems[i])), version) if i in problems else scored_messages[i]
            for i in range(len(ids))
        ]
        answer = BatchAnswer(version, results, errors)
    _observe(serving, scored, good, len(problems), metrics)
    if decisions is not None and good:
        decisions.record(serving, ids, scored, good)
    return answer


def _observe(serving: Serving, scored: Scored, good: list[int], bad: int, metrics: Metrics) -> None:
    metrics.batch_records.observe(len(good) + bad)
    metrics.kernel_seconds.observe(scored.kernel_seconds)
    if bad:
        metrics.record_errors.inc(bad)
    profiles = serving.bundle.meta["profiles"]
    results = scored.results
    best, tier = results.kernel.best.tolist(), results.tier.tolist()
    counts = Counter(zip(best, tier, strict=True)) if not bad else Counter((best[i], tier[i]) for i in good)
    for (profile, tier_name), count in counts.items():
        metrics.records.labels(profiles[profile]["id"], tier_name).inc(count)
    for name, quality in scored.encoded.quality.items():
        for status in ("missing", "unreadable", "unlisted"):
            value = getattr(quality, status)
            if value:
                metrics.field_values.labels(name, status).inc(value)
