"""Stage 1, load: YAML file → :class:`Document` (plain data + a source location per node).

Input: a path. Output: ``Document`` or a ``yaml_error`` / ``duplicate_key``
diagnostic. Scalars follow YAML 1.2's core schema for booleans (only
``true``/``false``), so ``NO`` (Norway) and ``ON`` (Ontario) stay strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

import yaml

from compiler.diagnostics import Diagnostic, Diagnostics, Location, Path

MAX_DEPTH = 40  # far deeper than any profile; stops runaway nesting and self-referring aliases
SCALAR_TYPES = (str, int, float, bool, type(None))


class _Loader(yaml.SafeLoader):
    """SafeLoader whose booleans are only true/false and which leaves dates as text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class Document:
    file: str
    data: Any
    marks: dict[Path, tuple[int, int, int]]  # path → (line, column, length), 1-based
    lines: tuple[str, ...]
    key_marks: dict[Path, tuple[int, int, int]]  # path of a mapping entry → its key's mark

    def locate(self, path: Path) -> Location:
        """The location of ``path``, or of its nearest located ancestor."""
        probe = path
        while probe not in self.marks and probe:
            probe = probe[:-1]
        line, column, length = self.marks.get(probe, (1, 1, 1))
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return Location(self.file, line, column, length, source)

    def diagnostic(
        self, code: str, path: Path, message: str, suggestion: str | None = None, *, at_key: bool = False
    ) -> Diagnostic:
        """A diagnostic at ``path``'s value (or at its key, for a key that is itself wrong)."""
        location = self.locate(path)
        if at_key and path in self.key_marks:
            line, column, length = self.key_marks[path]
            location = Location(self.file, line, column, length, self.lines[line - 1])
        return Diagnostic(code, message, location, path, suggestion)


def display_path(file: FilePath, profiles_dir: FilePath) -> str:
    """How diagnostics name a file: relative to the profiles folder's parent when inside it."""
    resolved, base = file.resolve(), profiles_dir.resolve().parent
    return str(resolved.relative_to(base)) if resolved.is_relative_to(base) else str(resolved)


class _Refused(Exception):
    """A node the loader will not turn into data, with where and why."""

    def __init__(self, message: str, node: yaml.Node):
        super().__init__(message)
        self.message, self.node = message, node


def load_document(file: FilePath, display_name: str, diagnostics: Diagnostics) -> Document | None:
    """Parse one YAML file; on any problem report it (never raise) and return ``None``."""
    lines: tuple[str, ...] = ()

    def refuse(code: str, message: str, line: int = 1, column: int = 1) -> None:
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        diagnostics.add(Diagnostic(code, message, Location(display_name, line, column, 1, source)))

    try:
        raw = file.read_bytes()
    except OSError as error:
        refuse("missing_file", f"cannot read the file: {error.strerror or error}")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        refuse("yaml_error", f"not UTF-8 text (byte 0x{raw[error.start]:02x}); save the file as UTF-8", line, column)
        return None
    lines = tuple(text.splitlines())
    marks: dict[Path, tuple[int, int, int]] = {}
    key_marks: dict[Path, tuple[int, int, int]] = {}
    try:
        node = yaml.compose(text, Loader=_Loader)
        constructor = _Loader(text)
        data = _convert(node, (), (marks, key_marks), constructor, display_name, lines, diagnostics) if node else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        refuse("yaml_error", str(error.problem or error.context or "not valid YAML"), line, column)
        return None
    except yaml.YAMLError as error:
        refuse("yaml_error", str(error).splitlines()[0] if str(error) else "not valid YAML")
        return None
    except _Refused as error:
        mark = error.node.start_mark
        refuse("yaml_error", error.message, mark.line + 1, mark.column + 1)
        return None
    return Document(display_name, data, marks, lines, key_marks)


def _convert(
    node: yaml.Node,
    path: Path,
    all_marks: tuple[dict[Path, tuple[int, int, int]], dict[Path, tuple[int, int, int]]],
    constructor: _Loader,
    file: str,
    lines: tuple[str, ...],
    diagnostics: Diagnostics,
) -> Any:
    marks, key_marks = all_marks
    if len(path) > MAX_DEPTH:
        raise _Refused(f"nested more than {MAX_DEPTH} levels deep (or an alias refers to itself)", node)
    start, end = node.start_mark, node.end_mark
    length = end.index - start.index if end.line == start.line else len(lines[start.line]) - start.column
    marks[path] = (start.line + 1, start.column + 1, max(1, length))
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused("merge keys (<<) are not supported: write the keys out", key_node)
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused("a key must be plain text", key_node)
            key = str(constructor.construct_object(key_node))
            key_start = key_node.start_mark
            key_marks[(*path, key)] = (key_start.line + 1, key_start.column + 1, len(key))
            if key in result:
                line = key_node.start_mark.line
                diagnostics.add(
                    Diagnostic(
                        "duplicate_key",
                        f"key '{key}' appears twice in this mapping",
                        Location(file, line + 1, key_node.start_mark.column + 1, len(key), lines[line]),
                        (*path, key),
                    )
                )
            result[key] = _convert(value_node, (*path, key), all_marks, constructor, file, lines, diagnostics)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, index), all_marks, constructor, file, lines, diagnostics)
            for index, item in enumerate(node.value)
        ]
    value = constructor.construct_object(node)
    if not isinstance(value, SCALAR_TYPES):
        raise _Refused(f"unsupported YAML value ({node.tag}); write plain text, numbers, true/false or lists", node)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused("the text holds an invalid Unicode escape (a lone surrogate)", node) from None
    return value
