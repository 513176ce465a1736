"""Baseline (1): the plain per-record Python evaluator (:mod:`runtime.reference`), one record at a time.

It reads the validated profiles (``compile_spec``), not the compiled tables, and
computes the whole answer (reasons and routing included), as a plainly written
Python evaluator would. Timed: ``[evaluator.evaluate(r) for r in records]`` on
the raw string records.
"""

from __future__ import annotations

import time
from typing import Any

from compiler.bundle import Bundle
from compiler.spec import BundleSpec
from runtime.reference import ReferenceEvaluator

NAME = "python"
REQUIRES: str | None = None


def measure(bundle: Bundle, spec: BundleSpec, records: list[dict[str, Any]], repeats: int) -> tuple[dict[str, Any], dict[str, list]]:
    index = {p["id"]: i for i, p in enumerate(bundle.meta["profiles"])}
    evaluator = ReferenceEvaluator(spec)
    [evaluator.evaluate(r) for r in records[:20]]  # warm the leaf caches a little (a long-lived evaluator would be warm)
    times: list[float] = []
    answers: list[dict[str, Any]] = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        answers = [evaluator.evaluate(r) for r in records]
        times.append(time.perf_counter() - start)
        if times[-1] > 2.0:  # slow: one run is enough (nothing is extrapolated)
            break
    outputs = {
        "best": [index[a["profile"]] for a in answers],
        "tenths": [round(a["score"] * 10) for a in answers],
        "tier": [a["tier"] for a in answers],
    }
    return {"end_to_end_s": min(times), "end_to_end_repeats_s": times}, outputs
