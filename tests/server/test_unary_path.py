"""The unary Score path's shortcuts against what they replace, over many random records:

* finishing record by record (small batches) against the vectorised passes (large batches);
* ``score_one`` against the reference evaluator (an independent oracle) and against the batch path
  (same result messages, same refusals, same metric samples);
* the metrics' cached label children and the interceptor's per-method handler cache.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from benchmarks.synthetic import write_profiles
from compiler import compile_profiles, compile_spec
from compiler.bundle import Bundle
from compiler.schema import DEFAULT_PROFILES_DIR
from compiler.values import NumberRange
from runtime import finish as finishing
from runtime.finish import KernelOutput, Results, first_route_row
from runtime.reference import ReferenceEvaluator
from server.api import pb
from server.errors import InvalidArgument
from server.interceptors import ServiceInterceptor
from server.metrics import Metrics
from server.scoring import Limits, score_batch, score_one
from server.state import Serving

OUTCOMES = {pb.HOLDS: "holds", pb.FAILS: "fails", pb.UNKNOWN: "unknown"}
CATEGORY_FIELDS = ("industry", "country", "region", "state", "funding_stage")
NUMBER_FIELDS = ("employees", "revenue", "founded_year")
SET_FIELDS = ("tech_stack", "use_cases", "pain_points", "buying_triggers")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Bundle, ReferenceEvaluator]]:
    """The bundled profiles, and 12 seeded synthetic ones (more profiles, tiers and routing rules)."""
    synthetic = write_profiles(tmp_path_factory.mktemp("synthetic") / "profiles", 12, seed=7)
    return [(compile_profiles(folder), ReferenceEvaluator(compile_spec(folder))) for folder in (DEFAULT_PROFILES_DIR, synthetic)]


# --- finishing: record by record == vectorised -----------------------------------------------------


def _random_kernel_output(bundle: Bundle, n: int, rng: np.random.Generator) -> KernelOutput:
    """Kernel outputs of every shape finishing can meet, not only those real records reach."""
    tables, profiles = bundle.tables, bundle.meta["profiles"]
    width = int((tables.prof_excl_end - tables.prof_crit_start).max())
    n_route = tables.crit_kind.shape[0] - first_route_row(bundle)
    best = rng.integers(0, len(profiles), n).astype(np.int32)
    positive = tables.prof_positive[best]
    earned = rng.integers(-positive // 2, positive + 1).astype(np.int64)
    reasons = rng.integers(0, 3, (n, width)).astype(np.int8)
    for i, p in enumerate(best):
        reasons[i, len(profiles[p]["criteria"]) + len(profiles[p]["exclusions"]):] = -1
    empty = np.empty((0, 0), np.int64)
    return KernelOutput(
        best, earned, rng.integers(0, positive + 1).astype(np.int64), rng.integers(0, 2, n).astype(np.uint8), reasons,
        rng.integers(0, 3, (n, n_route)).astype(np.int8), empty, empty, np.empty((0, 0), np.uint8),
    )


def _assert_same_results(rows: Results, vectorised: Results) -> None:
    for name in ("score_tenths", "tier", "coverage", "reasons", "disqualified_by", "action", "queue", "escalate"):
        mine, theirs = getattr(rows, name), getattr(vectorised, name)
        assert mine.dtype == theirs.dtype, name
        assert mine.tolist() == theirs.tolist(), name


def test_finishing_record_by_record_matches_the_vectorised_passes(bundles: list[tuple[Bundle, Any]]) -> None:
    rng = np.random.default_rng(11)
    for bundle, _ in bundles:
        kernel = _random_kernel_output(bundle, 20_000, rng)
        rows = finishing._finish_rows(bundle, kernel, finishing.finishing_for(bundle))
        _assert_same_results(rows, finishing._finish_vectorised(bundle, kernel))
        for i in range(0, 200):  # and one record at a time, as a unary Score finishes
            one = KernelOutput(*(array[i : i + 1] if array.shape[0] else array for array in kernel.__dict__.values()))
            _assert_same_results(finishing.finish(bundle, one), finishing._finish_vectorised(bundle, one))


def test_finish_chooses_by_batch_size(bundles: list[tuple[Bundle, Any]]) -> None:
    bundle = bundles[0][0]
    rng = np.random.default_rng(3)
    for n in (0, 1, finishing.ROW_BY_ROW_MAX, finishing.ROW_BY_ROW_MAX + 1, 100):
        kernel = _random_kernel_output(bundle, n, rng)
        _assert_same_results(finishing.finish(bundle, kernel), finishing._finish_vectorised(bundle, kernel))


# --- score_one against the reference evaluator and the batch path ---------------------------------


def _random_record(rng: random.Random, bundle: Bundle, index: int) -> Any:
    fields = {f["name"]: f for f in bundle.meta["fields"]}
    record = pb.Record(id=f"r{index}")
    for name in CATEGORY_FIELDS:
        roll = rng.random()
        if roll < 0.6:
            setattr(record, name, rng.choice(list(fields[name]["keys"])))
        elif roll < 0.7:
            setattr(record, name, rng.choice(["Atlantis", "N/A", "", "GERMANY"]))
    for name in NUMBER_FIELDS:
        roll = rng.random()
        low = rng.randint(1900, 2030) if name == "founded_year" else rng.randint(0, 20_000)
        if roll < 0.3:
            getattr(record, name).exact = low
        elif roll < 0.45:
            getattr(record, name).range.lo = low
            if rng.random() < 0.7:
                getattr(record, name).range.hi = low + rng.randint(0, 5000)
        elif roll < 0.7:
            getattr(record, name).text = rng.choice([str(low), f"{low}-{low + 300}", f"{low}+", "5O-200", "$1.5M", "unknown"])
    for name in SET_FIELDS:
        if rng.random() < 0.6:
            keys = [*fields[name]["keys"], "unheard-of", "N/A"]
            getattr(record, name).values.extend(rng.sample(keys, rng.randint(0, 3)))
    if rng.random() < 0.1:
        record.numbers["employees"].exact = math.nan  # malformed: refused
    if rng.random() < 0.05:
        record.categories["not_a_field"] = "x"  # malformed: refused
    if rng.random() < 0.3 and "naics" in fields:
        record.categories["naics"] = rng.choice(list(fields["naics"]["keys"]))
    return record


def _as_answer(result: Any) -> dict[str, Any]:
    return {
        "profile": result.profile, "qualified": result.qualified, "score": result.score, "tier": result.tier,
        "coverage": result.coverage, "action": result.route.action, "queue": result.route.queue or None,
        "escalate": result.route.escalate, "disqualified_by": result.disqualified_by or None,
        "reasons": [[r.criterion, OUTCOMES[r.outcome]] for r in result.reasons],
    }


def _reference_input(record: Any) -> dict[str, Any]:
    """The record as the reference evaluator reads it: its raw values, by field name."""
    values: dict[str, Any] = {}
    for name in CATEGORY_FIELDS:
        if record.HasField(name):
            values[name] = getattr(record, name)
    for name in NUMBER_FIELDS:
        if record.HasField(name):
            number = getattr(record, name)
            kind = number.WhichOneof("value")
            if kind == "exact":
                values[name] = number.exact
            elif kind == "text":
                values[name] = number.text
            elif kind == "range":
                values[name] = NumberRange(number.range.lo, number.range.hi if number.range.HasField("hi") else math.inf)
    for name in SET_FIELDS:
        if record.HasField(name):
            values[name] = list(getattr(record, name).values)
    values.update(record.categories)
    return values


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
        and not (sample.name.startswith("icp_kernel_seconds") and sample.name != "icp_kernel_seconds_count")  # a time
    }


def test_score_one_matches_the_reference_and_the_batch_path(bundles: list[tuple[Bundle, ReferenceEvaluator]]) -> None:
    rng = random.Random(5)
    for bundle, reference in bundles:
        serving = Serving.of(bundle)
        unary, batch = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
        refused = scored = 0
        for index in range(700):
            record = _random_record(rng, bundle, index)
            request = pb.ScoreRequest(record=record)
            (expected,) = score_batch(serving, pb.ScoreBatchRequest(records=[record]), Limits(), batch).results
            if expected.errors:
                with pytest.raises(InvalidArgument) as refusal:
                    score_one(serving, request, Limits(), unary)
                assert refusal.value.violations == tuple((e.field, e.description) for e in expected.errors)
                refused += 1
                continue
            result = score_one(serving, request, Limits(), unary)
            assert result == expected
            assert result.id == record.id and result.bundle_version == bundle.version
            answer = _as_answer(result)
            truth = reference.evaluate(_reference_input(record))
            assert answer == truth, f"record {index}: {record}"
            scored += 1
        assert refused > 30 and scored > 400  # both kinds were exercised
        assert _samples(unary.registry) == _samples(batch.registry)


# --- metrics' label children and the interceptor's handler cache -----------------------------------


def test_cached_label_children_are_the_exported_ones() -> None:
    metrics = Metrics(CollectorRegistry())
    child = metrics.records.labels("p", "A")
    assert metrics.records.labels("p", "A") is child
    child.inc(2)
    metrics.records.labels(profile="p", tier="A").inc()  # by name: prometheus_client's own lookup, same child
    assert metrics.registry.get_sample_value("icp_records_scored_total", {"profile": "p", "tier": "A"}) == 3
    metrics.records.remove("p", "A")
    assert metrics.registry.get_sample_value("icp_records_scored_total", {"profile": "p", "tier": "A"}) is None
    metrics.records.labels("p", "A").inc()  # a new child, exported: the cache forgot the removed one
    assert metrics.registry.get_sample_value("icp_records_scored_total", {"profile": "p", "tier": "A"}) == 1
    metrics.handling_seconds.labels("s", "m").observe(0.00007)
    assert metrics.registry.get_sample_value(
        "grpc_server_handling_seconds_bucket", {"grpc_service": "s", "grpc_method": "m", "le": "0.0001"}
    ) == 1


class _Handler:
    def __init__(self, behaviour: Any):
        self.unary_unary, self.stream_stream = behaviour, None
        self.request_deserializer = self.response_serializer = None


class _Details:
    def __init__(self, method: str):
        self.method, self.invocation_metadata = method, ()


class _Context:
    def __init__(self) -> None:
        self.aborted: Any = None

    def code(self) -> Any:
        return None if self.aborted is None else self.aborted.code

    def set_trailing_metadata(self, metadata: Any) -> None:
        pass

    def abort_with_status(self, status: Any) -> None:
        self.aborted = status
        raise RuntimeError("aborted")  # as grpc's abort raises


def test_the_interceptor_wraps_each_method_once_and_counts_every_call() -> None:
    metrics = Metrics(CollectorRegistry())
    interceptor = ServiceInterceptor(metrics)

    def behaviour(request: Any, context: Any) -> Any:
        if request == "bad":
            raise InvalidArgument("bad record", (("industry", "nope"),))
        return f"scored {request}"

    handler = _Handler(behaviour)
    first = interceptor.intercept_service(lambda _: handler, _Details("/icp.v1.Scoring/Score"))
    assert interceptor.intercept_service(lambda _: handler, _Details("/icp.v1.Scoring/Score")) is first
    assert first is not handler
    other = _Handler(behaviour)  # the server answered with another handler: wrap that one
    assert interceptor.intercept_service(lambda _: other, _Details("/icp.v1.Scoring/Score")) is not first
    health = _Handler(behaviour)
    assert interceptor.intercept_service(lambda _: health, _Details("/grpc.health.v1.Health/Check")) is health
    assert interceptor.intercept_service(lambda _: None, _Details("/icp.v1.Scoring/Nope")) is None

    for _ in range(3):
        assert first.unary_unary("r", _Context()) == "scored r"
    context = _Context()
    with pytest.raises(RuntimeError, match="aborted"):
        first.unary_unary("bad", context)
    assert context.aborted.code.name == "INVALID_ARGUMENT"

    def handled(code: str) -> Any:
        labels = {"grpc_service": "icp.v1.Scoring", "grpc_method": "Score", "grpc_code": code}
        return metrics.registry.get_sample_value("grpc_server_handled_total", labels)

    assert handled("OK") == 3
    assert handled("INVALID_ARGUMENT") == 1
    count = {"grpc_service": "icp.v1.Scoring", "grpc_method": "Score"}
    assert metrics.registry.get_sample_value("grpc_server_handling_seconds_count", count) == 4
    assert metrics.registry.get_sample_value("icp_requests_in_flight") == 0


def test_the_served_benchmark_takes_a_unary_score_apart(tmp_path: Path) -> None:
    """``python -m benchmarks served --parts``: every part timed (no claim about how fast)."""
    from benchmarks.served import DEFAULT_RECORDS, unary_parts

    records = tmp_path / "visitors.csv"
    records.write_text("".join(DEFAULT_RECORDS.read_text().splitlines(keepends=True)[:41]))  # header + 40 rows
    timings = unary_parts(records, repeats=1)
    assert set(timings) >= {"Score, whole (interceptor + servicer)", "Encoder.encode", "run_kernel", "finish"}
    assert all(us > 0 for us in timings.values())


def test_the_served_benchmark_takes_a_columnar_batch_apart() -> None:
    """``--parts`` also times a columnar ScoreBatch step by step (no claim about how fast)."""
    from benchmarks.served import batch_parts

    timings = batch_parts(repeats=1, size=50)
    steps = ["parse the request", "factorize the columns", "encode", "run_kernel", "finish", "ColumnarResults", "serialise the response"]
    assert list(timings) == [*steps, "whole batch"]
    assert all(timings[step] > 0 for step in steps)
    assert timings["whole batch"] == sum(timings[step] for step in steps)
