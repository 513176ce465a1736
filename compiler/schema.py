"""Stage 2a, schema: the record fields profiles may talk about, and their taxonomies.

Input: a profiles directory. Its ``schema.yaml`` (if any) either stands alone
or says ``extends: default`` to add to the bundled default schema
(``profiles/schema.yaml`` in this repository). Output: a frozen
:class:`Schema`, or diagnostics.

Field types: ``category`` (one value), ``set`` (several values), ``number``
(an exact number or a range). A category or set field is *closed* when it has
a ``taxonomy`` or a ``values`` list (profiles may only name known values, and
a typo gets a suggestion) and *open* otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from compiler.diagnostics import Diagnostics
from compiler.load import Document, display_path, load_document
from compiler.suggest import closest
from compiler.taxonomy import Taxonomy, TaxonomyNode, find_cycle
from compiler.text import PLACEHOLDERS, placeholder_spelling, value_key
from compiler.values import DEFAULT_OPTIONS, PARSE_KINDS, ParseOptions, parse_options

DEFAULT_PROFILES_DIR = FilePath(__file__).resolve().parent.parent / "profiles"
FIELD_TYPES = ("category", "set", "number")
DEFAULT_ACTIONS = ("aql", "nurture", "self_serve", "enrich")
RESERVED_NAMES = ("tier", "profile", "qualified", "id")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    taxonomy: Taxonomy | None  # closed vocabulary (a named taxonomy or the field's own values)
    kinds: tuple[str, ...]  # taxonomy kinds preferred when a key names several nodes
    parse: str  # number fields: how raw values are read (compiler.values)
    columns: tuple[str, ...]  # input column names that map to this field by default
    description: str = ""
    options: ParseOptions = DEFAULT_OPTIONS  # number fields: bands, currency, rates


@dataclass(frozen=True)
class Schema:
    fields: dict[str, FieldSpec]
    actions: tuple[str, ...]
    files: tuple[str, ...]  # the schema and taxonomy files read, for the bundle's provenance
    placeholders: frozenset[str] = PLACEHOLDERS  # spellings read as missing (placeholders: {add, remove})


def load_schema(profiles_dir: FilePath, diagnostics: Diagnostics) -> Schema | None:
    """The schema for ``profiles_dir``: its own ``schema.yaml``, else the bundled default."""
    own = profiles_dir / "schema.yaml"
    default = DEFAULT_PROFILES_DIR / "schema.yaml"
    files = [own] if own.exists() else [default]  # a folder named schema.yaml is reported, not skipped
    documents: list[tuple[FilePath, Document]] = []
    while files:
        file = files.pop()
        document = load_document(file, display_path(file, profiles_dir), diagnostics)
        if document is None or not _expect_mapping(document, diagnostics):
            return None
        documents.insert(0, (file, document))
        extends = document.data.get("extends")
        if extends == "default" and file != default:
            files.append(default)
        elif extends is not None and not (extends == "default" and file == default):
            diagnostics.add(document.diagnostic("bad_value", ("extends",), "extends must be 'default'"))
    return _build_schema(documents, profiles_dir, diagnostics)


def _expect_mapping(document: Document, diagnostics: Diagnostics) -> bool:
    if not isinstance(document.data, dict):
        diagnostics.add(document.diagnostic("wrong_type", (), "expected a mapping at the top of the file"))
        return False
    return True


def _build_schema(
    documents: list[tuple[FilePath, Document]], profiles_dir: FilePath, diagnostics: Diagnostics
) -> Schema | None:
    taxonomy_docs: dict[str, list[Document]] = {}
    field_docs: dict[str, tuple[Document, Any]] = {}
    actions: list[str] = list(DEFAULT_ACTIONS)
    files: list[str] = []
    placeholders = PLACEHOLDERS
    for file, document in documents:
        files.append(document.file)
        placeholders = _placeholders(document, placeholders, diagnostics)
        _check_keys(document, (), document.data, {"extends", "taxonomies", "fields", "actions", "description", "placeholders"}, diagnostics)
        taxonomies_here = _mapping_at(document, ("taxonomies",), document.data.get("taxonomies"), diagnostics, "{geo: taxonomies/geo.yaml}")
        for name, ref in taxonomies_here.items():
            refs = _texts_at(document, ("taxonomies", name), ref, diagnostics) if isinstance(ref, list) else (str(ref),)
            for relative in refs:
                path = (file.parent / str(relative)).resolve()
                if not path.is_file():
                    diagnostics.add(document.diagnostic("missing_file", ("taxonomies", name), f"no taxonomy file {relative}"))
                    continue
                loaded = load_document(path, display_path(path, profiles_dir), diagnostics)
                if loaded is not None and _expect_mapping(loaded, diagnostics):
                    taxonomy_docs.setdefault(name, []).append(loaded)
                    files.append(loaded.file)
        for name, spec in _mapping_at(document, ("fields",), document.data.get("fields"), diagnostics, "{seats: {type: number}}").items():
            field_docs[name] = (document, spec)
        for action in _texts_at(document, ("actions",), document.data.get("actions"), diagnostics):
            if action not in actions:
                actions.append(action)
    taxonomies = {name: _build_taxonomy(name, docs, diagnostics, placeholders) for name, docs in taxonomy_docs.items()}
    fields = {}
    for name, (document, spec) in field_docs.items():
        built = _build_field(name, spec, document, taxonomies, diagnostics, placeholders)
        if built is not None:
            fields[name] = built
    if diagnostics:
        return None
    return Schema(fields, tuple(actions), tuple(files), placeholders)


def _placeholders(document: Document, current: frozenset[str], diagnostics: Diagnostics) -> frozenset[str]:
    """Apply a schema's ``placeholders: {add: [...], remove: [...]}`` to the list so far."""
    spec = _mapping_at(document, ("placeholders",), document.data.get("placeholders"), diagnostics, "{remove: [NA]}")
    _check_keys(document, ("placeholders",), spec, {"add", "remove"}, diagnostics)
    add = _texts_at(document, ("placeholders", "add"), spec.get("add"), diagnostics)
    remove = _texts_at(document, ("placeholders", "remove"), spec.get("remove"), diagnostics)
    for text in (r for r in remove if placeholder_spelling(r) not in current):
        diagnostics.add(document.diagnostic("bad_value", ("placeholders", "remove"), f"'{text}' is not a placeholder"))
    return frozenset((current | {placeholder_spelling(a) for a in add}) - {placeholder_spelling(r) for r in remove})


def _mapping_at(document: Document, path: tuple, value: Any, diagnostics: Diagnostics, example: str) -> dict[str, Any]:
    """``value`` if it is a mapping (absent: empty); otherwise a wrong_type diagnostic and ``{}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        diagnostics.add(document.diagnostic("wrong_type", path, f"expected a mapping such as {example}"))
        return {}
    return value


def _texts_at(document: Document, path: tuple, value: Any, diagnostics: Diagnostics) -> tuple[str, ...]:
    """A list of plain values as text; a single string is refused rather than split into letters."""
    if value is None:
        return ()
    if not isinstance(value, list) or any(isinstance(v, (list, dict)) or v is None for v in value):
        diagnostics.add(document.diagnostic("wrong_type", path, "expected a list of values, e.g. [a, b]"))
        return ()
    return tuple(str(v) for v in value)


def _check_keys(document: Document, path: tuple, data: Mapping, allowed: set[str], diagnostics: Diagnostics) -> None:
    for key in data:
        if key not in allowed:
            diagnostics.add(
                document.diagnostic(
                    "unknown_key", (*path, key), f"unknown key '{key}'", closest(key, sorted(allowed)), at_key=True
                )
            )


def _build_field(
    name: str, spec: Any, document: Document, taxonomies: dict[str, Taxonomy | None], diagnostics: Diagnostics,
    placeholders: frozenset[str],
) -> FieldSpec | None:
    path = ("fields", name)
    if not isinstance(spec, dict):
        diagnostics.add(document.diagnostic("wrong_type", path, "expected a mapping such as {type: category}"))
        return None
    _check_keys(
        document, path, spec,
        {"type", "taxonomy", "values", "kinds", "parse", "columns", "description", "bands", "currency", "rates"}, diagnostics,
    )
    if name in RESERVED_NAMES:
        diagnostics.add(document.diagnostic("reserved_name", path, f"'{name}' is reserved for routing conditions", at_key=True))
    kind = spec.get("type")
    if kind not in FIELD_TYPES:
        diagnostics.add(
            document.diagnostic("bad_value", (*path, "type"), f"type must be one of {', '.join(FIELD_TYPES)}", closest(str(kind), FIELD_TYPES))
        )
        return None
    taxonomy: Taxonomy | None = None
    if "taxonomy" in spec:
        taxonomy = taxonomies.get(str(spec["taxonomy"]))
        if str(spec["taxonomy"]) not in taxonomies:
            diagnostics.add(
                document.diagnostic("unknown_taxonomy", (*path, "taxonomy"), f"no taxonomy '{spec['taxonomy']}'", closest(str(spec["taxonomy"]), list(taxonomies)))
            )
    elif "values" in spec:
        taxonomy = _values_taxonomy(name, spec["values"], document, (*path, "values"), diagnostics, placeholders)
    parse = str(spec.get("parse", "number"))
    if parse not in PARSE_KINDS:
        diagnostics.add(document.diagnostic("bad_value", (*path, "parse"), f"parse must be one of {', '.join(PARSE_KINDS)}", closest(parse, PARSE_KINDS)))
    misplaced = ["taxonomy", "values", "kinds"] if kind == "number" else ["parse", "bands", "currency", "rates"]
    for key in (k for k in misplaced if k in spec):
        diagnostics.add(document.diagnostic("bad_key", (*path, key), f"'{key}' does not apply to a {kind} field", at_key=True))
    options = DEFAULT_OPTIONS
    if kind == "number" and parse in PARSE_KINDS:
        options, problems = parse_options(parse, spec)
        for key, problem in problems:
            diagnostics.add(document.diagnostic("bad_value", (*path, key), problem))
    return FieldSpec(
        name=name,
        type=kind,
        taxonomy=taxonomy,
        kinds=_texts_at(document, (*path, "kinds"), spec.get("kinds"), diagnostics),
        parse=parse,
        options=options,
        columns=_texts_at(document, (*path, "columns"), spec.get("columns"), diagnostics),
        description=str(spec.get("description", "")),
    )


def _values_taxonomy(
    name: str, values: Any, document: Document, path: tuple, diagnostics: Diagnostics, placeholders: frozenset[str]
) -> Taxonomy | None:
    """A flat taxonomy made of a field's ``values: [id, {id, aliases}]`` list."""
    if not isinstance(values, list):
        diagnostics.add(document.diagnostic("wrong_type", path, "expected a list of values"))
        return None
    entries = []
    for index, value in enumerate(values):
        entry = value if isinstance(value, dict) else {"id": value}
        entries.append((document, (*path, index), {"kind": "value", **entry}))
    return _taxonomy_from_entries(f"field:{name}", entries, diagnostics, placeholders)


def _build_taxonomy(name: str, documents: list[Document], diagnostics: Diagnostics, placeholders: frozenset[str]) -> Taxonomy | None:
    entries: list[tuple[Document, tuple, Any]] = []
    for document in documents:
        _check_keys(document, (), document.data, {"taxonomy", "description", "nodes"}, diagnostics)
        nodes = document.data.get("nodes")
        if not isinstance(nodes, list):
            diagnostics.add(document.diagnostic("wrong_type", ("nodes",), "expected a list of nodes"))
            continue
        entries.extend((document, ("nodes", index), node) for index, node in enumerate(nodes))
    return _taxonomy_from_entries(name, entries, diagnostics, placeholders)


def _taxonomy_from_entries(
    name: str, entries: list[tuple[Document, tuple, Any]], diagnostics: Diagnostics, placeholders: frozenset[str]
) -> Taxonomy | None:
    """Merge node entries (a repeated id adds aliases and parents) and index their keys."""
    merged: dict[str, dict[str, Any]] = {}
    where: dict[str, tuple[Document, tuple]] = {}
    before = len(diagnostics.items) + diagnostics.dropped
    for document, path, entry in entries:
        if not isinstance(entry, dict) or entry.get("id") is None or isinstance(entry.get("id"), (list, dict)):
            diagnostics.add(document.diagnostic("wrong_type", path, "expected a node such as {id: x, name: X}"))
            continue
        if any(isinstance(entry.get(k), (list, dict)) for k in ("name", "kind")):
            diagnostics.add(document.diagnostic("wrong_type", path, "a node's name and kind are plain text"))
            continue
        _check_keys(document, path, entry, {"id", "name", "kind", "parents", "aliases"}, diagnostics)
        node_id = str(entry["id"])
        node = merged.setdefault(node_id, {"name": node_id, "kind": "node", "parents": [], "aliases": []})
        where.setdefault(node_id, (document, path))
        node["name"] = str(entry.get("name", node["name"]))
        node["kind"] = str(entry.get("kind", node["kind"]))
        parents = _texts_at(document, (*path, "parents"), entry.get("parents"), diagnostics)
        node["parents"] += [p for p in parents if p not in node["parents"]]
        node["aliases"] += list(_texts_at(document, (*path, "aliases"), entry.get("aliases"), diagnostics))
    for node_id, node in merged.items():
        for position, parent in enumerate(node["parents"]):
            if parent not in merged:
                document, path = where[node_id]
                diagnostics.add(
                    document.diagnostic("unknown_value", (*path, "parents", position), f"unknown parent '{parent}' in taxonomy '{name}'", closest(parent, list(merged)))
                )
    nodes = tuple(TaxonomyNode(i, n["name"], n["kind"], tuple(n["parents"]), tuple(n["aliases"])) for i, n in merged.items())
    cycle = find_cycle(nodes)
    if cycle:
        document, path = where[cycle[0]]
        diagnostics.add(document.diagnostic("taxonomy_cycle", path, f"taxonomy '{name}' has a cycle: {' -> '.join(cycle)}"))
    keys: dict[str, dict[str, int]] = {}
    for position, built in enumerate(nodes):
        by_key = keys.setdefault(built.kind, {})
        for written in (built.id, built.name, *built.aliases):
            key = value_key(written, placeholders)
            if key is None and written == built.id and value_key(built.name, placeholders) is not None:
                continue  # an id such as Namibia's 'NA' that data uses as a placeholder; its name still resolves
            if key is None:
                document, path = where[built.id]
                diagnostics.add(document.diagnostic("bad_value", path, f"'{written}' reads as a missing value and cannot name a node"))
                continue
            other = by_key.setdefault(key, position)
            if other != position:
                document, path = where[built.id]
                diagnostics.add(
                    document.diagnostic("ambiguous_key", path, f"'{written}' names both '{nodes[other].id}' and '{built.id}' ({built.kind})")
                )
    if len(diagnostics.items) + diagnostics.dropped > before:
        return None
    return Taxonomy(name, nodes, keys)
