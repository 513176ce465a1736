"""The compile cache: an unchanged folder opens from the cache; any change, a broken folder, or a
taxonomy read from outside the hashed folders compiles (and a broken one is never cached)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import compiler.cache
from compiler.diagnostics import CompileError
from compiler.pipeline import compile_profiles, open_bundle
from compiler.schema import DEFAULT_PROFILES_DIR


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("ICP_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    folder = tmp_path / "profiles"
    shutil.copytree(DEFAULT_PROFILES_DIR, folder)
    return folder


def test_an_unchanged_folder_opens_from_the_cache(cache: Path, profiles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = open_bundle(profiles)
    assert len(list(cache.glob("*.icpb"))) == 1
    compiles: list[Path] = []
    monkeypatch.setattr("compiler.pipeline.compile_profiles", lambda folder: compiles.append(folder) or compile_profiles(folder))
    again = open_bundle(profiles)
    assert compiles == [] and again.version == first.version == compile_profiles(profiles).version
    assert again.meta["profiles"] == first.meta["profiles"]


def test_a_changed_profile_compiles_again(cache: Path, profiles: Path) -> None:
    before = open_bundle(profiles)
    profile = profiles / "enterprise-saas.yaml"
    profile.write_text(profile.read_text().replace("weight: 25", "weight: 26", 1))
    after = open_bundle(profiles)
    assert after.version != before.version and after.version == compile_profiles(profiles).version
    assert len(list(cache.glob("*.icpb"))) == 2


def test_a_broken_folder_is_refused_and_not_cached(cache: Path, profiles: Path) -> None:
    (profiles / "enterprise-saas.yaml").write_text("id: [\n")
    for _ in range(2):
        with pytest.raises(CompileError):
            open_bundle(profiles)
    assert not list(cache.glob("*.icpb"))


def test_a_taxonomy_outside_the_hashed_folders_is_never_cached(cache: Path, profiles: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "tools.yaml"
    outside.parent.mkdir()
    outside.write_text("taxonomy: tools\nnodes:\n  - {id: acme-crm, name: Acme CRM, kind: tool}\n")
    (profiles / "schema.yaml").write_text(
        "extends: default\ntaxonomies: {extra_tools: ../elsewhere/tools.yaml}\n"
        "fields: {extra_stack: {type: set, taxonomy: extra_tools}}\n"
    )
    bundle = open_bundle(profiles)
    assert any("elsewhere" in name for name in bundle.meta["schema_files"])
    assert not compiler.cache.read_only_hashed_files(bundle, profiles)
    assert not list(cache.glob("*.icpb"))


def test_the_cache_can_be_turned_off(profiles: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ICP_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert open_bundle(profiles).version == compile_profiles(profiles).version
    assert not (tmp_path / "xdg").exists()
