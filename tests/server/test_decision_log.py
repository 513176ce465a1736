"""The decision log: one JSON line per scored record with only the decision (never a field value),
salted id hashes, and size-based rotation."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import grpc

from server.api import pb, pb_grpc
from server.decisions import DecisionLog, DecisionLogConfig, hash_id
from tests.server.conftest import start

KEYS = {"time", "id", "version", "profile", "qualified", "score", "tier", "route", "reasons"}
HASHED_KEYS = KEYS - {"id"} | {"id_sha256"}
ROUTE_KEYS = {"action", "queue", "escalate"}
# Field values nobody else uses: none of them may reach the log.
VALUES = {
    "industry": "Zyxcorp Widgetry", "country": "Germany", "region": "Western Europe", "state": "Bavaria", "funding_stage": "Series B",
    "tech_stack": ["salesforce", "tool-qwerty-77"], "use_cases": ["inbound routing"], "pain_points": ["pain-asdf-12"],
    "buying_triggers": ["rfp-open"], "employees": "1001 - 5000", "revenue": "$450M", "founded_year": "1937",
}


def record(record_id: str, **overrides: Any) -> Any:
    values = {**VALUES, **overrides}
    message = pb.Record(id=record_id)
    for name, value in values.items():
        if name in ("employees", "revenue", "founded_year"):
            getattr(message, name).text = value
        elif isinstance(value, list):
            getattr(message, name).values.extend(value)
        else:
            setattr(message, name, value)
    return message


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def score(app: Any, records: list[Any]) -> Any:
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        return pb_grpc.ScoringStub(channel).ScoreBatch(pb.ScoreBatchRequest(records=records), timeout=10)


def test_one_line_per_scored_record_with_only_the_decision(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "decisions.jsonl"
    app = start(watch=False, decision_log=DecisionLogConfig(path))
    try:
        records = [record(f"acct-{i}") for i in range(3)]
        records.append(record("acct-out", country="Russia", employees="20"))
        records.append(record("acct-unreadable", employees="5O-200"))  # read as missing, scored, logged
        bad = record("acct-bad")
        bad.categories["no_such_field"] = "x"  # malformed: an error entry, not a decision
        records.append(bad)
        response = score(app, records)
        with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            one = pb_grpc.ScoringStub(channel).Score(pb.ScoreRequest(record=record("acct-unary")), timeout=5).result
    finally:
        app.stop(0)
    text = path.read_text()
    entries = read_lines(path)
    assert [e["id"] for e in entries] == ["acct-0", "acct-1", "acct-2", "acct-out", "acct-unreadable", "acct-unary"]
    by_id = {r.id: r for r in [*response.results, one]}
    for entry in entries:
        assert set(entry) == KEYS
        assert set(entry["route"]) == ROUTE_KEYS
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
        result = by_id[entry["id"]]
        assert entry["version"] == result.bundle_version == app.holder.current.bundle.version
        assert (entry["profile"], entry["qualified"], entry["score"], entry["tier"]) == (
            result.profile, result.qualified, result.score, result.tier)
        assert entry["route"] == {"action": result.route.action, "queue": result.route.queue, "escalate": result.route.escalate}
        outcomes = {pb.HOLDS: "holds", pb.FAILS: "fails", pb.UNKNOWN: "unknown"}
        assert entry["reasons"] == ";".join(f"{r.criterion}={outcomes[r.outcome]}" for r in result.reasons)
    assert entries[0]["qualified"] and not entries[3]["qualified"]
    # No field value of any record, in any spelling the server might normalise it to.
    for value in VALUES.values():
        for item in value if isinstance(value, list) else [value]:
            for spelling in {item, item.lower(), item.lower().replace(" ", "-"), item.replace(" ", "")}:
                assert spelling not in text, spelling
    assert response.results[-1].errors
    for bad in ("5O-200", "5o-200", "russia", "acct-bad", "no_such_field"):
        assert bad not in text.lower()


def test_salted_hash_replaces_the_id(tmp_path: Path) -> None:
    salt_file = tmp_path / "salt"
    salt_file.write_text("pepper-1234\n")
    path = tmp_path / "decisions.jsonl"
    app = start(watch=False, decision_log=DecisionLogConfig(path, hash_salt_file=salt_file))
    try:
        score(app, [record("acct-7"), record("acct-8"), record("acct-7")])
    finally:
        app.stop(0)
    text = path.read_text()
    entries = read_lines(path)
    assert all(set(e) == HASHED_KEYS for e in entries)
    hashes = [e["id_sha256"] for e in entries]
    assert hashes[0] == hashes[2] != hashes[1]  # deterministic for one salt
    assert hashes[0] == hashlib.sha256(b"pepper-1234acct-7").hexdigest() == hash_id(b"pepper-1234", "acct-7")
    assert hash_id(b"another-salt", "acct-7") != hashes[0]
    assert hashes[0] != hashlib.sha256(b"acct-7").hexdigest()  # salted, not a plain hash of the id
    assert "acct-7" not in text and "acct-8" not in text


def test_rotates_at_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    max_bytes, backups = 3000, 3
    app = start(watch=False, decision_log=DecisionLogConfig(path, max_bytes=max_bytes, backups=backups))
    try:
        for batch in range(8):
            score(app, [record(f"b{batch}-r{i}") for i in range(10)])
    finally:
        app.stop(0)
    files = [path, *(path.with_name(f"{path.name}.{n}") for n in range(1, backups + 1))]
    assert all(f.is_file() for f in files)
    assert not path.with_name(f"{path.name}.{backups + 1}").exists()  # only `backups` old files are kept
    ids = []
    for f in reversed(files):  # oldest first
        data = f.read_bytes()
        assert 0 < len(data) <= max_bytes
        if f != path:  # a rotated file was filled up to the limit, less at most one write
            assert len(data) > max_bytes * 0.7
        assert data.endswith(b"\n")  # a rotation never splits a line
        ids += [e["id"] for e in read_lines(f)]
    assert ids[-1] == "b7-r9"
    assert ids == sorted(ids, key=lambda i: tuple(int(p[1:]) for p in i.split("-")))  # in order, none lost in between
    assert len(ids) == len(set(ids))


def test_logger_does_not_propagate_and_closes(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "d.jsonl", max_bytes=0)
    assert log._logger.propagate is False
    log.close()
    log.close()  # idempotent
    assert not (tmp_path / "d.jsonl").read_text()
