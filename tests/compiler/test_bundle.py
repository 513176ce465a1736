"""The bundle file: content-hash version, deterministic, loads without recompiling, refuses damage."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from compiler import compile_profiles
from compiler.bundle import BundleFileError, Tables, load_bundle, save_bundle
from compiler.schema import DEFAULT_PROFILES_DIR
from runtime.engine import Scorer

RECORDS = [
    {"industry": "software", "employees": "1001 - 5000", "country": "Germany", "tech_stack": ["salesforce"]},
    {"industry": "Banking", "employees": "250", "country": "UK", "revenue": "$40M"},
    {},
]


@pytest.fixture
def profiles_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "profiles"
    shutil.copytree(DEFAULT_PROFILES_DIR, folder)
    return folder


def test_same_profiles_give_the_same_version_and_bytes(profiles_copy: Path, tmp_path: Path) -> None:
    first, second = compile_profiles(profiles_copy), compile_profiles(DEFAULT_PROFILES_DIR)
    assert first.version == second.version
    save_bundle(first, tmp_path / "a.icpb")
    save_bundle(second, tmp_path / "b.icpb")
    assert (tmp_path / "a.icpb").read_bytes() == (tmp_path / "b.icpb").read_bytes()


def test_moving_the_folder_keeps_the_version(tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "renamed-profiles"
    shutil.copytree(DEFAULT_PROFILES_DIR, moved)
    (moved / "schema.yaml").unlink()  # now the default schema is read from the repository
    assert compile_profiles(moved).version == compile_profiles(DEFAULT_PROFILES_DIR).version


def test_a_changed_weight_changes_the_version(profiles_copy: Path) -> None:
    before = compile_profiles(profiles_copy).version
    profile = profiles_copy / "enterprise-saas.yaml"
    text = profile.read_text()
    assert "weight: 25" in text
    profile.write_text(text.replace("weight: 25", "weight: 26", 1))
    assert compile_profiles(profiles_copy).version != before


def test_loaded_bundle_scores_like_the_compiled_one(tmp_path: Path) -> None:
    compiled = compile_profiles(DEFAULT_PROFILES_DIR)
    save_bundle(compiled, tmp_path / "b.icpb")
    loaded = load_bundle(tmp_path / "b.icpb")
    assert loaded.version == compiled.version
    for name in Tables._fields:
        np.testing.assert_array_equal(getattr(loaded.tables, name), getattr(compiled.tables, name))
        assert getattr(loaded.tables, name).dtype == getattr(compiled.tables, name).dtype
    a, b = Scorer(compiled).score(RECORDS).results, Scorer(loaded).score(RECORDS).results
    assert [a.answer(i) for i in range(3)] == [b.answer(i) for i in range(3)]


def test_a_damaged_bundle_is_refused(tmp_path: Path) -> None:
    save_bundle(compile_profiles(DEFAULT_PROFILES_DIR), tmp_path / "b.icpb")
    with zipfile.ZipFile(tmp_path / "b.icpb") as source, zipfile.ZipFile(tmp_path / "bad.icpb", "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "tables/crit_weight.npy":
                data = data[:-1] + bytes([data[-1] ^ 1])  # flip one bit of one weight
            target.writestr(item, data)
    with pytest.raises(BundleFileError, match="does not match its version"):
        load_bundle(tmp_path / "bad.icpb")


def test_not_a_bundle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.icpb").write_text("hello")
    with pytest.raises(BundleFileError, match="not a readable icp bundle"):
        load_bundle(tmp_path / "x.icpb")


def test_a_profile_whose_weights_pass_int32_is_refused_with_its_total(tmp_path: Path) -> None:
    """The kernel sums points in int32; 2,148 criteria at the largest weight pass 2**31 - 1."""
    from compiler.diagnostics import CompileError
    from tests.conftest import write_folder

    heavy = [{"field": "size", "min": i, "weight": 1_000_000} for i in range(2_148)]
    folder = write_folder(tmp_path / "p", [{"id": "heavy", "criteria": heavy}])
    with pytest.raises(CompileError) as raised:
        compile_profiles(folder)
    rendered = raised.value.diagnostics.render()
    assert "heavy.yaml" in rendered and "criteria" in rendered
    assert "the weights add up to 2,148,000,000 points either way; a profile has at most 2,147,483,647" in rendered
    fine = [{"field": "size", "min": i, "weight": 1_000_000} for i in range(2_147)]
    compile_profiles(write_folder(tmp_path / "q", [{"id": "fine", "criteria": fine}]))
