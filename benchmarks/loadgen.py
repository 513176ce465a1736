"""Load generator for ``python -m benchmarks served``: a separate process, so its CPU is not the server's.

It drives a running ``icp serve`` on a loopback address and prints JSON results on stdout.
Two modes:

* ``--once PHASE_JSON``: run one phase and print its result as one JSON object.
* default (used by :mod:`benchmarks.served`): read phase commands from stdin, one JSON object
  per line. For each, the phase is prepared (requests built, channels opened, a short warm-up
  excluded from the results), then ``{"event": "ready"}`` is printed and the generator waits for
  a ``go`` line, so the driver can read the server's CPU time and scrape ``/metrics`` right
  before the measured calls; the result follows as ``{"event": "result", ...}``.
  ``{"kind": "quit"}`` (or end of input) exits.

Phases (JSON):

* ``{"kind": "unary", "method": "Score"|"Check", "rate": 500, "duration": 5}``: open loop. Calls
  are sent on a fixed schedule (``i / rate`` after the start) from one thread with the gRPC
  future API, whatever the previous calls are doing; latency is timed per call from its send to
  its completion callback. ``Check`` is ``grpc.health.v1.Health/Check`` on the same server, a
  trivial RPC: the floor.
* ``{"kind": "throughput", "method": "ScoreBatch"|"ScoreStream", "form": "records"|"columns",
  "batch_size": 1000, "concurrency": 2, "duration": 3}``: closed loop. ``concurrency`` callers,
  each on its own channel (own connection), send the next batch as soon as the previous answer
  arrived (``window`` requests in flight per stream for ScoreStream, default 1).

Records come from ``examples/data/visitors.csv`` (cycled), as ``Record`` messages or as
``ColumnarRecords``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.api import pb, pb_grpc

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RECORDS = ROOT / "examples" / "data" / "visitors.csv"

CATEGORY_COLUMNS = ("industry", "country", "state", "funding_stage")
NUMBER_COLUMNS = ("employees", "revenue", "founded_year")
SET_COLUMNS = ("tech_stack", "use_cases", "pain_points", "buying_triggers")
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.use_local_subchannel_pool", 1),  # one connection per channel, not a shared one
]


# --- records -----------------------------------------------------------------------------------


def read_rows(path: Path = DEFAULT_RECORDS) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def to_record(row: dict[str, str], record_id: str | None = None) -> Any:
    """One CSV row → a ``Record``: empty cells unset (missing), numbers as ``NumberValue.text``."""
    record = pb.Record(id=record_id or row["id"])
    for name in CATEGORY_COLUMNS:
        if row.get(name):
            setattr(record, name, row[name])
    for name in NUMBER_COLUMNS:
        if row.get(name):
            getattr(record, name).text = row[name]
    for name in SET_COLUMNS:
        if row.get(name):
            getattr(record, name).values.extend(_split(row[name]))
    return record


def to_columns(rows: Sequence[dict[str, str]]) -> Any:
    """Rows → ``ColumnarRecords``: every value as text, ``present`` false for an empty cell."""
    columns = pb.ColumnarRecords(ids=[row["id"] for row in rows])
    for name in CATEGORY_COLUMNS + NUMBER_COLUMNS + SET_COLUMNS:
        values = [row.get(name) or "" for row in rows]
        present = [bool(v) for v in values]
        column = columns.columns.add(field=name, values=values)
        if not all(present):
            column.present.extend(present)
    return columns


def to_dictionary_columns(rows: Sequence[dict[str, str]]) -> Any:
    """Rows → ``ColumnarRecords`` with dictionary-encoded columns: distinct texts, int32 codes (-1 empty)."""
    columns = pb.ColumnarRecords(ids=[row["id"] for row in rows])
    for name in CATEGORY_COLUMNS + NUMBER_COLUMNS + SET_COLUMNS:
        index: dict[str, int] = {}
        codes = [index.setdefault(v, len(index)) if (v := row.get(name) or "") else -1 for row in rows]
        columns.columns.add(field=name, dictionary=list(index), codes=np.array(codes, "<i4").tobytes())
    return columns


def batches(rows: Sequence[dict[str, str]], size: int, form: str, count: int = 4) -> list[Any]:
    """``count`` distinct ``ScoreBatchRequest`` of ``size`` rows each (rows cycled)."""
    out = []
    for b in range(count):
        chosen = [rows[(b * size + i) % len(rows)] for i in range(size)]
        if form == "records":
            out.append(pb.ScoreBatchRequest(records=[to_record(row) for row in chosen]))
        elif form == "columns":
            out.append(pb.ScoreBatchRequest(columns=to_columns(chosen)))
        elif form == "columnar":
            out.append(pb.ScoreBatchRequest(columns=to_dictionary_columns(chosen), columnar_results=True))
        else:
            raise ValueError(f"unknown form {form!r} (records, columns or columnar)")
    return out


# --- statistics --------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default) on sorted data."""
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, Any]:
    """p50/p90/p99/max/mean in microseconds."""
    ordered = sorted(seconds)
    if not ordered:
        return {"n": 0}
    us = 1e6
    return {
        "n": len(ordered),
        "p50_us": percentile(ordered, 0.50) * us,
        "p90_us": percentile(ordered, 0.90) * us,
        "p99_us": percentile(ordered, 0.99) * us,
        "max_us": ordered[-1] * us,
        "mean_us": sum(ordered) / len(ordered) * us,
    }


def _error_name(error: BaseException | None) -> str:
    if isinstance(error, grpc.RpcError) and hasattr(error, "code"):
        return str(error.code().name)
    return type(error).__name__


def _count(errors: dict[str, int], name: str) -> None:
    errors[name] = errors.get(name, 0) + 1


# --- phases ------------------------------------------------------------------------------------


class Phase:
    """A prepared phase: ``run()`` does the measured part and returns the result dict."""

    def __init__(self, spec: dict[str, Any], target: str, rows: list[dict[str, str]]):
        self.spec, self.target, self.rows = spec, target, rows
        self.channels: list[grpc.Channel] = []

    def channel(self) -> grpc.Channel:
        ch = grpc.insecure_channel(self.target, options=CHANNEL_OPTIONS)
        grpc.channel_ready_future(ch).result(timeout=10)
        self.channels.append(ch)
        return ch

    def close(self) -> None:
        for ch in self.channels:
            ch.close()

    def run(self) -> dict[str, Any]:
        raise NotImplementedError


class UnaryPhase(Phase):
    def __init__(self, spec: dict[str, Any], target: str, rows: list[dict[str, str]]):
        super().__init__(spec, target, rows)
        self.method = spec.get("method", "Score")
        self.rate = float(spec["rate"])
        self.duration = float(spec.get("duration", 5.0))
        self.timeout = float(spec.get("timeout", 10.0))
        ch = self.channel()
        if self.method == "Score":
            stub = pb_grpc.ScoringStub(ch)
            self.call = stub.Score
            self.requests = [pb.ScoreRequest(record=to_record(row)) for row in rows]
        elif self.method == "Check":
            self.call = health_pb2_grpc.HealthStub(ch).Check
            self.requests = [health_pb2.HealthCheckRequest(service="")]
        else:
            raise ValueError(f"unary method must be Score or Check, not {self.method!r}")
        warmup = int(spec.get("warmup_calls", 50))
        for i in range(warmup):  # excluded: connection, first-call paths, server thread pool
            self.call(self.requests[i % len(self.requests)], timeout=self.timeout)

    def run(self) -> dict[str, Any]:
        n = max(1, round(self.rate * self.duration))
        interval = 1.0 / self.rate
        latency: list[float | None] = [None] * n
        lag = [0.0] * n
        errors: dict[str, int] = {}
        finished = threading.Event()
        remaining = [n]
        lock = threading.Lock()
        last_done = [0.0]

        def on_done(i: int, sent: float, future: grpc.Future) -> None:
            now = time.perf_counter()
            try:
                error = future.exception()
            except grpc.FutureCancelledError as cancelled:
                error = cancelled
            if error is None:
                latency[i] = now - sent
            with lock:
                if error is not None:
                    _count(errors, _error_name(error))
                last_done[0] = max(last_done[0], now)
                remaining[0] -= 1
                if remaining[0] == 0:
                    finished.set()

        requests, call, timeout = self.requests, self.call, self.timeout
        start = time.perf_counter() + 0.01
        last_sent = start
        for i in range(n):
            scheduled = start + i * interval
            wait = scheduled - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            lag[i] = sent - scheduled
            future = call.future(requests[i % len(requests)], timeout=timeout)
            future.add_done_callback(lambda f, i=i, sent=sent: on_done(i, sent, f))
            last_sent = sent
        if not finished.wait(self.timeout + 5):
            _count(errors, "NOT_COMPLETED")
        ok = [x for x in latency if x is not None]
        send_window = last_sent - start + interval
        wall = max(last_done[0], last_sent) - start
        lag.sort()
        return {
            "kind": "unary",
            "method": self.method,
            "target_rate": self.rate,
            "duration_s": self.duration,
            "sent": n,
            "ok": len(ok),
            "errors": sum(errors.values()),
            "error_codes": errors,
            "sent_per_s": n / send_window,
            "achieved_per_s": len(ok) / wall if wall > 0 else 0.0,
            "wall_s": wall,
            "latency": latency_summary(ok),
            "send_lag_us": {
                "p50": percentile(lag, 0.5) * 1e6,
                "p99": percentile(lag, 0.99) * 1e6,
                "max": lag[-1] * 1e6,
            },
        }


class ThroughputPhase(Phase):
    def __init__(self, spec: dict[str, Any], target: str, rows: list[dict[str, str]]):
        super().__init__(spec, target, rows)
        self.method = spec.get("method", "ScoreBatch")
        self.form = spec.get("form", "records")
        self.size = int(spec["batch_size"])
        self.concurrency = int(spec.get("concurrency", 1))
        self.duration = float(spec.get("duration", 3.0))
        self.window = max(1, int(spec.get("window", 1)))
        self.timeout = float(spec.get("timeout", 60.0))
        if self.method not in ("ScoreBatch", "ScoreStream"):
            raise ValueError(f"throughput method must be ScoreBatch or ScoreStream, not {self.method!r}")
        self.requests = batches(rows, self.size, self.form)
        self.request_bytes = self.requests[0].ByteSize()
        self.stubs = [pb_grpc.ScoringStub(self.channel()) for _ in range(self.concurrency)]
        warmup_s = float(spec.get("warmup_s", 0.1))
        warm_until = time.perf_counter() + warmup_s
        warmers = [  # all callers at once, as in the measured part; excluded from the results
            threading.Thread(target=self._caller, args=(stub, warm_until, 2), daemon=True) for stub in self.stubs
        ]
        for t in warmers:
            t.start()
        for t in warmers:
            t.join()

    def _caller(self, stub: Any, deadline: float, min_calls: int = 1) -> dict[str, Any]:
        if self.method == "ScoreBatch":
            return self._batch_caller(stub, deadline, min_calls)
        return self._stream_caller(stub, deadline, min_calls)

    def _check(self, response: Any, out: dict[str, Any]) -> None:
        out["batches"] += 1
        answered = len(response.results) or len(response.columns.profile)
        out["records"] += answered
        out["record_errors"] += sum(1 for r in response.results if r.errors) + len(response.columns.errors)
        if answered != self.size:
            out["wrong_sizes"] += 1

    @staticmethod
    def _empty() -> dict[str, Any]:
        return {"batches": 0, "records": 0, "record_errors": 0, "wrong_sizes": 0, "errors": {}, "latency": []}

    def _batch_caller(self, stub: Any, deadline: float, min_calls: int) -> dict[str, Any]:
        out = self._empty()
        requests, i = self.requests, 0
        while True:
            sent = time.perf_counter()
            if sent >= deadline and i >= min_calls:
                break
            try:
                response = stub.ScoreBatch(requests[i % len(requests)], timeout=self.timeout)
            except grpc.RpcError as error:
                _count(out["errors"], _error_name(error))
            else:
                out["latency"].append(time.perf_counter() - sent)
                self._check(response, out)
            i += 1
        out["finished"] = time.perf_counter()
        return out

    def _stream_caller(self, stub: Any, deadline: float, min_calls: int) -> dict[str, Any]:
        out = self._empty()
        slots = threading.Semaphore(self.window)
        sends: deque[float] = deque()
        stop = threading.Event()
        requests = self.requests

        def outgoing() -> Iterator[Any]:
            i = 0
            while True:
                slots.acquire()
                if stop.is_set():
                    return
                sends.append(time.perf_counter())
                yield requests[i % len(requests)]
                i += 1

        try:
            for response in stub.ScoreStream(outgoing(), timeout=self.timeout + self.duration):
                now = time.perf_counter()
                out["latency"].append(now - sends.popleft())
                self._check(response, out)
                if not stop.is_set() and now >= deadline and out["batches"] >= min_calls:
                    stop.set()
                slots.release()  # the next request, or (stopped) lets the request iterator end
        except grpc.RpcError as error:
            _count(out["errors"], _error_name(error))
        finally:
            stop.set()
            slots.release()
        out["finished"] = time.perf_counter()
        return out

    def run(self) -> dict[str, Any]:
        outcomes: list[dict[str, Any] | None] = [None] * self.concurrency
        gate = threading.Barrier(self.concurrency + 1)
        box: dict[str, float] = {}

        def worker(k: int) -> None:
            gate.wait()
            outcomes[k] = self._caller(self.stubs[k], box["deadline"])

        threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(self.concurrency)]
        for t in threads:
            t.start()
        start = time.perf_counter()
        box["deadline"] = start + self.duration
        gate.wait()
        for t in threads:
            t.join()
        done = [o for o in outcomes if o is not None]
        wall = max(o["finished"] for o in done) - start
        latency = [x for o in done for x in o["latency"]]
        errors: dict[str, int] = {}
        for o in done:
            for name, count in o["errors"].items():
                errors[name] = errors.get(name, 0) + count
        records = sum(o["records"] for o in done)
        batches_done = sum(o["batches"] for o in done)
        return {
            "kind": "throughput",
            "method": self.method,
            "form": self.form,
            "batch_size": self.size,
            "concurrency": self.concurrency,
            "window": self.window if self.method == "ScoreStream" else None,
            "duration_s": self.duration,
            "request_bytes": self.request_bytes,
            "wall_s": wall,
            "batches": batches_done,
            "records": records,
            "record_errors": sum(o["record_errors"] for o in done),
            "wrong_sizes": sum(o["wrong_sizes"] for o in done),
            "errors": sum(errors.values()),
            "error_codes": errors,
            "records_per_s": records / wall if wall > 0 else 0.0,
            "batches_per_s": batches_done / wall if wall > 0 else 0.0,
            "latency": latency_summary(latency),
        }


PHASES: dict[str, Callable[[dict[str, Any], str, list[dict[str, str]]], Phase]] = {
    "unary": UnaryPhase,
    "throughput": ThroughputPhase,
}


def prepare(spec: dict[str, Any], target: str, rows: list[dict[str, str]]) -> Phase:
    kind = spec.get("kind")
    if kind not in PHASES:
        raise ValueError(f"unknown phase kind {kind!r} (one of {', '.join(PHASES)})")
    return PHASES[kind](spec, target, rows)


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def serve_stdin(target: str, rows: list[dict[str, str]]) -> int:
    _emit({"event": "started", "records_available": len(rows)})
    for line in sys.stdin:
        if not line.strip():
            continue
        spec = json.loads(line)
        if spec.get("kind") == "quit":
            break
        try:
            phase = prepare(spec, target, rows)
        except Exception as error:  # report and go on: the driver decides
            _emit({"event": "error", "stage": "prepare", "message": f"{type(error).__name__}: {error}"})
            continue
        try:
            _emit({"event": "ready"})
            if sys.stdin.readline().strip() != "go":
                phase.close()
                break
            result = phase.run()
            _emit({"event": "result", **result})
        except Exception as error:
            _emit({"event": "error", "stage": "run", "message": f"{type(error).__name__}: {error}"})
        finally:
            phase.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.loadgen", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", required=True, help="HOST:PORT of a running icp serve")
    parser.add_argument("--records", type=Path, default=DEFAULT_RECORDS, help="CSV of records (default visitors.csv)")
    parser.add_argument("--once", metavar="PHASE_JSON", help="run this one phase and print its result")
    args = parser.parse_args(argv)
    rows = read_rows(args.records)
    if args.once:
        phase = prepare(json.loads(args.once), args.target, rows)
        try:
            print(json.dumps(phase.run(), indent=2))
        finally:
            phase.close()
        return 0
    return serve_stdin(args.target, rows)


if __name__ == "__main__":
    sys.exit(main())
