"""Taxonomies: named hierarchies of values (geography, industries, a field's own values).

Input: taxonomy documents (``nodes: [{id, name, kind, parents, aliases}]``),
several of which may extend one taxonomy (a repeated id adds aliases and
parents). Output: a frozen :class:`Taxonomy` that resolves a key to a node and
answers "which leaves lie under this node".

A node stands for the set of leaves under it. That one idea gives every
category rule its meaning: a record value whose leaves all lie inside a
criterion's nodes *holds*, one whose leaves lie wholly outside *fails*, and a
coarser value that straddles the boundary (record ``Europe``, criterion
``dach``) is *unknown*.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property


@dataclass(frozen=True)
class TaxonomyNode:
    id: str
    name: str
    kind: str
    parents: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """Nodes in definition order; ``keys`` maps kind → normalised key → node index."""

    id: str
    nodes: tuple[TaxonomyNode, ...]
    keys: dict[str, dict[str, int]] = field(repr=False)

    @cached_property
    def index(self) -> dict[str, int]:
        return {node.id: position for position, node in enumerate(self.nodes)}

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        kids: list[list[int]] = [[] for _ in self.nodes]
        for position, node in enumerate(self.nodes):
            for parent in node.parents:
                kids[self.index[parent]].append(position)
        return tuple(tuple(k) for k in kids)

    @cached_property
    def leaf_masks(self) -> tuple[int, ...]:
        """Per node, a Python-int bitmask of the leaf nodes under it (itself if a leaf)."""
        masks: list[int | None] = [None] * len(self.nodes)

        def mask_of(position: int) -> int:
            cached = masks[position]
            if cached is None:
                kids = self.children[position]
                cached = 1 << position if not kids else 0
                for kid in kids:
                    cached |= mask_of(kid)
                masks[position] = cached
            return cached

        for position in _topological_leaves_first(self.children):
            mask_of(position)
        return tuple(m or 0 for m in masks)

    def resolve(self, key: str, kinds: Sequence[str] = ()) -> int | None:
        """The node a key names: preferred kinds in order first, then any kind (first defined)."""
        for kind in kinds:
            found = self.keys.get(kind, {}).get(key)
            if found is not None:
                return found
        candidates = [by_key[key] for by_key in self.keys.values() if key in by_key]
        return min(candidates) if candidates else None

    def all_keys(self) -> Iterable[str]:
        for by_key in self.keys.values():
            yield from by_key


def _topological_leaves_first(children: tuple[tuple[int, ...], ...]) -> list[int]:
    """Nodes ordered so every child comes before its parents (iterative, no recursion depth)."""
    order: list[int] = []
    state = [0] * len(children)  # 0 new, 1 on stack, 2 done
    for root in range(len(children)):
        stack = [(root, 0)]
        while stack:
            node, next_child = stack.pop()
            if state[node] == 2:
                continue
            state[node] = 1
            if next_child < len(children[node]):
                stack.append((node, next_child + 1))
                kid = children[node][next_child]
                if state[kid] == 0:
                    stack.append((kid, 0))
            else:
                state[node] = 2
                order.append(node)
    return order


def find_cycle(nodes: Sequence[TaxonomyNode]) -> list[str] | None:
    """A cycle in the parent links as a list of ids, or ``None``."""
    parents = {node.id: node.parents for node in nodes}
    state: dict[str, int] = {}
    for start in parents:
        path: list[str] = []
        stack = [(start, iter(parents.get(start, ())))]
        if state.get(start):
            continue
        state[start] = 1
        path.append(start)
        while stack:
            node, pending = stack[-1]
            parent = next(pending, None)
            if parent is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(parent) == 1:
                return [*path[path.index(parent):], parent]
            elif not state.get(parent) and parent in parents:
                state[parent] = 1
                path.append(parent)
                stack.append((parent, iter(parents[parent])))
    return None
