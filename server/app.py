"""The server factory and the ``icp serve`` process: gRPC (scoring, admin, health, reflection)
plus Prometheus ``/metrics`` on its own port. With ``workers`` > 1, :mod:`server.workers` runs one
such server per process on a shared port instead."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry, start_http_server

from compiler.schema import DEFAULT_PROFILES_DIR
from server.api import ADMIN_SERVICE, SCORING_SERVICE, pb_grpc
from server.decisions import DecisionLog, DecisionLogConfig
from server.interceptors import ServiceInterceptor
from server.metrics import Metrics
from server.reload import Reloader, ReloadOutcome
from server.scoring import DecisionSink, Limits
from server.service import AdminService, ScoringService
from server.state import ServingHolder
from server.watch import FolderWatcher

log = logging.getLogger("icp.server")

# In a worker: run this worker's reload alongside every other worker's; the outcome across them all.
ReloadEverywhere = Callable[[Callable[[], ReloadOutcome]], ReloadOutcome]


@dataclass(frozen=True)
class TlsConfig:
    cert: Path
    key: Path
    client_ca: Path | None = None  # set: clients must present a certificate it signed (mutual TLS)


@dataclass(frozen=True)
class ServerConfig:
    source: Path = DEFAULT_PROFILES_DIR  # a profiles folder or a compiled bundle file
    host: str = "127.0.0.1"
    port: int = 50051  # 0: any free port (tests)
    metrics_port: int | None = 9464  # None: no /metrics endpoint; 0: any free port
    limits: Limits = field(default_factory=Limits)
    threads: int = 8  # gRPC handler threads per process
    workers: int = 1  # server processes sharing the port (server/workers.py); 1: this process serves
    worker: int | None = None  # set by the supervisor in a worker process: its index (shared port, tagged answers)
    admin_token: str | None = None
    tls: TlsConfig | None = None
    grace_seconds: float = 10.0
    # Hot reload (server/watch.py), draining on SIGTERM, and the decision log (server/decisions.py).
    drain_quiet_seconds: float = 0.25  # SIGTERM: NOT_SERVING, then stop once no call was in flight this long
    watch: bool = True  # poll a profiles folder (not a bundle file) and reload after a change
    watch_poll_seconds: float = 0.25
    reload_debounce_seconds: float = 0.5  # reload once nothing has changed for this long
    decision_log: DecisionLogConfig | None = None  # off by default


@dataclass
class App:
    server: grpc.Server
    port: int
    metrics_port: int | None
    holder: ServingHolder
    health: health.HealthServicer
    metrics: Metrics
    reloader: Reloader
    _metrics_http: Any = None

    def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SCORING_SERVICE):
            self.health.set(name, status)

    def stop(self, grace: float, quiet: float = 0.25) -> None:
        """Health NOT_SERVING; keep taking calls until none has been in flight for ``quiet``
        seconds (at most half the grace), then stop, letting in-flight calls finish within what is
        left of ``grace``. gRPC cancels calls that reached the transport but were not yet picked up
        when ``stop`` runs; under load that is many, so stopping at once would lose them."""
        started = time.monotonic()
        self.set_serving(False)
        if grace > 0:
            self._quiesce(quiet, grace / 2)
        self.server.stop(max(grace - (time.monotonic() - started), 0.0)).wait()
        if self._metrics_http is not None:
            self._metrics_http.shutdown()
            self._metrics_http.server_close()

    def _quiesce(self, quiet: float, limit: float) -> None:
        started = busy = time.monotonic()
        while (now := time.monotonic()) - busy < quiet and now - started < limit:
            if self.metrics.registry.get_sample_value("icp_requests_in_flight"):
                busy = now
            time.sleep(0.01)


def create_server(
    config: ServerConfig,
    registry: CollectorRegistry | None = None,
    decisions: DecisionSink | None = None,
    reload_everywhere: ReloadEverywhere | None = None,
) -> App:
    """Compile, test and warm the bundle, then start gRPC (and /metrics). Raises ``ActivationError``
    when the bundle cannot serve. Health is NOT_SERVING until the kernels are warm.

    In a worker process (``config.worker`` set) the port is shared (SO_REUSEPORT) and bound only
    after the bundle is warm, and ``reload_everywhere`` carries an Admin.Reload to every worker."""
    metrics = Metrics(registry or CollectorRegistry())
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.threads),
        interceptors=[ServiceInterceptor(metrics, worker_tag=config.worker is not None)],
        options=[
            ("grpc.max_receive_message_length", config.limits.max_message_bytes),
            ("grpc.max_send_message_length", config.limits.max_message_bytes),
            ("grpc.so_reuseport", int(config.worker is not None)),  # one process: a taken port is an error
        ],
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SCORING_SERVICE, ADMIN_SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    holder = ServingHolder()
    reloader = Reloader(config.source, holder, metrics)
    if decisions is None and config.decision_log is not None:
        decision_log = DecisionLog.open(config.decision_log)
        _on_termination(server, decision_log.close)
        decisions = decision_log
    watcher = _watcher(config, reloader)
    pb_grpc.add_ScoringServicer_to_server(ScoringService(holder, config.limits, metrics, decisions), server)
    pb_grpc.add_AdminServicer_to_server(AdminService(config.admin_token, _admin_reload(reloader, reload_everywhere)), server)
    for name in ("", SCORING_SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    if config.worker is None:
        port = _bind(server, config)
        server.start()  # health answers NOT_SERVING while the bundle compiles and the kernels warm
    try:
        reloader.activate_first()
    except Exception:
        server.stop(0)
        raise
    if config.worker is not None:
        # The kernel hands every listening socket in the group its share of new connections at
        # once, so a worker joins the shared port only when it can score them.
        port = _bind(server, config)
        server.start()
    http, metrics_port = None, None
    if config.metrics_port is not None:
        http, _ = start_http_server(config.metrics_port, addr=config.host, registry=metrics.registry)
        metrics_port = http.server_port
    app = App(server, port, metrics_port, holder, health_servicer, metrics, reloader, http)
    app.set_serving(True)
    if watcher is not None:
        _on_termination(server, watcher.start().stop)
    return app


def _bind(server: grpc.Server, config: ServerConfig) -> int:
    address = f"{config.host}:{config.port}"
    return server.add_secure_port(address, _credentials(config.tls)) if config.tls else server.add_insecure_port(address)


def _admin_reload(reloader: Reloader, reload_everywhere: ReloadEverywhere | None) -> Callable[[], tuple[bool, str, str]]:
    """Admin.Reload: this process's reload; in a worker, every worker's at once, answered when all
    have finished, so the answer says what all of them serve."""

    def run() -> tuple[bool, str, str]:
        outcome = reloader.reload() if reload_everywhere is None else reload_everywhere(reloader.reload)
        return outcome.activated, outcome.version, outcome.diagnostics

    return run


def _watcher(config: ServerConfig, reloader: Reloader) -> FolderWatcher | None:
    """Created before the first activation reads the folder, so no change in between is missed."""
    if not config.watch or not config.source.is_dir():
        return None
    return FolderWatcher(config.source, reloader.reload, config.watch_poll_seconds, config.reload_debounce_seconds)


def _on_termination(server: grpc.Server, close: Callable[[], Any]) -> None:
    """Run ``close`` (stop the watcher, close the decision log) once the server has stopped."""

    def wait() -> None:
        server.wait_for_termination()
        close()

    threading.Thread(target=wait, name="icp-on-termination", daemon=True).start()


def _credentials(tls: TlsConfig) -> grpc.ServerCredentials:
    pair = [(tls.key.read_bytes(), tls.cert.read_bytes())]
    if tls.client_ca is None:
        return grpc.ssl_server_credentials(pair)
    return grpc.ssl_server_credentials(pair, root_certificates=tls.client_ca.read_bytes(), require_client_auth=True)


def serve(config: ServerConfig) -> int:
    """Run until SIGTERM/SIGINT; SIGHUP reloads the profiles. ``workers`` > 1: a supervisor of that
    many server processes (server/workers.py), which creates no gRPC object itself."""
    if config.workers > 1:
        from server.workers import supervise

        return supervise(config)
    app = create_server(config)
    log.info(
        "serving bundle %s on %s:%d (metrics on :%s)",
        app.holder.current.bundle.version, config.host, app.port, app.metrics_port,
    )
    return run_until_stopped(app, config)


def run_until_stopped(app: App, config: ServerConfig) -> int:
    """Serve until SIGTERM/SIGINT, then drain (once, however many signals come); SIGHUP reloads."""
    done = threading.Event()
    draining = threading.Lock()

    def drain() -> None:
        if draining.acquire(blocking=False):
            app.stop(config.grace_seconds, config.drain_quiet_seconds)
            done.set()

    def terminate(signum: int, _frame: Any) -> None:
        log.info("signal %d: draining for up to %.0fs", signum, config.grace_seconds)
        threading.Thread(target=drain, daemon=True).start()

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=app.reloader.reload, daemon=True).start())
    done.wait()
    log.info("stopped")
    return 0
