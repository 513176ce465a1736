"""Served benchmark: a real ``icp serve`` on loopback, driven by a separate load-generator process.

The server is started as ``icp serve --port P --metrics-port M --no-watch`` (bundled profiles
unless ``--profiles``) and the benchmark waits for ``grpc.health.v1`` SERVING. The load comes
from ``python -m benchmarks.loadgen`` in its own process, so the client's CPU is not the
server's; on the 2-core machine both processes still share the same cores (and the load
generator is Python too), so client and server compete for CPU: the tables say so.

Unary (open loop): ``Score`` at fixed request rates, and at the same rates, in the same run, the
standard ``grpc.health.v1.Health/Check`` (a trivial RPC) as the empty-RPC floor. Reported:
client latency p50/p90/p99, achieved rate, errors, ``p50(Score) - p50(Check)`` (target ≤ 100 µs)
and the server's own handling time for ``Score``: p50/p99 estimated from the
``grpc_server_handling_seconds_bucket{grpc_method="Score"}`` deltas between a ``/metrics``
scrape before and after the phase, by linear interpolation within the bucket as Prometheus'
``histogram_quantile`` does (target p99 ≤ 100 µs).

Throughput (closed loop): ``ScoreBatch`` and ``ScoreStream`` records/s for each batch size, in
the message form (``records``) and the columnar form (``columns``), with 1 and 2 concurrent
callers; p50/p99 per batch (target p99 ≤ 10 ms at 1,000), and server CPU per record from
``/proc/PID/stat`` (utime + stime) read before and after each point (target ≤ 2 µs per record
in batches of 1,000).

``--parts``: no server; one unary ``Score`` taken apart in this process (the interceptor and
servicer called directly over the same records, each part timed alone in a loop, thread CPU
time, best of ``--parts-repeats``), to see which part of the per-call cost is whose. The parts
run hot (caches warm, one part at a time): under a live server each costs 2-4× as much.

Records are ``examples/data/visitors.csv`` (2,000 realistic rows with messy values), cycled.
Nothing asserts on time; targets (PRODUCT.md, "Performance bars") are printed next to the
measurements.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.machine import machine_info, result_header

HELP = "a live icp serve under open-loop unary and closed-loop batch/stream load from a separate process"
ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_RECORDS = ROOT / "examples" / "data" / "visitors.csv"

# PRODUCT.md, "Performance bars".
TARGET_UNARY_OVER_FLOOR_US = 100.0
TARGET_SERVER_P99_US = 100.0
TARGET_CPU_US_PER_RECORD = 2.0  # in batches of 1,000
TARGET_BATCH_P99_MS = 10.0  # per batch of 1,000
SHARED_CORES_NOTE = (
    "server and load generator are separate processes on the same machine: they share its {cores} "
    "core(s), so client CPU (Python gRPC, also in this table) competes with the server's"
)

FULL = {
    "rates": "100,500,1000",
    "unary_duration": 5.0,
    "batch_sizes": "1,10,100,1000",
    "concurrency": "1,2",
    "forms": "records,columns,columnar",
    "methods": "ScoreBatch,ScoreStream",
    "throughput_duration": 3.0,
    "idle_s": 1.0,
}
QUICK = {
    "rates": "100,500",
    "unary_duration": 0.8,
    "batch_sizes": "1,10,100,1000",
    "concurrency": "1,2",
    "forms": "records,columns,columnar",
    "methods": "ScoreBatch,ScoreStream",
    "throughput_duration": 0.3,
    "idle_s": 0.3,
}


# --- the two processes -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def icp_command() -> list[str]:
    script = Path(sys.executable).parent / "icp"
    if script.is_file():
        return [str(script)]
    found = shutil.which("icp")
    return [found] if found else [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())"]


def checkout_env() -> dict[str, str]:
    """The environment for ``icp serve``, with this checkout first on ``PYTHONPATH``: the venv's
    ``icp`` script imports whichever checkout the venv was installed from (an editable install may
    point at another worktree), and the benchmark measures the code beside it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads) from /proc/PID/stat, in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": state is fields[0]
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15 of stat(5)


def tree_cpu_seconds(pid: int) -> float:
    """CPU of ``pid`` and its live children: ``icp serve --workers N`` is a supervisor and N workers."""
    total = cpu_seconds(pid)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
            if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
                total += cpu_seconds(int(entry.name))
        except (OSError, ValueError):  # gone between the listing and the read
            continue
    return total


def wait_serving(address: str, process: subprocess.Popen[bytes], timeout: float) -> float:
    """Seconds until grpc.health.v1 Check("") answers SERVING."""
    started = time.perf_counter()
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"icp serve exited with code {process.returncode} before serving")
            try:
                answer = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return time.perf_counter() - started
            except grpc.RpcError:
                pass
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"icp serve did not answer SERVING within {timeout:.0f} s")
            time.sleep(0.05)


class LoadGen:
    """``python -m benchmarks.loadgen`` speaking JSON lines over its stdin/stdout."""

    def __init__(self, target: str, records: Path, stderr: IO[Any]):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.loadgen", "--target", target, "--records", str(records)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=ROOT,
            bufsize=1,
        )
        started = self._read()
        if started.get("event") != "started":
            raise RuntimeError(f"load generator did not start: {started}")
        self.records_available = started.get("records_available", 0)

    @property
    def pid(self) -> int:
        return self.process.pid

    def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator exited (code {self.process.poll()})")
        return dict(json.loads(line))

    def run(
        self, spec: dict[str, Any], before: Callable[[], Any], after: Callable[[], Any]
    ) -> tuple[dict[str, Any], Any, Any]:
        """Prepare ``spec``; call ``before()`` just before the measured calls and ``after()`` right after."""
        self._send(json.dumps(spec))
        ready = self._read()
        if ready.get("event") != "ready":
            raise RuntimeError(f"load generator could not prepare {spec}: {ready.get('message', ready)}")
        mark = before()
        self._send("go")
        result = self._read()
        end = after()
        if result.get("event") != "result":
            raise RuntimeError(f"load generator failed on {spec}: {result.get('message', result)}")
        result.pop("event")
        return result, mark, end

    def close(self) -> None:
        try:
            self._send(json.dumps({"kind": "quit"}))
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


# --- /metrics ----------------------------------------------------------------------------------


def scrape(metrics_port: int) -> dict[str, Any]:
    """The histograms this benchmark reads, as {name: {labels-key: {le: count} | sum/count}}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    wanted = {"grpc_server_handling_seconds", "icp_kernel_seconds", "icp_batch_records"}
    out: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in wanted:
            continue
        for sample in family.samples:
            labels = dict(sample.labels)
            le = labels.pop("le", None)
            key = labels.get("grpc_method", "")
            entry = out.setdefault(family.name, {}).setdefault(key, {"buckets": {}, "sum": 0.0, "count": 0.0})
            if sample.name.endswith("_bucket") and le is not None:
                entry["buckets"][float(le)] = sample.value
            elif sample.name.endswith("_sum"):
                entry["sum"] = sample.value
            elif sample.name.endswith("_count"):
                entry["count"] = sample.value
    return out


def histogram_delta(before: dict[str, Any], after: dict[str, Any], name: str, key: str = "") -> dict[str, Any]:
    """after − before for one histogram series: cumulative buckets, sum and count."""
    empty = {"buckets": {}, "sum": 0.0, "count": 0.0}
    a = after.get(name, {}).get(key, empty)
    b = before.get(name, {}).get(key, empty)
    buckets = {le: a["buckets"][le] - b["buckets"].get(le, 0.0) for le in sorted(a["buckets"])}
    return {"buckets": buckets, "sum": a["sum"] - b["sum"], "count": a["count"] - b["count"]}


def histogram_quantile(q: float, cumulative: dict[float, float]) -> float:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket holding rank q·n.

    ``cumulative`` maps upper bound ``le`` (incl. +Inf) → cumulative count. The first bucket's
    lower bound is 0; a rank in the +Inf bucket returns the highest finite bound.
    """
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return float("nan")
    total = cumulative[bounds[-1]]
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if bound == float("inf"):
                return previous_bound
            in_bucket = count - previous_count
            if in_bucket <= 0:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / in_bucket
        previous_bound, previous_count = bound, count
    return previous_bound


def server_side(delta: dict[str, Any]) -> dict[str, Any]:
    """p50/p90/p99/mean in µs from one histogram delta."""
    out: dict[str, Any] = {"count": round(delta["count"])}
    if delta["count"] > 0:
        for name, q in (("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99)):
            out[name] = histogram_quantile(q, delta["buckets"]) * 1e6
        out["mean_us"] = delta["sum"] / delta["count"] * 1e6
    return out


# --- one measured phase ------------------------------------------------------------------------


class Bench:
    def __init__(self, server_pid: int, metrics_port: int, loadgen: LoadGen, log: Callable[[str], None]):
        self.server_pid, self.metrics_port, self.loadgen, self.log = server_pid, metrics_port, loadgen, log

    def _mark(self, scrape_first: bool) -> dict[str, Any]:
        # the scrape costs server CPU: take it outside the CPU window (before it at the start, after it at the end)
        mark: dict[str, Any] = {}
        if scrape_first:
            mark["metrics"] = scrape(self.metrics_port)
        mark["server_cpu"] = tree_cpu_seconds(self.server_pid)
        mark["client_cpu"] = cpu_seconds(self.loadgen.pid)
        mark["wall"] = time.perf_counter()
        if not scrape_first:
            mark["metrics"] = scrape(self.metrics_port)
        return mark

    def phase(self, spec: dict[str, Any]) -> dict[str, Any]:
        result, before, after = self.loadgen.run(spec, lambda: self._mark(True), lambda: self._mark(False))
        server_cpu = after["server_cpu"] - before["server_cpu"]
        client_cpu = after["client_cpu"] - before["client_cpu"]
        window = after["wall"] - before["wall"]
        result["server_cpu_s"] = server_cpu
        result["client_cpu_s"] = client_cpu
        result["cpu_window_s"] = window
        result["server_cores_busy"] = server_cpu / window if window > 0 else 0.0
        result["client_cores_busy"] = client_cpu / window if window > 0 else 0.0
        m0, m1 = before["metrics"], after["metrics"]
        if result["kind"] == "unary":
            calls = result["ok"] + result["errors"]
            result["server_cpu_us_per_call"] = server_cpu / calls * 1e6 if calls else 0.0
            result["client_cpu_us_per_call"] = client_cpu / calls * 1e6 if calls else 0.0
            if result["method"] == "Score":
                result["server_handling"] = server_side(
                    histogram_delta(m0, m1, "grpc_server_handling_seconds", "Score")
                )
                kernel = histogram_delta(m0, m1, "icp_kernel_seconds")
                result["server_kernel_mean_us"] = kernel["sum"] / kernel["count"] * 1e6 if kernel["count"] else 0.0
        else:
            records = result["records"]
            result["server_cpu_us_per_record"] = server_cpu / records * 1e6 if records else 0.0
            result["client_cpu_us_per_record"] = client_cpu / records * 1e6 if records else 0.0
            kernel = histogram_delta(m0, m1, "icp_kernel_seconds")
            result["server_kernel_us_per_record"] = kernel["sum"] / records * 1e6 if records else 0.0
            result["server_kernel_calls"] = round(kernel["count"])
            sizes = histogram_delta(m0, m1, "icp_batch_records")
            result["server_records_seen"] = round(sizes["sum"])
            if result["method"] == "ScoreBatch":
                # per-batch handling time on the server (for ScoreStream the histogram times whole streams)
                result["server_handling"] = server_side(
                    histogram_delta(m0, m1, "grpc_server_handling_seconds", "ScoreBatch")
                )
        return result

    def idle(self, seconds: float) -> dict[str, float]:
        """Server CPU while nothing calls it (pollers, metrics thread): the background to subtract by eye."""
        c0, t0 = tree_cpu_seconds(self.server_pid), time.perf_counter()
        time.sleep(seconds)
        c1, t1 = tree_cpu_seconds(self.server_pid), time.perf_counter()
        return {"seconds": t1 - t0, "server_cpu_s": c1 - c0, "server_cores_busy": (c1 - c0) / (t1 - t0)}


# --- the run -----------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(x) for x in str(text).split(",") if x.strip()]


def _floats(text: str) -> list[float]:
    return [float(x) for x in str(text).split(",") if x.strip()]


def _names(text: str) -> list[str]:
    return [x.strip() for x in str(text).split(",") if x.strip()]


def run(
    rates: Sequence[float] = (100, 500, 1000),
    unary_duration: float = 5.0,
    batch_sizes: Sequence[int] = (1, 10, 100, 1000),
    concurrency: Sequence[int] = (1, 2),
    forms: Sequence[str] = ("records", "columns", "columnar"),
    methods: Sequence[str] = ("ScoreBatch", "ScoreStream"),
    throughput_duration: float = 3.0,
    stream_window: int = 1,
    idle_s: float = 1.0,
    workers: int | None = None,
    profiles: Path | None = None,
    records: Path = DEFAULT_RECORDS,
    out: Path | None = RESULTS_DIR / "served.json",
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    """Start the server and the load generator, run every phase, write JSON to ``out``, return it."""
    started = time.perf_counter()
    machine = machine_info(grpcio=grpc.__version__, clock_ticks_per_s=CLK_TCK)
    port, metrics_port = free_port(), free_port()
    command = [
        *icp_command(),
        "serve",
        "--port",
        str(port),
        "--metrics-port",
        str(metrics_port),
        "--no-watch",
        "--log-level",
        "INFO" if workers is not None and workers > 1 else "WARNING",  # INFO: the supervisor says when all serve
    ]
    if workers is not None:
        command += ["--workers", str(workers)]
    if profiles is not None:
        command += ["--profiles", str(profiles)]
    address = f"127.0.0.1:{port}"
    unary: list[dict[str, Any]] = []
    throughput: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="icp-served-") as tmp:
        server_log = (Path(tmp) / "server.log").open("w+")
        loadgen_log = (Path(tmp) / "loadgen.log").open("w+")
        server = subprocess.Popen(command, stdout=server_log, stderr=subprocess.STDOUT, cwd=ROOT, env=checkout_env())
        loadgen: LoadGen | None = None
        try:
            try:
                ready_s = wait_serving(address, server, timeout=120)
            except Exception:
                server_log.seek(0)
                log(server_log.read()[-4000:])
                raise
            if workers is not None and workers > 1:  # health answers from the first worker up; wait for all
                ready_s += wait_all_workers(server, server_log, timeout=120)
            log(
                f"served: icp serve (pid {server.pid}) SERVING on {address} after {ready_s:.2f} s; metrics :{metrics_port}"
            )
            loadgen = LoadGen(address, records, loadgen_log)
            bench = Bench(server.pid, metrics_port, loadgen, log)
            idle = bench.idle(idle_s)
            for rate in rates:
                for method in ("Check", "Score"):  # interleaved, so drift in the machine hits both alike
                    r = bench.phase({"kind": "unary", "method": method, "rate": rate, "duration": unary_duration})
                    unary.append(r)
                    lat = r["latency"]
                    log(
                        f"  unary {method:5} {rate:>6g}/s: achieved {r['achieved_per_s']:.0f}/s, "
                        f"p50 {lat.get('p50_us', 0):.0f} µs, p99 {lat.get('p99_us', 0):.0f} µs, errors {r['errors']}"
                    )
            for method in methods:
                for form in forms:
                    for size in batch_sizes:
                        for callers in concurrency:
                            r = bench.phase(
                                {
                                    "kind": "throughput",
                                    "method": method,
                                    "form": form,
                                    "batch_size": size,
                                    "concurrency": callers,
                                    "duration": throughput_duration,
                                    "window": stream_window,
                                }
                            )
                            throughput.append(r)
                            log(
                                f"  {method:11} {form:7} ×{size:<5} {callers} caller(s): {r['records_per_s']:,.0f} rec/s, "
                                f"p99 {r['latency'].get('p99_us', 0) / 1e3:.2f} ms, server CPU "
                                f"{r['server_cpu_us_per_record']:.1f} µs/rec, errors {r['errors']}"
                            )
        finally:
            if loadgen is not None:
                loadgen.close()
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
            loadgen_log.seek(0)
            client_errors = loadgen_log.read().strip()
            server_log.seek(0)
            server_output = server_log.read().strip()
            server_log.close()
            loadgen_log.close()
    result = {
        **result_header("served", started, machine),
        "note": SHARED_CORES_NOTE.format(cores=machine["affinity"] or machine["cpu_count"]),
        "server": {
            "command": command,
            "ready_s": ready_s,
            "idle": idle,
            "exit_code": server.returncode,
            "log_tail": server_output[-2000:],
        },
        "loadgen": {"command": "python -m benchmarks.loadgen", "stderr_tail": client_errors[-2000:]},
        "settings": {
            "rates": list(rates),
            "unary_duration_s": unary_duration,
            "batch_sizes": list(batch_sizes),
            "concurrency": list(concurrency),
            "forms": list(forms),
            "methods": list(methods),
            "throughput_duration_s": throughput_duration,
            "stream_window": stream_window,
            "workers": workers,
            "profiles": str(profiles) if profiles else "bundled default",
            "records": str(records),
            "unary": "open loop: calls sent on schedule with the gRPC future API; latency from send to completion callback",
            "throughput": "closed loop: each caller sends its next batch when the previous answer arrived",
            "server_cpu": "utime+stime of the server process and its workers (/proc/PID/stat) around the measured calls",
            "server_quantiles": "histogram_quantile-style linear interpolation in bucket deltas of /metrics",
        },
        "targets": {
            "unary_p50_over_floor_us": TARGET_UNARY_OVER_FLOOR_US,
            "server_handling_p99_us": TARGET_SERVER_P99_US,
            "server_cpu_us_per_record_at_1000": TARGET_CPU_US_PER_RECORD,
            "batch_p99_ms_at_1000": TARGET_BATCH_P99_MS,
            "source": "PRODUCT.md, Performance bars",
        },
        "unary": _pair_unary(unary),
        "unary_phases": unary,
        "throughput": throughput,
        "errors": sum(r["errors"] for r in unary + throughput) + sum(r["record_errors"] for r in throughput),
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def wait_all_workers(server: subprocess.Popen[bytes], log: IO[Any], timeout: float) -> float:
    """Seconds until the supervisor logs that every worker serves."""
    started = time.perf_counter()
    while True:
        log.seek(0)
        if "workers (pids" in log.read():
            return time.perf_counter() - started
        if server.poll() is not None or time.perf_counter() - started > timeout:
            raise RuntimeError("icp serve --workers did not report every worker serving")
        time.sleep(0.05)


def run_scaling(worker_counts: Sequence[int], out: Path | None, **throughput: Any) -> dict[str, Any]:
    """ScoreBatch throughput against ``icp serve --workers N`` for each N, in one run; ratios to the first N."""
    runs = {n: run(rates=(), methods=("ScoreBatch",), workers=n, out=None, **throughput) for n in worker_counts}
    first = runs[worker_counts[0]]["throughput"]
    rows = []
    for i, point in enumerate(first):
        row = {key: point[key] for key in ("form", "batch_size", "concurrency")}
        for n in worker_counts:
            measured = runs[n]["throughput"][i]
            row[f"workers_{n}"] = {
                key: measured[key] for key in ("records_per_s", "server_cores_busy", "server_cpu_us_per_record", "errors")
            }
            row[f"workers_{n}"]["ratio"] = measured["records_per_s"] / point["records_per_s"] if point["records_per_s"] else 0.0
        rows.append(row)
    result = {"workers": list(worker_counts), "scaling": rows, "runs": {str(n): r for n, r in runs.items()}}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def scaling_table(result: dict[str, Any]) -> str:
    counts = result["workers"]
    header = "| form | batch | callers | " + " | ".join(f"--workers {n}: rec/s (cores busy)" for n in counts) + " | ratio |"
    lines = [header, "|---|---:|---:|" + "---:|" * (len(counts) + 1)]
    for r in result["scaling"]:
        cells = " | ".join(f"{r[f'workers_{n}']['records_per_s']:,.0f} ({r[f'workers_{n}']['server_cores_busy']:.2f})" for n in counts)
        ratio = r[f"workers_{counts[-1]}"]["ratio"]
        lines.append(f"| {r['form']} | {r['batch_size']:,} | {r['concurrency']} | {cells} | {ratio:.2f}× |")
    return "\n".join(lines)


def _pair_unary(phases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per rate: Score next to the Check floor measured at the same rate."""
    rows = []
    for rate in dict.fromkeys(p["target_rate"] for p in phases):
        score = next((p for p in phases if p["target_rate"] == rate and p["method"] == "Score"), None)
        check = next((p for p in phases if p["target_rate"] == rate and p["method"] == "Check"), None)
        if score is None or check is None:
            continue
        over = score["latency"].get("p50_us", float("nan")) - check["latency"].get("p50_us", float("nan"))
        handling = score.get("server_handling", {})
        rows.append(
            {
                "rate": rate,
                "score_achieved_per_s": score["achieved_per_s"],
                "check_achieved_per_s": check["achieved_per_s"],
                "score_latency": score["latency"],
                "check_latency": check["latency"],
                "p50_over_floor_us": over,
                "target_p50_over_floor_us": TARGET_UNARY_OVER_FLOOR_US,
                "server_handling": handling,
                "target_server_p99_us": TARGET_SERVER_P99_US,
                "server_cpu_us_per_call": score["server_cpu_us_per_call"],
                "check_server_cpu_us_per_call": check["server_cpu_us_per_call"],
                "client_cpu_us_per_call": score["client_cpu_us_per_call"],
                "errors": score["errors"] + check["errors"],
            }
        )
    return rows


# --- output ------------------------------------------------------------------------------------


def _us(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:,.0f}"


def unary_table(result: dict[str, Any]) -> str:
    header = (
        "| req/s | achieved Score / Check | Check p50 / p90 / p99 µs | Score p50 / p90 / p99 µs | "
        "p50 over floor µs (target ≤ 100) | server p50 / p99 µs (target p99 ≤ 100) | "
        "server CPU µs/call Score / Check | client CPU µs/call | errors |"
    )
    lines = [header, "|" + "---:|" * 9]
    for r in result["unary"]:
        c, s, h = r["check_latency"], r["score_latency"], r["server_handling"]
        lines.append(
            f"| {r['rate']:g} | {r['score_achieved_per_s']:.0f} / {r['check_achieved_per_s']:.0f} | "
            f"{_us(c.get('p50_us'))} / {_us(c.get('p90_us'))} / {_us(c.get('p99_us'))} | "
            f"{_us(s.get('p50_us'))} / {_us(s.get('p90_us'))} / {_us(s.get('p99_us'))} | "
            f"{r['p50_over_floor_us']:+,.0f} | {_us(h.get('p50_us'))} / {_us(h.get('p99_us'))} | "
            f"{r['server_cpu_us_per_call']:.0f} / {r['check_server_cpu_us_per_call']:.0f} | "
            f"{r['client_cpu_us_per_call']:.0f} | {r['errors']} |"
        )
    return "\n".join(lines)


def throughput_table(result: dict[str, Any]) -> str:
    header = (
        "| method | form | batch | callers | records/s | batches/s | p50 ms | p99 ms | server CPU µs/record | "
        "server cores busy | kernel µs/record | client CPU µs/record | errors |"
    )
    lines = [header, "|---|---|" + "---:|" * 11]
    for r in result["throughput"]:
        lat = r["latency"]
        lines.append(
            f"| {r['method']} | {r['form']} | {r['batch_size']:,} | {r['concurrency']} | {r['records_per_s']:,.0f} | "
            f"{r['batches_per_s']:,.1f} | {lat.get('p50_us', float('nan')) / 1e3:.2f} | {lat.get('p99_us', float('nan')) / 1e3:.2f} | "
            f"{r['server_cpu_us_per_record']:.1f} | {r['server_cores_busy']:.2f} | {r['server_kernel_us_per_record']:.2f} | "
            f"{r['client_cpu_us_per_record']:.1f} | {r['errors'] + r['record_errors']} |"
        )
    return "\n".join(lines)


def markdown_tables(result: dict[str, Any]) -> str:
    return (
        f"Unary (open loop, {result['settings']['unary_duration_s']:g} s per rate per method; floor = grpc.health.v1 Check "
        f"on the same server):\n\n{unary_table(result)}\n\n"
        f"Throughput (closed loop, {result['settings']['throughput_duration_s']:g} s per point; targets at batch 1,000: "
        f"server CPU ≤ {TARGET_CPU_US_PER_RECORD:g} µs/record, p99 ≤ {TARGET_BATCH_P99_MS:g} ms):\n\n{throughput_table(result)}\n\n"
        f"Note: {result['note']}."
    )


def unary_parts(records: Path = DEFAULT_RECORDS, profiles: Path | None = None, repeats: int = 5) -> dict[str, float]:
    """µs of thread CPU per call for each part of a unary ``Score``, in process (see ``--parts``)."""
    from prometheus_client import CollectorRegistry

    from benchmarks.loadgen import read_rows, to_record
    from compiler.schema import DEFAULT_PROFILES_DIR
    from runtime.finish import finish, run_kernel
    from server.api import pb
    from server.convert import record_to_mapping, result_messages
    from server.interceptors import ServiceInterceptor
    from server.metrics import Metrics
    from server.reload import prepare
    from server.scoring import Limits
    from server.service import ScoringService
    from server.state import ServingHolder

    class Context:  # what the servicer and the interceptor ask of a gRPC context
        def time_remaining(self) -> float:
            return 10.0

        def code(self) -> None:
            return None

    serving = prepare(profiles or DEFAULT_PROFILES_DIR)
    metrics = Metrics(CollectorRegistry())
    service = ScoringService(ServingHolder(serving), Limits(), metrics)
    wrapped = ServiceInterceptor(metrics)._unary(service.Score, "icp.v1.Scoring", "Score")
    requests = [pb.ScoreRequest(record=to_record(row)) for row in read_rows(records)]
    context, bundle, types = Context(), serving.bundle, serving.field_types
    mappings = [record_to_mapping(r.record, types)[0] for r in requests]
    scored = [serving.scorer.score([m]) for m in mappings]
    kernels = [s.results.kernel for s in scored]
    results = [service.Score(r, context).result for r in requests]
    handling = metrics.handling_seconds.labels("icp.v1.Scoring", "Score")

    def interceptor_metrics(_: Any) -> None:
        metrics.in_flight.inc()
        metrics.in_flight.dec()
        metrics.handled.labels("icp.v1.Scoring", "Score", "OK").inc()
        handling.observe(0.0001)

    parts: dict[str, tuple[Callable[[Any], Any], Sequence[Any]]] = {
        "Score, whole (interceptor + servicer)": (lambda r: wrapped(r, context), requests),
        "record_to_mapping": (lambda r: record_to_mapping(r.record, types), requests),
        "Encoder.encode": (lambda m: serving.scorer.encoder.encode([m]), mappings),
        "run_kernel": (lambda s: run_kernel(bundle, s.encoded.columns), scored),
        "finish": (lambda k: finish(bundle, k), kernels),
        "result_messages": (lambda s: result_messages(s.results, ["id"], [0], False, False), scored),
        "Metrics.observe_scored": (lambda s: metrics.observe_scored(serving.profile_ids, s, (0,), 0), scored),
        "ScoreResponse(result=...)": (lambda m: pb.ScoreResponse(result=m), results),
        "interceptor metrics": (interceptor_metrics, requests),
    }
    timings = {}
    for name, (part, inputs) in parts.items():
        best = math.inf
        for _ in range(repeats):
            started = time.thread_time()
            for item in inputs:
                part(item)
            best = min(best, (time.thread_time() - started) / len(inputs) * 1e6)
        timings[name] = best
    return timings


def batch_parts(records: Path = DEFAULT_RECORDS, profiles: Path | None = None, repeats: int = 5, size: int = 1000) -> dict[str, float]:
    """µs of thread CPU per visitor for each part of a columnar ``ScoreBatch`` of ``size``
    (dictionary-encoded columns in, ``ColumnarResults`` out), in process (see ``--parts``)."""
    from benchmarks.loadgen import batches, read_rows
    from compiler.schema import DEFAULT_PROFILES_DIR
    from runtime.finish import finish, run_kernel
    from server.api import pb
    from server.convert import columnar_results, columns_to_factorized
    from server.reload import prepare

    serving = prepare(profiles or DEFAULT_PROFILES_DIR)
    wire = [r.SerializeToString() for r in batches(read_rows(records), size, "columnar", 4)]
    encoder, bundle, types = serving.scorer.encoder, serving.bundle, serving.field_types
    steps: dict[str, Callable[[Any], Any]] = {
        "parse the request": lambda b: pb.ScoreBatchRequest.FromString(b),
        "factorize the columns": lambda r: columns_to_factorized(r.columns, types)[1],
        "encode": lambda c: encoder.encode_columns(c, size),
        "run_kernel": lambda e: run_kernel(bundle, e.columns),
        "finish": lambda k: finish(bundle, k),
        "ColumnarResults": lambda r: pb.ScoreBatchResponse(bundle_version=bundle.version, columns=columnar_results(r, [])),
        "serialise the response": lambda m: m.SerializeToString(),
    }
    timings = dict.fromkeys(steps, math.inf)
    for _ in range(repeats + 1):  # the first pass warms the reading tables
        spent = dict.fromkeys(steps, 0.0)
        for item in wire:
            for name, step in steps.items():
                started = time.thread_time()
                item = step(item)
                spent[name] += time.thread_time() - started
        for name in steps:
            timings[name] = min(timings[name], spent[name] / (len(wire) * size) * 1e6)
    timings["whole batch"] = sum(timings.values())
    return timings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short phases (rates 100,500 for 0.8 s; 0.3 s per throughput point): under 30 s",
    )
    parser.add_argument("--rates", help=f"unary request rates per second, comma separated (default {FULL['rates']})")
    parser.add_argument(
        "--unary-duration", type=float, help=f"seconds per unary phase (default {FULL['unary_duration']:g})"
    )
    parser.add_argument("--batch-sizes", help=f"batch sizes (default {FULL['batch_sizes']})")
    parser.add_argument(
        "--concurrency", help=f"concurrent callers per throughput point (default {FULL['concurrency']})"
    )
    parser.add_argument("--forms", help=f"request forms: records, columns (Result messages back), columnar (columns in, ColumnarResults back) (default {FULL['forms']})")
    parser.add_argument("--methods", help=f"ScoreBatch, ScoreStream (default {FULL['methods']})")
    parser.add_argument(
        "--throughput-duration",
        type=float,
        help=f"seconds per throughput point (default {FULL['throughput_duration']:g})",
    )
    parser.add_argument(
        "--stream-window",
        type=int,
        default=1,
        help="ScoreStream requests in flight per caller (default 1: closed loop)",
    )
    parser.add_argument(
        "--idle", type=float, dest="idle_s", help="seconds of idle server CPU measured first (default 1)"
    )
    parser.add_argument("--workers", type=int, help="icp serve --workers (default: the server's own default)")
    parser.add_argument("--parts", action="store_true", help="no server: time the parts of one unary Score and of one columnar ScoreBatch of 1,000 in process")
    parser.add_argument("--parts-repeats", type=int, default=5, help="--parts: passes over the records, best kept (default 5)")
    parser.add_argument(
        "--scaling",
        help="worker counts, e.g. 1,2: only ScoreBatch throughput, once per icp serve --workers N, with the ratio "
        "(use several callers: SO_REUSEPORT balances connections, one per caller)",
    )
    parser.add_argument("--profiles", type=Path, help="icp serve --profiles (default: the bundled profiles)")
    parser.add_argument(
        "--records", type=Path, default=DEFAULT_RECORDS, help="CSV of records (default examples/data/visitors.csv)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR / "served.json",
        help="JSON output (default benchmarks/results/served.json)",
    )


def main(args: argparse.Namespace) -> int:
    preset = QUICK if args.quick else FULL
    if args.parts:
        timings = unary_parts(args.records, args.profiles, args.parts_repeats)
        print(f"One unary Score in process, µs of thread CPU per call (hot loop over {args.records.name}, best of {args.parts_repeats}):")
        for name, us in timings.items():
            print(f"  {name:40s} {us:8.1f}")
        batch = batch_parts(args.records, args.profiles, args.parts_repeats)
        print("\nOne ScoreBatch of 1,000 in process (dictionary-encoded columns in, ColumnarResults out), µs of thread CPU per visitor:")
        for name, us in batch.items():
            print(f"  {name:40s} {us:8.2f}")
        print(f"load average {os.getloadavg()}")
        return 0

    def pick(name: str) -> Any:
        value = getattr(args, name)
        return preset[name] if value is None else value

    if args.scaling:
        scaled = run_scaling(
            _ints(args.scaling),
            args.out.with_name(args.out.stem + "-scaling.json"),
            batch_sizes=_ints(args.batch_sizes or "1000"),
            concurrency=_ints(args.concurrency or "4"),
            forms=_names(pick("forms")),
            throughput_duration=float(pick("throughput_duration")),
            idle_s=float(pick("idle_s")),
            profiles=args.profiles,
            records=args.records,
        )
        print(scaling_table(scaled))
        return 1 if any(r["errors"] for run in scaled["runs"].values() for r in run["throughput"]) else 0

    result = run(
        rates=_floats(pick("rates")),
        unary_duration=float(pick("unary_duration")),
        batch_sizes=_ints(pick("batch_sizes")),
        concurrency=_ints(pick("concurrency")),
        forms=_names(pick("forms")),
        methods=_names(pick("methods")),
        throughput_duration=float(pick("throughput_duration")),
        stream_window=args.stream_window,
        idle_s=float(pick("idle_s")),
        workers=args.workers,
        profiles=args.profiles,
        records=args.records,
        out=args.out,
    )
    print(markdown_tables(result))
    print(
        f"\n{result['duration_s']:.1f} s in all; server ready in {result['server']['ready_s']:.2f} s; JSON: {args.out}; "
        f"load average {result['machine']['loadavg_start']} → {result['machine']['loadavg_end']}"
    )
    if result["errors"]:
        print(f"WARNING: {result['errors']} failed calls or records; see error_codes in the JSON", file=sys.stderr)
        return 1
    return 0


__all__ = ["HELP", "add_arguments", "histogram_quantile", "main", "markdown_tables", "run", "run_scaling", "scaling_table"]
