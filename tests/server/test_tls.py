"""TLS and mutual TLS: certificates made with the ``openssl`` CLI in a tmp folder, loopback only."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from server.api import pb, pb_grpc
from server.app import App, TlsConfig
from tests.server.conftest import start

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl CLI is not installed (needed to make test certificates)")

EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=30)


def make_ca(folder: Path, name: str) -> None:
    openssl(folder, "req", "-x509", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN=icp test {name}")


def make_cert(folder: Path, name: str, ca: str, extensions: str) -> None:
    (folder / f"{name}.ext").write_text(extensions)
    openssl(folder, "req", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
    openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    make_ca(folder, "ca")
    make_ca(folder, "other-ca")
    make_cert(folder, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    make_cert(folder, "client", "ca", "extendedKeyUsage=clientAuth\n")
    make_cert(folder, "stranger", "other-ca", "extendedKeyUsage=clientAuth\n")
    return folder


def server_tls(certs: Path, mutual: bool) -> TlsConfig:
    return TlsConfig(certs / "server.pem", certs / "server.key", certs / "ca.pem" if mutual else None)


@pytest.fixture(scope="module")
def tls_app(certs: Path) -> Iterator[App]:
    app = start(tls=server_tls(certs, mutual=False), watch=False)
    yield app
    app.stop(0)


@pytest.fixture(scope="module")
def mtls_app(certs: Path) -> Iterator[App]:
    app = start(tls=server_tls(certs, mutual=True), watch=False)
    yield app
    app.stop(0)


def describe(channel: grpc.Channel) -> Any:
    return pb_grpc.ScoringStub(channel).DescribeBundle(pb.DescribeBundleRequest(), timeout=5)


def credentials(certs: Path, client: str | None = None) -> grpc.ChannelCredentials:
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=(certs / "ca.pem").read_bytes())
    return grpc.ssl_channel_credentials(
        root_certificates=(certs / "ca.pem").read_bytes(),
        private_key=(certs / f"{client}.key").read_bytes(),
        certificate_chain=(certs / f"{client}.pem").read_bytes(),
    )


def test_tls_server_accepts_a_client_that_trusts_its_ca(certs: Path, tls_app: App) -> None:
    with grpc.secure_channel(f"127.0.0.1:{tls_app.port}", credentials(certs)) as channel:
        assert describe(channel).version == tls_app.holder.current.bundle.version


def test_tls_server_refuses_plaintext(tls_app: App) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{tls_app.port}") as channel, pytest.raises(grpc.RpcError) as error:
        describe(channel)
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_refuses_a_client_without_a_certificate(certs: Path, mtls_app: App) -> None:
    with grpc.secure_channel(f"127.0.0.1:{mtls_app.port}", credentials(certs)) as channel, pytest.raises(grpc.RpcError) as error:
        describe(channel)
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_refuses_a_certificate_from_another_ca(certs: Path, mtls_app: App) -> None:
    with grpc.secure_channel(f"127.0.0.1:{mtls_app.port}", credentials(certs, "stranger")) as channel, pytest.raises(grpc.RpcError) as error:
        describe(channel)
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_accepts_a_client_certificate(certs: Path, mtls_app: App) -> None:
    with grpc.secure_channel(f"127.0.0.1:{mtls_app.port}", credentials(certs, "client")) as channel:
        assert describe(channel).version == mtls_app.holder.current.bundle.version
        record = pb.Record(id="r1", industry="software", country="Germany")
        result = pb_grpc.ScoringStub(channel).Score(pb.ScoreRequest(record=record), timeout=5).result
        assert result.bundle_version == mtls_app.holder.current.bundle.version
