"""Text keys: the one normalisation every matched value goes through.

Input: a raw string as users and enrichment tools write it.
Output: a *key* (NFKC, case-folded, trimmed, HTML entities decoded, trailing
Wikipedia footnote markers such as ``[2]`` dropped, a free-standing ``&`` read as
``and``, runs of whitespace, ``_`` and ``-`` collapsed to one space) or ``None``
for a missing value written as a placeholder (``N/A``, ``Select``, ``-``,
``undisclosed amount``) or a spreadsheet error (``#NAME?``, ``#N/A``).

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
        "undisclosed amount",  # YC funding lists
        "select",
        "-",
        "--",
        "?",
        "tbd",
        # spreadsheet errors: the value was lost (number fields report them as unreadable)
        "#n/a",
        "#name?",
        "#value!",
        "#ref!",
        "#div/0!",
        "#num!",
        "#null!",
    }
)

_SEPARATORS = re.compile(r"[\s_\-\u2010-\u2015]+")
_FOOTNOTES = re.compile(r"(?:\s*\[\d{1,3}\])+$")  # 'Virginia[2]' (Wikipedia lists)
_AMPERSAND = re.compile(r"(?<=\s)&(?=\s)")  # 'Thane & Outskirts' = 'Thane and Outskirts'; not 'AT&T'


def clean_text(raw: str) -> str:
    """NFKC, HTML entities decoded, non-breaking spaces and outer whitespace removed."""
    text = html.unescape(raw) if "&" in raw else raw
    text = unicodedata.normalize("NFKC", text)
    return text.strip()


def placeholder_spelling(text: str) -> str:
    """How a placeholder is compared: cleaned and case-folded (``N/A`` → ``n/a``)."""
    return clean_text(text).casefold()


def value_key(raw: str, placeholders: frozenset[str] = PLACEHOLDERS) -> str | None:
    """The matching key of a raw value, or ``None`` if it is a missing-value placeholder.

    >>> value_key("  United\\u00a0States ")
    'united states'
    >>> value_key("series_A") == value_key("Series-A")
    True
    >>> value_key("N/A") is None
    True
    """
    key = _key_once(raw, placeholders)
    for _ in range(3):  # '&amp;amp;', 'x [1]_': one more pass must change nothing (a key is its own key)
        if key is None:
            return None
        again = _key_once(key, placeholders)
        if again == key:
            return key
        key = again
    return key


def _key_once(raw: str, placeholders: frozenset[str]) -> str | None:
    text = clean_text(raw).casefold()
    if text in placeholders:
        return None
    key = _SEPARATORS.sub(" ", text).strip()
    key = _FOOTNOTES.sub("", key).strip()
    key = _AMPERSAND.sub("and", key)
    if key in placeholders:
        return None
    return key or None


def slug(text: str) -> str:
    """A kebab-case identifier made from a label (used for default criterion ids)."""
    key = re.sub(r"[^0-9a-z]+", "-", clean_text(text).casefold())
    return key.strip("-") or "criterion"
