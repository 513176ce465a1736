"""Baseline (4): GoRules ZEN (``zen-engine``), a decision graph (JDM) generated from the bundle.

Graph: ``request`` → one expression node per profile (one expression per
criterion/exclusion row giving its outcome 1 holds / 0 fails / 2 unknown, then
the profile's points ``e`` and ``q`` qualified, referencing the rows with
``$.``) → one ``final`` expression node (exact integer ranking key per profile,
``max``, the first profile reaching it, its points, score tenths and tier) →
``response``. Evaluated one record at a time with ``ZenDecision.evaluate``.

ZEN has no text normalisation of ours (NFKC, placeholders, taxonomy keys), no
``inf`` (its numbers are decimals) and no bit masks, so its input is prepared in
Python first, timed as ``prepare_s`` (:func:`benchmarks.baselines.normalise_records`):
categories as normalised keys (a row tests ``key in [...]``, every key of the
codes that hold / are unknown), numbers as ``lo`` / ``hi`` (``hi`` null when
open-ended: ``10001+``), sets as lists of item keys (``some(set, # in [...])``
per item). ``end_to_end_s`` = ``prepare_s`` + ``evaluate_s``. Every profile of
the synthetic bundles is expressible; routing and reasons are not computed (the
product computes them).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from compiler.bundle import Bundle
from compiler.tables import KIND_CATEGORY, KIND_NUMBER

NAME = "zen"
REQUIRES: str | None = "zen"


def _bits(words: Any) -> list[int]:
    return [64 * w + b for w, word in enumerate(int(x) for x in words) for b in range(64) if (word >> b) & 1]


def _quote(text: str) -> str:
    """A ZEN string literal (it has no escapes: quote with whichever quote the text lacks)."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    raise ValueError(f"a key with both quote characters cannot be a ZEN literal: {text!r}")


def _list(items: list[str]) -> str:
    return "[" + ", ".join(_quote(s) for s in items) + "]"


def _dec(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _node(node_id: str, kind: str, name: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": node_id, "type": kind, "name": name, "position": {"x": 0, "y": 0}}
    if content is not None:
        node["content"] = content
    return node


def _expressions(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"expressions": [{"id": f"x{j}", "key": key, "value": value} for j, (key, value) in enumerate(pairs)]}


def _row_expression(bundle: Bundle, k: int, names: dict[str, list[str]], fields: dict[str, Any]) -> str:
    t = bundle.tables
    kind, field = int(t.crit_kind[k]), int(t.crit_field[k])
    if kind == KIND_CATEGORY:
        name = names["category"][field]
        size, ref, words = len(fields[name]["values"]), int(t.crit_ref[k]), int(t.crit_words[k])
        holds = set(c for c in _bits(t.mask_words[ref : ref + words]) if c < size)
        unknown = set(c for c in _bits(t.mask_words[ref + words : ref + 2 * words]) if c < size)
        holds_keys = sorted(key for key, code in fields[name]["keys"].items() if code in holds)
        unknown_keys = sorted(key for key, code in fields[name]["keys"].items() if code in unknown)
        yes, no = (0, 1) if t.crit_negate[k] else (1, 0)
        expr = str(no)
        if unknown_keys:
            expr = f"({name} in {_list(unknown_keys)} ? 2 : {expr})"
        if holds_keys:
            expr = f"({name} in {_list(holds_keys)} ? {yes} : {expr})"
        return f"{name} == null ? 2 : {expr}"
    if kind == KIND_NUMBER:
        name = names["number"][field]
        lo, hi = f"{name}_lo", f"{name}_hi"
        clo, chi = float(t.crit_lo[k]), float(t.crit_hi[k])
        partial = (2, 1, 0)[int(t.crit_partial[k])]
        inside = []  # record range within [clo, chi]; a null hi is +inf
        if not math.isinf(clo):
            inside.append(f"{lo} >= {_dec(clo)}")
        if not math.isinf(chi):
            inside.append(f"({hi} != null and {hi} <= {_dec(chi)})")
        apart = []
        if not math.isinf(clo):
            apart.append(f"({hi} != null and {hi} < {_dec(clo)})")
        if not math.isinf(chi):
            apart.append(f"{lo} > {_dec(chi)}")
        expr = str(partial)
        if apart:
            expr = f"(({' or '.join(apart)}) ? 0 : {expr})"
        expr = f"({' and '.join(inside) or 'true'}) ? 1 : {expr}"
        return f"{lo} == null ? 2 : ({expr})"
    name = names["set"][field]
    words = int(t.set_words[field])
    keys_of_code: dict[int, list[str]] = {}
    for key, code in fields[name]["keys"].items():
        if code >= 0:
            keys_of_code.setdefault(code, []).append(key)
    touched = []
    for j in range(int(t.crit_ref[k]), int(t.crit_ref[k]) + int(t.crit_words[k])):
        start = int(t.item_word_start[j])
        keys = sorted(key for code in _bits(t.mask_words[start : start + words]) for key in keys_of_code.get(code, []))
        if keys:
            touched.append(f"(some({name}, # in {_list(keys)}) ? 1 : 0)")
    count = " + ".join(touched) or "0"
    lo_count, hi_count = int(t.crit_count_lo[k]), int(t.crit_count_hi[k])
    return f"{name} == null ? 2 : ((({count}) >= {lo_count} and ({count}) <= {hi_count}) ? 1 : 0)"


def decision_graph(bundle: Bundle) -> dict[str, Any]:
    """The JDM graph (a dict; ``json.dumps`` it for ``ZenEngine.create_decision``)."""
    from benchmarks.baseline_duckdb import column_names

    t = bundle.tables
    names = column_names(bundle)
    fields = {f["name"]: f for f in bundle.meta["fields"]}
    profiles = bundle.meta["profiles"]
    positive = [int(x) for x in t.prof_positive]
    lcm = math.lcm(*positive)
    if 2 * lcm + 1 >= 10**27:
        raise OverflowError("lcm of the positive points does not fit ZEN's decimals")
    nodes = [_node("request", "inputNode", "request")]
    edges = []
    for p in range(len(profiles)):
        pairs = []
        for k in range(int(t.prof_crit_start[p]), int(t.prof_excl_end[p])):
            pairs.append((f"o{k}", _row_expression(bundle, k, names, fields)))
        earned = [
            f"($.o{k} == 1 ? {int(t.crit_weight[k])} : 0)"
            for k in range(int(t.prof_crit_start[p]), int(t.prof_crit_end[p]))
            if int(t.crit_weight[k])
        ]
        qualified = []
        for k in range(int(t.prof_crit_start[p]), int(t.prof_crit_end[p])):
            if t.crit_required[k]:
                qualified.append(f"$.o{k} != 0" if t.crit_unknown_counts[k] else f"$.o{k} == 1")
        for k in range(int(t.prof_crit_end[p]), int(t.prof_excl_end[p])):
            qualified.append(f"$.o{k} == 0" if t.crit_unknown_counts[k] else f"$.o{k} != 1")
        pairs.append((f"e{p}", " + ".join(earned) or "0"))
        pairs.append((f"q{p}", " and ".join(f"({q})" for q in qualified) or "true"))
        nodes.append(_node(f"profile{p}", "expressionNode", profiles[p]["id"], _expressions(pairs)))
        edges += [("request", f"profile{p}"), (f"profile{p}", "final")]
    n = len(profiles)
    keys = ", ".join(f"(q{p} ? {lcm + 1} : 0) + max([e{p}, 0]) * {lcm // positive[p]}" for p in range(n))
    tier = "'?'"
    for p in reversed(range(n)):
        inner = f"'{profiles[p]['tiers'][-1][0]}'"
        for name, threshold in reversed(profiles[p]["tiers"]):
            inner = f"($.clamped * 100 >= {int(threshold) * positive[p]} ? '{name}' : {inner})"
        tier = f"($.best == {p} ? {inner} : {tier})"
    final = [
        ("keys", f"[{keys}]"),
        ("top", "max($.keys)"),
        ("best", f"filter([0..{n - 1}], $.keys[#] == $.top)[0]"),
        ("earned", f"[{', '.join(f'e{p}' for p in range(n))}][$.best]"),
        ("positive", f"[{', '.join(map(str, positive))}][$.best]"),
        ("clamped", "max([$.earned, 0])"),
        ("tenths", "floor((2000 * $.clamped + $.positive) / (2 * $.positive))"),
        ("tier", tier),
    ]
    nodes.append(_node("final", "expressionNode", "final", _expressions(final)))
    nodes.append(_node("response", "outputNode", "response"))
    edges.append(("final", "response"))
    return {
        "nodes": nodes,
        "edges": [{"id": f"edge{j}", "sourceId": s, "targetId": d, "type": "edge"} for j, (s, d) in enumerate(edges)],
    }


def zen_inputs(bundle: Bundle, normalised: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Columns from :func:`benchmarks.baselines.normalise_records` → one ZEN context per record."""
    names = list(normalised)
    n = len(normalised[names[0]])
    columns = [normalised[name] for name in names]
    his = {name for name in names if name.endswith("_hi")}
    out = []
    for i in range(n):
        record = {}
        for name, column in zip(names, columns, strict=True):
            value = column[i]
            if name in his and value is not None and math.isinf(value):
                value = None  # open range: ZEN decimals have no infinity
            record[name] = value
        out.append(record)
    return out


def measure(bundle: Bundle, spec: Any, records: list[dict[str, Any]], repeats: int) -> tuple[dict[str, Any], dict[str, list]]:
    import zen

    from benchmarks.baselines import normalise_records

    engine = zen.ZenEngine()
    decision = engine.create_decision(json.dumps(decision_graph(bundle)))
    for context in zen_inputs(bundle, normalise_records(bundle, records[:20])):
        decision.evaluate(context)  # warm-up
    prepare_t, eval_t, e2e_t = [], [], []
    results: list[dict[str, Any]] = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        contexts = zen_inputs(bundle, normalise_records(bundle, records))
        prepared = time.perf_counter()
        results = [decision.evaluate(context)["result"] for context in contexts]
        done = time.perf_counter()
        prepare_t.append(prepared - start)
        eval_t.append(done - prepared)
        e2e_t.append(done - start)
        if e2e_t[-1] > 2.0:
            break
    outputs = {
        "best": [int(r["best"]) for r in results],
        "tenths": [int(r["tenths"]) for r in results],
        "tier": [str(r["tier"]) for r in results],
    }
    return {
        "end_to_end_s": min(e2e_t),
        "end_to_end_repeats_s": e2e_t,
        "prepare_s": min(prepare_t),
        "evaluate_s": min(eval_t),
    }, outputs
