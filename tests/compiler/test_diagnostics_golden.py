"""Golden files for compiler diagnostics: one folder per kind of mistake under
tests/fixtures/diagnostics/, its rendered diagnostics in ``expected.txt``.

Each expected file was read line by line when it was first written (right code, line, column,
caret and suggestion); regenerate deliberately with ``ICP_UPDATE_GOLDEN=1 pytest tests/compiler``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cli.main import main
from compiler import compile_profiles
from compiler.diagnostics import CompileError

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "diagnostics"
UPDATE = os.environ.get("ICP_UPDATE_GOLDEN") == "1"


def _copy_case(case: str, tmp_path: Path) -> Path:
    folder = tmp_path / case
    shutil.copytree(CASES / case, folder, ignore=shutil.ignore_patterns("expected.txt"))
    return folder


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_diagnostics_match_golden(case: str, tmp_path: Path) -> None:
    folder = _copy_case(case, tmp_path)
    with pytest.raises(CompileError) as raised:
        compile_profiles(folder)
    rendered = raised.value.diagnostics.render() + "\n"
    expected = CASES / case / "expected.txt"
    if UPDATE:
        expected.write_text(rendered)
    assert rendered == expected.read_text()


def test_every_diagnostic_names_its_code_first_in_the_case_name(tmp_path: Path) -> None:
    """Each case folder is named after the code it exists to show; that code must appear."""
    for case in sorted(p.name for p in CASES.iterdir() if p.is_dir()):
        text = (CASES / case / "expected.txt").read_text()
        code = {"many_mistakes": "unknown_value", "at_least_too_many": "never_holds"}.get(case, case)
        assert f": {code}: " in text, case


def test_many_mistakes_are_capped_at_ten_with_a_count(tmp_path: Path) -> None:
    folder = _copy_case("many_mistakes", tmp_path)
    with pytest.raises(CompileError) as raised:
        compile_profiles(folder)
    diagnostics = raised.value.diagnostics
    assert len(diagnostics.items) == 10
    assert diagnostics.dropped == 2
    assert diagnostics.render().endswith("... and 2 more")


def test_cli_compile_prints_diagnostics_and_exits_1_without_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _copy_case("unknown_value", tmp_path)
    bundle = tmp_path / "out.icpb"
    assert main(["compile", str(folder), "-o", str(bundle)]) == 1
    err = capsys.readouterr().err
    assert "unknown_value: criteria[0].in[1]: unknown country 'Germny'" in err
    assert "did you mean 'Germany'?" in err
    assert "Traceback" not in err
    assert not bundle.exists()
