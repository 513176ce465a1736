#!/usr/bin/env python3
"""Build a tech-stack taxonomy (``taxonomy: tech``) from a user's copy of the Wappalyzer list.

Usage:
    python tools/build_tech_taxonomy.py PATH/TO/wappalyzer -o my-profiles/taxonomies/tech.yaml

Input: a folder laid out like the Wappalyzer technology list (``enthec/webappanalyzer``
``src/``): ``categories.json`` (``{"53": {"name": "CRM", ...}, ...}``) and
``technologies/*.json`` (``{"Salesforce": {"cats": [53], ...}, ...}``). Only the category
names and each technology's name and category ids are read; fingerprints, descriptions and
everything else are ignored.

**Licence.** The Wappalyzer list is GPL-3.0. This script is our own code (Apache-2.0) and
holds no data from it; the YAML it writes is derived from the list, so it is the user's to
keep under the list's terms. Never commit a generated file to this repository
(docs/tech-stack.md).

Output: one node per category, ``id: category:<slug of its name>``, kind ``category``;
one node per technology, id = a slug of its name, name = its name, kind ``technology``,
parents = its categories. So ``any: [category:crm]`` matches every CRM and ``any:
[salesforce]`` one product.

Keys (a node's id and name after :func:`compiler.text.value_key`) must be unique within a
kind. Collisions are resolved deterministically (technologies in order of their name, then
by the exact name) and reported on stderr:

- two technologies whose names read as the same key (``Sentry`` / ``sentry``) become one
  node: the first keeps its name, the other's categories are added to its parents (a record
  cannot tell them apart anyway);
- a name that reads as a missing value (``N/A``) cannot name a node: the technology is left
  out;
- an id slug already taken, or whose key is another node's name (``C++`` → ``c``, taken by
  ``C``), gets ``-2``, ``-3``... (``c-2``);
- a category id that is unknown is dropped from the technology's parents.

The output is deterministic: same input, same bytes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from compiler.text import value_key

CATEGORY_PREFIX = "category:"


@dataclass
class Node:
    id: str
    name: str
    kind: str
    parents: list[str] = field(default_factory=list)


@dataclass
class Built:
    nodes: list[Node]
    reports: list[str]

    def by_kind(self, kind: str) -> list[Node]:
        return [node for node in self.nodes if node.kind == kind]


def slug(name: str) -> str:
    """An ASCII kebab-case id: ``Marketing automation`` → ``marketing-automation``, ``Loyalty & rewards``
    → ``loyalty-and-rewards``, ``C++`` → ``c-plus-plus``, accents dropped (``Satūs`` → ``satus``);
    other characters are separators, so ``Baidu Analytics (百度统计)`` → ``baidu-analytics``."""
    text = unicodedata.normalize("NFKD", name).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("&", " and ").replace("+", " plus ")
    text = re.sub(r"[^0-9a-z]+", "-", text).strip("-")
    return text


def read_wappalyzer(folder: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Category id → name, and technology name → its category ids (as text), from the JSON files."""
    categories_file = folder / "categories.json"
    technologies_dir = folder / "technologies"
    if not categories_file.is_file() or not technologies_dir.is_dir():
        raise SystemExit(f"{folder}: expected categories.json and technologies/*.json (the Wappalyzer src/ layout)")
    categories = {str(cid): str(spec["name"]) for cid, spec in json.loads(categories_file.read_text(encoding="utf-8")).items()}
    technologies: dict[str, list[str]] = {}
    files = sorted(technologies_dir.glob("*.json"))
    if not files:
        raise SystemExit(f"{technologies_dir}: no *.json files")
    for file in files:
        for name, spec in json.loads(file.read_text(encoding="utf-8")).items():
            cats = [str(c) for c in (spec.get("cats") or [])] if isinstance(spec, dict) else []
            technologies.setdefault(str(name), [])
            technologies[str(name)] += [c for c in cats if c not in technologies[str(name)]]
    return categories, technologies


def _assign(
    items: Iterable[tuple[str, list[str]]], kind: str, make_id: Callable[[str], str], reports: list[str]
) -> list[Node]:
    """Nodes of one kind with keys unique within the kind (see the module docstring)."""
    nodes: list[Node] = []
    by_name_key: dict[str, Node] = {}
    for name, parents in items:
        key = value_key(name)
        if key is None:
            reports.append(f"{kind} {name!r}: its name reads as a missing value; left out")
            continue
        first = by_name_key.get(key)
        if first is not None:
            added = [p for p in parents if p not in first.parents]
            first.parents += added
            reports.append(f"{kind} {name!r}: same key as {first.name!r}; merged into {first.name!r} (+{len(added)} parents)")
            continue
        node = Node("", name, kind, list(parents))
        by_name_key[key] = node
        nodes.append(node)
    taken: set[str] = set()
    for node in nodes:
        base = make_id(node.name)
        candidate, n = base, 1
        while True:
            candidate_key = value_key(candidate)
            owner = by_name_key.get(candidate_key) if candidate_key is not None else None
            if candidate_key is not None and candidate_key not in taken and (owner is None or owner is node):
                break
            n += 1
            candidate = f"{base}-{n}"
        if candidate != base:
            reports.append(f"{kind} {node.name!r}: id {base!r} is taken; using {candidate!r}")
        taken.add(candidate_key)
        node.id = candidate
    # An id key equal to a later node's name key would clash too; names were all collected
    # first, so `owner` above already saw them.
    return nodes


def build(categories: dict[str, str], technologies: dict[str, list[str]]) -> Built:
    reports: list[str] = []
    category_items = sorted(categories.items(), key=lambda item: (int(item[0]) if item[0].isdigit() else 10**9, item[0]))
    cat_nodes = _assign(
        ((name, []) for _, name in category_items), "category",
        lambda name: CATEGORY_PREFIX + (slug(name) or "category"), reports,
    )
    id_of_name = {node.name: node.id for node in cat_nodes}
    # A merged category (two ids, one name key) maps both ids to the surviving node.
    by_key = {value_key(node.name): node.id for node in cat_nodes}
    category_id = {cid: id_of_name.get(name) or by_key.get(value_key(name)) for cid, name in categories.items()}
    tech_items = []
    for name in sorted(technologies, key=lambda n: (n.casefold(), n)):
        parents = []
        for cid in technologies[name]:
            parent = category_id.get(cid)
            if parent is None:
                reports.append(f"technology {name!r}: unknown category id {cid}; dropped")
            elif parent not in parents:
                parents.append(parent)
        tech_items.append((name, parents))
    tech_nodes = _assign(tech_items, "technology", lambda name: slug(name) or "technology", reports)
    return Built(cat_nodes + tech_nodes, reports)


def dump(built: Built, source: str) -> str:
    lines = [
        "# GENERATED by tools/build_tech_taxonomy.py from a copy of the Wappalyzer technology list",
        f"# ({source}). The list is GPL-3.0 and so is this file: keep it out of the icp-scoring",
        "# repository (Apache-2.0). See docs/tech-stack.md.",
        "taxonomy: tech",
        'description: "Technologies (Wappalyzer) under their categories; category:<slug> names a whole category."',
        "nodes:",
    ]
    for node in built.nodes:
        fields = [f"id: {json.dumps(node.id)}", f"name: {json.dumps(node.name, ensure_ascii=False)}", f"kind: {node.kind}"]
        if node.parents:
            fields.append("parents: [" + ", ".join(json.dumps(p) for p in node.parents) + "]")
        lines.append("  - {" + ", ".join(fields) + "}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wappalyzer", type=Path, help="folder with categories.json and technologies/*.json")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the taxonomy YAML to write")
    parser.add_argument("--quiet", action="store_true", help="do not list the collisions (their count is still printed)")
    args = parser.parse_args(argv)
    categories, technologies = read_wappalyzer(args.wappalyzer)
    built = build(categories, technologies)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(dump(built, args.wappalyzer.name), encoding="utf-8")
    if not args.quiet:
        for report in built.reports:
            print(report, file=sys.stderr)
    print(
        f"{args.output}: {len(built.by_kind('category'))} categories, {len(built.by_kind('technology'))} technologies"
        f" ({len(technologies)} read); {len(built.reports)} collisions or problems reported",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
