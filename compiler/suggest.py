"""Did-you-mean suggestions for unknown names and values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.75) -> str | None:
    """``did you mean 'X'?`` for the nearest candidate, or ``None`` if nothing is near."""
    pool = list(dict.fromkeys(candidates))
    lowered = {c.casefold(): c for c in pool}
    found = difflib.get_close_matches(word.casefold(), list(lowered), n=1, cutoff=cutoff)
    return f"did you mean '{lowered[found[0]]}'?" if found else None
