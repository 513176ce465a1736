"""Stage 3, vocabulary: dense codes per category and set field.

Input: a :class:`BundleSpec`. Output: a :class:`Vocab` per category or set
field: the values that get a code, the key → code map the encoder uses, and
the leaf bitmask of every code (Python ints) that the tables stage turns into
uint64 words.

Bit conventions, stated once: codes are dense from 0 per field; word
``code >> 6``, bit ``code & 63`` of a uint64; code ``-1`` is *missing*; a code
``>= size`` (or a key not in ``keys``) is *unlisted*: known, matching nothing.
Set fields give codes only to values some criterion can match, so a record's
set fits in a few words; other values of the field's taxonomy map to
:data:`KNOWN_UNUSED` (known, counted as neither missing nor unlisted).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.schema import FieldSpec
from compiler.spec import BundleSpec, Condition
from compiler.taxonomy import Taxonomy, TaxonomyNode

MISSING_CODE = -1
KNOWN_UNUSED = -2


@dataclass(frozen=True)
class Vocab:
    field: str
    values: tuple[str, ...]  # code → canonical value (node id or key)
    keys: dict[str, int]  # normalised key → code (or KNOWN_UNUSED)
    leaves: tuple[int, ...]  # code → bitmask of the leaves it stands for (same bit space per field)

    @property
    def size(self) -> int:
        return len(self.values)


def build_vocabs(spec: BundleSpec) -> dict[str, Vocab]:
    """One vocabulary per category and set field of the schema, in schema order."""
    conditions = _all_conditions(spec)
    vocabs: dict[str, Vocab] = {}
    for field in spec.schema.fields.values():
        if field.type == "number":
            continue
        taxonomy = field.taxonomy or _open_taxonomy(field, spec.open_values.get(field.name, ()))
        if field.type == "category":
            vocabs[field.name] = _category_vocab(field, taxonomy)
        else:
            named = {value for c in conditions if c.field == field.name for value in c.values}
            vocabs[field.name] = _set_vocab(field, taxonomy, named)
    return vocabs


def _all_conditions(spec: BundleSpec) -> list[Condition]:
    conditions = [c.condition for p in spec.profiles for c in p.criteria + p.exclusions]
    rules = [r for p in spec.profiles for r in p.route] + list(spec.route)
    return conditions + [c for r in rules for c in r.conditions + r.escalate_if]


def _open_taxonomy(field: FieldSpec, keys: tuple[str, ...]) -> Taxonomy:
    nodes = tuple(TaxonomyNode(key, key, "value") for key in keys)
    return Taxonomy(f"open:{field.name}", nodes, {"value": {key: i for i, key in enumerate(keys)}})


def _category_vocab(field: FieldSpec, taxonomy: Taxonomy) -> Vocab:
    keys = {key: taxonomy.resolve(key, field.kinds) for key in set(taxonomy.all_keys())}
    return Vocab(
        field.name,
        tuple(node.id for node in taxonomy.nodes),
        {key: code for key, code in sorted(keys.items()) if code is not None},
        taxonomy.leaf_masks,
    )


def _set_vocab(field: FieldSpec, taxonomy: Taxonomy, named: set[str]) -> Vocab:
    """Codes for the nodes whose leaves lie wholly under some named node."""
    masks = taxonomy.leaf_masks
    named_masks = [masks[taxonomy.index[value]] for value in sorted(named)]
    used = [i for i, mask in enumerate(masks) if any(mask & ~n == 0 and mask for n in named_masks)]
    code_of = {node: code for code, node in enumerate(used)}
    keys: dict[str, int] = {}
    for key in sorted(set(taxonomy.all_keys())):
        node = taxonomy.resolve(key, field.kinds)
        if node is not None:
            keys[key] = code_of.get(node, KNOWN_UNUSED)
    return Vocab(field.name, tuple(taxonomy.nodes[i].id for i in used), keys, tuple(masks[i] for i in used))
