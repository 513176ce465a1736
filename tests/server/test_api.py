"""The gRPC API end to end: a real server on loopback, the generated Python client."""

from __future__ import annotations

import math
from typing import Any

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from runtime.engine import Scorer
from server.api import pb, pb_grpc
from server.app import App
from server.scoring import Limits
from tests.server.conftest import start

DACH_LEAD = pb.Record(
    id="v-1", industry="software", employees=pb.NumberValue(text="1001 - 5000"), country="Germany",
    tech_stack=pb.Values(values=["salesforce"]),
)
OUTCOMES = {pb.HOLDS: "holds", pb.FAILS: "fails", pb.UNKNOWN: "unknown"}


def _as_answer(result: Any) -> dict[str, Any]:
    return {
        "profile": result.profile, "qualified": result.qualified, "score": result.score, "tier": result.tier,
        "coverage": result.coverage, "action": result.route.action, "queue": result.route.queue or None,
        "escalate": result.route.escalate, "disqualified_by": result.disqualified_by or None,
        "reasons": [[r.criterion, OUTCOMES[r.outcome]] for r in result.reasons], "version": result.bundle_version,
    }


def _bad_request(error: grpc.RpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(error)
    assert status is not None
    details = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(details)
    return [(v.field, v.description) for v in details.field_violations]


def test_score_matches_the_engine(app: App, stub: Any) -> None:
    response = stub.Score(pb.ScoreRequest(record=DACH_LEAD))
    expected = Scorer(app.holder.current.bundle).score(
        [{"industry": "software", "employees": "1001 - 5000", "country": "Germany", "tech_stack": ["salesforce"]}]
    ).results.answer(0)
    assert response.result.id == "v-1"
    assert _as_answer(response.result) == expected


def test_presence_is_explicit(stub: Any) -> None:
    """employees not sent → unknown; employees 0 sent → a real value. smb-self-serve requires
    'max: 50 employees' (criterion 'small'): unknown fails the requirement, 0 holds it."""
    base = {"id": "p", "industry": "software", "country": "US", "use_cases": pb.Values(values=["self-serve-onboarding"])}
    zero = stub.Score(pb.ScoreRequest(record=pb.Record(**base, employees=pb.NumberValue(exact=0)))).result
    assert zero.profile == "smb-self-serve" and zero.qualified
    assert next(r.outcome for r in zero.reasons if r.criterion == "small") == pb.HOLDS
    unsent = stub.Score(pb.ScoreRequest(record=pb.Record(**base), per_profile=True)).result
    assert not next(p for p in unsent.profiles if p.profile == "smb-self-serve").qualified


def test_explain_and_per_profile(stub: Any) -> None:
    result = stub.Score(pb.ScoreRequest(record=DACH_LEAD, explain=True, per_profile=True)).result
    assert [e.criterion for e in result.explained] == [r.criterion for r in result.reasons]
    earned = sum(e.points for e in result.explained)
    positive = sum(e.weight for e in result.explained if e.weight > 0 and not e.exclusion)
    assert result.score == round(1000 * earned / positive) / 10
    assert {p.profile for p in result.profiles} == {"enterprise-saas", "midmarket-fintech", "emea-manufacturing", "smb-self-serve"}
    assert result.runner_up == result.profiles[1].profile


def test_a_malformed_record_is_invalid_argument_naming_the_field(stub: Any) -> None:
    record = pb.Record(id="bad", categories={"industy": "software"}, numbers={"employees": pb.NumberValue(exact=math.nan)})
    with pytest.raises(grpc.RpcError) as raised:
        stub.Score(pb.ScoreRequest(record=record))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "categories[industy]" in raised.value.details()
    fields = [f for f, _ in _bad_request(raised.value)]
    assert fields == ["categories[industy]", "employees"]


def test_a_batch_marks_bad_records_and_scores_the_rest(stub: Any) -> None:
    records = [DACH_LEAD, pb.Record(id="x", sets={"country": pb.Values(values=["DE"])}), pb.Record(id="y", country="US")]
    response = stub.ScoreBatch(pb.ScoreBatchRequest(records=records))
    good_a, bad, good_b = response.results
    assert [r.id for r in response.results] == ["v-1", "x", "y"]
    assert good_a.profile == "enterprise-saas" and not good_a.errors
    assert [(e.field, e.description) for e in bad.errors] == [("sets[country]", "'country' is a category field, not a set")]
    assert bad.profile == "" and good_b.profile
    assert {r.bundle_version for r in response.results} == {response.bundle_version}


def test_columnar_batch_gives_the_same_answers(stub: Any) -> None:
    records = [
        {"id": "c1", "industry": "software", "employees": "1001 - 5000", "country": "Germany", "tech_stack": "salesforce"},
        {"id": "c2", "industry": "Banking", "employees": "250", "country": "UK"},
        {"id": "c3"},
    ]
    fields = ["industry", "employees", "country", "tech_stack"]
    columns = pb.ColumnarRecords(ids=[r["id"] for r in records], columns=[
        pb.Column(field=f, values=[r.get(f, "") for r in records], present=[f in r for r in records]) for f in fields
    ])
    columnar = stub.ScoreBatch(pb.ScoreBatchRequest(columns=columns)).results
    as_messages = stub.ScoreBatch(pb.ScoreBatchRequest(records=[
        pb.Record(id=r["id"], categories={k: v for k, v in r.items() if k in ("industry", "country")},
                  numbers={"employees": pb.NumberValue(text=r["employees"])} if "employees" in r else {},
                  sets={"tech_stack": pb.Values(values=[r["tech_stack"]])} if "tech_stack" in r else {})
        for r in records
    ])).results
    assert [_as_answer(r) for r in columnar] == [_as_answer(r) for r in as_messages]
    assert [r.id for r in columnar] == ["c1", "c2", "c3"]


def _columnar_answers(columns: Any) -> list[dict[str, Any] | None]:
    """Decode ColumnarResults as a client would, into the same answers as _as_answer (None: an error)."""
    out: list[dict[str, Any] | None] = []
    width = columns.reasons_width
    for i in range(len(columns.profile)):
        p = columns.profile[i]
        if p < 0:
            out.append(None)
            continue
        items = columns.criterion_names[columns.criteria_start[p]:columns.criteria_start[p + 1]]
        outcomes = columns.reasons[i * width:(i + 1) * width]
        out.append({
            "profile": columns.profile_names[p], "qualified": columns.qualified[i], "score": columns.score[i],
            "tier": columns.tier_names[columns.tier[i]], "coverage": columns.coverage[i],
            "action": columns.action_names[columns.action[i]], "queue": columns.queue_names[columns.queue[i]] or None,
            "escalate": columns.escalate[i],
            "disqualified_by": columns.criterion_names[columns.disqualified_by[i]] if columns.disqualified_by[i] >= 0 else None,
            "reasons": [[item, OUTCOMES[outcome]] for item, outcome in zip(items, outcomes, strict=False)],
            "version": None,
        })
        assert all(o == 0 for o in outcomes[len(items):])  # padding past the profile's last item
    return out


def test_columnar_results_give_the_same_answers_as_result_messages(stub: Any) -> None:
    """Plain columns → Result messages, against dictionary-encoded columns → ColumnarResults."""
    from benchmarks.loadgen import read_rows, to_columns, to_dictionary_columns

    rows = read_rows()[:500]
    messages = stub.ScoreBatch(pb.ScoreBatchRequest(columns=to_columns(rows))).results
    columnar = stub.ScoreBatch(pb.ScoreBatchRequest(columns=to_dictionary_columns(rows), columnar_results=True))
    assert not columnar.results and len(columnar.columns.profile) == len(messages) == 500
    expected = [{**_as_answer(r), "version": None} for r in messages]
    assert _columnar_answers(columnar.columns) == expected
    assert len({a["profile"] for a in expected}) > 1 and len({a["tier"] for a in expected}) > 1  # not degenerate


def test_columnar_results_mark_malformed_records(stub: Any) -> None:
    bad = pb.Record(id="bad", numbers={"employees": pb.NumberValue(exact=math.nan)})
    response = stub.ScoreBatch(pb.ScoreBatchRequest(records=[DACH_LEAD, bad], columnar_results=True))
    answers = _columnar_answers(response.columns)
    assert answers[1] is None and answers[0] is not None and answers[0]["profile"] == "enterprise-saas"
    assert [(e.index, e.id, [v.field for v in e.violations]) for e in response.columns.errors] == [(1, "bad", ["employees"])]
    with pytest.raises(grpc.RpcError) as raised:
        stub.ScoreBatch(pb.ScoreBatchRequest(records=[DACH_LEAD], columnar_results=True, explain=True))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_present_empty_set_cell_is_a_known_empty_set(stub: Any) -> None:
    columns = pb.ColumnarRecords(ids=["e", "m"], columns=[
        pb.Column(field="tech_stack", values=["", ""], present=[True, False]),
        pb.Column(field="industry", values=["software", "software"]),
    ])
    empty, missing = stub.ScoreBatch(pb.ScoreBatchRequest(columns=columns)).results
    outcome = {r.criterion: r.outcome for r in empty.reasons}
    assert outcome["crm"] == pb.FAILS  # any: [...] fails on a known empty set
    assert {r.criterion: r.outcome for r in missing.reasons}["crm"] == pb.UNKNOWN


def test_malformed_dictionary_columns_are_refused(stub: Any) -> None:
    cases = [
        (pb.Column(field="country", dictionary=["DE"], codes=np.array([0], "<i4").tobytes()), "has 4 bytes of codes for 2 ids"),
        (pb.Column(field="country", dictionary=["DE"], codes=np.array([0, 1], "<i4").tobytes()), "record 1: code 1 is outside the dictionary (-1 to 0)"),
        (pb.Column(field="country", dictionary=["DE"], codes=np.array([0, -1], "<i4").tobytes(), values=["DE", "AT"]), "use one form"),
    ]
    for column, message in cases:
        with pytest.raises(grpc.RpcError) as raised:
            stub.ScoreBatch(pb.ScoreBatchRequest(columns=pb.ColumnarRecords(ids=["a", "b"], columns=[column])))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        (where, description), = _bad_request(raised.value)
        assert where == "columns[0]" and message in description, description


def test_malformed_columns_are_refused(stub: Any) -> None:
    columns = pb.ColumnarRecords(ids=["a", "b"], columns=[pb.Column(field="country", values=["DE"])])
    with pytest.raises(grpc.RpcError) as raised:
        stub.ScoreBatch(pb.ScoreBatchRequest(columns=columns))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _bad_request(raised.value) == [("columns[0]", "column 'country' has 1 values for 2 ids")]


def test_stream_answers_each_batch_in_order(stub: Any) -> None:
    batches = [pb.ScoreBatchRequest(records=[pb.Record(id=f"{b}-{i}", country="US") for i in range(b + 1)]) for b in range(5)]
    responses = list(stub.ScoreStream(iter(batches)))
    assert [[r.id for r in response.results] for response in responses] == [[f"{b}-{i}" for i in range(b + 1)] for b in range(5)]


def test_describe_bundle(app: App, stub: Any) -> None:
    described = stub.DescribeBundle(pb.DescribeBundleRequest())
    bundle = app.holder.current.bundle
    assert described.version == bundle.version
    assert [p.id for p in described.profiles] == bundle.profile_ids
    enterprise = next(p for p in described.profiles if p.id == "enterprise-saas")
    assert enterprise.criteria[0].label == bundle.meta["profiles"][bundle.profile_ids.index("enterprise-saas")]["criteria"][0]["label"]
    assert {f.name: f.type for f in described.fields}["employees"] == "number"


def test_limits_answer_resource_exhausted_naming_the_limit() -> None:
    small = start(limits=Limits(max_batch_records=3, max_message_bytes=4096))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{small.port}") as channel:
            stub = pb_grpc.ScoringStub(channel)
            with pytest.raises(grpc.RpcError) as too_many:
                stub.ScoreBatch(pb.ScoreBatchRequest(records=[pb.Record(id=str(i)) for i in range(4)]))
            assert too_many.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "max_batch_records" in too_many.value.details()
            with pytest.raises(grpc.RpcError) as too_big:
                stub.Score(pb.ScoreRequest(record=pb.Record(id="x" * 10_000)))
            assert too_big.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "4096" in too_big.value.details()
    finally:
        small.stop(0)


def test_an_expired_deadline_is_not_scored(stub: Any) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.ScoreBatch(pb.ScoreBatchRequest(records=[pb.Record(id=str(i)) for i in range(2000)]), timeout=0.000001)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_health_and_reflection(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "icp.v1.Scoring"):
        assert health.Check(health_pb2.HealthCheckRequest(service=service)).status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    response = next(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in response.list_services_response.service}
    assert {"icp.v1.Scoring", "icp.v1.Admin", "grpc.health.v1.Health"} <= names


def test_no_request_compiles_a_kernel(app: App, stub: Any) -> None:
    from runtime.kernels import KERNELS

    before = [len(kernel.signatures) for kernel in KERNELS]
    stub.Score(pb.ScoreRequest(record=DACH_LEAD, per_profile=True))
    stub.ScoreBatch(pb.ScoreBatchRequest(records=[pb.Record(id="z")] * 100))
    assert before == [len(kernel.signatures) for kernel in KERNELS] == [1, 1]
