"""Hot reload under load: the folder watcher, the Admin.Reload RPC, and no JIT compile after a swap.

The test owns a copy of profiles/ plus a probe profile whose weight it changes: a record that only
the probe qualifies for scores ``100 × W ÷ (W + 10)``, so every valid change moves both the version
and the score. Invalid changes (a half-saved file, an unknown key or field, an example that now
fails) must be refused and counted while the previous bundle keeps serving.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

import runtime.kernels
from compiler import compile_profiles
from compiler.schema import DEFAULT_PROFILES_DIR
from server.api import pb, pb_grpc
from server.app import App
from server.watch import FolderWatcher
from tests.server.conftest import start

PROBE = """\
id: zz-reload-probe
name: Reload probe
owner: tests
description: Test-only profile; the reload test changes its weight
priority: 0
criteria:
  - {{id: founded, label: "Founded 1800-1801", field: founded_year, between: [1800, 1801], required: true, weight: {weight}}}
  - {{id: huge, label: "10M+ employees", field: employees, min: 10000000, weight: 10}}
"""
FAILING_EXAMPLE = """\
examples:
  - record: {founded_year: 1800, employees: 5}
    expect: {profile: zz-reload-probe, tier: A}
"""
SECRET_ID = "visitor-7f3a-secret"
SECRET_INDUSTRY = "zz confidential industry 4711"  # unlisted: read, never named by a profile


def probe_record(i: int) -> Any:
    return pb.Record(
        id=f"{SECRET_ID}-{i}", founded_year=pb.NumberValue(exact=1800), employees=pb.NumberValue(exact=5),
        industry=SECRET_INDUSTRY, country="Germany",
    )


def expected_score(weight: int) -> float:
    positive = weight + 10
    return ((2000 * weight + positive) // (2 * positive)) / 10  # the documented half-up rounding


@dataclass
class Folder:
    """The profiles copy, one state at a time."""

    path: Path
    enterprise: str = ""

    def __post_init__(self) -> None:
        self.enterprise = (self.path / "enterprise-saas.yaml").read_text()

    def write(self, kind: str, weight: int) -> None:
        probe = PROBE.format(weight=weight)
        enterprise = self.enterprise
        if kind == "yaml":  # a half-saved file: cut inside a flow mapping
            probe = probe[: probe.index("label", probe.index("id: huge"))]
        elif kind == "unknown_key":
            probe = probe.replace("weight: 10}", "weight: 10, wieght: 3}")
        elif kind == "unknown_field":
            probe = probe.replace("field: employees", "field: headcount_band")
        elif kind == "example_probe":
            probe += FAILING_EXAMPLE
        elif kind == "example_weight":  # industry 25 -> 30 breaks enterprise-saas's worked scores
            enterprise = enterprise.replace("in: [software, internet, cloud-infrastructure, data-and-analytics, cybersecurity], weight: 25}",
                                            "in: [software, internet, cloud-infrastructure, data-and-analytics, cybersecurity], weight: 30}")
            assert enterprise != self.enterprise
        else:
            assert kind == "valid"
        (self.path / "zz-reload-probe.yaml").write_text(probe)
        if (self.path / "enterprise-saas.yaml").read_text() != enterprise:
            (self.path / "enterprise-saas.yaml").write_text(enterprise)


def copy_profiles(tmp_path: Path) -> Folder:
    target = tmp_path / "profiles"
    shutil.copytree(DEFAULT_PROFILES_DIR, target)
    folder = Folder(target)
    folder.write("valid", 10)
    return folder


def reloads(app: App, outcome: str) -> float:
    return app.metrics.registry.get_sample_value("icp_reloads_total", {"outcome": outcome}) or 0.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Client:
    """Sends ScoreBatch continuously (bounded by a stop event and a deadline) and records what it saw."""

    stub: Any
    deadline: float
    stop: threading.Event = field(default_factory=threading.Event)
    calls: int = 0
    failures: list[str] = field(default_factory=list)
    mixed: list[str] = field(default_factory=list)
    scores: dict[str, set[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        request = pb.ScoreBatchRequest(records=[probe_record(i) for i in range(25)])
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            try:
                response = self.stub.ScoreBatch(request, timeout=5)
            except grpc.RpcError as error:
                self.failures.append(f"{error.code()}: {error.details()}")
                continue
            versions = {r.bundle_version for r in response.results}
            with self.lock:
                self.calls += 1
                if versions != {response.bundle_version}:
                    self.mixed.append(f"{response.bundle_version} vs {sorted(versions)}")
                self.scores.setdefault(response.bundle_version, set()).update(r.score for r in response.results)
            time.sleep(0.003)  # leave the GIL to the reload thread now and then

    def seen(self, version: str) -> bool:
        with self.lock:
            return version in self.scores


KINDS = [
    "valid", "yaml", "valid", "unknown_key", "valid", "valid", "example_weight", "valid", "unknown_field", "valid",
    "yaml", "valid", "example_probe", "valid", "valid", "unknown_key", "valid", "example_weight", "valid", "valid",
]


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return copy_profiles(tmp_path)


def test_watcher_reloads_under_load_without_failed_calls(folder: Folder, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="icp")
    initial = compile_profiles(folder.path).version
    app = start(folder.path, watch_poll_seconds=0.05, reload_debounce_seconds=0.1)
    try:
        assert app.holder.current.bundle.version == initial
        signatures = [len(kernel.signatures) for kernel in runtime.kernels.KERNELS]
        assert signatures == [1, 1]
        with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            client = Client(pb_grpc.ScoringStub(channel), deadline=time.monotonic() + 180)  # bounded; generous for loaded CI machines
            thread = threading.Thread(target=client.run, daemon=True)
            thread.start()
            wait_for(lambda: client.seen(initial), "the first response")
            valid = {initial: 10}
            invalid: set[str] = set()
            weight, failed = 10, 0
            for step, kind in enumerate(KINDS):
                if kind == "valid":
                    weight = 11 + step  # a fresh weight: a new version and a new score
                folder.write(kind, weight)
                if kind == "valid":
                    version = compile_profiles(folder.path).version  # computed independently of the server
                    assert version not in valid
                    valid[version] = weight
                    wait_for(lambda v=version: client.seen(v), f"step {step}: version {version} served")
                else:
                    failed += 1
                    if kind.startswith("example"):  # compiles, but its examples fail
                        invalid.add(compile_profiles(folder.path).version)
                    wait_for(lambda n=failed: reloads(app, "failed") >= n, f"step {step}: failed reload {failed} counted")
            client.stop.set()
            thread.join(10)
            assert not thread.is_alive()
            # The first request after the last reload, on the request path: still one kernel signature.
            assert pb_grpc.ScoringStub(channel).ScoreBatch(pb.ScoreBatchRequest(records=[probe_record(0)]), timeout=5).results
        assert [len(kernel.signatures) for kernel in runtime.kernels.KERNELS] == signatures == [1, 1]
    finally:
        app.stop(0)
    name = f"icp-profile-watcher:{folder.path}"
    wait_for(lambda: all(t.name != name for t in threading.enumerate()), "the watcher to stop with the server", timeout=3)

    assert client.failures == []
    assert client.mixed == []
    assert client.calls > 50
    assert set(client.scores) == set(valid)  # every valid version served, nothing else
    assert not invalid & set(client.scores)
    for version, scores in client.scores.items():
        assert scores == {expected_score(valid[version])}, version
    assert len({expected_score(w) for w in valid.values()}) == len(valid)  # each valid change moved the score
    assert reloads(app, "failed") == len(KINDS) - KINDS.count("valid")
    assert reloads(app, "activated") == KINDS.count("valid")
    # The server's logs name versions and diagnostics, never a record's values.
    assert "activated bundle" in caplog.text and "reload of" in caplog.text
    assert SECRET_ID not in caplog.text
    assert SECRET_INDUSTRY not in caplog.text.lower() and "zz-confidential" not in caplog.text


@pytest.fixture
def admin_app(folder: Folder) -> Iterator[App]:
    app = start(folder.path, watch=False, admin_token="s3cret-token")
    yield app
    app.stop(0)


def test_admin_reload_is_off_without_a_token(folder: Folder) -> None:
    app = start(folder.path, watch=False)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel, pytest.raises(grpc.RpcError) as error:
            pb_grpc.AdminStub(channel).Reload(pb.ReloadRequest(), metadata=[("authorization", "Bearer x")], timeout=5)
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        app.stop(0)


def test_admin_reload_with_a_token(folder: Folder, admin_app: App) -> None:
    before = admin_app.holder.current.bundle.version
    with grpc.insecure_channel(f"127.0.0.1:{admin_app.port}") as channel:
        admin, scoring = pb_grpc.AdminStub(channel), pb_grpc.ScoringStub(channel)
        for metadata, code in (
            ([], grpc.StatusCode.UNAUTHENTICATED),
            ([("authorization", "Bearer wrong")], grpc.StatusCode.PERMISSION_DENIED),
            ([("authorization", "s3cret-token")], grpc.StatusCode.PERMISSION_DENIED),
        ):
            with pytest.raises(grpc.RpcError) as error:
                admin.Reload(pb.ReloadRequest(), metadata=metadata, timeout=5)
            assert error.value.code() == code
        assert admin_app.holder.current.bundle.version == before  # refused calls reload nothing
        good = [("authorization", "Bearer s3cret-token")]

        folder.write("valid", 30)
        changed = compile_profiles(folder.path).version
        answer = admin.Reload(pb.ReloadRequest(), metadata=good, timeout=30)
        assert (answer.activated, answer.version, answer.diagnostics) == (True, changed, "")
        assert scoring.DescribeBundle(pb.DescribeBundleRequest(), timeout=5).version == changed

        folder.write("unknown_field", 30)
        answer = admin.Reload(pb.ReloadRequest(), metadata=good, timeout=30)
        assert not answer.activated
        assert answer.version == changed
        assert "zz-reload-probe.yaml" in answer.diagnostics and "headcount_band" in answer.diagnostics
        result = scoring.Score(pb.ScoreRequest(record=probe_record(1)), timeout=5).result
        assert (result.bundle_version, result.score) == (changed, expected_score(30))
        assert reloads(admin_app, "failed") == 1
        assert reloads(admin_app, "activated") == 1


def test_watcher_debounces_a_burst_and_watches_nested_yaml_only(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    (folder / "taxonomies").mkdir(parents=True)
    (folder / "a.yaml").write_text("x")
    calls: list[float] = []
    watcher = FolderWatcher(folder, lambda: calls.append(time.monotonic()), poll_seconds=0.02, debounce_seconds=0.2).start()
    try:
        for i in range(8):  # a burst (an editor saving, a git checkout): one reload after it
            (folder / "a.yaml").write_text("x" * (i + 2))
            time.sleep(0.03)
        last = time.monotonic()
        wait_for(lambda: bool(calls), "a reload")
        assert calls[0] - last >= 0.15
        (folder / "notes.md").write_text("not a profile")
        (folder / ".a.yaml.swp").write_text("editor swap file")
        time.sleep(0.35)
        assert len(calls) == 1
        (folder / "taxonomies" / "geo.yml").write_text("nested")
        wait_for(lambda: len(calls) == 2, "a reload for a nested taxonomy file")
        (folder / "a.yaml").unlink()
        wait_for(lambda: len(calls) == 3, "a reload for a removed file")
    finally:
        watcher.stop(2)
    assert not watcher.running


def test_no_watch_keeps_the_bundle_until_asked(folder: Folder) -> None:
    app = start(folder.path, watch=False, watch_poll_seconds=0.02, reload_debounce_seconds=0.05)
    try:
        before = app.holder.current.bundle.version
        folder.write("valid", 40)
        time.sleep(0.4)
        assert app.holder.current.bundle.version == before
        assert reloads(app, "activated") == reloads(app, "failed") == 0
        assert app.reloader.reload().activated  # SIGHUP and Admin.Reload still work
        assert app.holder.current.bundle.version == compile_profiles(folder.path).version != before
    finally:
        app.stop(0)
