"""One diagnostic type, one renderer.

Every stage reports problems as :class:`Diagnostic` values into a
:class:`Diagnostics` collector; nothing raises on bad user input. Codes are
stable (tests and users grep for them) and listed in docs/diagnostics.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_DIAGNOSTICS = 10

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    length: int = 1
    source_line: str = ""


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    location: Location | None = None
    path: Path = ()
    suggestion: str | None = None

    def render(self) -> str:
        """``file:line:col: code: path: message``, the source line, a caret, a suggestion."""
        where = ""
        if self.location is not None:
            loc = self.location
            where = f"{loc.file}:{loc.line}:{loc.column}: "
        path = f"{format_path(self.path)}: " if self.path else ""
        lines = [f"{where}{self.code}: {path}{self.message}"]
        if self.location is not None and self.location.source_line:
            loc = self.location
            lines.append("    " + loc.source_line.rstrip())
            lines.append("    " + " " * (loc.column - 1) + "^" * max(1, loc.length))
        if self.suggestion:
            lines.append(f"  {self.suggestion}")
        return "\n".join(lines)


def format_path(path: Path) -> str:
    """``("criteria", 2, "in", 0)`` → ``criteria[2].in[0]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass
class Diagnostics:
    """Collects diagnostics up to :data:`MAX_DIAGNOSTICS`, counting the rest."""

    items: list[Diagnostic] = field(default_factory=list)
    dropped: int = 0

    def add(self, diagnostic: Diagnostic) -> None:
        if len(self.items) < MAX_DIAGNOSTICS:
            self.items.append(diagnostic)
        else:
            self.dropped += 1

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def render(self) -> str:
        text = "\n".join(d.render() for d in self.items)
        if self.dropped:
            text += f"\n... and {self.dropped} more"
        return text


class CompileError(Exception):
    """Raised once at the end of a compile that collected diagnostics."""

    def __init__(self, diagnostics: Diagnostics):
        super().__init__(diagnostics.render())
        self.diagnostics = diagnostics
