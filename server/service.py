"""The servicers: thin. Convert, take the serving bundle once, call the runtime, convert back.
Errors are raised as :mod:`server.errors` and mapped to statuses by the interceptor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc

from server.api import pb, pb_grpc
from server.convert import describe
from server.errors import DeadlineExceeded, PermissionDenied, Unauthenticated, Unimplemented
from server.metrics import Metrics
from server.scoring import DecisionSink, Limits, score_batch, score_one
from server.state import ServingHolder


def _check_deadline(context: grpc.ServicerContext) -> None:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlineExceeded("the deadline passed before the request was scored")


class ScoringService(pb_grpc.ScoringServicer):
    def __init__(self, holder: ServingHolder, limits: Limits, metrics: Metrics, decisions: DecisionSink | None = None):
        self.holder, self.limits, self.metrics, self.decisions = holder, limits, metrics, decisions

    def Score(self, request: Any, context: grpc.ServicerContext) -> Any:
        _check_deadline(context)
        result = score_one(self.holder.current, request, self.limits, self.metrics, self.decisions)
        return pb.ScoreResponse(result=result)

    def ScoreBatch(self, request: Any, context: grpc.ServicerContext) -> Any:
        _check_deadline(context)
        answer = score_batch(self.holder.current, request, self.limits, self.metrics, self.decisions)
        return pb.ScoreBatchResponse(bundle_version=answer.version, results=answer.results, columns=answer.columns)

    def ScoreStream(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        for request in requests:
            _check_deadline(context)
            answer = score_batch(self.holder.current, request, self.limits, self.metrics, self.decisions)
            yield pb.ScoreBatchResponse(bundle_version=answer.version, results=answer.results, columns=answer.columns)

    def DescribeBundle(self, request: Any, context: grpc.ServicerContext) -> Any:
        return describe(self.holder.current.bundle)


class AdminService(pb_grpc.AdminServicer):
    """Reload on demand; refuses every call unless an admin token was configured and is sent."""

    def __init__(self, token: str | None, reload: Callable[[], tuple[bool, str, str]]):
        self.token, self.reload = token, reload

    def Reload(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not self.token:
            raise Unimplemented("the admin service is off; start the server with --admin-token-file to enable it")
        sent = dict(context.invocation_metadata()).get("authorization", "")
        if not sent:
            raise Unauthenticated("send 'authorization: Bearer <token>' metadata")
        if sent != f"Bearer {self.token}":
            raise PermissionDenied("the admin token does not match")
        activated, version, diagnostics = self.reload()
        return pb.ReloadResponse(activated=activated, version=version, diagnostics=diagnostics)
