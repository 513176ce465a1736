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


def test_bands_currency_and_rates_from_the_schema(tmp_path: Path) -> None:
    folder = tmp_path / "banded"
    folder.mkdir()
    (folder / "schema.yaml").write_text(
        "extends: default\n"
        "fields:\n"
        "  size_band: {type: number, parse: count, bands: {Small: '1-50', Mid: '51-1000', Big: '1001+'}}\n"
        "  arr: {type: number, parse: money, currency: USD, rates: {EUR: 1.1}}\n"
    )
    (folder / "p.yaml").write_text(
        "id: p\n"
        "criteria:\n"
        "  - {id: big, field: size_band, min: 1001, weight: 10}\n"
        "  - {id: arr, field: arr, min: '$1M', weight: 10}\n"
    )
    results = Scorer(compile_profiles(folder)).score([
        {"size_band": "Big", "arr": "€1M"},  # big holds (1001+); €1M = $1.1M holds: 20/20
        {"size_band": "mid", "arr": "€900k"},  # 51-1000 fails; €900k = $990k fails: 0/20
        {"size_band": "Huge", "arr": "£1M"},  # unknown band and no GBP rate: both unreadable, unknown
    ]).results
    assert [results.answer(i)["reasons"] for i in range(3)] == [
        [["big", "holds"], ["arr", "holds"]],
        [["big", "fails"], ["arr", "fails"]],
        [["big", "unknown"], ["arr", "unknown"]],
    ]


def test_bad_options_are_diagnostics(tmp_path: Path) -> None:
    import pytest

    from compiler.diagnostics import CompileError

    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "schema.yaml").write_text(
        "extends: default\nfields:\n  arr: {type: number, parse: money, rates: {EUR: -1}, bands: {Small: 'lots'}}\n"
    )
    (folder / "p.yaml").write_text("id: p\ncriteria:\n  - {id: a, field: arr, min: 1, weight: 10}\n")
    with pytest.raises(CompileError) as raised:
        compile_profiles(folder)
    text = raised.value.diagnostics.render()
    assert "fields.arr.rates: the rate of EUR must be a positive number" in text
    assert "fields.arr.bands: band 'Small': cannot read 'lots'" in text


def test_placeholders_are_configurable(tmp_path: Path) -> None:
    """By default 'NA' reads as missing (Namibia's ISO code is lost); a schema can change that."""
    from compiler import compile_spec
    from runtime.reference import ReferenceEvaluator

    folder = tmp_path / "namibia"
    folder.mkdir()
    (folder / "schema.yaml").write_text("extends: default\nplaceholders: {remove: [NA], add: [n.v.]}\n")
    (folder / "p.yaml").write_text("id: p\ncriteria:\n  - {id: na, field: country, in: [NA], weight: 10}\n")
    records = [{"country": "NA"}, {"country": "Namibia"}, {"country": "n.v."}, {"country": "N/A"}, {"country": "ZA"}]
    expected = [["na", "holds"]], [["na", "holds"]], [["na", "unknown"]], [["na", "unknown"]], [["na", "fails"]]
    results = Scorer(compile_profiles(folder)).score(records).results
    reference = ReferenceEvaluator(compile_spec(folder))
    for i, record in enumerate(records):
        assert results.answer(i)["reasons"] == expected[i] == reference.evaluate(record)["reasons"]


def test_removing_a_word_that_is_not_a_placeholder_is_a_diagnostic(tmp_path: Path) -> None:
    import pytest

    from compiler.diagnostics import CompileError

    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "schema.yaml").write_text("extends: default\nplaceholders: {remove: [Namibia]}\n")
    (folder / "p.yaml").write_text("id: p\ncriteria:\n  - {id: a, field: country, in: [US], weight: 10}\n")
    with pytest.raises(CompileError, match="'Namibia' is not a placeholder"):
        compile_profiles(folder)
