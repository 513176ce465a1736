"""Shared fixtures: small schemas and profile folders written to tmp directories."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import Phase, settings

# In CI a failing property is reported as found, without minutes of shrinking; locally it shrinks.
settings.register_profile("ci", phases=[Phase.explicit, Phase.reuse, Phase.generate], print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]

# Compiled bundles are cached per source hash (compiler/cache.py); the tests keep theirs apart
# from the user's, in a folder of this run (subprocesses inherit it).
os.environ.setdefault("ICP_CACHE_DIR", tempfile.mkdtemp(prefix="icp-test-cache-"))


def market_taxonomy() -> dict[str, Any]:
    """130 leaves (so codes cross a 64-bit word twice) under six groups, one nested group, one root."""
    nodes: list[dict[str, Any]] = [{"id": "all", "name": "All markets", "kind": "root"}]
    nodes += [{"id": f"g{g}", "name": f"Group {g}", "kind": "group", "parents": ["all"]} for g in range(6)]
    nodes.append({"id": "g0a", "name": "Group 0 A", "kind": "group", "parents": ["g0"]})
    for i in range(130):
        parents = ["g0a"] if i % 12 == 0 else [f"g{i % 6}"]
        if i % 7 == 0:
            parents.append(f"g{(i + 1) % 6}")
        nodes.append({"id": f"m{i}", "name": f"Market {i}", "kind": "leaf", "parents": sorted(set(parents))})
    return {"taxonomy": "markets", "nodes": nodes}


def tool_taxonomy() -> dict[str, Any]:
    """70 tools in four categories: a set field two words wide."""
    nodes: list[dict[str, Any]] = [{"id": "alltools", "name": "All tools", "kind": "root"}]
    nodes += [{"id": f"c{c}", "name": f"Category {c}", "kind": "category", "parents": ["alltools"]} for c in range(4)]
    nodes += [{"id": f"t{i}", "name": f"Tool {i}", "kind": "tool", "parents": [f"c{i % 4}"]} for i in range(70)]
    return {"taxonomy": "tools", "nodes": nodes}


TEST_SCHEMA = {
    "taxonomies": {"markets": "taxonomies/markets.yaml", "tools": "taxonomies/tools.yaml"},
    "fields": {
        "market": {"type": "category", "taxonomy": "markets"},
        "plan": {"type": "category"},
        "tools": {"type": "set", "taxonomy": "tools"},
        "tags": {"type": "set"},
        "size": {"type": "number", "parse": "count"},
        "amount": {"type": "number", "parse": "money"},
        "year": {"type": "number", "parse": "year"},
    },
}


def write_folder(folder: Path, profiles: list[dict[str, Any]], routing: dict[str, Any] | None = None, schema: bool = True) -> Path:
    """A profiles folder: the test schema (unless ``schema=False``: the bundled default) and profiles."""
    folder.mkdir(parents=True, exist_ok=True)
    if schema:
        (folder / "taxonomies").mkdir(exist_ok=True)
        (folder / "schema.yaml").write_text(yaml.safe_dump(TEST_SCHEMA, sort_keys=False))
        (folder / "taxonomies" / "markets.yaml").write_text(yaml.safe_dump(market_taxonomy(), sort_keys=False))
        (folder / "taxonomies" / "tools.yaml").write_text(yaml.safe_dump(tool_taxonomy(), sort_keys=False))
    for profile in profiles:
        (folder / f"{profile['id']}.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    if routing is not None:
        (folder / "routing.yaml").write_text(yaml.safe_dump(routing, sort_keys=False))
    return folder


@pytest.fixture
def profiles_folder(tmp_path: Path) -> Callable[..., Path]:
    def make(profiles: list[dict[str, Any]], routing: dict[str, Any] | None = None, schema: bool = True) -> Path:
        return write_folder(tmp_path / "profiles", profiles, routing, schema)

    return make
