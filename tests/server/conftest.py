"""A real server on a loopback port (port 0), with a real client channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from compiler.schema import DEFAULT_PROFILES_DIR
from server.api import pb_grpc
from server.app import App, ServerConfig, create_server


def start(source: Path = DEFAULT_PROFILES_DIR, **overrides: Any) -> App:
    """A server on 127.0.0.1 with its own metrics registry (many servers share one process)."""
    config = ServerConfig(source=source, port=0, metrics_port=0, **overrides)
    return create_server(config, registry=CollectorRegistry())


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    running = start()
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def channel(app: App) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> Any:
    return pb_grpc.ScoringStub(channel)
