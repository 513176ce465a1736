"""The Node.js example client (examples/node-client) against a real server: the same records
through the Python stubs and through ``node client.js`` in each mode give identical results."""

from __future__ import annotations

import csv
import itertools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from server.api import pb

REPO = Path(__file__).resolve().parents[2]
CLIENT_DIR = REPO / "examples" / "node-client"
NODE = shutil.which("node") or ""

if not NODE or not (CLIENT_DIR / "node_modules").is_dir():
    pytest.skip(
        "node is not installed or examples/node-client/node_modules is absent: "
        "Node.js client tests skipped: run npm ci --prefix examples/node-client",
        allow_module_level=True,
    )

HAND_WRITTEN: list[dict[str, Any]] = [
    {  # a full record
        "id": "full-1", "industry": "Computer Software", "employees": {"exact": 2500}, "revenue": {"exact": 350e6},
        "founded_year": {"exact": 2009}, "country": "US", "state": "CA", "funding_stage": "Series D",
        "tech_stack": {"values": ["Salesforce", "Snowflake"]}, "use_cases": {"values": ["lead routing"]},
        "pain_points": {"values": ["manual routing"]}, "buying_triggers": {"values": ["new VP of sales"]},
    },
    {  # another full record, fintech
        "id": "full-2", "industry": "Payments", "employees": {"range": {"lo": 201, "hi": 500}}, "revenue": {"text": "$48M"},
        "founded_year": {"exact": 2016}, "country": "Canada", "region": "North America", "funding_stage": "Series B",
        "tech_stack": {"values": ["HubSpot"]}, "use_cases": {"values": ["compliance automation"]},
        "pain_points": {"values": ["regulatory pressure"]}, "buying_triggers": {"values": ["audit finding"]},
    },
    {"id": "only-id"},  # every field missing
    {},  # not even an id
    {"id": "exact-zero", "industry": "Software", "employees": {"exact": 0}, "country": "DE"},  # 0 reads as unreadable
    {"id": "open-range", "industry": "Manufacturing", "employees": {"range": {"lo": 10001}}, "country": "Germany"},
    {"id": "range-text", "industry": "Banking", "employees": {"text": "51-200"}, "revenue": {"text": "$1.2B"}},
    {"id": "range-lo-hi", "industry": "Retail", "employees": {"range": {"lo": 1, "hi": 10}}, "revenue": {"range": {"lo": 0, "hi": 500000}}},
    {"id": "empty-sets", "industry": "Software", "country": "US", "tech_stack": {"values": []}, "use_cases": {"values": []},
     "pain_points": {"values": []}, "buying_triggers": {"values": []}},
    {  # standard fields through the user-field maps
        "id": "maps", "categories": {"industry": "Fintech", "country": "GB"},
        "sets": {"tech_stack": {"values": ["Salesforce"]}, "pain_points": {"values": []}},
        "numbers": {"employees": {"exact": 300}, "revenue": {"range": {"lo": 20e6, "hi": 80e6}}},
    },
]
SET_COLUMNS = ("tech_stack", "use_cases", "pain_points", "buying_triggers")
NUMBER_COLUMNS = ("employees", "revenue", "founded_year")
MALFORMED = {"id": "bad-1", "industry": "Software", "categories": {"colour": "red"}}


def visitors(n: int) -> list[dict[str, Any]]:
    """The first ``n`` rows of examples/data/visitors.csv as Record JSON (an empty cell is missing)."""
    records = []
    with (REPO / "examples" / "data" / "visitors.csv").open(newline="") as handle:
        for row in itertools.islice(csv.DictReader(handle), n):
            record: dict[str, Any] = {}
            for name, cell in row.items():
                if not cell:
                    continue
                if name in SET_COLUMNS:
                    record[name] = {"values": [v.strip() for v in cell.split(",") if v.strip()]}
                elif name in NUMBER_COLUMNS:
                    record[name] = {"text": cell}
                else:
                    record[name] = cell
            records.append(record)
    return records


RECORDS = HAND_WRITTEN + visitors(10)


def python_view(result: Any) -> dict[str, Any]:
    """The compared fields of a Python ``Result`` message."""
    return {
        "id": result.id,
        "profile": result.profile,
        "qualified": result.qualified,
        "score": result.score,
        "tier": result.tier,
        "coverage": result.coverage,
        "route": ({"action": result.route.action, "queue": result.route.queue, "escalate": result.route.escalate}
                  if result.HasField("route") else None),
        "disqualified_by": result.disqualified_by,
        "reasons": [{"criterion": r.criterion, "outcome": pb.Outcome.Name(r.outcome)} for r in result.reasons],
        "bundle_version": result.bundle_version,
        "errors": [{"field": e.field, "description": e.description} for e in result.errors],
    }


def node_view(result: dict[str, Any]) -> dict[str, Any]:
    """The same fields of a Result the Node client printed (every field is printed, defaults too)."""
    return {key: result[key] for key in ("id", "profile", "qualified", "score", "tier", "coverage", "route",
                                         "disqualified_by", "reasons", "bundle_version", "errors")}


def extras_python(result: Any) -> dict[str, Any]:
    return {
        "explained": [
            {"criterion": r.criterion, "label": r.label, "outcome": pb.Outcome.Name(r.outcome), "points": r.points,
             "weight": r.weight, "required": r.required, "exclusion": r.exclusion}
            for r in result.explained
        ],
        "profiles": [
            {"profile": p.profile, "score": p.score, "tier": p.tier, "qualified": p.qualified, "coverage": p.coverage}
            for p in result.profiles
        ],
        "runner_up": result.runner_up,
    }


def extras_node(result: dict[str, Any]) -> dict[str, Any]:
    return {"explained": result["explained"], "profiles": result["profiles"], "runner_up": result["runner_up"]}


def run_node(port: int, mode: str, records: list[dict[str, Any]], *flags: str) -> subprocess.CompletedProcess[str]:
    stdin = "".join(json.dumps(r) + "\n" for r in records)
    return subprocess.run(
        [NODE, str(CLIENT_DIR / "client.js"), "--address", f"127.0.0.1:{port}", "--mode", mode, "--deadline-ms", "10000",
         "--batch-size", "7", *flags],
        input=stdin, capture_output=True, text=True, timeout=30, check=False,
    )


def printed(completed: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in completed.stdout.splitlines()]


def to_message(record: dict[str, Any]) -> Any:
    return json_format.ParseDict(record, pb.Record())


@pytest.fixture(scope="module")
def reference(stub: Any) -> list[Any]:
    """Every record scored through the Python stub, one Score call each, with explain and per_profile."""
    return [stub.Score(pb.ScoreRequest(record=to_message(r), explain=True, per_profile=True), timeout=10).result for r in RECORDS]


@pytest.mark.parametrize("mode", ["score", "batch", "stream"])
def test_node_and_python_see_the_same_results(app: Any, reference: list[Any], mode: str) -> None:
    completed = run_node(app.port, mode, RECORDS)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    results = printed(completed)
    assert len(results) == len(RECORDS)
    for record, expected, got in zip(RECORDS, reference, results, strict=True):
        assert node_view(got) == python_view(expected), f"record {record.get('id')!r} in mode {mode}"


def test_explain_and_per_profile_match(app: Any, reference: list[Any]) -> None:
    completed = run_node(app.port, "batch", RECORDS, "--explain", "--per-profile")
    assert completed.returncode == 0, completed.stderr
    results = printed(completed)
    assert any(r["explained"] for r in results) and any(r["profiles"] for r in results)
    for record, expected, got in zip(RECORDS, reference, results, strict=True):
        assert node_view(got) == python_view(expected), record.get("id")
        assert extras_node(got) == extras_python(expected), record.get("id")


def test_defaults_are_printed(app: Any) -> None:
    completed = run_node(app.port, "score", [{"id": "only-id"}])
    assert completed.returncode == 0, completed.stderr
    line = completed.stdout.strip()
    assert '"qualified":false' in line and '"score":0' in line and '"errors":[]' in line


def test_malformed_record_is_invalid_argument_naming_the_field(app: Any, stub: Any) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.Score(pb.ScoreRequest(record=to_message(MALFORMED)), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    completed = run_node(app.port, "score", [MALFORMED])
    assert completed.returncode == 1
    assert completed.stdout == ""
    lines = completed.stderr.splitlines()
    assert lines[0].startswith("line 1 (id bad-1): INVALID_ARGUMENT: ")
    assert "categories[colour]" in lines[0]
    # the google.rpc.BadRequest field violation, decoded from grpc-status-details-bin
    assert "  field categories[colour]: unknown field 'colour'" in lines[1:]


@pytest.mark.parametrize("mode", ["batch", "stream"])
def test_malformed_record_in_a_batch_gets_its_own_errors(app: Any, stub: Any, mode: str) -> None:
    records = [RECORDS[0], MALFORMED, RECORDS[1]]
    expected = stub.ScoreBatch(pb.ScoreBatchRequest(records=[to_message(r) for r in records]), timeout=10).results
    completed = run_node(app.port, mode, records)
    assert completed.returncode == 0, completed.stderr
    results = printed(completed)
    assert [node_view(r) for r in results] == [python_view(r) for r in expected]
    assert results[1]["errors"] == [{"field": "categories[colour]", "description": "unknown field 'colour'"}]
    assert results[0]["errors"] == [] and results[2]["errors"] == []


def test_a_typo_in_a_record_is_refused_before_sending(app: Any) -> None:
    completed = run_node(app.port, "score", [{"id": "typo", "industy": "Software"}])
    assert completed.returncode == 2
    assert "unknown Record field(s) industy" in completed.stderr
