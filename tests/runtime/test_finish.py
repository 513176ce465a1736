"""Finishing details the conformance cases do not cover: per-profile scores and the runner-up."""

from __future__ import annotations

from pathlib import Path

import yaml

from compiler import compile_profiles
from runtime.engine import Scorer
from tests.conftest import write_folder

CONFORMANCE = Path(__file__).resolve().parents[1] / "fixtures" / "conformance" / "default-schema.yaml"


def test_per_profile_scores_are_ranked_and_name_the_runner_up(tmp_path: Path) -> None:
    document = yaml.safe_load(CONFORMANCE.read_text())
    bundle = compile_profiles(write_folder(tmp_path / "p", document["profiles"], document.get("routing"), schema=False))
    record = {"industry": "software", "employees": "201-500", "country": "Germany", "tech_stack": ["salesforce"]}
    answer = Scorer(bundle).score([record], per_profile=True).results.answer(0, per_profile=True)
    # By hand (see the conformance file): alpha 90/90 = 100.0 A qualified; beta 50/120 = 41.7 D
    # qualified (coverage 100/120); gamma: not_in government holds 10, one of the three tools fails
    # at_least 2 (known), so 10/20 = 50.0 B with coverage 20/20, but DE is not in the nordics.
    # Qualified profiles rank first, so the runner-up is beta although gamma scores higher.
    assert answer["profiles"] == [
        {"profile": "alpha", "score": 100.0, "tier": "A", "qualified": True, "coverage": 1.0},
        {"profile": "beta", "score": 41.7, "tier": "D", "qualified": True, "coverage": 0.8333},
        {"profile": "gamma", "score": 50.0, "tier": "B", "qualified": False, "coverage": 1.0},
    ]
    assert answer["runner_up"] == "beta"
