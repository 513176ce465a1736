"""Conformance cases (tests/fixtures/conformance/*.yaml): hand-worked expected answers, checked
against the compiled path and against the reference evaluator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler import compile_profiles, compile_spec
from runtime.engine import Scorer
from runtime.reference import ReferenceEvaluator
from tests.conftest import write_folder

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "conformance"


def _cases() -> list[tuple[str, int]]:
    found = []
    for file in sorted(CASES.glob("*.yaml")):
        for index, _ in enumerate(yaml.safe_load(file.read_text())["cases"]):
            found.append((file.name, index))
    return found


@pytest.mark.parametrize(("file", "index"), _cases())
def test_conformance_case(file: str, index: int, tmp_path: Path) -> None:
    document = yaml.safe_load((CASES / file).read_text())
    folder = write_folder(tmp_path / "profiles", document["profiles"], document.get("routing"), schema=document.get("schema") == "test")
    case: dict[str, Any] = document["cases"][index]
    answer = Scorer(compile_profiles(folder)).score([case["record"]]).results.answer(0)
    reference = ReferenceEvaluator(compile_spec(folder)).evaluate(case["record"])
    for key, expected in case["expect"].items():
        assert answer[key] == expected, f"{case.get('name', index)}: {key}"
        assert reference[key] == expected, f"{case.get('name', index)}: {key} (reference)"
