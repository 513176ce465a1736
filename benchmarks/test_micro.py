"""pytest-benchmark micro-benchmarks (deselected by default; run ``pytest benchmarks -m benchmark``).

Sizes: the kernel on 10k records × 8 profiles, the encoder on 1k raw
records, the finishing step on 10k records. Inputs are built once per module
and the kernels are warmed before timing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.synthetic import raw_records, synthetic_columns, write_profiles
from compiler import compile_profiles
from runtime.encode import Encoder
from runtime.finish import finish, run_kernel

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = write_profiles(Path(tmp_path_factory.mktemp("profiles")), 8, seed=11)
    bundle = compile_profiles(folder)
    columns = synthetic_columns(bundle, 10_000, seed=11)
    raw = raw_records(bundle, columns, slice(0, 1_000))
    output = run_kernel(bundle, columns)  # warm the JIT (disk cache) outside the timings
    finish(bundle, output)
    return {"bundle": bundle, "columns": columns, "raw": raw, "output": output}


def test_kernel_10k_records_8_profiles(benchmark: Any, setup: dict[str, Any]) -> None:
    out = benchmark(run_kernel, setup["bundle"], setup["columns"])
    assert out.best.shape == (10_000,)


def test_encoder_1k_raw_records(benchmark: Any, setup: dict[str, Any]) -> None:
    encoder = Encoder(setup["bundle"])
    encoder.encode(setup["raw"])  # steady state: the encoder's value cache is warm, as in a server
    batch = benchmark(encoder.encode, setup["raw"])
    assert batch.size == 1_000 and not batch.problems


def test_finish_10k_records(benchmark: Any, setup: dict[str, Any]) -> None:
    results = benchmark(finish, setup["bundle"], setup["output"])
    assert results.size == 10_000
