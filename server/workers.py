"""``icp serve --workers N``: N server processes sharing one gRPC port, and the supervisor over them.

A Python gRPC server uses about one core (the GIL), so using more cores takes more processes.
gRPC Python's guidance (its ``examples/python/multiprocessing``) is followed: the processes start
before any gRPC object exists in the parent, and each binds the same port with ``SO_REUSEPORT``,
so the kernel balances *connections* (not calls) across them. The parent here never creates a
gRPC object, and starts each worker with multiprocessing's ``spawn`` (a fresh interpreter that
inherits no gRPC, Numba or thread state at all).

The supervisor (this process):

- checks the port is free as one process would (a plain bind), then holds it with a bound,
  non-listening ``SO_REUSEPORT`` socket, so ``--port 0`` names one port for every worker and no
  unrelated server can take it while a worker restarts;
- sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh temporary folder before the workers start (so their
  prometheus_client is in multiprocess mode from its import) and serves ``/metrics`` from that
  folder with a ``MultiProcessCollector``: one aggregate over all workers;
- waits until every worker is warm and serving; a worker that fails to start stops the rest and
  makes the exit code 1;
- forwards SIGTERM/SIGINT to every worker (each drains as one process does) and SIGHUP (reload);
- restarts a worker that dies (its live gauges are dropped with ``mark_process_dead``), at most
  ``MAX_RESTARTS`` within ``RESTART_WINDOW_SECONDS``, after which it stops all and exits 1;
- carries an ``Admin.Reload`` from the worker that received it to every other worker and back, so
  the call answers once all of them have reloaded.

Worker ↔ supervisor messages go over one ``multiprocessing`` pipe per worker, as tuples:
``("ready", version)``; ``("reload_others", id)`` → the supervisor sends ``("reload", id)`` to the
others, each answers ``("reloaded", id, activated, version, diagnostics)``, and the supervisor
sends ``("reloaded_others", id, [(worker, activated, version, diagnostics), ...])`` back.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from server.app import ServerConfig, create_server, run_until_stopped
from server.decisions import DecisionLogConfig
from server.reload import ActivationError, ReloadOutcome

log = logging.getLogger("icp.server")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_RESTARTS = 5  # within RESTART_WINDOW_SECONDS; more means the workers cannot stay up: stop
RESTART_WINDOW_SECONDS = 60.0
RELOAD_OTHERS_TIMEOUT_SECONDS = 120.0  # the others compile, test and warm in parallel
START_TIMEOUT_SECONDS = 300.0  # a cold Numba cache compiles the kernels (minutes on a busy machine)
POLL_SECONDS = 0.1

Reload = tuple[int, bool, str, str]  # worker, activated, version, diagnostics


# --- the worker process ------------------------------------------------------------------------


def run_worker(config: ServerConfig, conn: Connection, log_level: int) -> None:
    """A worker's whole life (the ``spawn`` target): serve like one process, talk to the parent."""
    logging.basicConfig(level=log_level, format=LOG_FORMAT.replace("%(name)s", f"%(name)s[worker {config.worker}]"))
    link = ParentLink(conn)
    try:
        app = create_server(config, reload_everywhere=link.reload_everywhere)
    except ActivationError as error:
        log.error("the bundle cannot serve:\n%s", error)
        raise SystemExit(1) from None
    link.start(app.reloader.reload)
    link.send("ready", app.holder.current.bundle.version)
    raise SystemExit(run_until_stopped(app, config))


class ParentLink:
    """The worker's end of its pipe: one reader thread; sends from any thread under a lock."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self._send_lock = threading.Lock()
        self._ids = itertools.count()
        self._waiting: dict[int, tuple[threading.Event, list[Reload]]] = {}

    def send(self, *message: Any) -> None:
        with self._send_lock:
            self.conn.send(message)

    def start(self, reload: Callable[[], ReloadOutcome]) -> None:
        threading.Thread(target=self._read, args=(reload,), name="icp-parent-link", daemon=True).start()

    def reload_everywhere(self, reload_own: Callable[[], ReloadOutcome]) -> ReloadOutcome:
        """Have the supervisor reload every other worker while this one reloads; fold their
        answers into this one's. (If this one's fails, theirs fail alike and they keep serving.)"""
        request, done, answers = next(self._ids), threading.Event(), list[Reload]()
        self._waiting[request] = (done, answers)
        self.send("reload_others", request)
        own = reload_own()
        if not done.wait(RELOAD_OTHERS_TIMEOUT_SECONDS):
            self._waiting.pop(request, None)
            note = f"the other workers did not answer within {RELOAD_OTHERS_TIMEOUT_SECONDS:.0f}s"
            return ReloadOutcome(False, own.version, _join(own.diagnostics, note))
        return combine(own, answers)

    def _read(self, reload: Callable[[], ReloadOutcome]) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):  # the supervisor is gone: drain and exit rather than serve unsupervised
                log.error("the supervisor exited; draining")
                os.kill(os.getpid(), signal.SIGTERM)
                return
            if message[0] == "reload":
                threading.Thread(target=self._reload, args=(reload, message[1]), daemon=True).start()
            elif message[0] == "reloaded_others":
                done, answers = self._waiting.pop(message[1], (None, []))
                if done is not None:
                    answers.extend(message[2])
                    done.set()

    def _reload(self, reload: Callable[[], ReloadOutcome], request: Any) -> None:
        outcome = reload()
        self.send("reloaded", request, outcome.activated, outcome.version, outcome.diagnostics)


def combine(own: ReloadOutcome, others: list[Reload]) -> ReloadOutcome:
    """One Admin.Reload answer for all workers: activated only if every one activated the same
    version; the diagnostics name each worker that did not."""
    notes = []
    for worker, activated, version, diagnostics in others:
        if not activated and not own.activated and diagnostics == own.diagnostics:  # the same folder, the same errors
            notes.append(f"worker {worker}: reload failed alike; it still serves {version}")
        elif not activated:
            notes.append(f"worker {worker}: reload failed; it still serves {version or 'nothing'}\n{diagnostics}".rstrip())
        elif version != own.version:
            notes.append(f"worker {worker}: serves {version} (the profiles changed during the reload; its watcher converges)")
    return ReloadOutcome(own.activated and not notes, own.version, _join(own.diagnostics, *notes))


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


# --- the supervisor ----------------------------------------------------------------------------


@dataclass
class Worker:
    index: int
    process: BaseProcess
    conn: Connection
    ready: bool = False

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid


@dataclass
class FanOut:
    """One Admin.Reload being carried to the other workers."""

    origin: Worker
    request: int
    waiting: set[int]
    answers: list[Reload] = field(default_factory=list)


def supervise(config: ServerConfig) -> int:
    """Run ``config.workers`` worker processes until SIGTERM/SIGINT; the exit code of ``icp serve``."""
    try:
        held = reserve_port(config.host, config.port)
    except OSError as error:
        log.error("cannot bind %s:%d: %s", config.host, config.port, error.strerror or error)
        return 1
    with held, metrics_folder(config.metrics_port is not None) as folder:
        port = held.getsockname()[1]
        supervisor = Supervisor(replace(config, port=port, metrics_port=None), folder)
        try:
            metrics_port = supervisor.serve_metrics(config) if folder else None
        except OSError as error:
            log.error("cannot serve /metrics on port %s: %s", config.metrics_port, error.strerror or error)
            return 1
        return supervisor.run(metrics_port)


def reserve_port(host: str, port: int) -> socket.socket:
    """Fail as one process would if anything holds the port (a plain bind conflicts with every
    socket on it, shared or not); then hold it, shared, for the workers to join."""
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((address, port))
        port = probe.getsockname()[1]
    held = socket.socket(family, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        held.bind((address, port))  # bound, never listening: the kernel gives it no connections
    except OSError:
        held.close()
        raise
    return held


@contextlib.contextmanager
def metrics_folder(wanted: bool) -> Iterator[Path | None]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for this run's workers (inherited through the environment),
    removed afterwards; none when /metrics is off."""
    if not wanted:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="icp-metrics-"))
    previous = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = previous
        shutil.rmtree(folder, ignore_errors=True)


class Supervisor:
    def __init__(self, config: ServerConfig, metrics_dir: Path | None):
        self.config, self.metrics_dir = config, metrics_dir
        self.context = multiprocessing.get_context("spawn")
        self.workers: dict[int, Worker] = {}
        self.restarts: deque[float] = deque()
        self.restarted_total = 0
        self.fan_outs: dict[tuple[int, ...], FanOut] = {}
        self.signals: deque[int] = deque()
        self.stopping = False
        self.failed = False
        self._http: Any = None

    def serve_metrics(self, config: ServerConfig) -> int:
        """/metrics in this process: the workers' files summed, plus this supervisor's restarts."""
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.core import CounterMetricFamily
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.metrics_dir))
        supervisor = self

        class Restarts:
            def collect(self) -> Iterator[Any]:
                yield CounterMetricFamily("icp_worker_restarts", "Worker processes restarted after dying.", supervisor.restarted_total)

        registry.register(Restarts())
        assert config.metrics_port is not None
        self._http, _ = start_http_server(config.metrics_port, addr=config.host, registry=registry)
        return int(self._http.server_port)

    def run(self, metrics_port: int | None) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda signum, _frame: self.signals.append(signum))
        try:
            for index in range(self.config.workers):
                self.start_worker(index)
            if self.wait_until_ready():
                pids = ", ".join(str(w.pid) for w in self.workers.values())
                log.info(
                    "serving on %s:%d with %d workers (pids %s); metrics on :%s",
                    self.config.host, self.config.port, len(self.workers), pids, metrics_port,
                )
                self.loop()
            self.stop_all()
        finally:
            if self._http is not None:
                self._http.shutdown()
                self._http.server_close()
        log.info("stopped")
        return 1 if self.failed else 0

    def start_worker(self, index: int) -> None:
        parent_end, child_end = self.context.Pipe()
        worker_config = replace(self.config, worker=index, decision_log=_decision_log_of(self.config, index))
        process = self.context.Process(
            target=run_worker, args=(worker_config, child_end, logging.getLogger().getEffectiveLevel()),
            name=f"icp-worker-{index}",
        )
        process.start()
        child_end.close()
        self.workers[index] = Worker(index, process, parent_end)

    def wait_until_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not all(w.ready for w in self.workers.values()):
            if self.stopping or self.failed:
                return False
            if time.monotonic() > deadline:
                log.error("workers did not become ready within %.0fs; stopping", START_TIMEOUT_SECONDS)
                self.failed = True
                return False
            self.step(starting=True)
        return True

    def loop(self) -> None:
        while not self.stopping and not self.failed:
            self.step(starting=False)

    def step(self, starting: bool) -> None:
        """Wait a little for a message, a worker's exit or a signal, and handle it."""
        while self.signals:
            self.on_signal(self.signals.popleft())
        waitables: list[Any] = [w.conn for w in self.workers.values()] + [w.process.sentinel for w in self.workers.values()]
        for ready in wait(waitables, timeout=POLL_SECONDS):
            for worker in list(self.workers.values()):
                if ready is worker.conn:
                    self.receive(worker)
                elif ready == worker.process.sentinel and not worker.process.is_alive():
                    self.on_exit(worker, starting)

    def on_signal(self, signum: int) -> None:
        if signum == signal.SIGHUP:
            log.info("SIGHUP: every worker reloads")
            self.signal_workers(signal.SIGHUP)
            return
        log.info("signal %d: every worker drains for up to %.0fs", signum, self.config.grace_seconds)
        self.stopping = True

    def signal_workers(self, signum: int) -> None:
        for worker in self.workers.values():
            if worker.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signum)

    def receive(self, worker: Worker) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):  # it is exiting; its sentinel says so next
            return
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            log.info("worker %d (pid %d) serving bundle %s", worker.index, worker.pid, message[1])
        elif kind == "reload_others":
            self.fan_out(worker, message[1])
        elif kind == "reloaded":
            _, key, activated, version, diagnostics = message
            self.answer(tuple(key), worker.index, (worker.index, activated, version, diagnostics))

    def fan_out(self, origin: Worker, request: int) -> None:
        others = {w.index for w in self.workers.values() if w is not origin and w.ready and w.process.is_alive()}
        pending = FanOut(origin, request, others)
        key = (origin.index, request)
        self.fan_outs[key] = pending
        for index in others:
            self._send(self.workers[index], "reload", key)
        self.finish_if_done(key)

    def answer(self, key: tuple[int, ...], index: int, reload: Reload) -> None:
        pending = self.fan_outs.get(key)
        if pending is None or index not in pending.waiting:
            return
        pending.waiting.discard(index)
        pending.answers.append(reload)
        self.finish_if_done(key)

    def finish_if_done(self, key: tuple[int, ...]) -> None:
        pending = self.fan_outs[key]
        if pending.waiting:
            return
        del self.fan_outs[key]
        self._send(pending.origin, "reloaded_others", pending.request, sorted(pending.answers))

    def _send(self, worker: Worker, *message: Any) -> None:
        with contextlib.suppress(OSError):  # it died: its exit is handled from its sentinel
            worker.conn.send(message)

    def on_exit(self, worker: Worker, starting: bool) -> None:
        del self.workers[worker.index]
        worker.conn.close()
        code = worker.process.exitcode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        if self.metrics_dir is not None:
            from prometheus_client.multiprocess import mark_process_dead

            mark_process_dead(worker.pid, str(self.metrics_dir))
        for key, pending in list(self.fan_outs.items()):  # a reload it owed: answered as not reloaded
            if worker.index in pending.waiting:
                self.answer(key, worker.index, (worker.index, False, "", f"worker {worker.index} {how} during the reload"))
            elif pending.origin is worker:
                del self.fan_outs[key]
        if self.stopping:
            return
        if starting and not worker.ready:
            log.error("worker %d (pid %d) %s before serving; stopping", worker.index, worker.pid, how)
            self.failed = True
            return
        now = time.monotonic()
        while self.restarts and now - self.restarts[0] > RESTART_WINDOW_SECONDS:
            self.restarts.popleft()
        if len(self.restarts) >= MAX_RESTARTS:
            log.error(
                "worker %d (pid %d) %s; %d restarts within %.0fs already: stopping",
                worker.index, worker.pid, how, len(self.restarts), RESTART_WINDOW_SECONDS,
            )
            self.failed = True
            return
        self.restarts.append(now)
        self.restarted_total += 1
        log.error("worker %d (pid %d) %s; restarting it", worker.index, worker.pid, how)
        self.start_worker(worker.index)

    def stop_all(self) -> None:
        """SIGTERM every worker (each drains), wait for them; kill what outlives grace + a margin."""
        self.stopping = True
        self.signal_workers(signal.SIGTERM)
        deadline = time.monotonic() + self.config.grace_seconds + 10
        for worker in list(self.workers.values()):
            worker.process.join(max(deadline - time.monotonic(), 0.1))
            if worker.process.is_alive():
                log.error("worker %d (pid %d) did not stop within the grace period; killing it", worker.index, worker.pid)
                worker.process.kill()
                worker.process.join(5)
            if worker.process.exitcode not in (0, -signal.SIGTERM) and not self.failed:  # -SIGTERM: stopped while starting
                log.error("worker %d (pid %d) exited with code %s", worker.index, worker.pid, worker.process.exitcode)
                self.failed = True
            worker.conn.close()


def _decision_log_of(config: ServerConfig, index: int) -> DecisionLogConfig | None:
    """One decision log file per worker (two processes cannot share a rotating file):
    ``decisions.jsonl`` → ``decisions.worker-0.jsonl``, ``decisions.worker-1.jsonl``, ..."""
    if config.decision_log is None:
        return None
    path = config.decision_log.path
    return replace(config.decision_log, path=path.with_name(f"{path.stem}.worker-{index}{path.suffix}"))
