"""Reading numbers as enrichment data writes them.

Input: a raw value (str, int, float, None) and the field's parse kind.
Output: a :class:`NumberRange` ``[lo, hi]`` (``hi`` may be ``inf``), or
:data:`MISSING` (no value / placeholder / NaN), or an :class:`Unreadable`
carrying the reason. Never a silent 0.

Kinds:
    ``count``  headcounts: ``51-200``, ``1001 - 5000``, ``10001+``, ``1,200``, ``10k``, ``~50``.
    ``money``  amounts in the field's currency: ``$1.2B``, ``36.9 M``, ``12.5m``, ``$180,000``.
    ``year``   a four-digit year (``2013 (1888)`` reads as 2013).
    ``number`` any plain number or range, with ``%`` allowed.

The encoder (records) and the compiler (profile operands such as ``min: 10k``)
both call :func:`parse_number`, so a value means the same in both.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from compiler.text import clean_text, value_key

PARSE_KINDS: Final = ("count", "money", "year", "number")


@dataclass(frozen=True)
class NumberRange:
    lo: float
    hi: float


@dataclass(frozen=True)
class Unreadable:
    raw: str
    reason: str


class _Missing:
    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

NumberValue = NumberRange | Unreadable | _Missing

EXPECTED_BY_KIND: Final = {
    "count": "e.g. 51-200, 10001+, 1,200, 10k",
    "money": "e.g. $1.2B, 36.9 M, $180,000",
    "year": "e.g. 1998",
    "number": "e.g. 12, 3.5, 10-20",
}

_SUFFIX_SCALE: Final = {
    "": 1.0,
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "mn": 1e6,
    "mio": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "billions": 1e9,
    "t": 1e12,
    "tn": 1e12,
    "trillion": 1e12,
}
_MONEY_ONLY_SUFFIXES: Final = frozenset({"mm", "mn", "mio", "t", "tn", "trillion"})
_COUNT_SUFFIXES: Final = frozenset({"", "k", "thousand", "m", "million"})

_NUMBER = r"(\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)"
_ONE = re.compile(
    r"^(?P<approx>~|≈|about |approx\.? |circa |c\. ?)?(?P<cur>\$|usd ?)?"
    + _NUMBER.replace("(", "(?P<num>", 1)
    + r" ?(?P<suffix>[a-z]*)(?P<plus>\+)?(?P<pct>%)?$"
)
_RANGE_SPLIT = re.compile(r"^(?P<a>.+?)\s*(?:-|–|—|to)\s*(?P<b>.+)$")
_YEAR = re.compile(r"^(?P<year>\d{4})(?:\.0+)?(?:\s*\(.*\))?$")
_OTHER_CURRENCY = re.compile(r"[€£¥₹₩]|\b(?:eur|gbp|jpy|cny|inr|chf|cad|aud)\b")
_EXCEL_JUNK = re.compile(r"^#+$|^#(?:name|value|ref|div/0|n/a|num|null)[!?]?$")
_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{2,4}$|^\d{4}-\d{2}-\d{2}$")


def parse_number(raw: object, kind: str) -> NumberValue:
    """Read one raw value of a number field.

    >>> parse_number("1001 - 5000", "count")
    NumberRange(lo=1001.0, hi=5000.0)
    >>> parse_number("$1.2B", "money")
    NumberRange(lo=1200000000.0, hi=1200000000.0)
    >>> parse_number("10001+", "count").hi
    inf
    """
    if isinstance(raw, NumberRange):
        if math.isnan(raw.lo) or math.isnan(raw.hi):
            return MISSING
        return raw if raw.lo <= raw.hi else Unreadable(f"{raw.lo}-{raw.hi}", "a range whose low end is above its high end")
    if raw is None or isinstance(raw, bool):
        return MISSING if raw is None else Unreadable(str(raw), "a yes/no value, not a number")
    if isinstance(raw, (int, float)):
        return _from_float(float(raw), kind, str(raw))
    if not isinstance(raw, str):
        return Unreadable(repr(raw), f"a {type(raw).__name__}, not a number")
    text = clean_text(raw).casefold()
    if value_key(text) is None:
        return MISSING
    text = re.sub(r"\s+", " ", text)
    if kind == "year":
        return _parse_year(raw, text)
    return _parse_text(raw, text, kind)


def _from_float(value: float, kind: str, raw: str) -> NumberValue:
    if math.isnan(value):
        return MISSING
    if math.isinf(value):
        return Unreadable(raw, "an infinite value")
    if kind == "year" and (value != int(value) or not 1000 <= value <= 2999):
        return Unreadable(raw, "not a four-digit year")
    return NumberRange(value, value)


def _parse_year(raw: str, text: str) -> NumberValue:
    match = _YEAR.match(text)
    if match is None:
        return Unreadable(raw, "not a four-digit year")
    year = float(match["year"])
    return NumberRange(year, year)


def _parse_text(raw: str, text: str, kind: str) -> NumberValue:
    if _EXCEL_JUNK.match(text):
        return Unreadable(raw, "a spreadsheet error or overflow marker")
    if _DATE.match(text):
        return Unreadable(raw, "a date, probably a number mangled by a spreadsheet")
    if _OTHER_CURRENCY.search(text):
        return Unreadable(raw, "an amount in another currency (the field is in USD)")
    one = _parse_single(text, kind)
    if isinstance(one, NumberRange) and _exact_zero_headcount(one, kind):
        return Unreadable(raw, "a headcount of 0, which exports use as a placeholder")
    if isinstance(one, NumberRange) or kind == "year":
        return one if isinstance(one, NumberRange) else Unreadable(raw, one)
    split = _RANGE_SPLIT.match(text)
    if split is not None:
        lo, hi = _parse_single(split["a"], kind), _parse_single(split["b"], kind)
        if isinstance(lo, NumberRange) and isinstance(hi, NumberRange):
            lo, hi = _share_suffix(split["a"], split["b"], lo, hi, kind)
            if lo.lo > hi.hi:
                return Unreadable(raw, "a range whose low end is above its high end")
            return NumberRange(lo.lo, hi.hi)
    return Unreadable(raw, one)


def _share_suffix(
    a: str, b: str, lo: NumberRange, hi: NumberRange, kind: str
) -> tuple[NumberRange, NumberRange]:
    """In ``10-50M`` the suffix of the high end applies to the low end too."""
    if re.fullmatch(r"[$]?" + _NUMBER, a.strip()) and not re.fullmatch(r"[$]?" + _NUMBER, b.strip()):
        scale = hi.hi / float(_NUMBER_RE.search(b).group(1).replace(",", ""))  # type: ignore[union-attr]
        return NumberRange(lo.lo * scale, lo.hi * scale), hi
    return lo, hi


_NUMBER_RE = re.compile(_NUMBER)


def _parse_single(text: str, kind: str) -> NumberRange | str:
    """One number (possibly ``N+``), or the reason it cannot be read."""
    match = _ONE.match(text.strip())
    if match is None:
        return f"not a number ({EXPECTED_BY_KIND[kind]})"
    suffix = match["suffix"]
    if suffix not in _SUFFIX_SCALE:
        return f"unknown unit '{suffix}' ({EXPECTED_BY_KIND[kind]})"
    if kind == "count" and (match["cur"] or suffix not in _COUNT_SUFFIXES):
        return f"an amount of money, not a headcount ({EXPECTED_BY_KIND[kind]})"
    if kind != "money" and suffix in _MONEY_ONLY_SUFFIXES:
        return f"unknown unit '{suffix}' ({EXPECTED_BY_KIND[kind]})"
    if match["pct"] and kind != "number":
        return f"a percentage ({EXPECTED_BY_KIND[kind]})"
    value = float(match["num"].replace(",", "")) * _SUFFIX_SCALE[suffix]
    return NumberRange(value, math.inf if match["plus"] else value)


def _exact_zero_headcount(value: NumberRange, kind: str) -> bool:
    return kind == "count" and value.lo == 0 and value.hi == 0
