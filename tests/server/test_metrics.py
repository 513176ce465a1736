"""/metrics scraped over HTTP from a real server after real calls; the exposition passes
``promtool check metrics`` where Debian's prometheus package is installed (CI installs it)."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.api import pb, pb_grpc
from tests.server.conftest import start


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def scraped() -> Any:
    """A fresh server, a known set of calls, then one scrape."""
    app = start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            stub = pb_grpc.ScoringStub(channel)
            lead = pb.Record(id="a", industry="software", employees=pb.NumberValue(text="1001 - 5000"), country="Germany",
                             tech_stack=pb.Values(values=["salesforce"]))
            stub.Score(pb.ScoreRequest(record=lead))
            stub.Score(pb.ScoreRequest(record=lead))
            with pytest.raises(grpc.RpcError):
                stub.Score(pb.ScoreRequest(record=pb.Record(id="b", categories={"nope": "x"})))
            stub.ScoreBatch(pb.ScoreBatchRequest(records=[
                pb.Record(id="c", country="Atlantis", employees=pb.NumberValue(text="5O-200")), pb.Record(id="d"),
            ]))
            text = _scrape(app.metrics_port)
        yield app, text, _samples(text)
    finally:
        app.stop(0)


def test_request_counts_and_latency_per_method_and_code(scraped: Any) -> None:
    _, _, samples = scraped
    score = (("grpc_code", "OK"), ("grpc_method", "Score"), ("grpc_service", "icp.v1.Scoring"))
    bad = (("grpc_code", "INVALID_ARGUMENT"), ("grpc_method", "Score"), ("grpc_service", "icp.v1.Scoring"))
    assert samples[("grpc_server_handled_total", score)] == 2
    assert samples[("grpc_server_handled_total", bad)] == 1
    count = samples[("grpc_server_handling_seconds_count", (("grpc_method", "Score"), ("grpc_service", "icp.v1.Scoring")))]
    assert count == 3
    smallest = samples[("grpc_server_handling_seconds_bucket", (("grpc_method", "Score"), ("grpc_service", "icp.v1.Scoring"), ("le", "5e-05")))]
    assert 0 <= smallest <= 3  # a 50 µs bucket exists


def test_records_by_profile_and_tier_batch_sizes_and_data_quality(scraped: Any) -> None:
    app, _, samples = scraped
    # Two Score calls of the DACH lead (enterprise-saas, tier B: 65 of 100 points) plus a batch of
    # two records; the malformed record is not scored.
    records = {labels: v for (name, labels), v in samples.items() if name == "icp_records_scored_total"}
    assert sum(records.values()) == 4
    assert records[(("profile", "enterprise-saas"), ("tier", "B"))] >= 2
    assert samples[("icp_record_errors_total", ())] == 1
    assert samples[("icp_batch_records_count", ())] == 4  # three Score calls (one refused) and one batch
    assert samples[("icp_batch_records_sum", ())] == 5
    assert samples[("icp_field_values_total", (("field", "country"), ("status", "unlisted")))] == 1
    assert samples[("icp_field_values_total", (("field", "employees"), ("status", "unreadable")))] == 1
    version = app.holder.current.bundle.version
    assert samples[("icp_bundle_info", (("version", version),))] == 1
    assert samples[("icp_requests_in_flight", ())] == 0


def test_no_record_values_in_labels(scraped: Any) -> None:
    _, text, _ = scraped
    for value in ("Atlantis", "5O-200", "Germany", "salesforce"):
        assert value not in text


def test_exposition_passes_promtool(scraped: Any) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package 'prometheus'; .ci/run installs it): exposition check skipped")
    _, text, _ = scraped
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
