#!/usr/bin/env python3
"""Build profiles/taxonomies/geo.yaml from the ISO 3166 / UN M49 country list
and the US state list.

Usage:
    python tools/build_geo_taxonomy.py --iso PATH/all.csv --states PATH/states.csv \
        [--state-fips PATH/state_fips.csv] -o profiles/taxonomies/geo.yaml

    python tools/build_geo_taxonomy.py --check profiles/taxonomies/industry.yaml
        (only validate an existing taxonomy file; no generation)

Inputs (see profiles/taxonomies/SOURCES.md for provenance and licences):
  --iso         ISO 3166-1 list with UN M49 regions; columns name, alpha-2,
                alpha-3, country-code, region, sub-region, intermediate-region
  --states      US states + DC; columns State, Abbreviation
  --state-fips  optional; columns label, fipsCode (state FIPS codes, zero-padded).
                Defaults to state_fips.csv next to --states if that file exists;
                pass --state-fips "" to leave FIPS codes out.

Everything that is not in those files (common country names, the usual
aliases, sales regions, Canadian provinces) is spelled out in the tables
below. The output is deterministic: same inputs, same bytes.

The file is checked before it is written (unique ids, parents defined, no
cycles, keys unique within a kind, no missing-value words as keys, group ids
clear of country keys). Cross-kind key collisions are allowed by the format;
they are printed to stderr so that they can be listed in SOURCES.md.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_ISO = DEFAULT_DATA / "iso3166-countries" / "all.csv"
DEFAULT_STATES = DEFAULT_DATA / "us-geo" / "states.csv"
DEFAULT_OUT = REPO_ROOT / "profiles" / "taxonomies" / "geo.yaml"

# Keys the encoder treats as "missing value"; never usable as a name or alias.
MISSING_KEYS = {"", "na", "n/a", "n.a.", "none", "null", "nil", "nan", "unknown",
                "undisclosed", "select", "-", "--", "?", "tbd"}

# ---------------------------------------------------------------------------
# Key normalisation (must match the compiler): NFKC, casefold, trim, and runs
# of whitespace / '_' / '-' collapse to a single space.
# ---------------------------------------------------------------------------
# (HTML entities are decoded and Unicode hyphens/dashes U+2010..U+2015 count as '-'.)
_SEP_RUN = re.compile(r"[\s_\-\u2010-\u2015]+")


def norm_key(text: str) -> str:
    text = str(text)
    if "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text).strip().casefold()
    if text in MISSING_KEYS:
        return ""
    return _SEP_RUN.sub(" ", text).strip()


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ---------------------------------------------------------------------------
# Curated tables
# ---------------------------------------------------------------------------

# Common short English name, where it differs from the ISO short name.
COMMON_NAME = {
    "BN": "Brunei",
    "BO": "Bolivia",
    "BQ": "Caribbean Netherlands",
    "CD": "DR Congo",
    "CG": "Republic of the Congo",
    "FK": "Falkland Islands",
    "FM": "Micronesia",
    "GB": "United Kingdom",
    "IR": "Iran",
    "KP": "North Korea",
    "KR": "South Korea",
    "LA": "Laos",
    "MD": "Moldova",
    "MF": "Saint Martin",
    "MO": "Macau",
    "NL": "Netherlands",
    "PS": "Palestine",
    "RU": "Russia",
    "SH": "Saint Helena",
    "SX": "Sint Maarten",
    "SY": "Syria",
    "TR": "Turkey",
    "TW": "Taiwan",
    "TZ": "Tanzania",
    "US": "United States",
    "VA": "Vatican City",
    "VE": "Venezuela",
    "VG": "British Virgin Islands",
    "VI": "U.S. Virgin Islands",
    "VN": "Vietnam",
}

# Extra aliases people write (alpha-3, numeric and the ISO name are added
# automatically). Plain ASCII spellings are added for accented names because
# normalisation does not strip accents.
EXTRA_ALIASES = {
    "AE": ["UAE", "U.A.E.", "Emirates"],
    "AG": ["Antigua & Barbuda", "Antigua"],
    "AT": ["Österreich", "Osterreich"],
    "AX": ["Aland Islands", "Aland"],
    "BA": ["Bosnia", "Bosnia & Herzegovina", "Bosnia-Herzegovina"],
    "BE": ["België", "Belgique"],
    "BL": ["Saint Barthelemy", "St. Barthélemy", "St Barts"],
    "BQ": ["Bonaire"],
    "BR": ["Brasil"],
    "BS": ["The Bahamas"],
    "CD": ["Democratic Republic of the Congo", "DRC", "Congo-Kinshasa", "Congo (Kinshasa)", "Congo, DR"],
    "CG": ["Congo-Brazzaville", "Congo (Brazzaville)", "Congo Republic"],
    "CH": ["Schweiz", "Suisse", "Svizzera"],
    "CI": ["Ivory Coast", "Cote d'Ivoire"],
    "CN": ["PRC", "People's Republic of China", "Mainland China", "Zhongguo"],
    "CV": ["Cape Verde"],
    "CW": ["Curacao"],
    "CZ": ["Czech Republic"],
    "DE": ["Deutschland", "Federal Republic of Germany"],
    "DK": ["Danmark"],
    "ES": ["España", "Espana"],
    "FI": ["Suomi"],
    "FK": ["Falklands"],
    "FM": ["Federated States of Micronesia"],
    "GB": ["UK", "U.K.", "Great Britain", "Britain", "England", "Scotland", "Wales", "Northern Ireland"],
    "GM": ["The Gambia"],
    "HK": ["Hong Kong SAR", "Hong Kong SAR China", "Hong Kong, China", "HKSAR"],
    "IE": ["Republic of Ireland", "Éire", "Eire"],
    "IR": ["Islamic Republic of Iran"],
    "IT": ["Italia"],
    "JP": ["Nippon", "Nihon"],
    "KN": ["Saint Kitts", "St. Kitts and Nevis", "St Kitts and Nevis"],
    "KP": ["DPRK", "Democratic People's Republic of Korea", "Korea, North", "Korea (North)"],
    "KR": ["Korea", "Republic of Korea", "Korea, South", "Korea (South)", "S. Korea", "ROK"],
    "LA": ["Lao PDR", "Lao"],
    "LC": ["St. Lucia", "St Lucia"],
    "MD": ["Republic of Moldova"],
    "MF": ["St. Martin"],
    "MK": ["Macedonia"],
    "MM": ["Burma"],
    "MO": ["Macao SAR", "Macau SAR", "Macao, China"],
    "MX": ["México"],
    "NL": ["The Netherlands", "Holland", "Nederland", "Kingdom of the Netherlands"],
    "NO": ["Norge"],
    "PL": ["Polska"],
    "PN": ["Pitcairn Islands"],
    "PS": ["State of Palestine", "Palestinian Territories", "Palestinian Territory"],
    "RE": ["Reunion"],
    "RU": ["Russian Federation"],
    "SA": ["KSA"],
    "SE": ["Sverige"],
    "ST": ["São Tomé and Príncipe", "Sao Tome"],
    "SY": ["Syrian Arab Republic"],
    "SZ": ["Swaziland"],
    "TL": ["East Timor"],
    "TR": ["Türkiye", "Turkiye"],
    "TT": ["Trinidad & Tobago", "Trinidad"],
    "TW": ["Republic of China", "Chinese Taipei"],
    "TZ": ["United Republic of Tanzania"],
    "US": ["USA", "U.S.", "U.S.A.", "United States of America", "America"],
    "VA": ["Vatican", "Holy See", "Vatican City State"],
    "VC": ["St. Vincent and the Grenadines", "St Vincent and the Grenadines", "Saint Vincent"],
    "VE": ["Bolivarian Republic of Venezuela"],
    "VG": ["BVI"],
    "VI": ["US Virgin Islands", "USVI"],
    "VN": ["Viet Nam"],
}

# Countries not in the ISO list but common in business data (user-assigned code).
EXTRA_COUNTRIES = [
    # (alpha-2, name, aliases, region, sub-region, intermediate region)
    ("XK", "Kosovo", ["XKX"], "Europe", "Southern Europe", ""),
]

# The ISO list leaves the M49 region empty for these; where to hang them.
REGION_OVERRIDES = {
    "TW": ("Asia", "Eastern Asia", ""),  # not listed by M49; placed geographically
    # AQ (Antarctica) stays directly under `world`.
}

# M49 node names that would collide with a country key get a distinct name.
M49_NAME_OVERRIDES = {
    "Micronesia": ("micronesia-region", "Micronesia (region)"),
}

# Sales regions: (id, name, parents, aliases). Membership is computed below.
SALES_REGIONS = [
    ("north-america", "North America", ["world"],
     ["NORAM", "NOAM", "US and Canada", "US & Canada", "USCAN"]),
    ("latam", "LATAM", ["world"],
     ["Latin America", "LAC", "Latin America and Caribbean", "Latin America & Caribbean",
      "Central and South America", "Central & South America"]),
    ("emea", "EMEA", ["world"],
     ["Europe, Middle East and Africa", "Europe, Middle East & Africa"]),
    ("apac", "APAC", ["world"],
     ["Asia Pacific", "Asia/Pacific", "Asia-Pacific Region", "Asia/Pacific Region",
      "Asia Pac", "AsiaPac", "APJ"]),
    ("anz", "ANZ", ["apac"],
     ["Australia and New Zealand", "Australia & New Zealand", "Australasia"]),
    ("dach", "DACH", ["emea"], ["D-A-CH", "DACH region", "Germany, Austria, Switzerland"]),
    ("nordics", "Nordics", ["emea"],
     ["Nordic", "Nordic countries", "Nordic region", "Scandinavia"]),
    ("benelux", "Benelux", ["emea"], ["Low Countries"]),
    ("uk-and-ireland", "UK and Ireland", ["emea"],
     ["UK & Ireland", "UK&I", "UKI", "UK&IE", "British Isles", "UK/Ireland"]),
    ("middle-east", "Middle East", ["emea"], ["Mideast", "Near East"]),
    ("cee", "CEE", ["emea"],
     ["Central and Eastern Europe", "Central & Eastern Europe", "Central Eastern Europe"]),
]

SALES_GROUP_MEMBERS = {
    "dach": {"DE", "AT", "CH"},
    "nordics": {"DK", "FI", "IS", "NO", "SE", "FO", "GL", "AX", "SJ"},
    "benelux": {"BE", "NL", "LU"},
    "uk-and-ireland": {"GB", "IE", "IM", "JE", "GG"},
    "anz": {"AU", "NZ"},
    "middle-east": {"AE", "BH", "EG", "IL", "IQ", "IR", "JO", "KW", "LB", "OM",
                    "PS", "QA", "SA", "SY", "TR", "YE"},
    "cee": {"AL", "BA", "BG", "BY", "CZ", "EE", "HR", "HU", "LT", "LV", "MD", "ME",
            "MK", "PL", "RO", "RS", "RU", "SI", "SK", "UA", "XK", "AM", "AZ", "GE"},
}
NORTH_AMERICA = {"US", "CA", "BM", "PM"}
EMEA_EXTRA = {"CY", "AM", "AZ", "GE"}  # M49 Western Asia but sold as EMEA
NO_SALES_REGION = {"AQ", "BV", "GS", "HM", "TF", "UM"}  # uninhabited / no customers

# Canadian provinces and territories (ISO 3166-2:CA codes = postal abbreviations).
CA_PROVINCES = [
    ("AB", "Alberta", []),
    ("BC", "British Columbia", ["Colombie-Britannique"]),
    ("MB", "Manitoba", []),
    ("NB", "New Brunswick", ["Nouveau-Brunswick"]),
    ("NL", "Newfoundland and Labrador", ["Newfoundland", "Terre-Neuve-et-Labrador"]),
    ("NS", "Nova Scotia", ["Nouvelle-Écosse"]),
    ("NT", "Northwest Territories", ["Territoires du Nord-Ouest"]),
    ("NU", "Nunavut", []),
    ("ON", "Ontario", []),
    ("PE", "Prince Edward Island", ["PEI", "Île-du-Prince-Édouard"]),
    ("QC", "Quebec", ["Québec", "PQ"]),
    ("SK", "Saskatchewan", []),
    ("YT", "Yukon", ["Yukon Territory"]),
]

US_STATE_EXTRA_ALIASES = {
    "DC": ["Washington DC", "Washington, D.C.", "D.C."],
}

# ---------------------------------------------------------------------------
# Reading inputs
# ---------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def node(id_, name, kind, parents=None, aliases=None):
    n = {"id": id_, "name": name, "kind": kind}
    if parents:
        n["parents"] = list(parents)
    if aliases:
        n["aliases"] = list(aliases)
    return n


def dedupe_aliases(id_, name, aliases):
    """Drop aliases whose key equals the id, the name or an earlier alias."""
    seen = {norm_key(id_), norm_key(name)}
    out = []
    for a in aliases:
        k = norm_key(a)
        if k and k not in seen:
            seen.add(k)
            out.append(a)
    return out


def build(iso_rows, state_rows, fips_rows):
    m49_nodes = {}  # id -> node

    def m49(name, kind, parent):
        nid, nname = M49_NAME_OVERRIDES.get(name, (slug(name), name))
        if nid not in m49_nodes:
            m49_nodes[nid] = node(nid, nname, kind, [parent])
        elif parent not in m49_nodes[nid]["parents"]:
            raise ValueError(f"M49 node {nid} under two parents")
        return nid

    countries = []
    rows = [
        (r["alpha-2"], r["alpha-3"], r["country-code"], r["name"],
         r["region"], r["sub-region"], r["intermediate-region"])
        for r in iso_rows
    ]
    extra_aliases = {a2: list(v) for a2, v in EXTRA_ALIASES.items()}
    for a2, name, aliases, reg, sub, inter in EXTRA_COUNTRIES:
        rows.append((a2, None, None, name, reg, sub, inter))
        extra_aliases[a2] = list(aliases) + extra_aliases.get(a2, [])

    membership = defaultdict(set)  # country -> sales region ids
    for a2, a3, num, iso_name, reg, sub, inter in rows:
        if not reg and a2 in REGION_OVERRIDES:
            reg, sub, inter = REGION_OVERRIDES[a2]
        parent = "world"
        if reg:
            parent = m49(reg, "region", "world")
            if sub:
                parent = m49(sub, "subregion", parent)
                if inter:
                    parent = m49(inter, "subregion", parent)

        # sales regions
        if a2 not in NO_SALES_REGION:
            groups = {g for g, members in SALES_GROUP_MEMBERS.items() if a2 in members}
            if a2 in NORTH_AMERICA:
                groups.add("north-america")
            elif sub == "Latin America and the Caribbean":
                groups.add("latam")
            elif reg in ("Europe", "Africa") or a2 in EMEA_EXTRA or "middle-east" in groups:
                if not groups:
                    groups.add("emea")
            elif reg in ("Asia", "Oceania") and not groups:
                groups.add("apac")
            membership[a2] = groups

        name = COMMON_NAME.get(a2, iso_name)
        aliases = []
        if a3:
            aliases += [a3, num]
        if iso_name != name:
            aliases.append(iso_name)
        aliases += extra_aliases.get(a2, [])
        parents = [parent, *sorted(membership.get(a2, ()), key=_sales_order)]
        countries.append(node(a2, name, "country", parents, dedupe_aliases(a2, name, aliases)))

    # sales-region nodes
    sales = [node(sid, sname, "sales-region", sparents, dedupe_aliases(sid, sname, saliases))
             for sid, sname, sparents, saliases in SALES_REGIONS]

    # subdivisions
    fips_by_name = {r["label"]: r["fipsCode"] for r in fips_rows}
    subdivisions = []
    for r in state_rows:
        code, sname = r["Abbreviation"], r["State"]
        aliases = [code]
        if sname in fips_by_name:
            aliases.append(fips_by_name[sname])
        aliases += US_STATE_EXTRA_ALIASES.get(code, [])
        subdivisions.append(node(f"US-{code}", sname, "subdivision", ["US"],
                                 dedupe_aliases(f"US-{code}", sname, aliases)))
    if fips_rows:
        missing = set(fips_by_name) ^ {r["State"] for r in state_rows}
        if missing:
            raise ValueError(f"state FIPS / state list mismatch: {sorted(missing)}")
    for code, pname, extra in CA_PROVINCES:
        subdivisions.append(node(f"CA-{code}", pname, "subdivision", ["CA"],
                                 dedupe_aliases(f"CA-{code}", pname, [code, *extra])))

    regions = sorted((n for n in m49_nodes.values() if n["kind"] == "region"), key=lambda n: n["id"])
    subregions = sorted((n for n in m49_nodes.values() if n["kind"] == "subregion"), key=lambda n: n["id"])
    countries.sort(key=lambda n: n["id"])
    subdivisions.sort(key=lambda n: n["id"])
    nodes = [node("world", "World", "root"), *regions, *subregions, *sales, *countries, *subdivisions]
    return {
        "taxonomy": "geo",
        "description": ("Geography: UN M49 regions and sub-regions, sales regions, "
                        "ISO 3166-1 countries, US states and Canadian provinces. "
                        "Generated by tools/build_geo_taxonomy.py; do not edit by hand."),
        "nodes": nodes,
    }


def _sales_order(sid):
    order = [s[0] for s in SALES_REGIONS]
    return order.index(sid)


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def node_keys(n):
    return [n["id"], n["name"], *list(n.get("aliases") or [])]


def check(doc, geo_rules=False):
    """Return (errors, cross_kind_collisions)."""
    errors = []
    nodes = doc.get("nodes") or []
    for field in ("taxonomy", "description", "nodes"):
        if field not in doc:
            errors.append(f"missing top-level field {field!r}")
    by_id = {}
    for n in nodes:
        if not isinstance(n, dict):
            errors.append(f"node {n!r} is not a mapping")
            continue
        extra = set(n) - {"id", "name", "kind", "parents", "aliases"}
        if extra:
            errors.append(f"node {n.get('id')}: unknown fields {sorted(map(str, extra))} (unquoted comma?)")
        for field in ("id", "name", "kind"):
            if not isinstance(n.get(field), str) or not n.get(field):
                errors.append(f"node {n!r}: {field} must be a non-empty string")
        for field in ("parents", "aliases"):
            if field in n and not all(isinstance(x, str) for x in n[field]):
                errors.append(f"node {n.get('id')}: every {field} entry must be a string")
        if n.get("id") in by_id:
            errors.append(f"duplicate id {n['id']}")
        by_id[n.get("id")] = n
    roots = [n["id"] for n in nodes if not n.get("parents")]
    if len(roots) != 1:
        errors.append(f"expected exactly one node without parents, got {roots}")
    for n in nodes:
        for p in n.get("parents") or []:
            if p not in by_id:
                errors.append(f"{n['id']}: parent {p} not defined")
            if p == n["id"]:
                errors.append(f"{n['id']}: is its own parent")

    # cycles (iterative DFS with colours)
    colour = {}
    for start in by_id:
        if colour.get(start):
            continue
        stack = [(start, iter(by_id[start].get("parents") or []))]
        colour[start] = 1
        while stack:
            cur, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[cur] = 2
                stack.pop()
            elif nxt in by_id:
                c = colour.get(nxt)
                if c == 1:
                    errors.append(f"cycle through {cur} -> {nxt}")
                elif not c:
                    colour[nxt] = 1
                    stack.append((nxt, iter(by_id[nxt].get("parents") or [])))

    # keys
    owners = defaultdict(set)  # key -> {(kind, id)}
    for n in nodes:
        for i, k in enumerate(node_keys(n)):
            nk = norm_key(k)
            if nk in MISSING_KEYS:
                # the id of Namibia ("NA") is allowed; it simply reads as missing
                if not (i == 0 and geo_rules):
                    errors.append(f"{n['id']}: key {k!r} is a missing-value word")
                continue
            owners[nk].add((n["kind"], n["id"]))
    collisions = {}
    for k, own in sorted(owners.items()):
        kinds = defaultdict(set)
        for kind, nid in own:
            kinds[kind].add(nid)
        for kind, ids in kinds.items():
            if len(ids) > 1:
                errors.append(f"key {k!r} on several {kind} nodes: {sorted(ids)}")
        if len(kinds) > 1:
            collisions[k] = sorted(own)

    if geo_rules:
        country_keys = set()
        for n in nodes:
            if n["kind"] == "country":
                country_keys.update(norm_key(k) for k in node_keys(n))
        for n in nodes:
            if n["kind"] in ("root", "region", "subregion", "sales-region"):
                for k in node_keys(n):
                    if norm_key(k) in country_keys:
                        errors.append(f"{n['kind']} {n['id']}: key {k!r} is also a country key")
    return errors, collisions


# ---------------------------------------------------------------------------
# YAML output (flow style, one node per line)
# ---------------------------------------------------------------------------

_PLAIN_OK = re.compile(r"^[A-Za-z][A-Za-z0-9 .\-/&()']*$")
_YAML_SPECIAL = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def scalar(s: str) -> str:
    if (_PLAIN_OK.match(s) and s.lower() not in _YAML_SPECIAL and not s.endswith(" ")
            and "  " not in s):
        return s
    return json.dumps(s, ensure_ascii=False)


HEADER = [
    "# GENERATED by tools/build_geo_taxonomy.py -- do not edit by hand; change the script and rerun.",
    "# Derived from the ISO 3166-1 / UN M49 list in lukes/ISO-3166-Countries-with-Regional-Codes",
    "# (all/all.csv, CC BY-SA 4.0) and the US state list in jasonong/List-of-US-States (states.csv).",
    "# This file is licensed CC BY-SA 4.0. Provenance and decisions: profiles/taxonomies/SOURCES.md",
]


def dump(doc) -> str:
    out = [*HEADER, f"taxonomy: {scalar(doc['taxonomy'])}", f"description: {json.dumps(doc['description'], ensure_ascii=False)}", "nodes:"]
    for n in doc["nodes"]:
        parts = [f"id: {scalar(n['id'])}", f"name: {scalar(n['name'])}", f"kind: {scalar(n['kind'])}"]
        for field in ("parents", "aliases"):
            if n.get(field):
                parts.append(f"{field}: [" + ", ".join(scalar(x) for x in n[field]) + "]")
        out.append("  - {" + ", ".join(parts) + "}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iso", type=Path, default=DEFAULT_ISO)
    ap.add_argument("--states", type=Path, default=DEFAULT_STATES)
    ap.add_argument("--state-fips", default=None,
                    help="state FIPS csv; default: state_fips.csv next to --states if present")
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", type=Path, metavar="TAXONOMY_YAML",
                    help="only validate an existing taxonomy file and exit")
    args = ap.parse_args(argv)

    if args.check:
        import yaml
        doc = yaml.safe_load(args.check.read_text(encoding="utf-8"))
        errors, collisions = check(doc, geo_rules=(doc.get("taxonomy") == "geo"))
        report(errors, collisions)
        return 1 if errors else 0

    if args.state_fips is None:
        fips_path = args.states.parent / "state_fips.csv"
        fips_path = fips_path if fips_path.exists() else None
    else:
        fips_path = Path(args.state_fips) if args.state_fips else None
    fips_rows = read_csv(fips_path) if fips_path else []

    doc = build(read_csv(args.iso), read_csv(args.states), fips_rows)
    errors, collisions = check(doc, geo_rules=True)
    text = dump(doc)
    try:  # the emitted text must load back to exactly the same structure
        import yaml
        if yaml.safe_load(text) != doc:
            errors.append("emitted YAML does not round-trip")
    except ImportError:
        print("pyyaml not installed: round-trip check skipped", file=sys.stderr)
    report(errors, collisions)
    if errors:
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8", newline="\n")
    kinds = defaultdict(int)
    for n in doc["nodes"]:
        kinds[n["kind"]] += 1
    print(f"wrote {args.output}: " + ", ".join(f"{k} {v}" for k, v in kinds.items()), file=sys.stderr)
    return 0


def report(errors, collisions):
    for e in errors:
        print("ERROR:", e, file=sys.stderr)
    if collisions:
        print(f"{len(collisions)} cross-kind key collisions (allowed):", file=sys.stderr)
        for k, own in collisions.items():
            print(f"  {k!r}: " + ", ".join(f"{kind}:{nid}" for kind, nid in own), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
