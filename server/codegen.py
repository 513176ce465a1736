"""Generated protobuf / gRPC code, reproducible from ``proto/``.

``python -m server.codegen`` (and the first ``import server.generated``-using module) runs
grpcio-tools' protoc on ``proto/icp/v1/scoring.proto`` into ``server/generated/``. The output is
not committed: it depends on the installed grpcio-tools, so it is regenerated whenever the proto
or that version changes (a stamp file records both).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
PROTO = PROTO_DIR / "icp" / "v1" / "scoring.proto"
OUT = ROOT / "server" / "generated"
STAMP = OUT / ".stamp"


def _fingerprint() -> str:
    from grpc_tools import __file__ as tools_file

    tools_version = importlib.metadata.version("grpcio-tools")
    return hashlib.sha256(PROTO.read_bytes() + tools_version.encode() + tools_file.encode()).hexdigest()


def generate(force: bool = False) -> Path:
    """Run protoc if the generated code is missing or stale; return the output folder."""
    from grpc_tools import protoc

    fingerprint = _fingerprint()
    if not force and STAMP.is_file() and STAMP.read_text() == fingerprint:
        return OUT
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "icp" / "v1").mkdir(parents=True, exist_ok=True)
    include = Path(protoc.__file__).resolve().parent / "_proto"
    code = protoc.main([
        "grpc_tools.protoc", f"-I{PROTO_DIR}", f"-I{include}",
        f"--python_out={OUT}", f"--grpc_python_out={OUT}", f"--pyi_out={OUT}", str(PROTO),
    ])
    if code != 0:
        raise RuntimeError(f"protoc failed on {PROTO} (exit {code})")
    for package in (OUT, OUT / "icp", OUT / "icp" / "v1"):
        (package / "__init__.py").touch()
    STAMP.write_text(fingerprint)
    return OUT


def load_modules() -> tuple[object, object]:
    """``(scoring_pb2, scoring_pb2_grpc)``, generating them first if needed."""
    generate()
    if str(OUT) not in sys.path:
        sys.path.insert(0, str(OUT))  # the generated grpc module imports "icp.v1.scoring_pb2"
    return importlib.import_module("icp.v1.scoring_pb2"), importlib.import_module("icp.v1.scoring_pb2_grpc")


if __name__ == "__main__":
    print(generate(force="--force" in sys.argv))
