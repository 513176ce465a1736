#!/usr/bin/env python3
"""Generate a seeded file of synthetic website visitors for trying the bundled profiles.

    python examples/generate_visitors.py --seed 7 -n 2000 -o examples/data/visitors.csv

Each row is one visitor, enriched the way a reverse-IP / firmographic vendor would enrich it,
with the messiness real enrichment data has:

* headcounts as exact numbers (``1,200``), LinkedIn-style buckets (``51-200``,
  ``1001 - 5000``, ``10001+``) or shorthand (``10k``);
* revenue as ``$1.2B``, ``36.9 M``, ``$180,000`` or a bare number;
* countries as ISO codes, names and common spellings (``USA``, ``United States``, ``DE``,
  ``Germany``, ``UK``, ``The Netherlands``);
* about 10% of cells empty, a few placeholders (``N/A``, ``Select``, ``-``), a few unreadable
  values (``5O-200``) and a few values no profile names (an unusual industry or country);
* sets (tech stack, use cases, pain points, buying triggers) as comma-separated text.

Visitors are drawn from a mix of personas (enterprise software in North America and DACH,
mid-market fintech, EMEA manufacturers, small self-serve companies, the public sector, embargoed
markets and assorted out-of-ICP traffic), each with a spread of fit, so that scoring the file
with the bundled profiles shows every profile, tier and route. ``id`` is an opaque visitor id
(``v-000123``); there are no names, e-mail addresses or domains.

Standard library and numpy only; the same seed always gives the same file.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

COLUMNS = [
    "id", "industry", "employees", "revenue", "founded_year", "country", "state",
    "funding_stage", "tech_stack", "use_cases", "pain_points", "buying_triggers",
]

# How enrichment vendors spell countries (ISO code -> spellings seen in the wild).
COUNTRY_SPELLINGS = {
    "US": ["US", "USA", "United States", "United States of America", "U.S."],
    "CA": ["Canada", "CA", "CAN"],
    "DE": ["Germany", "DE", "Deutschland", "DEU"],
    "AT": ["Austria", "AT", "Österreich"],
    "CH": ["Switzerland", "CH", "Schweiz"],
    "GB": ["UK", "United Kingdom", "GB", "England", "Great Britain"],
    "IE": ["Ireland", "IE"],
    "NL": ["Netherlands", "The Netherlands", "NL", "Holland"],
    "BE": ["Belgium", "BE"],
    "LU": ["Luxembourg", "LU"],
    "SE": ["Sweden", "SE"],
    "NO": ["Norway", "NO"],
    "DK": ["Denmark", "DK"],
    "FI": ["Finland", "FI"],
    "FR": ["France", "FR"],
    "ES": ["Spain", "ES"],
    "IT": ["Italy", "IT"],
    "PL": ["Poland", "PL"],
    "AU": ["Australia", "AU"],
    "NZ": ["New Zealand", "NZ"],
    "SG": ["Singapore", "SG"],
    "IN": ["India", "IN"],
    "JP": ["Japan", "JP"],
    "BR": ["Brazil", "BR"],
    "MX": ["Mexico", "MX"],
    "AE": ["United Arab Emirates", "UAE"],
    "IL": ["Israel", "IL"],
    "ZA": ["South Africa", "ZA"],
    "RU": ["Russia", "Russian Federation", "RU"],
    "BY": ["Belarus", "BY"],
    "IR": ["Iran", "IR"],
}
US_STATES = ["CA", "NY", "TX", "MA", "WA", "IL", "GA", "CO", "FL", "NC", "California", "New York", "Texas"]
CA_PROVINCES = ["ON", "BC", "QC", "Ontario", "British Columbia"]

EMPLOYEE_BUCKETS = [(1, 10), (11, 50), (51, 200), (201, 500), (501, 1000), (1001, 5000), (5001, 10000), (10001, None)]

PLACEHOLDERS = ["N/A", "Select", "-", "unknown", "n/a"]
UNLISTED_INDUSTRIES = ["Drone Cinematography", "Space Tourism", "Esports Coaching", "Vertical Farming Robotics"]
UNLISTED_COUNTRIES = ["Atlantis", "Wakanda"]

# ------------------------------------------------------------------ personas
# Each persona: weight in the mix, and how to draw every field. Set fields draw each candidate
# item independently with its probability.
PERSONAS = {
    "enterprise": 0.17,
    "fintech": 0.14,
    "manufacturing": 0.14,
    "smb": 0.22,
    "public_sector": 0.04,
    "embargoed": 0.02,
    "europe_coarse": 0.01,
    "other": 0.26,
}


def pick(rng: np.random.Generator, items, p=None):
    if p is not None:
        p = np.asarray(p, float)
        p = p / p.sum()
    return items[int(rng.choice(len(items), p=p))]


def draw_set(rng: np.random.Generator, candidates: dict[str, float]) -> list[str]:
    return [item for item, prob in candidates.items() if rng.random() < prob]


def headcount(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A log-uniform headcount in [lo, hi]."""
    return round(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def revenue_for(rng: np.random.Generator, employees: int) -> float:
    """Revenue roughly proportional to headcount ($80k-$400k per employee)."""
    return employees * float(np.exp(rng.uniform(np.log(80_000), np.log(400_000))))


def persona_enterprise(rng):
    employees = headcount(rng, 400, 40_000)
    country = pick(rng, ["US", "CA", "DE", "AT", "CH"], [0.6, 0.1, 0.18, 0.06, 0.06])
    return {
        "industry": pick(rng, ["Software", "software", "Internet", "Computer Software", "SaaS", "Cloud Computing",
                               "Cybersecurity", "Data & Analytics", "Information Technology", "Marketing Services"],
                         [5, 2, 3, 2, 2, 1, 1.5, 1, 1.5, 1]),
        "employees": employees,
        "revenue": revenue_for(rng, employees),
        "founded_year": int(rng.integers(1985, 2018)),
        "country": country,
        "funding_stage": pick(rng, ["Series C", "Series D", "public", "private-equity", "growth", "acquired", "Series B"],
                              [2, 2, 3, 1, 1, 0.4, 1]),
        "tech_stack": draw_set(rng, {"Salesforce": 0.6, "HubSpot": 0.2, "Marketo": 0.3, "Outreach": 0.3, "Snowflake": 0.3,
                                     "Segment": 0.2, "LeanData": 0.12, "Chili Piper": 0.08, "Slack": 0.5}),
        "use_cases": draw_set(rng, {"lead routing": 0.5, "lead scoring": 0.35, "ABM": 0.3, "website personalization": 0.2,
                                    "pipeline analytics": 0.2}),
        "pain_points": draw_set(rng, {"slow lead response": 0.4, "manual routing": 0.35, "poor lead quality": 0.3,
                                      "tool sprawl": 0.2}),
        "buying_triggers": draw_set(rng, {"new CRO": 0.15, "hiring SDRs": 0.2, "funding round": 0.1, "RFP": 0.12,
                                          "demo request": 0.15, "pricing page visit": 0.2}),
    }


def persona_fintech(rng):
    employees = headcount(rng, 80, 6000)
    return {
        "industry": pick(rng, ["Fintech", "Financial Services", "Payments", "Banking", "Insurance", "Lending",
                               "Capital Markets", "FinServ"], [4, 2, 2, 1.5, 1.5, 1, 0.5, 0.5]),
        "employees": employees,
        "revenue": revenue_for(rng, employees),
        "founded_year": int(rng.integers(1990, 2021)),
        "country": pick(rng, ["US", "GB", "CA", "DE", "NL", "IE", "AU", "SG", "FR", "BR"],
                        [4, 2, 0.6, 0.8, 0.5, 0.4, 0.6, 0.4, 0.4, 0.3]),
        "funding_stage": pick(rng, ["Series A", "Series B", "Series C", "Series D", "PE backed", "public", "seed", "acquired"],
                              [1, 2, 2, 1, 1, 1, 0.5, 0.3]),
        "tech_stack": draw_set(rng, {"Salesforce": 0.5, "HubSpot": 0.25, "Snowflake": 0.2, "Plaid": 0.3, "Stripe": 0.3}),
        "use_cases": draw_set(rng, {"lead routing": 0.55, "compliance automation": 0.45, "payments automation": 0.2,
                                    "data enrichment": 0.2}),
        "pain_points": draw_set(rng, {"regulatory pressure": 0.45, "fraud": 0.3, "slow lead response": 0.2, "data silos": 0.2}),
        "buying_triggers": draw_set(rng, {"funding round": 0.25, "compliance deadline": 0.3, "new regulation": 0.05,
                                          "demo request": 0.1}),
    }


def persona_manufacturing(rng):
    employees = headcount(rng, 150, 60_000)
    return {
        "industry": pick(rng, ["Manufacturing", "Industrial Machinery", "Automotive", "Chemicals", "Industrial Automation",
                               "Electrical Equipment", "Packaging", "Aerospace & Defense", "Industrials", "Building Materials"],
                         [3, 2, 2, 1.5, 1.5, 1, 1, 0.6, 1, 0.7]),
        "employees": employees,
        "revenue": revenue_for(rng, employees),
        "founded_year": int(rng.integers(1870, 2015)),
        "country": pick(rng, ["DE", "AT", "CH", "SE", "FI", "DK", "NO", "NL", "BE", "GB", "IE", "FR", "IT", "PL", "US"],
                        [4, 1, 1.2, 1.2, 0.8, 0.7, 0.6, 1, 0.7, 1.5, 0.4, 0.6, 0.5, 0.4, 0.6]),
        "funding_stage": pick(rng, ["private-equity", "public", "bootstrapped", "acquired"], [3, 3, 3, 0.4]),
        "tech_stack": draw_set(rng, {"SAP": 0.6, "Oracle EBS": 0.25, "Microsoft Dynamics": 0.25, "Infor": 0.15,
                                     "Epicor": 0.1, "IBM AS400": 0.1, "Siemens Opcenter": 0.2, "Salesforce": 0.2}),
        "use_cases": draw_set(rng, {"predictive maintenance": 0.45, "supply chain visibility": 0.35, "lead routing": 0.15}),
        "pain_points": draw_set(rng, {"unplanned downtime": 0.55, "limited budget": 0.2, "data silos": 0.3,
                                      "tool sprawl": 0.15}),
        "buying_triggers": draw_set(rng, {"RFP open": 0.22, "expansion": 0.15, "M&A": 0.05, "contract renewal": 0.1}),
    }


def persona_smb(rng):
    employees = headcount(rng, 1, 80)
    return {
        "industry": pick(rng, ["Marketing Services", "E-commerce", "Software", "Consulting", "Design Services", "Retail",
                               "Wellness and Fitness", "Real Estate", "Restaurants", "Professional Training"],
                         [2, 2, 2, 1.5, 1, 1, 0.8, 0.8, 0.5, 0.5]),
        "employees": employees,
        "revenue": revenue_for(rng, employees) * 0.6,
        "founded_year": int(rng.integers(2005, 2024)),
        "country": pick(rng, ["US", "GB", "CA", "AU", "DE", "NL", "FR", "IN", "ES", "NZ", "IE", "BR"],
                        [5, 1.5, 1, 1, 0.8, 0.5, 0.6, 0.8, 0.4, 0.3, 0.3, 0.3]),
        "funding_stage": pick(rng, ["bootstrapped", "self-funded", "seed", "angel", "Series A"], [4, 1, 2, 1, 1]),
        "tech_stack": draw_set(rng, {"HubSpot": 0.4, "WordPress": 0.4, "Shopify": 0.25, "Pipedrive": 0.2, "Webflow": 0.15,
                                     "Zoho CRM": 0.1, "Salesforce": 0.08, "Google Analytics": 0.5}),
        "use_cases": draw_set(rng, {"self-serve onboarding": 0.6, "lead routing": 0.25, "website personalisation": 0.15}),
        "pain_points": draw_set(rng, {"limited budget": 0.45, "speed to lead": 0.35, "too many tools": 0.15}),
        "buying_triggers": draw_set(rng, {"pricing page visit": 0.3, "demo request": 0.1}),
    }


def persona_public_sector(rng):
    employees = headcount(rng, 200, 50_000)
    return {
        "industry": pick(rng, ["Government", "Public Administration", "Government Administration", "Public Safety"]),
        "employees": employees,
        "revenue": None,
        "founded_year": None,
        "country": pick(rng, ["US", "CA", "DE", "GB"], [5, 1, 1, 1]),
        "funding_stage": None,
        "tech_stack": draw_set(rng, {"Salesforce": 0.6, "Microsoft Dynamics": 0.3, "ServiceNow": 0.4}),
        "use_cases": draw_set(rng, {"lead routing": 0.4, "website personalisation": 0.3}),
        "pain_points": draw_set(rng, {"manual routing": 0.4, "data silos": 0.4}),
        "buying_triggers": draw_set(rng, {"RFP": 0.4}),
    }


def persona_embargoed(rng):
    row = (persona_fintech if rng.random() < 0.5 else persona_smb)(rng)
    row["country"] = pick(rng, ["RU", "BY", "IR"], [3, 1, 1])
    return row


def persona_europe_coarse(rng):
    """Enrichment only knew the continent: the record says 'Europe' or 'EMEA'."""
    row = persona_enterprise(rng)
    row["country"] = pick(rng, ["Europe", "EMEA"], [3, 1])
    return row


def persona_other(rng):
    employees = headcount(rng, 5, 80_000)
    return {
        "industry": pick(rng, ["Hospital & Health Care", "Higher Education", "Retail", "Oil & Energy", "Logistics",
                               "Construction", "Hospitality", "Media", "Telecommunications", "Staffing and Recruiting",
                               "Biotech", "Legal", "Nonprofit", "Food Production", "Software", "Consulting"]),
        "employees": employees,
        "revenue": revenue_for(rng, employees),
        "founded_year": int(rng.integers(1900, 2023)),
        "country": pick(rng, ["US", "GB", "DE", "FR", "IN", "BR", "JP", "MX", "AE", "IL", "ZA", "ES", "IT", "PL", "SG", "AU"],
                        [4, 1, 1, 1, 1.5, 1, 0.8, 0.6, 0.4, 0.4, 0.4, 0.6, 0.6, 0.5, 0.5, 0.6]),
        "funding_stage": pick(rng, ["bootstrapped", "seed", "Series A", "Series B", "public", "private-equity", "acquired"],
                              [2, 2, 2, 1.5, 2, 1, 0.4]),
        "tech_stack": draw_set(rng, {"Salesforce": 0.3, "HubSpot": 0.2, "WordPress": 0.3, "SAP": 0.15, "Workday": 0.2,
                                     "Epic": 0.1, "Zendesk": 0.2}),
        "use_cases": draw_set(rng, {"lead routing": 0.2, "data enrichment": 0.2, "pipeline analytics": 0.15,
                                    "self-serve onboarding": 0.1}),
        "pain_points": draw_set(rng, {"high churn": 0.25, "data silos": 0.25, "limited budget": 0.2, "slow lead response": 0.15}),
        "buying_triggers": draw_set(rng, {"new CMO": 0.15, "expansion": 0.15, "pricing page visit": 0.1}),
    }


MAKERS = {
    "enterprise": persona_enterprise,
    "fintech": persona_fintech,
    "manufacturing": persona_manufacturing,
    "smb": persona_smb,
    "public_sector": persona_public_sector,
    "embargoed": persona_embargoed,
    "europe_coarse": persona_europe_coarse,
    "other": persona_other,
}

# ------------------------------------------------------------------ formatting


def fmt_employees(rng: np.random.Generator, n: int) -> str:
    style = rng.random()
    if style < 0.45:  # a vendor bucket
        lo, hi = next((lo, hi) for lo, hi in EMPLOYEE_BUCKETS if hi is None or n <= hi)
        if hi is None:
            return f"{lo}+"
        return f"{lo} - {hi}" if rng.random() < 0.3 else f"{lo}-{hi}"
    if style < 0.85:  # an exact count
        return f"{n:,}" if n >= 1000 and rng.random() < 0.6 else str(n)
    if n >= 10_000 and style < 0.93:
        return f"{round(n / 1000)}k"
    return str(n)


def fmt_revenue(rng: np.random.Generator, usd: float) -> str:
    style = rng.random()
    if usd >= 1e9 and style < 0.7:
        return f"${usd / 1e9:.1f}B"
    if usd >= 1e6:
        if style < 0.45:
            return f"${usd / 1e6:.0f}M"
        if style < 0.75:
            return f"{usd / 1e6:.1f} M"
        return f"${round(usd, -3):,.0f}"
    if style < 0.5:
        return f"${round(usd, -3):,.0f}"
    return f"{usd / 1e6:.2f}M"


def fmt_country(rng: np.random.Generator, code: str) -> str:
    spellings = COUNTRY_SPELLINGS.get(code)
    return pick(rng, spellings) if spellings else code


def fmt_set(items: list[str]) -> str:
    return ", ".join(items)


def make_row(rng: np.random.Generator, index: int) -> dict[str, str]:
    persona = pick(rng, list(PERSONAS), list(PERSONAS.values()))
    raw = MAKERS[persona](rng)
    row = {"id": f"v-{index:06d}"}
    row["industry"] = raw["industry"] or ""
    row["employees"] = fmt_employees(rng, raw["employees"])
    row["revenue"] = fmt_revenue(rng, raw["revenue"]) if raw["revenue"] else ""
    row["founded_year"] = str(raw["founded_year"]) if raw["founded_year"] else ""
    code = raw["country"]
    row["country"] = fmt_country(rng, code)
    if code == "US" and rng.random() < 0.7:
        row["state"] = pick(rng, US_STATES)
    elif code == "CA" and rng.random() < 0.7:
        row["state"] = pick(rng, CA_PROVINCES)
    else:
        row["state"] = ""
    row["funding_stage"] = raw["funding_stage"] or ""
    for name in ("tech_stack", "use_cases", "pain_points", "buying_triggers"):
        row[name] = fmt_set(raw[name])

    # Messiness, cell by cell: ~10% missing, ~1.5% placeholders, a few unreadable / unlisted values.
    for name in COLUMNS[1:]:
        roll = rng.random()
        if roll < 0.10:
            row[name] = ""
        elif roll < 0.115:
            row[name] = pick(rng, PLACEHOLDERS)
    roll = rng.random()
    if roll < 0.006:
        row["employees"] = pick(rng, ["5O-200", "l,200", "about fifty", "1OOO+"])
    elif roll < 0.010:
        row["revenue"] = pick(rng, ["$1.2.3M", "approx 5 mil", "12O M"])
    elif roll < 0.013:
        row["founded_year"] = pick(rng, ["19X5", "twenty-ten"])
    roll = rng.random()
    if roll < 0.012:
        row["industry"] = pick(rng, UNLISTED_INDUSTRIES)
    elif roll < 0.016:
        row["country"] = pick(rng, UNLISTED_COUNTRIES)
    return row


def generate(seed: int, n: int) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    return [make_row(rng, i + 1) for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-n", type=int, default=2000, help="number of visitors")
    parser.add_argument("-o", "--output", type=Path, default=None, help="CSV file to write (default: stdout)")
    args = parser.parse_args(argv)
    rows = generate(args.seed, args.n)
    if args.output is None:
        _write(sys.stdout, rows)
    else:
        with args.output.open("w", newline="", encoding="utf-8") as out:
            _write(out, rows)
    return 0


def _write(out: TextIO, rows: list[dict[str, str]]) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


if __name__ == "__main__":
    sys.exit(main())
