"""The one scoring path: records → encoder → kernels → finishing.

``icp score``, ``icp explain``, ``icp test`` and the server all call
:class:`Scorer`, so there is no second implementation of the semantics
(the reference evaluator in :mod:`runtime.reference` is a test oracle).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.bundle import Bundle
from runtime.encode import EncodedBatch, Encoder, Factorized
from runtime.finish import Results, finish, run_kernel


@dataclass
class Scored:
    encoded: EncodedBatch
    results: Results
    kernel_seconds: float


class Scorer:
    """Scores batches of records against one bundle (reuse it: the encoder caches lookups)."""

    def __init__(self, bundle: Bundle, scales: Mapping[str, float] | None = None):
        self.bundle = bundle
        self.encoder = Encoder(bundle, scales)

    def score(self, records: Sequence[Mapping[str, Any]], per_profile: bool = False) -> Scored:
        return self._scored(self.encoder.encode(records), per_profile)

    def score_columns(self, columns: Mapping[str, Factorized], n: int, per_profile: bool = False) -> Scored:
        """``n`` records given as factorized columns (see :func:`runtime.encode.factorize`)."""
        return self._scored(self.encoder.encode_columns(columns, n), per_profile)

    def _scored(self, encoded: EncodedBatch, per_profile: bool) -> Scored:
        started = time.perf_counter()
        kernel = run_kernel(self.bundle, encoded.columns, per_profile)
        kernel_seconds = time.perf_counter() - started
        return Scored(encoded, finish(self.bundle, kernel), kernel_seconds)
