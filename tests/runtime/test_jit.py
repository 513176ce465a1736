"""Profiles never generate code: each kernel keeps exactly one compiled signature whatever the
bundle, the batch size or the options (checked through Numba's signatures, not timing)."""

from __future__ import annotations

from pathlib import Path

from compiler import compile_profiles
from compiler.schema import DEFAULT_PROFILES_DIR
from runtime.engine import Scorer
from runtime.kernels import KERNELS, SMALL_BATCH
from tests.conftest import REPO, write_folder


def test_one_signature_across_bundles_batches_and_options(tmp_path: Path) -> None:
    default = compile_profiles(DEFAULT_PROFILES_DIR)
    small = compile_profiles(write_folder(tmp_path / "p", [{"id": "one", "criteria": [{"field": "size", "min": 5, "weight": 1}]}]))
    for bundle in (default, small):
        scorer = Scorer(bundle)
        scorer.score([])
        scorer.score([{"employees": "10"}], per_profile=True)
        scorer.score([{}] * 300)
        scorer.score([{}] * SMALL_BATCH)  # the largest batch the GIL-holding kernel takes
    # each kernel (the GIL-releasing one for large batches, the GIL-holding one for small) once
    assert [len(kernel.signatures) for kernel in KERNELS] == [1, 1]


GIL_PROBE = r"""
import sys, threading
from benchmarks.synthetic import synthetic_columns
from compiler import compile_profiles
from compiler.schema import DEFAULT_PROFILES_DIR
from runtime.finish import run_kernel
from runtime.kernels import score_records, score_records_holding_gil
import runtime.finish as finishing

bundle = compile_profiles(DEFAULT_PROFILES_DIR)
columns = synthetic_columns(bundle, 300_000, 1)
run_kernel(bundle, columns)  # load (or compile) both kernels
run_kernel(bundle, synthetic_columns(bundle, 2, 1))
ticks, stop = [0], threading.Event()

def spin():
    while not stop.is_set():
        ticks[0] += 1

def ticks_during(kernel):
    finishing.score_records = finishing.score_records_holding_gil = kernel  # run_kernel takes this one
    thread = threading.Thread(target=spin)
    thread.start()
    while ticks[0] == 0:
        pass
    before = ticks[0]
    run_kernel(bundle, columns)
    during = ticks[0] - before
    stop.set(); thread.join(); stop.clear(); ticks[0] = 0
    return during

print(ticks_during(score_records), ticks_during(score_records_holding_gil))
"""


def test_large_batches_release_the_gil_and_small_ones_hold_it(tmp_path: Path) -> None:
    """Checked in a process that loads both kernels from Numba's disk cache (the first run
    writes it): the cache must give each kernel its own code (it once gave both the same)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "ICP_NUMBA_CACHE": "1"}
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", GIL_PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
    released, held = (int(x) for x in done.stdout.split())
    # another Python thread runs all through the GIL-releasing kernel's ~0.1 s, and only in the
    # Python around the GIL-holding one (measured: ~1.2M ticks against ~50k)
    assert released > 10_000, (released, held)
    assert held * 5 < released, (released, held)
