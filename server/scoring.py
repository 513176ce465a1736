"""Request handling shared by Score, ScoreBatch and ScoreStream: messages → runtime → messages.

One batch is scored by one :class:`~server.state.Serving` (read once by the caller), so every
result of a response carries the same bundle version.
"""

from __future__ import annotations

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
    """Score a ``ScoreRequest``; a malformed record raises ``InvalidArgument`` naming its fields.

    What :func:`_answer` does for a batch, for one record without the batch bookkeeping (it runs on
    every unary call): the same scorer, violations (the message's, then the encoder's), metrics,
    result message and decision line."""
    record = request.record
    values, violations = record_to_mapping(record, serving.field_types)
    scored = serving.scorer.score([values], per_profile=request.per_profile)
    if scored.encoded.problems:
        violations = violations + [(problem.field, problem.message) for problem in scored.encoded.problems]
    if violations:
        metrics.observe_scored(serving.profile_ids, scored, (), 1)
        error = RecordError(0, record.id, tuple(violations))
        raise InvalidArgument(error.describe(), error.violations)
    ids = [record.id]
    result = result_messages(scored.results, ids, [0], request.explain, request.per_profile)[0]
    metrics.observe_scored(serving.profile_ids, scored, (0,), 0)
    if decisions is not None:
        decisions.record(serving, ids, scored, [0])
    return result


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
    if request.columnar_results:
        answer = BatchAnswer(version, [], errors, columnar_results(scored.results, errors))
    else:
        explain, per_profile = request.explain, request.per_profile
        scored_messages = result_messages(scored.results, ids, good, explain, per_profile)
        results = [
            error_result(RecordError(i, ids[i], tuple(problems[i])), version) if i in problems else scored_messages[i]
            for i in range(len(ids))
        ]
        answer = BatchAnswer(version, results, errors)
    metrics.observe_scored(serving.profile_ids, scored, good, len(problems))
    if decisions is not None and good:
        decisions.record(serving, ids, scored, good)
    return answer
