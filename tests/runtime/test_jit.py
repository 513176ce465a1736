"""Profiles never generate code: the kernel keeps exactly one compiled signature whatever the
bundle, the batch size or the options (checked through Numba's signatures, not timing)."""

from __future__ import annotations

from pathlib import Path

from compiler import compile_profiles
from compiler.schema import DEFAULT_PROFILES_DIR
from runtime.engine import Scorer
from runtime.kernels import score_records
from tests.conftest import write_folder


def test_one_signature_across_bundles_batches_and_options(tmp_path: Path) -> None:
    default = compile_profiles(DEFAULT_PROFILES_DIR)
    small = compile_profiles(write_folder(tmp_path / "p", [{"id": "one", "criteria": [{"field": "size", "min": 5, "weight": 1}]}]))
    for bundle in (default, small):
        scorer = Scorer(bundle)
        scorer.score([])
        scorer.score([{"employees": "10"}], per_profile=True)
        scorer.score([{}] * 300)
    assert len(score_records.signatures) == 1
