"""The generated API modules (``icp.v1``), produced from proto/ on first use."""

from __future__ import annotations

from typing import Any

from server.codegen import load_modules

pb: Any
pb_grpc: Any
pb, pb_grpc = load_modules()

SCORING_SERVICE = pb.DESCRIPTOR.services_by_name["Scoring"].full_name
ADMIN_SERVICE = pb.DESCRIPTOR.services_by_name["Admin"].full_name
