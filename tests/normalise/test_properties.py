"""Properties of normalisation and of the shipped taxonomies (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.diagnostics import Diagnostics
from compiler.schema import DEFAULT_PROFILES_DIR, load_schema
from compiler.text import value_key

_SCHEMA = load_schema(DEFAULT_PROFILES_DIR, Diagnostics())
assert _SCHEMA is not None
_TAXONOMIES = {f.taxonomy.id: f.taxonomy for f in _SCHEMA.fields.values() if f.taxonomy is not None}

_TRICKY = st.sampled_from([*list("  \xa0\t_-–—&[]0123456789#;?!AaÉéßİıﬁＡ’'.,/"), "&amp;", "&#8217;", "[2]", " & ", "N/A", "Select"])
_TEXT = st.one_of(st.text(max_size=30), st.lists(st.one_of(_TRICKY, st.text(max_size=3)), max_size=12).map("".join))


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_normalising_twice_changes_nothing(raw: str) -> None:
    key = value_key(raw)
    if key is not None:
        assert value_key(key) == key


def test_every_alias_resolves_to_exactly_one_node_within_its_kind() -> None:
    for taxonomy in _TAXONOMIES.values():
        for node in taxonomy.nodes:
            for written in (node.id, node.name, *node.aliases):
                key = value_key(written)
                if key is None:
                    continue  # e.g. Namibia's id 'NA'; its name resolves
                position = taxonomy.keys[node.kind].get(key)
                assert position is not None and taxonomy.nodes[position].id == node.id, (taxonomy.id, node.id, written)


def test_descendant_sets_are_closed_under_the_hierarchy() -> None:
    for taxonomy in _TAXONOMIES.values():
        masks = taxonomy.leaf_masks
        for position, node in enumerate(taxonomy.nodes):
            for parent in node.parents:
                assert masks[position] & ~masks[taxonomy.index[parent]] == 0, (taxonomy.id, node.id, parent)
            for child in taxonomy.children[position]:
                assert masks[child] & ~masks[position] == 0


def test_naics_codes_sit_under_their_prefix() -> None:
    naics = _TAXONOMIES["naics"]
    masks = naics.leaf_masks
    for node in naics.nodes:
        if node.id.isdigit() and len(node.id) > 2:
            prefix = naics.index[node.id[:2]]
            assert masks[naics.index[node.id]] & ~masks[prefix] == 0, node.id
    manufacturing = masks[naics.index["31-33"]]
    assert all(masks[naics.index[c]] & ~manufacturing == 0 for c in ("31", "32", "33", "311", "336110"))
