"""Text keys: the one normalisation every matched value goes through.

Input: a raw string as users and enrichment tools write it.
Output: a *key* (NFKC, case-folded, trimmed, HTML entities decoded, runs of
whitespace, ``_`` and ``-`` collapsed to one space) or ``None`` for a missing
value written as a placeholder (``N/A``, ``Select``, ``-``...).

Profiles, taxonomies, the encoder and the reference evaluator all call
:func:`value_key`, so a value matches the same way wherever it is written.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Form placeholders and null spellings seen in real exports (see docs/values.md).
PLACEHOLDERS = frozenset(
    {
        "",
        "na",
        "n/a",
        "n.a.",
        "none",
        "null",
        "nil",
        "nan",
        "unknown",
        "undisclosed",
        "select",
        "-",
        "--",
        "?",
        "tbd",
    }
)

_SEPARATORS = re.compile(r"[\s_\-\u2010-\u2015]+")


def clean_text(raw: str) -> str:
    """NFKC, HTML entities decoded, non-breaking spaces and outer whitespace removed."""
    text = html.unescape(raw) if "&" in raw else raw
    text = unicodedata.normalize("NFKC", text)
    return text.strip()


def value_key(raw: str) -> str | None:
    """The matching key of a raw value, or ``None`` if it is a missing-value placeholder.

    >>> value_key("  United\\u00a0States ")
    'united states'
    >>> value_key("series_A") == value_key("Series-A")
    True
    >>> value_key("N/A") is None
    True
    """
    text = clean_text(raw).casefold()
    if text in PLACEHOLDERS:
        return None
    key = _SEPARATORS.sub(" ", text).strip()
    return key or None


def slug(text: str) -> str:
    """A kebab-case identifier made from a label (used for default criterion ids)."""
    key = re.sub(r"[^0-9a-z]+", "-", clean_text(text).casefold())
    return key.strip("-") or "criterion"
