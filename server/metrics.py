"""Prometheus metrics, defined once on an injected registry (tests start many servers in one
process). Label values are bounded: methods and codes by gRPC, profiles, tiers and fields by the
bundle, outcomes by this module.

Under ``icp serve --workers N`` every worker process writes these to prometheus_client's
multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, set by server/workers.py before a worker imports
prometheus_client) and the supervisor serves their sum. Counters and histograms add up; each
gauge says how its workers' values combine (``multiprocess_mode``; ignored by one process), and
the ``live`` modes drop a dead worker's value."""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Resolve 50 µs to 50 ms (the client library's defaults start at 5 ms), plus a tail.
LATENCY_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5)
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ  # as prometheus_client decides it, at import
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class _CachedLabels:
    """``labels(*values)`` from a dict of the children already made. prometheus_client's own
    validates, converts every value with ``str`` and takes a lock on each call (~2 µs, several per
    request); label values here are bounded, so the dict is too. ``remove``/``clear`` empty it."""

    _children: dict[tuple[Any, ...], Any]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._children = {}

    def labels(self, *values: Any, **by_name: Any) -> Any:
        if by_name:
            return super().labels(*values, **by_name)  # type: ignore[misc]
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = super().labels(*values)  # type: ignore[misc]
        return child

    def remove(self, *values: Any) -> None:
        self._children = {}
        super().remove(*values)  # type: ignore[misc]

    def clear(self) -> None:
        self._children = {}
        super().clear()  # type: ignore[misc]


class LabelledCounter(_CachedLabels, Counter):
    pass


class LabelledHistogram(_CachedLabels, Histogram):
    pass


class Metrics:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.handled = LabelledCounter(
            "grpc_server_handled", "RPCs completed, by method and status code.",
            ["grpc_service", "grpc_method", "grpc_code"], registry=registry,
        )
        self.handling_seconds = LabelledHistogram(
            "grpc_server_handling_seconds", "Time to handle an RPC on the server.",
            ["grpc_service", "grpc_method"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.in_flight = Gauge(
            "icp_requests_in_flight", "RPCs being handled now.", registry=registry, multiprocess_mode="livesum"
        )
        self.records = LabelledCounter(
            "icp_records_scored", "Records scored, by best (or closest) profile and tier.",
            ["profile", "tier"], registry=registry,
        )
        self.record_errors = Counter("icp_record_errors", "Records refused as malformed.", registry=registry)
        self.batch_records = Histogram(
            "icp_batch_records", "Records per scoring call.", buckets=BATCH_BUCKETS, registry=registry
        )
        self.kernel_seconds = Histogram(
            "icp_kernel_seconds", "Time in the scoring kernel per call.", buckets=LATENCY_BUCKETS, registry=registry
        )
        self.field_values = LabelledCounter(
            "icp_field_values", "Record values by field and status (missing, unreadable, unlisted).",
            ["field", "status"], registry=registry,
        )
        self.bundle_info = Gauge(
            "icp_bundle_info", "Processes serving each bundle version (1 with one process).", ["version"],
            registry=registry, multiprocess_mode="livesum",
        )
        self.bundle_loaded = Gauge(
            "icp_bundle_loaded_timestamp_seconds", "When the serving bundle was activated (the latest across workers).",
            registry=registry, multiprocess_mode="livemax",
        )
        self.reloads = Counter("icp_reloads", "Bundle reloads, by outcome.", ["outcome"], registry=registry)

    def observe_scored(self, profile_ids: Sequence[str], scored: Any, good: Sequence[int], bad: int) -> None:
        """The per-call scoring metrics of a scored batch (a :class:`runtime.engine.Scored`):
        records per call, kernel time, malformed records, records by best profile and tier for the
        ``good`` rows, and the field-value counts. The counts for every scoring call, unary
        or batch, with few lookups (a unary ``Score`` calls this for every request)."""
        self.batch_records.observe(len(good) + bad)
        self.kernel_seconds.observe(scored.kernel_seconds)
        if bad:
            self.record_errors.inc(bad)
        results = scored.results
        records = self.records.labels
        if len(good) == 1:
            i = good[0]
            records(profile_ids[results.kernel.best[i]], results.tier[i]).inc(1)
        elif good:
            best, tier = results.kernel.best.tolist(), results.tier.tolist()
            everyone = len(good) == len(best)
            counts = Tally(zip(best, tier, strict=True)) if everyone else Tally((best[i], tier[i]) for i in good)
            for (profile, tier_name), count in counts.items():
                records(profile_ids[profile], tier_name).inc(count)
        field_values = self.field_values.labels
        for name, quality in scored.encoded.quality.items():
            if quality.missing:
                field_values(name, "missing").inc(quality.missing)
            if quality.unreadable:
                field_values(name, "unreadable").inc(quality.unreadable)
            if quality.unlisted:
                field_values(name, "unlisted").inc(quality.unlisted)

    def serving(self, version: str, previous: str | None, at: float) -> None:
        if previous is not None:
            self.bundle_info.labels(previous).set(0)
            if not MULTIPROCESS:  # the multiprocess files cannot drop a series: there it stays at 0
                self.bundle_info.remove(previous)
        self.bundle_info.labels(version).set(1)
        self.bundle_loaded.set(at)
