"""Reading numbers as enrichment data writes them.

Input: a raw value (str, int, float, None) and the field's parse kind.
Output: a :class:`NumberRange` ``[lo, hi]`` (``hi`` may be ``inf``), or
:data:`MISSING` (no value / placeholder / NaN), or an :class:`Unreadable`
carrying the reason. Never a silent 0.

Kinds:
    ``count``  headcounts: ``51-200``, ``1001 - 5000``, ``10001+``, ``1,200``, ``10k``, ``~50``.
    ``money``  amounts in the field's currency: ``$1.2B``, ``36.9 M``, ``12.5m``, ``$180,000``.
    ``year``   a four-digit year (``2013 (1888)`` reads as 2013).
    ``number`` any plain number or range, with ``%`` allowed (``12%``, ``12.5 %`` read as 12, 12.5).
    ``boolean`` yes/no as people write it: yes/no, true/false, y/n, 1/0 (and typed booleans) → 1/0.

A field's :class:`ParseOptions` (from its schema entry) add text bands (``bands:
{Small: "1-50"}``), the field's currency and conversion rates (``currency: USD``,
``rates: {EUR: 1.08}``). Currency policy: ``$`` and ``USD`` mean US dollars; an
amount in the field's currency is read as written; an amount in another currency
is multiplied by that currency's rate (one unit's worth in the field's currency)
or, with no rate, is unreadable and says so. A bare number is in the field's currency.

The encoder (records), the reference evaluator and the compiler (profile operands
such as ``min: 10k``) all call :func:`parse_number`, so a value means the same everywhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from compiler.text import clean_text, value_key

PARSE_KINDS: Final = ("count", "money", "year", "number", "boolean")


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
    "boolean": "e.g. yes, no, true, false, 1, 0",
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
_EXCEL_JUNK = re.compile(r"^#+$|^#(?:name|value|ref|div/0|n/a|num|null|getting_data|spill|calc)[!?]?$")
_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{2,4}$|^\d{4}-\d{2}-\d{2}$")
# A year written as a date: M/D/YYYY, D.M.YYYY, YYYY-MM-DD, YYYY-MM, YYYY-Qn (CrunchBase founded_*).
_YEAR_DATE = re.compile(
    r"^\d{1,2}[/.]\d{1,2}[/.](?P<a>\d{4})$|^(?P<b>\d{4})-(?:\d{2}(?:-\d{2})?|q[1-4])$"
)
_BOOLEAN: Final = {"yes": 1.0, "y": 1.0, "true": 1.0, "1": 1.0, "no": 0.0, "n": 0.0, "false": 0.0, "0": 0.0}

# Currency symbols and the ISO 4217 codes money fields recognise. ``$`` is US dollars.
_CURRENCY_SYMBOLS: Final = {"us$": "USD", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY"}
CURRENCY_CODES: Final = frozenset(
    ["USD", "EUR", "GBP", "JPY", "CNY", "INR", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN", "TRY", "RUB", "BRL", "MXN", "ARS", "CLP", "COP", "ZAR", "NGN", "KES", "EGP", "ILS", "AED", "SAR", "QAR", "KWD", "SGD", "HKD", "TWD", "KRW", "THB", "MYR", "IDR", "PHP", "VND", "PKR", "BDT"]
)
_CURRENCY_TOKEN = re.compile(
    r"us\$|[$€£¥₹₩₽₺]|(?<![a-z])(?:" + "|".join(sorted(c.lower() for c in CURRENCY_CODES)) + r")(?![a-z])"
)


@dataclass(frozen=True)
class ParseOptions:
    """Per-field reading options from the schema (all optional).

    ``bands``: text labels → ranges (keys are :func:`~compiler.text.value_key` of the label).
    ``currency``: the field's currency (money fields; default USD).
    ``rates``: currency code → worth of one unit in the field's currency.
    """

    bands: Mapping[str, NumberRange] = field(default_factory=dict)
    currency: str = "USD"
    rates: Mapping[str, float] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.bands.items())), self.currency, tuple(sorted(self.rates.items()))))

    def is_default(self) -> bool:
        return not self.bands and self.currency == "USD" and not self.rates

    def as_meta(self) -> dict[str, Any]:
        """A JSON-able form for the bundle (``from_meta`` reads it back)."""
        return {
            "bands": {label: [r.lo, "inf" if math.isinf(r.hi) else r.hi] for label, r in self.bands.items()},
            "currency": self.currency,
            "rates": dict(self.rates),
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any] | None) -> ParseOptions:
        if not meta:
            return DEFAULT_OPTIONS
        bands = {label: NumberRange(float(lo), math.inf if hi == "inf" else float(hi)) for label, (lo, hi) in meta.get("bands", {}).items()}
        return cls(bands, str(meta.get("currency", "USD")), {str(k): float(v) for k, v in meta.get("rates", {}).items()})


DEFAULT_OPTIONS: Final = ParseOptions()


def parse_options(kind: str, spec: Mapping[str, Any]) -> tuple[ParseOptions, list[tuple[str, str]]]:
    """Build and check a field's options from its schema entry: (options, [(key, problem)])."""
    problems: list[tuple[str, str]] = []
    currency = str(spec.get("currency", "USD")).upper()
    if "currency" in spec and kind != "money":
        problems.append(("currency", "currency applies only to parse: money fields"))
    if currency not in CURRENCY_CODES:
        problems.append(("currency", f"unknown currency '{spec.get('currency')}' (an ISO 4217 code such as USD, EUR, GBP)"))
    rates: dict[str, float] = {}
    raw_rates = spec.get("rates") or {}
    if "rates" in spec and kind != "money":
        problems.append(("rates", "rates apply only to parse: money fields"))
    if not isinstance(raw_rates, Mapping):
        problems.append(("rates", "expected a mapping of currency code to rate, such as {EUR: 1.08}"))
        raw_rates = {}
    for code, rate in raw_rates.items():
        name = str(code).upper()
        if name not in CURRENCY_CODES:
            problems.append(("rates", f"unknown currency '{code}' (an ISO 4217 code such as EUR, GBP)"))
        elif isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
            problems.append(("rates", f"the rate of {name} must be a positive number, not {rate!r}"))
        else:
            rates[name] = float(rate)
    bands: dict[str, NumberRange] = {}
    raw_bands = spec.get("bands") or {}
    if not isinstance(raw_bands, Mapping):
        problems.append(("bands", 'expected a mapping of label to range, such as {Small: "1-50"}'))
        raw_bands = {}
    for label, written in raw_bands.items():
        key = value_key(str(label))
        if key is None:
            problems.append(("bands", f"band label '{label}' reads as a missing value"))
            continue
        if key in bands:
            problems.append(("bands", f"band label '{label}' is written twice"))
            continue
        value = parse_number(written, kind if kind != "boolean" else "number")
        if not isinstance(value, NumberRange):
            reason = value.reason if isinstance(value, Unreadable) else "missing"
            problems.append(("bands", f"band '{label}': cannot read {written!r} as a range ({reason})"))
            continue
        bands[key] = value
    return ParseOptions(bands, currency, rates), problems


def parse_number(raw: object, kind: str, options: ParseOptions | None = None) -> NumberValue:
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
    options = options or DEFAULT_OPTIONS
    if raw is None:
        return MISSING
    if isinstance(raw, bool):
        if kind == "boolean":
            return NumberRange(float(raw), float(raw))
        return Unreadable(str(raw), "a yes/no value, not a number")
    if isinstance(raw, Decimal):  # Parquet decimal columns
        raw = float(raw)
    if isinstance(raw, (int, float)):
        if kind == "boolean" and not math.isnan(raw) and raw not in (0, 1):
            return Unreadable(str(raw), f"not a yes/no value ({EXPECTED_BY_KIND[kind]})")
        try:
            return _from_float(float(raw), kind, str(raw)[:40])
        except OverflowError:
            return Unreadable(str(raw)[:40], "too large to be a number of this kind")
    if not isinstance(raw, str):
        return Unreadable(repr(raw), f"a {type(raw).__name__}, not a number")
    plain = _plain_digits(raw, kind, options)
    return plain if plain is not None else _parse_text_value(raw, kind, options)


def _plain_digits(raw: str, kind: str, options: ParseOptions) -> NumberRange | None:
    """The common case read directly: ASCII digits only (``1551``, ``63821``, ``2006``), which
    the full reading below would read as that number. ``None`` sends everything else there:
    a headcount of 0, a year that is not four digits, yes/no fields, and fields with bands."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 15) or options.bands or kind == "boolean":
        return None
    value = float(raw)
    if kind == "year":
        return NumberRange(value, value) if len(raw) == 4 and 1000 <= value <= 2999 else None
    if kind == "count" and value == 0:
        return None
    return NumberRange(value, value)


def _parse_text_value(raw: str, kind: str, options: ParseOptions) -> NumberValue:
    text = clean_text(raw).casefold()
    if _EXCEL_JUNK.match(text):  # before the placeholder test: '#N/A' is a spreadsheet error here
        return Unreadable(raw, "a spreadsheet error or overflow marker")
    key = value_key(text)
    if key is None:
        return MISSING
    if key in options.bands:
        return options.bands[key]
    text = re.sub(r"\s+", " ", text)
    if kind == "year":
        return _parse_year(raw, text)
    if kind == "boolean":
        value = _BOOLEAN.get(key)
        if value is None:
            return Unreadable(raw, f"not a yes/no value ({EXPECTED_BY_KIND[kind]})")
        return NumberRange(value, value)
    if kind == "money":
        return _parse_money(raw, text, options)
    return _parse_text(raw, text, kind)


def _parse_money(raw: str, text: str, options: ParseOptions) -> NumberValue:
    """An amount: its currency (symbol or code) taken out, the number read, then converted."""
    if _DATE.match(text):
        return Unreadable(raw, "a date, probably a number mangled by a spreadsheet")
    tokens = _CURRENCY_TOKEN.findall(text)
    found = {_CURRENCY_SYMBOLS.get(t, t.upper()) for t in tokens}
    if len(found) > 1:
        return Unreadable(raw, f"an amount in several currencies ({', '.join(sorted(found))})")
    currency = next(iter(found)) if found else options.currency
    bare = re.sub(r"\s+", " ", _CURRENCY_TOKEN.sub(" ", text)).strip()
    if re.search(r",\s", bare):  # '1,200,000' has no space after its commas; a list has
        return Unreadable(raw, "several amounts in one value (a field holds one amount)")
    if tokens and re.fullmatch(r"\d+\.\d{3,}", bare):
        return Unreadable(raw, "a currency amount with more than two decimals (a mangled '14.5M'?)")
    value = _parse_text(raw, bare, "money")
    if not isinstance(value, NumberRange) or currency == options.currency:
        return value
    rate = options.rates.get(currency)
    if rate is None:
        return Unreadable(
            raw,
            f"an amount in another currency ({currency}; the field is in {options.currency} "
            f"and its schema entry gives no {currency} rate)",
        )
    return NumberRange(value.lo * rate, value.hi * rate)


def _from_float(value: float, kind: str, raw: str) -> NumberValue:
    if math.isnan(value):
        return MISSING
    if math.isinf(value):
        return Unreadable(raw, "an infinite value")
    if kind == "year" and (value != int(value) or not 1000 <= value <= 2999):
        return Unreadable(raw, "not a four-digit year")
    if kind in ("count", "money") and value < 0:
        return Unreadable(raw, "a negative amount")  # as the text '-5' is: a headcount or revenue is never below 0
    return NumberRange(value, value)


def _parse_year(raw: str, text: str) -> NumberValue:
    match = _YEAR.match(text)
    if match is not None:
        year = float(match["year"])
        return NumberRange(year, year)
    date = _YEAR_DATE.match(text)
    if date is not None:  # a founding date: its year (CrunchBase writes year-only dates as 1/1/YYYY)
        year = float(date["a"] or date["b"])
        if 1000 <= year <= 2999:
            return NumberRange(year, year)
    return Unreadable(raw, "not a four-digit year")


def _parse_text(raw: str, text: str, kind: str) -> NumberValue:
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
    if math.isinf(value):
        return "too large to be a number of this kind"
    return NumberRange(value, math.inf if match["plus"] else value)


def _exact_zero_headcount(value: NumberRange, kind: str) -> bool:
    return kind == "count" and value.lo == 0 and value.hi == 0
