"""``icp serve --workers 2`` as a real process tree on loopback: answers equal the reference
evaluator's from both workers, /metrics adds up across them, Admin.Reload reaches every worker
before it answers, a killed worker is restarted, SIGTERM drains every worker, and a bundle that
cannot serve makes the supervisor exit 1. Bounded waits throughout.

SO_REUSEPORT balances connections, not calls, so the tests open channels (each its own
connection) until both workers have answered; each answer names its process in the
``icp-worker-pid`` trailing metadata.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.loadgen import SET_COLUMNS, _split, read_rows, to_record
from compiler import compile_profiles, compile_spec
from compiler.schema import DEFAULT_PROFILES_DIR
from runtime.reference import ReferenceEvaluator
from server.api import pb, pb_grpc
from server.interceptors import WORKER_PID_KEY
from server.reload import ReloadOutcome
from server.workers import combine, reserve_port
from tests.conftest import write_folder
from tests.server.test_shutdown import ICP, free_port

TOKEN = "workers-admin-token"
GRACE_SECONDS = 20.0
START_SECONDS = 120.0  # two workers compile, test and warm on 2 shared cores
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]  # a connection of its own per channel
MAX_CHANNELS = 40  # chance that 40 connections all land on one of two workers: 2^-39


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    metrics_port: int
    profiles: Path
    log: IO[str]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.address, options=CHANNEL_OPTIONS)

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as response:
            text = response.read().decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """The sum of every series of ``name`` whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


def start_served(tmp_path: Path, profiles: Path, *extra: str) -> Served:
    port, metrics_port = free_port(), free_port()
    (tmp_path / "token").write_text(TOKEN)
    log = (tmp_path / "serve.log").open("w+")
    process = subprocess.Popen(
        [*ICP, "serve", "--workers", "2", "--threads", "4", "--profiles", str(profiles), "--port", str(port),
         "--metrics-port", str(metrics_port), "--admin-token-file", str(tmp_path / "token"),
         "--grace-seconds", str(GRACE_SECONDS), *extra],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return Served(process, port, metrics_port, profiles, log)


def wait_serving(served: Served) -> None:
    """Until the supervisor says every worker serves (health alone would answer from the first)."""
    wait_for(lambda: "workers (pids" in served.output() or served.process.poll() is not None, "both workers", START_SECONDS)
    assert served.process.poll() is None, served.output()
    with served.channel() as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status
    assert status == health_pb2.HealthCheckResponse.SERVING


def stop(served: Served) -> None:
    if served.process.poll() is None:
        for pid in children(served.process.pid):
            os.kill(pid, signal.SIGKILL)
        served.process.kill()
        served.process.wait(10)
    served.log.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One process tree for the module (starting two workers costs seconds); no folder watcher, so
    only Admin.Reload's fan-out can carry a reload to the worker that did not receive it."""
    tmp_path = tmp_path_factory.mktemp("workers")
    profiles = shutil.copytree(DEFAULT_PROFILES_DIR, tmp_path / "profiles")
    running = start_served(tmp_path, profiles, "--no-watch")
    try:
        wait_serving(running)
        yield running
    finally:
        stop(running)


def pid_of(call: grpc.Call) -> int:
    return int(dict(call.trailing_metadata())[WORKER_PID_KEY])


def over_channels(served: Served, each: Callable[[Any, int], tuple[Any, grpc.Call]], min_channels: int = 1) -> dict[int, list[Any]]:
    """Call ``each(stub, n)`` on new channels until both workers have answered: answers by pid."""
    answers: dict[int, list[Any]] = {}
    for n in range(MAX_CHANNELS):
        if n >= min_channels and len(answers) >= 2:
            break
        with served.channel() as channel:
            response, call = each(pb_grpc.ScoringStub(channel), n)
            answers.setdefault(pid_of(call), []).append(response)
    return answers


def as_answer(result: Any) -> dict[str, Any]:
    return {
        "profile": result.profile, "qualified": result.qualified, "score": result.score, "tier": result.tier,
        "coverage": result.coverage, "action": result.route.action, "queue": result.route.queue or None,
        "escalate": result.route.escalate, "disqualified_by": result.disqualified_by or None,
    }


def reference_answer(evaluator: ReferenceEvaluator, row: dict[str, str]) -> dict[str, Any]:
    record = {k: _split(v) if k in SET_COLUMNS else v for k, v in row.items() if v and k != "id"}
    answer = evaluator.evaluate(record)
    return {key: answer[key] for key in ("profile", "qualified", "score", "tier", "coverage", "action", "queue", "escalate", "disqualified_by")}


def test_both_workers_answer_like_the_reference_and_metrics_add_up(served: Served) -> None:
    rows = read_rows()
    calls_per_channel, per_call = 4, 10
    sent: list[list[dict[str, str]]] = []

    def score(stub: Any, n: int) -> tuple[Any, grpc.Call]:
        results, last = [], None
        for c in range(calls_per_channel):
            start = ((n * calls_per_channel + c) * per_call) % len(rows)
            batch = rows[start : start + per_call]
            sent.append(batch)
            response, last = stub.ScoreBatch.with_call(pb.ScoreBatchRequest(records=[to_record(r) for r in batch]), timeout=30)
            results.append((batch, response))
        return results, last

    before = served.scrape()
    answered = over_channels(served, score, min_channels=8)
    after = served.scrape()

    workers = children(served.process.pid)
    assert len(answered) == 2 and set(answered) <= workers, (answered.keys(), workers)
    evaluator = ReferenceEvaluator(compile_spec(served.profiles))
    versions, compared = set(), 0
    for results in answered.values():
        for per_channel in results:
            for batch, response in per_channel:
                assert [r.id for r in response.results] == [row["id"] for row in batch]
                versions |= {response.bundle_version} | {r.bundle_version for r in response.results}
                for row, result in zip(batch, response.results, strict=True):
                    assert as_answer(result) == reference_answer(evaluator, row), row["id"]
                    compared += 1
    records = sum(len(batch) for batch in sent)
    assert compared == records
    assert len(versions) == 1  # both workers serve the same bundle
    (version,) = versions
    # One aggregate over both processes: every call and record counted once, whichever worker took it.
    calls = total(after, "grpc_server_handled_total", grpc_method="ScoreBatch", grpc_code="OK") - total(
        before, "grpc_server_handled_total", grpc_method="ScoreBatch", grpc_code="OK"
    )
    assert calls == len(sent)
    assert total(after, "icp_records_scored_total") - total(before, "icp_records_scored_total") == records
    assert total(after, "icp_batch_records_count") - total(before, "icp_batch_records_count") == len(sent)
    assert total(after, "icp_requests_in_flight") == 0
    assert total(after, "icp_bundle_info", version=version) == 2  # livesum: both workers serve it


def test_admin_reload_reaches_every_worker_before_it_answers(served: Served) -> None:
    before = served.scrape()
    old = serving_version(served)
    saas = served.profiles / "enterprise-saas.yaml"
    text = saas.read_text()
    name = text.split("\nname: ", 1)[1].split("\n", 1)[0]

    # A change that cannot serve: every worker refuses it alike and keeps the bundle it has.
    saas.write_text(text.replace("weight: 25}", "weight: 25, wieght: 3}", 1))
    response, _ = admin_reload(served)
    assert not response.activated and response.version == old
    assert "unknown key 'wieght'" in response.diagnostics
    assert re.search(f"\nworker [01]: reload failed alike; it still serves {old}$", response.diagnostics)

    saas.write_text(text.replace(f"\nname: {name}\n", f"\nname: {name} (rev {time.time_ns()})\n"))
    new = compile_profiles(served.profiles).version
    assert new != old
    response, call = admin_reload(served)
    assert (response.activated, response.version, response.diagnostics) == (True, new, "")
    receiver = pid_of(call)

    # No waiting: the answer came after every worker had swapped.
    answered = over_channels(served, _describe)
    assert len(answered) == 2 and receiver in answered
    assert {bundle.version for answers in answered.values() for bundle in answers} == {new}
    after = served.scrape()
    assert total(after, "icp_bundle_info", version=new) == 2
    assert total(after, "icp_bundle_info", version=old) == 0  # kept at 0: multiprocess files cannot drop a series
    for outcome in ("activated", "failed"):  # each worker: one refused change, one activated
        assert total(after, "icp_reloads_total", outcome=outcome) - total(before, "icp_reloads_total", outcome=outcome) == 2


def admin_reload(served: Served) -> tuple[Any, grpc.Call]:
    with served.channel() as channel:
        admin = pb_grpc.AdminStub(channel)
        return admin.Reload.with_call(pb.ReloadRequest(), metadata=[("authorization", f"Bearer {TOKEN}")], timeout=120)


def test_a_killed_worker_is_restarted_and_counted(served: Served) -> None:
    before = served.scrape()
    version = serving_version(served)
    victim = min(children(served.process.pid) & set(over_channels(served, _describe)))
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: f"(pid {victim}) was killed by signal 9; restarting it" in served.output(), "the restart")
    wait_for(lambda: served.output().count("serving bundle") >= 3, "the new worker to serve", START_SECONDS)
    assert served.process.poll() is None

    answered = over_channels(served, _describe)
    assert victim not in answered and len(answered) == 2
    assert {bundle.version for answers in answered.values() for bundle in answers} == {version}
    after = served.scrape()
    assert total(after, "icp_worker_restarts_total") - total(before, "icp_worker_restarts_total") == 1
    assert total(after, "icp_bundle_info", version=version) == 2  # the dead worker's live gauge was dropped
    # Counters keep the dead worker's counts: totals never go backwards.
    assert total(after, "icp_records_scored_total") >= total(before, "icp_records_scored_total") > 0


def _describe(stub: Any, _n: int) -> tuple[Any, grpc.Call]:
    return stub.DescribeBundle.with_call(pb.DescribeBundleRequest(), timeout=10)


def serving_version(served: Served) -> str:
    """The one version both workers serve."""
    versions = {bundle.version for answers in over_channels(served, _describe).values() for bundle in answers}
    assert len(versions) == 1, versions
    return versions.pop()


def test_sigterm_drains_every_worker_and_the_tree_exits(served: Served) -> None:
    """Runs last on the module's server (it ends it)."""
    rows = read_rows()[:2_000]
    request = pb.ScoreBatchRequest(records=[to_record(r) for r in rows])
    channels = [served.channel() for _ in range(12)]
    futures = [pb_grpc.ScoringStub(ch).ScoreBatch.future(request, timeout=60) for ch in channels for _ in range(2)]
    workers = children(served.process.pid)
    time.sleep(0.3)  # let them reach the workers
    in_flight = sum(not f.done() for f in futures)
    served.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    for future in futures:
        future.exception(timeout=GRACE_SECONDS + 10)
    assert [f.code() for f in futures] == [grpc.StatusCode.OK] * len(futures), [(f.code(), f.details()) for f in futures]
    assert all(len(f.result().results) == len(rows) for f in futures)
    assert len({pid_of(f) for f in futures}) == 2  # both workers were draining calls
    served.process.wait(GRACE_SECONDS + 10)
    output = served.output()
    assert served.process.returncode == 0, output
    assert time.monotonic() - signalled < GRACE_SECONDS, output
    assert in_flight > 0, "every call finished before SIGTERM; the test proved nothing"
    wait_for(lambda: not any(alive(pid) for pid in workers), "the workers to exit", 10)
    assert output.count("stopped") == 3  # both workers and the supervisor
    for channel in channels:
        channel.close()


def test_a_bundle_that_cannot_serve_exits_1_and_leaves_no_process(tmp_path: Path) -> None:
    profiles = write_folder(tmp_path / "profiles", [{"id": "one", "criteria": [{"field": "size", "min": 5, "weight": 1, "wieght": 3}]}])
    served = start_served(tmp_path, profiles)
    try:
        seen: set[int] = set()

        def watch() -> None:  # the workers' pids while they live
            while served.process.poll() is None:
                seen.update(children(served.process.pid))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        served.process.wait(START_SECONDS)
        watcher.join(5)
        output = served.output()
        assert served.process.returncode == 1, output
        assert "wieght" in output and "before serving; stopping" in output
        wait_for(lambda: not any(alive(pid) for pid in seen), "every worker to exit", 10)
    finally:
        stop(served)


def test_a_taken_port_is_refused_before_any_worker_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            reserve_port("127.0.0.1", taken.getsockname()[1])
    held = reserve_port("127.0.0.1", 0)
    with held:
        port = held.getsockname()[1]
        assert port > 0
        with socket.socket() as other, pytest.raises(OSError):  # a plain (unshared) server cannot take it either
            other.bind(("127.0.0.1", port))


def test_one_reload_answer_for_all_workers() -> None:
    own = ReloadOutcome(True, "v2", "")
    assert combine(own, [(1, True, "v2", ""), (2, True, "v2", "")]) == own
    failed = combine(own, [(1, False, "v1", "profiles/x.yaml:3:1: bad"), (2, True, "v3", "")])
    assert not failed.activated and failed.version == "v2"
    assert failed.diagnostics == (
        "worker 1: reload failed; it still serves v1\nprofiles/x.yaml:3:1: bad\n"
        "worker 2: serves v3 (the profiles changed during the reload; its watcher converges)"
    )
