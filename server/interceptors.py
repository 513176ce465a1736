"""Cross-cutting work around every RPC: domain errors → status codes (with google.rpc.BadRequest
details), and the request metrics (counted from ``context.code()``)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from server.errors import ServiceError
from server.metrics import Metrics

log = logging.getLogger("icp.server")


def _abort(context: grpc.ServicerContext, error: ServiceError) -> None:
    status = status_pb2.Status(code=error.code.value[0], message=error.message)
    if error.violations:
        details = any_pb2.Any()
        details.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in error.violations
        ]))
        status.details.append(details)
    context.abort_with_status(rpc_status.to_status(status))


def _code_name(context: grpc.ServicerContext, failed: bool) -> str:
    code = context.code()
    if code is None:
        return "UNKNOWN" if failed else "OK"
    return code.name if isinstance(code, grpc.StatusCode) else grpc.StatusCode(code).name


WORKER_PID_KEY = "icp-worker-pid"  # trailing metadata under `icp serve --workers N`: which process answered


class ServiceInterceptor(grpc.ServerInterceptor):
    """Wraps every ``/icp.`` method once: ``intercept_service`` runs for every call (on gRPC's
    polling thread, before the handler is queued), so the wrapped handler is kept per method and
    reused while the server returns the same handler for it."""

    def __init__(self, metrics: Metrics, worker_tag: bool = False):
        self.metrics = metrics
        self._worker_pid = ((WORKER_PID_KEY, str(os.getpid())),) if worker_tag else None
        self._wrapped: dict[str, tuple[Any, Any]] = {}  # method → (the server's handler, ours)

    def intercept_service(self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method_path = details.method
        cached = self._wrapped.get(method_path)
        if cached is not None and cached[0] is handler:
            return cached[1]
        if not method_path.startswith("/icp."):
            return handler
        service, method = method_path[1:].rsplit("/", 1)
        wrapped = handler
        if handler.unary_unary is not None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, service, method),
                request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer,
            )
        elif handler.stream_stream is not None:
            wrapped = grpc.stream_stream_rpc_method_handler(
                self._stream(handler.stream_stream, service, method),
                request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer,
            )
        self._wrapped[method_path] = (handler, wrapped)  # bounded: the methods the server registered
        return wrapped

    def _unary(self, behaviour: Callable[[Any, Any], Any], service: str, method: str) -> Callable[[Any, Any], Any]:
        """Time and count one call; map a domain error to its status (abort raises). Written out
        rather than as a context manager: this runs on every call."""
        metrics, worker_pid = self.metrics, self._worker_pid
        in_flight, handled = metrics.in_flight, metrics.handled
        handling = metrics.handling_seconds.labels(service, method)
        clock = time.perf_counter

        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            started, failed = clock(), False
            in_flight.inc()
            if worker_pid is not None:
                context.set_trailing_metadata(worker_pid)
            try:
                return behaviour(request, context)
            except ServiceError as error:
                _abort(context, error)
                return None  # not reached: abort raises
            except Exception:
                failed = True
                log.exception("unexpected error in %s", method)
                raise
            finally:
                in_flight.dec()
                handled.labels(service, method, _code_name(context, failed)).inc()
                handling.observe(clock() - started)

        return wrapped

    def _stream(self, behaviour: Callable[[Any, Any], Iterator[Any]], service: str, method: str) -> Callable[[Any, Any], Iterator[Any]]:
        def wrapped(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
            with self._observed(service, method, context):
                yield from behaviour(requests, context)

        return wrapped

    @contextmanager
    def _observed(self, service: str, method: str, context: grpc.ServicerContext) -> Iterator[None]:
        """Time and count one call; map a domain error to its status (abort raises)."""
        started, failed = time.perf_counter(), False
        self.metrics.in_flight.inc()
        if self._worker_pid is not None:
            context.set_trailing_metadata(self._worker_pid)
        try:
            yield
        except ServiceError as error:
            _abort(context, error)
        except Exception:
            failed = True
            log.exception("unexpected error in %s", method)
            raise
        finally:
            self._done(service, method, context, failed, started)

    def _done(self, service: str, method: str, context: grpc.ServicerContext, failed: bool, started: float) -> None:
        self.metrics.in_flight.dec()
        self.metrics.handled.labels(service, method, _code_name(context, failed)).inc()
        self.metrics.handling_seconds.labels(service, method).observe(time.perf_counter() - started)
