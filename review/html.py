"""A self-contained HTML backtest report: tables and inline SVG charts drawn here (no scripts,
no network). Every text is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

from review.backtest import money_text, num, pct

COLOURS = {"bar": "#3b6ea5", "ci": "#1d2f45", "base": "#c0392b", "pos": "#2e8b57", "neg": "#b0b7c3", "down": "#c0392b"}


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def rate_chart(rows: list[dict[str, Any]], base: float | None, title: str) -> str:
    """Outcome rate per tier as bars, the 95 % Wilson interval as whiskers, the base rate dashed."""
    rows = [r for r in rows if r["n"]]
    width, height, left, bottom, top = 60 + 90 * max(len(rows), 1), 240, 50, 40, 30
    plot = height - bottom - top

    def y(v: float) -> float:
        return top + plot * (1 - v)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
             f'<text x="{left}" y="18" font-size="13" font-weight="bold">{_e(title)}</text>']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="10" text-anchor="end">{int(tick * 100)}%</text>')
    for k, r in enumerate(rows):
        x = left + 20 + 90 * k
        parts.append(f'<rect x="{x}" y="{y(r["rate"]):.1f}" width="50" height="{plot * r["rate"]:.1f}" fill="{COLOURS["bar"]}">'
                     f'<title>{_e(r["tier"])}: {pct(r["rate"])} of {r["n"]:,} (95% CI {pct(r["ci_low"])} to {pct(r["ci_high"])})</title></rect>')
        cx = x + 25
        parts.append(f'<line x1="{cx}" x2="{cx}" y1="{y(r["ci_low"]):.1f}" y2="{y(r["ci_high"]):.1f}" stroke="{COLOURS["ci"]}" stroke-width="2"/>'
                     f'<line x1="{cx - 8}" x2="{cx + 8}" y1="{y(r["ci_low"]):.1f}" y2="{y(r["ci_low"]):.1f}" stroke="{COLOURS["ci"]}" stroke-width="2"/>'
                     f'<line x1="{cx - 8}" x2="{cx + 8}" y1="{y(r["ci_high"]):.1f}" y2="{y(r["ci_high"]):.1f}" stroke="{COLOURS["ci"]}" stroke-width="2"/>')
        parts.append(f'<text x="{cx}" y="{height - bottom + 16}" font-size="11" text-anchor="middle">{_e(r["tier"])} (n={r["n"]:,})</text>'
                     f'<text x="{cx}" y="{y(r["rate"]) - 4:.1f}" font-size="10" text-anchor="middle">{pct(r["rate"])}</text>')
    if base is not None:
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(base):.1f}" y2="{y(base):.1f}" stroke="{COLOURS["base"]}" stroke-dasharray="5,4"/>'
                     f'<text x="{width - 12}" y="{y(base) - 4:.1f}" font-size="10" text-anchor="end" fill="{COLOURS["base"]}">base {pct(base)}</text>')
    return "".join(parts) + "</svg>"


def lift_chart(criteria: list[dict[str, Any]], title: str) -> str:
    """Lift when each criterion holds, as horizontal bars from 1.0 (no better than the base rate)."""
    rows = [c for c in criteria if c["holds"]["lift"] is not None]
    if not rows:
        return f"<p>{_e(title)}: no criterion holds for a record with an outcome.</p>"
    top_lift = max(2.0, *(c["holds"]["lift"] for c in rows))
    left, bar_width, line = 260, 360, 22
    width, height = left + bar_width + 80, 40 + line * len(rows)

    def x(v: float) -> float:
        return left + bar_width * v / top_lift

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
             f'<text x="10" y="18" font-size="13" font-weight="bold">{_e(title)}</text>']
    for k, c in enumerate(rows):
        value = c["holds"]["lift"]
        yy = 30 + line * k
        start, end = sorted((x(1.0), x(value)))
        colour = COLOURS["bar"] if value >= 1 else COLOURS["down"]
        parts.append(f'<text x="{left - 6}" y="{yy + 14}" font-size="11" text-anchor="end">{_e(c["id"])}</text>'
                     f'<rect x="{start:.1f}" y="{yy + 3}" width="{max(end - start, 1):.1f}" height="14" fill="{colour}">'
                     f'<title>{_e(c["label"])}: holds for {c["holds"]["n"]:,}, rate {pct(c["holds"]["rate"])}, lift {num(value)}</title></rect>'
                     f'<text x="{max(x(value), x(1.0)) + 4:.1f}" y="{yy + 14}" font-size="10">{num(value)} (n={c["holds"]["n"]:,})</text>')
    parts.append(f'<line x1="{x(1.0):.1f}" x2="{x(1.0):.1f}" y1="26" y2="{height}" stroke="#333" stroke-dasharray="3,3"/>')
    return "".join(parts) + "</svg>"


def histogram_chart(hist: dict[str, Any], title: str) -> str:
    """Score distribution of positives and negatives, each as a share of its own class."""
    pos, neg = hist["positive"], hist["negative"]
    total_pos, total_neg = max(sum(pos), 1), max(sum(neg), 1)
    shares = [(p / total_pos, q / total_neg) for p, q in zip(pos, neg, strict=True)]
    peak = max(0.01, *(max(a, b) for a, b in shares))
    left, bottom, top, step = 50, 40, 30, 48
    width, height = left + step * len(shares) + 20, 240
    plot = height - bottom - top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
             f'<text x="{left}" y="18" font-size="13" font-weight="bold">{_e(title)}</text>',
             f'<rect x="{width - 200}" y="8" width="10" height="10" fill="{COLOURS["pos"]}"/><text x="{width - 186}" y="17" font-size="10">positive</text>'
             f'<rect x="{width - 120}" y="8" width="10" height="10" fill="{COLOURS["neg"]}"/><text x="{width - 106}" y="17" font-size="10">negative</text>']
    for k, (a, b) in enumerate(shares):
        x = left + step * k
        for offset, value, colour, count in ((4, a, COLOURS["pos"], pos[k]), (24, b, COLOURS["neg"], neg[k])):
            h = plot * value / peak
            parts.append(f'<rect x="{x + offset}" y="{top + plot - h:.1f}" width="18" height="{h:.1f}" fill="{colour}"><title>{count:,} ({100 * value:.1f}%)</title></rect>')
        parts.append(f'<text x="{x + 24}" y="{height - bottom + 14}" font-size="10" text-anchor="middle">{hist["edges"][k]}-{hist["edges"][k + 1]}</text>')
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="10">score band; bar height = share of that outcome\'s records</text>')
    return "".join(parts) + "</svg>"


def _table(rows: list[dict[str, Any]], money: bool) -> str:
    head = "<tr><th>tier</th><th>records</th><th>positive</th><th>rate</th><th>95% CI</th><th>lift</th><th>coverage</th>"
    head += "<th>value sum</th><th>value mean</th></tr>" if money else "</tr>"
    body = []
    for r in rows:
        ci = "-" if r["ci_low"] is None else f"{pct(r['ci_low'])} to {pct(r['ci_high'])}"
        cells = [r["tier"], f"{r['n']:,}", f"{r['positives']:,}", pct(r["rate"]), ci, num(r["lift"]), pct(r["coverage"])]
        if money:
            cells += [money_text(r["value_sum"]), money_text(r["value_mean"])]
        body.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _criteria_table(criteria: list[dict[str, Any]]) -> str:
    head = ("<tr><th>criterion</th><th>weight</th><th>holds n</th><th>rate</th><th>lift</th><th>fails n</th><th>rate</th>"
            "<th>lift</th><th>unknown n</th><th>rate</th><th>lift</th></tr>")
    body = []
    for c in criteria:
        weight = "exclusion" if c["role"] == "exclusion" else f"{c['weight']}{' (required)' if c['required'] else ''}"
        cells = [f"{c['label']} [{c['id']}]", weight]
        for name in ("holds", "fails", "unknown"):
            cells += [f"{c[name]['n']:,}", pct(c[name]["rate"]), num(c[name]["lift"])]
        body.append("<tr>" + "".join(f"<td>{_e(x)}</td>" for x in cells) + "</tr>")
    return f"<table>{head}{''.join(body)}</table>"


STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}"
         "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}"
         "td:first-child,th:first-child{text-align:left}.note{background:#fff8e1;padding:0.6em 1em;border-left:4px solid #f0ad4e}")


def render_html(report: dict[str, Any], about: str | None = None) -> str:
    money = bool(report["outcome"].get("value"))
    o = report["outcome"]
    excluded = ", ".join(f"{k}: {v:,}" for k, v in report["excluded_values"].items()) or "none"
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>ICP backtest: {_e(report['source'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>ICP backtest</h1><p>Bundle <code>{_e(report['bundle_version'])}</code> on <code>{_e(report['source'])}</code>.</p>",
    ]
    if about:
        parts.append(f'<p class="note">About the data: {_e(about)}</p>')
    parts.append(
        f"<p>Outcome column <code>{_e(o.get('column'))}</code>; positive = {_e(', '.join(o.get('positive', [])))}"
        + (f"; negative = {_e(', '.join(o['negative']))}" if o.get("negative") else "")
        + (f"; money column <code>{_e(o['value'])}</code>" if money else "") + ".</p>"
        f"<p>{report['rows']:,} records read; {report['included']:,} with an outcome; {report['excluded']:,} left out "
        f"because their outcome is empty or open ({_e(excluded)}).</p>"
        f"<p>Base rate <b>{pct(report['base_rate'])}</b> ({report['positives']:,} of {report['included']:,}); "
        f"AUC of the score <b>{num(report['auc'], 3)}</b>; mean coverage {pct(report['overall']['coverage'])}; "
        f"tiers monotonic: <b>{'yes' if report['monotonic'] else 'no'}</b>. Intervals are 95% Wilson intervals; "
        f"lift = rate ÷ base rate; <i>out</i> = the record qualifies for no profile.</p>"
    )
    if report["join_unmatched"]:
        parts.append(f"<p>{report['join_unmatched']:,} rows matched no row of the joined file.</p>")
    parts.append("<h2>All profiles</h2>" + rate_chart(report["tiers"], report["base_rate"], "Outcome rate by tier (all profiles)"))
    parts.append(_table(report["tiers"], money))
    parts.append(histogram_chart(report["score_histogram"], "Score distribution by outcome"))
    for prof in report["profiles"]:
        if not prof["n"]:
            continue
        thresholds = ", ".join(f"{k} {v}" for k, v in prof["thresholds"].items())
        parts.append(f"<h2>Profile {_e(prof['profile'])}</h2><p>{prof['n']:,} records whose best (or closest) profile this is; "
                     f"rate {pct(prof['rate'])}; AUC {num(prof['auc'], 3)}; thresholds {_e(thresholds)}; "
                     f"tiers monotonic: {'yes' if prof['monotonic'] else 'no'}.</p>")
        parts.append(rate_chart(prof["tiers"], report["base_rate"], f"Outcome rate by tier: {prof['profile']}"))
        parts.append(_table(prof["tiers"], money))
        parts.append(lift_chart(prof["criteria"], f"Lift when the criterion holds: {prof['profile']}"))
        parts.append(_criteria_table(prof["criteria"]))
    parts.append("</body></html>")
    return "\n".join(parts)
