"""A user's own schema extends the default without touching code."""

from __future__ import annotations

from pathlib import Path

from compiler import compile_profiles
from runtime.engine import Scorer


def test_user_fields_values_and_taxonomy_aliases(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "my-regions.yaml").write_text(
        "taxonomy: geo\n"
        "nodes:\n"
        "  - {id: iberia, name: Iberia, kind: sales-region, parents: [emea]}\n"
        "  - {id: ES, parents: [iberia], aliases: [Espanya]}\n"
        "  - {id: PT, parents: [iberia]}\n"
    )
    (folder / "schema.yaml").write_text(
        "extends: default\n"
        "taxonomies:\n"
        "  geo: my-regions.yaml\n"  # merged into the default geography
        "fields:\n"
        "  seats: {type: number, parse: count, columns: [licence_seats]}\n"
        "  crm: {type: category, values: [salesforce, hubspot, {id: dynamics, aliases: [microsoft dynamics]}]}\n"
    )
    (folder / "iberia.yaml").write_text(
        "id: iberia-crm\n"
        "criteria:\n"
        "  - {id: geo, field: country, in: [iberia], weight: 10}\n"
        "  - {id: seats, field: seats, min: 50, weight: 10}\n"
        "  - {id: crm, field: crm, in: [dynamics], weight: 10}\n"
    )
    bundle = compile_profiles(folder)
    records = [
        {"country": "Espanya", "seats": "120", "crm": "Microsoft Dynamics"},  # 30/30 = 100.0
        {"country": "Portugal", "seats": "10", "crm": "hubspot"},  # 10/30 = 33.3
        {"country": "France", "employees": "5000"},  # geo fails, seats and crm unknown: 0.0
    ]
    results = Scorer(bundle).score(records).results
    assert [results.answer(i)["score"] for i in range(3)] == [100.0, 33.3, 0.0]
    assert results.answer(2)["reasons"] == [["geo", "fails"], ["seats", "unknown"], ["crm", "unknown"]]
