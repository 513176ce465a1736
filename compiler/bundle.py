"""Stage 5, bundle: tables + everything the runtime needs, as one versioned file.

Input: ``BundleSpec``, vocabularies, ``Tables`` and ``TableLayout``. Output:
:class:`Bundle`. Its ``version`` is a hash of its content (metadata and
arrays), so the same profiles always give the same version and loading a
bundle file needs no recompile.

File format: a zip with ``meta.json`` and one ``.npy`` per array, written with
fixed timestamps so identical content gives identical bytes; read with
``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from compiler.spec import BundleSpec, Condition, RouteRule
from compiler.tables import TableLayout, Tables
from compiler.text import PLACEHOLDERS
from compiler.vocab import Vocab

FORMAT = "icp-bundle/3"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Bundle:
    version: str
    meta: dict[str, Any]  # JSON-able: fields, vocabularies, profiles, routing, examples
    tables: Tables
    loaded_at: str = ""

    @property
    def profile_ids(self) -> list[str]:
        return [p["id"] for p in self.meta["profiles"]]


def build_bundle(spec: BundleSpec, vocabs: dict[str, Vocab], tables: Tables, layout: TableLayout) -> Bundle:
    meta = {
        "format": FORMAT,
        "schema_files": list(spec.schema.files),
        "fields": [_field_meta(spec, name, vocabs, layout) for name in spec.schema.fields],
        "profiles": [_profile_meta(p, layout) for p in spec.profiles],
        "route": [_rule_meta(r, layout) for r in spec.route],
        "actions": list(spec.schema.actions),
    }
    if spec.schema.placeholders != PLACEHOLDERS:  # only then, so bundles with the default keep their version
        meta["placeholders"] = sorted(spec.schema.placeholders)
    return Bundle(content_version(meta, tables), meta, tables, _now())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _field_meta(spec: BundleSpec, name: str, vocabs: dict[str, Vocab], layout: TableLayout) -> dict[str, Any]:
    field = spec.schema.fields[name]
    index = {"category": layout.category_fields, "number": layout.number_fields, "set": layout.set_fields}[field.type]
    meta: dict[str, Any] = {
        "name": name,
        "type": field.type,
        "index": index.index(name),
        "parse": field.parse,
        "columns": list(field.columns),
        "closed": field.taxonomy is not None,
        "description": field.description,
    }
    if not field.options.is_default():  # only then, so bundles without options keep their version
        meta["parse_options"] = field.options.as_meta()
    if name in vocabs:
        meta["values"] = list(vocabs[name].values)
        meta["keys"] = vocabs[name].keys
    return meta


def _profile_meta(profile: Any, layout: TableLayout) -> dict[str, Any]:
    return {
        "id": profile.id,
        "name": profile.name,
        "owner": profile.owner,
        "description": profile.description,
        "priority": profile.priority,
        "file": profile.file,
        "positive_points": profile.positive_points,
        "tiers": [[name, threshold] for name, threshold in profile.tiers],
        "criteria": [_criterion_meta(c, "criterion") for c in profile.criteria],
        "exclusions": [_criterion_meta(c, "exclusion") for c in profile.exclusions],
        "route": [_rule_meta(r, layout) for r in profile.route],
        "examples": [{"record": e.record, "expect": e.expect, "origin": e.origin} for e in profile.examples],
    }


def _criterion_meta(criterion: Any, role: str) -> dict[str, Any]:
    return {
        "id": criterion.id,
        "label": criterion.label,
        "field": criterion.condition.field,
        "describe": criterion.condition.describe(),
        "weight": criterion.weight,
        "required": criterion.required,
        "on_unknown": criterion.on_unknown,
        "role": role,
    }


def _rule_meta(rule: RouteRule, layout: TableLayout) -> dict[str, Any]:
    def rows(conditions: tuple[Condition, ...]) -> list[int]:
        return [layout.route_conditions[c] for c in conditions]

    return {
        "action": rule.action,
        "queue": rule.queue,
        "tiers": list(rule.tiers) if rule.tiers is not None else None,
        "profiles": list(rule.profiles) if rule.profiles is not None else None,
        "qualified": rule.qualified,
        "conditions": rows(rule.conditions),
        "escalate": rule.escalate,
        "escalate_if": rows(rule.escalate_if),
        "origin": rule.origin,
    }


_LOCATION_KEYS = frozenset({"file", "origin", "schema_files"})


def _without_locations(value: Any) -> Any:
    """``meta`` minus where things were read from: moving a folder does not change the version."""
    if isinstance(value, dict):
        return {k: _without_locations(v) for k, v in value.items() if k not in _LOCATION_KEYS}
    if isinstance(value, list):
        return [_without_locations(v) for v in value]
    return value


def content_version(meta: dict[str, Any], tables: Tables) -> str:
    """sha256 over the canonical JSON of ``meta`` (less file locations) and every array's dtype,
    shape and bytes."""
    canonical = json.dumps(_without_locations(meta), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode())
    for name in sorted(Tables._fields):
        array = np.ascontiguousarray(getattr(tables, name))
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def save_bundle(bundle: Bundle, path: Path) -> None:
    """Write the bundle file (deterministic bytes for the same content)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        header = {"version": bundle.version, "meta": bundle.meta}
        _write(archive, "meta.json", json.dumps(header, sort_keys=True, indent=1).encode())
        for name in Tables._fields:
            buffer = io.BytesIO()
            np.save(buffer, getattr(bundle.tables, name), allow_pickle=False)
            _write(archive, f"tables/{name}.npy", buffer.getvalue())


def _write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


class BundleFileError(Exception):
    """A bundle file that cannot be read, or whose content does not match its version."""


def load_bundle(path: Path) -> Bundle:
    """Read a bundle file and check its content against its version."""
    try:
        with zipfile.ZipFile(path) as archive:
            header = json.loads(archive.read("meta.json"))
            arrays = {
                name: np.load(io.BytesIO(archive.read(f"tables/{name}.npy")), allow_pickle=False)
                for name in Tables._fields
            }
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise BundleFileError(f"{path}: not a readable icp bundle ({error})") from error
    meta = header.get("meta") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise BundleFileError(f"{path}: bundle format {found!r}, this version reads {FORMAT!r}; recompile with icp compile")
    tables = Tables(**arrays)
    version = content_version(meta, tables)
    if version != header.get("version"):
        raise BundleFileError(f"{path}: content does not match its version {header.get('version')} (file damaged?)")
    return Bundle(version, meta, tables, _now())
