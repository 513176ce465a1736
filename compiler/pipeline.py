"""The compile pipeline: load → schema → validate/normalise → vocabulary → tables → bundle."""

from __future__ import annotations

from pathlib import Path

from compiler.bundle import Bundle, build_bundle, load_bundle
from compiler.diagnostics import CompileError, Diagnostic, Diagnostics
from compiler.load import Document, display_path, load_document
from compiler.schema import load_schema
from compiler.spec import BundleSpec
from compiler.tables import build_tables
from compiler.validate import validate_bundle
from compiler.vocab import build_vocabs

STAGES = ("load", "schema", "validate", "vocabulary", "tables", "bundle")
SPECIAL_FILES = ("schema.yaml", "routing.yaml")


def compile_spec(profiles_dir: Path) -> BundleSpec:
    """Load, check and normalise a profiles folder (raises ``CompileError``)."""
    diagnostics = Diagnostics()
    if not profiles_dir.is_dir():
        diagnostics.add(Diagnostic("missing_file", f"{profiles_dir} is not a folder of profiles"))
        raise CompileError(diagnostics)
    schema = load_schema(profiles_dir, diagnostics)
    documents = _load_profiles(profiles_dir, diagnostics, skip=set(schema.files) if schema else set())
    routing_file = profiles_dir / "routing.yaml"
    routing = load_document(routing_file, display_path(routing_file, profiles_dir), diagnostics) if routing_file.exists() else None
    if schema is None or diagnostics:
        raise CompileError(diagnostics)
    spec = validate_bundle(documents, routing, schema, diagnostics)
    if spec is None:
        raise CompileError(diagnostics)
    return spec


def compile_profiles(profiles_dir: Path) -> Bundle:
    """Compile a profiles folder into a bundle (raises ``CompileError``)."""
    spec = compile_spec(profiles_dir)
    vocabs = build_vocabs(spec)
    tables, layout = build_tables(spec, vocabs)
    return build_bundle(spec, vocabs, tables, layout)


def _load_profiles(profiles_dir: Path, diagnostics: Diagnostics, skip: set[str]) -> list[Document]:
    """Every ``*.yaml`` / ``*.yml`` of the folder but the schema, routing and taxonomy files."""
    documents = []
    for file in sorted(profiles_dir.iterdir()):
        if file.suffix.lower() not in (".yaml", ".yml") or file.name.startswith("."):
            continue
        if file.name.lower() in SPECIAL_FILES or display_path(file, profiles_dir) in skip:
            continue
        document = load_document(file, display_path(file, profiles_dir), diagnostics)
        if document is not None:
            documents.append(document)
    return documents


def open_bundle(source: Path) -> Bundle:
    """A bundle from a compiled bundle file, or compiled from a profiles folder (through the
    compile cache, :mod:`compiler.cache`)."""
    if source.is_file():
        return load_bundle(source)
    if not source.is_dir():
        return compile_profiles(source)  # reports the missing folder
    from compiler.cache import cached_compile  # imports the schema module, which imports this one's peers

    return cached_compile(source, compile_profiles)
