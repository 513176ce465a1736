"""Graceful shutdown of ``icp serve`` (and SIGHUP reload): SIGTERM drains the calls in flight, turns health
NOT_SERVING, and the process exits 0 within the grace period. Loopback only, bounded waits."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from compiler import compile_profiles
from compiler.schema import DEFAULT_PROFILES_DIR
from server.api import pb, pb_grpc

GRACE_SECONDS = 20.0
CALLS = 20
RECORDS = 5_000
SECRET = "acct-secret-5b1d"
_SCRIPT = Path(sys.executable).with_name("icp")
ICP = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "cli.main"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def batch(call: int) -> Any:
    records = [
        pb.Record(
            id=f"{SECRET}-{call}-{i}", industry="software", country="Germany", employees=pb.NumberValue(text="1001-5000"),
            revenue=pb.NumberValue(exact=4.5e8), tech_stack=pb.Values(values=["salesforce", "marketo"]),
            use_cases=pb.Values(values=["lead-routing"]),
        )
        for i in range(RECORDS)
    ]
    return pb.ScoreBatchRequest(records=records)


def health_status(channel: grpc.Channel) -> Any:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=2).status


@pytest.fixture
def server(tmp_path: Path) -> Any:
    port = free_port()
    profiles = shutil.copytree(DEFAULT_PROFILES_DIR, tmp_path / "profiles")
    log = (tmp_path / "serve.log").open("w+")
    (tmp_path / "salt").write_text("shutdown-salt")
    process = subprocess.Popen(
        [*ICP, "serve", "--profiles", str(profiles), "--port", str(port),
         "--metrics-port", "-1", "--no-watch", "--threads", "8", "--grace-seconds", str(GRACE_SECONDS),
         "--decision-log", str(tmp_path / "decisions.jsonl"), "--decision-log-hash-salt-file", str(tmp_path / "salt")],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield process, port, log, tmp_path / "decisions.jsonl", profiles
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()


def test_sigterm_drains_in_flight_calls_and_exits_zero(server: Any) -> None:
    process, port, log, decisions, profiles = server
    requests = [batch(call) for call in range(CALLS)]
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        deadline = time.monotonic() + 30
        while True:  # wait for SERVING (compile, examples and warm-up first)
            assert process.poll() is None, "icp serve exited during start-up"
            try:
                if health_status(channel) == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError:
                pass
            assert time.monotonic() < deadline, "icp serve never reported SERVING"
            time.sleep(0.05)

        stub = pb_grpc.ScoringStub(channel)
        # SIGHUP reloads the folder (the watcher is off here).
        before = stub.DescribeBundle(pb.DescribeBundleRequest(), timeout=5).version
        saas = profiles / "enterprise-saas.yaml"
        saas.write_text(saas.read_text().replace("name: Enterprise SaaS", "name: Enterprise SaaS (reviewed)"))
        changed = compile_profiles(profiles).version
        assert changed != before
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while stub.DescribeBundle(pb.DescribeBundleRequest(), timeout=5).version != changed:
            assert time.monotonic() < deadline, "SIGHUP did not reload the profiles"
            time.sleep(0.05)

        calls = [stub.ScoreBatch.future(request, timeout=60) for request in requests]
        time.sleep(0.3)  # let them reach the server
        in_flight = sum(not call.done() for call in calls)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()

        turned = False  # NOT_SERVING, or the server no longer takes calls
        while time.monotonic() - signalled < GRACE_SECONDS:
            try:
                if health_status(channel) != health_pb2.HealthCheckResponse.SERVING:
                    turned = True
                    break
            except grpc.RpcError:
                turned = True
                break
            time.sleep(0.02)

        wait_until = signalled + GRACE_SECONDS + 5
        for call in calls:  # raises FutureTimeoutError if one is still running after the grace period
            call.exception(timeout=max(wait_until - time.monotonic(), 0.01))
        codes = [call.code() for call in calls]
        assert codes == [grpc.StatusCode.OK] * CALLS, [(c.code(), c.details()) for c in calls]
        for call in calls:
            response = call.result()
            assert len(response.results) == RECORDS
            assert {r.bundle_version for r in response.results} == {response.bundle_version}

    process.wait(GRACE_SECONDS + 5)
    exited = time.monotonic() - signalled
    log.seek(0)
    output = log.read()
    assert process.returncode == 0, output
    assert exited < GRACE_SECONDS, output
    assert turned
    assert in_flight > 0, "every call finished before SIGTERM; the test proved nothing"
    assert "draining" in output and "stopped" in output and "activated bundle" in output
    assert SECRET not in output  # logs hold versions and counts, never record values
    assert "salesforce" not in output
    # The decision log (wired from the CLI flags) was flushed and closed: one hashed line per record.
    lines = decisions.read_text().splitlines()
    assert len(lines) == CALLS * RECORDS
    first = json.loads(lines[0])
    assert "id" not in first and len(first["id_sha256"]) == 64
    assert SECRET not in lines[0] and SECRET not in lines[-1]
