"""Profiles never generate code: each kernel keeps exactly one compiled signature whatever the
bundle, the batch size or the options (checked through Numba's signatures, not timing)."""

from __future__ import annotations

from pathlib import Path

from compiler import compile_profiles
from compiler.schema import DEFAULT_PROFILES_DIR
from runtime.engine import Scorer
from runtime.kernels import KERNELS, SMALL_BATCH
from tests.conftest import write_folder


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
