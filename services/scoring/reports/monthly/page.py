"""The monthly review as one HTML page, drawn from the /scorecard document alone.

The page is what a head of sales and a head of marketing put on the screen in their monthly
meeting, in the order they talk: did we hit what we signed (targets, with the three months
before), what next month's quota asks of the funnel (leads needed, with its inputs to argue
about), what marketing's work earned (revenue by campaign and channel under the agreed model),
how leads moved (conversion, cycle, touches), and why leads and deals were turned down.

One self-contained file: inline CSS and SVG, no script, nothing fetched, so it can be mailed,
archived and printed as it is. It names no person: the document has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from services.scoring.reports.monthly import sections
from services.scoring.reports.monthly.charts import Month, trend
from services.scoring.reports.monthly.figures import figure, humanised, path, target_label, unit_of, written

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b; margin: 2rem auto;
  max-width: 1040px; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
  border-bottom: 2px solid #1b1b1b; padding-bottom: .2rem; } h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
.meta, .note { color: #555; } .note { font-size: .9em; }
table { border-collapse: collapse; margin: .4rem 0 1rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; } thead th { border-bottom: 1px solid #1b1b1b; }
.met { color: #17623a; font-weight: 600; } .missed { color: #a3261b; font-weight: 600; }
.met, .missed { white-space: nowrap; } th.made-of, td.made-of { text-align: left; font-size: .9em; color: #444; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: .8rem; }
.card { border: 1px solid #ccc; border-radius: 4px; padding: .5rem .7rem; break-inside: avoid; }
.card h3 { margin: 0 0 .3rem; font-size: .95rem; } .card ul { list-style: none; padding: 0; margin: .3rem 0 0; }
svg.chart { display: block; margin: .3rem 0 .8rem; font-size: 11px; overflow: visible; }
svg .label, svg .value { fill: #1b1b1b; } svg .axis { stroke: #1b1b1b; stroke-width: 1; }
svg .mark.bar, svg .mark.actual { fill: #2b5d8a; }
svg .mark.target { fill: none; stroke: #1b1b1b; stroke-width: 1; stroke-dasharray: 3 2; }
section { break-inside: avoid-page; }
@media print { body { margin: 0; max-width: none; font-size: 10.5pt; } h2 { break-after: avoid; }
  .cards { grid-template-columns: repeat(3, 1fr); } }
"""


def render_monthly_page(document: Mapping[str, Any]) -> str:
    """The page for a /scorecard document as the API answers it (JSON: times as ISO strings)."""
    body = [
        _heading(document),
        _targets(document),
        sections.leads_needed(document),
        sections.revenue(document),
        sections.movement(document),
        sections.reasons(document),
        '<p class="note">Each number is defined in Lockstep\'s docs/scorecard.md; money is in the reporting'
        " currency, deals in another currency are counted and left out of sums. A dash is a figure that"
        " cannot be known yet.</p>",
    ]
    month = document["period"].get("month")
    title = f"Monthly review: {written(month, 'month')}" if month else "Review of a window"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _heading(document: Mapping[str, Any]) -> str:
    period = document["period"]
    named = (
        f"Monthly review: {figure('period.month', period['month'], 'month')}"
        if period.get("month")
        else "Review of a window"
    )
    return (
        f"<header><h1>{named}</h1>"
        f'<p class="meta">From {figure("period.from", period["from"], "date")} to'
        f" {figure('period.to', period['to'], 'date')} (the end excluded), on the"
        f" {figure('period.time_zone', period['time_zone'], 'text')} clock. Money in"
        f" {figure('currency', document['currency'], 'text')}. Contract"
        f" {figure('contract_version', document['contract_version'], 'text')}.</p></header>"
    )


def _targets(document: Mapping[str, Any]) -> str:
    rows = document["targets"]
    if not rows:
        return "<section><h2>Targets</h2><p>No targets are agreed in the contract.</p></section>"
    head = (
        "<thead><tr><th>Target</th><th>Owner</th><th>Target</th><th>Actual</th><th>Attainment</th>"
        '<th>Met</th><th class="made-of">Made of</th></tr></thead>'
    )
    body = "".join(_target_row(row) for row in rows)
    cards = "".join(_trend_card(row, document["period"].get("month")) for row in rows)
    return (
        '<section id="targets"><h2>Targets both teams signed</h2>'
        '<p class="note">Attainment is the actual as a share of the target (the target as a share of the'
        " actual where lower is better): above the target's own level is better than agreed.</p>"
        f"<table>{head}<tbody>{body}</tbody></table>"
        '<h3>Against the three months before</h3><p class="note">The dashed outline is the target,'
        f' the filled bar the actual.</p><div class="cards">{cards}</div></section>'
    )


def _target_row(row: Mapping[str, Any]) -> str:
    at, unit = path("targets", row["name"]), row["unit"]
    lower = " (lower is better)" if row.get("better") == "lower" else ""
    details = ", ".join(
        f"{escape(humanised(key))}: {figure(path(at, 'details', key), value, unit_of(value))}"
        for key, value in row["details"].items()
    )
    return (
        f'<tr><th scope="row">{escape(target_label(row["name"]))}{lower}</th>'
        f"<td>{figure(path(at, 'owner'), row['owner'], 'text')}</td>"
        f"<td>{figure(path(at, 'target'), row['target'], unit)}"
        f" {figure(path(at, 'overridden'), row['overridden'], 'flag')}</td>"
        f"<td>{figure(path(at, 'actual'), row['actual'], unit)}</td>"
        f"<td>{figure(path(at, 'attainment'), row['attainment'], 'rate')}</td>"
        f"<td>{figure(path(at, 'met'), row['met'], 'met')}</td>"
        f'<td class="made-of">{details}</td></tr>'
    )


def _trend_card(row: Mapping[str, Any], month: str | None) -> str:
    at, unit = path("targets", row["name"]), row["unit"]
    months = [
        Month(
            path(at, "trend", i, "month"),
            before["month"],
            path(at, "trend", i, "target"),
            before["target"],
            path(at, "trend", i, "actual"),
            before["actual"],
        )
        for i, before in enumerate(row["trend"])
    ]
    months.append(Month("period.month", month, path(at, "target"), row["target"], path(at, "actual"), row["actual"]))
    lines = "".join(
        f"<li>{figure(path(at, 'trend', i, 'month'), before['month'], 'text')}:"
        f" {figure(path(at, 'trend', i, 'actual'), before['actual'], unit)} of"
        f" {figure(path(at, 'trend', i, 'target'), before['target'], unit)}"
        f" {figure(path(at, 'trend', i, 'overridden'), before['overridden'], 'flag')}"
        f" ({figure(path(at, 'trend', i, 'attainment'), before['attainment'], 'rate')},"
        f" {figure(path(at, 'trend', i, 'met'), before['met'], 'met')})</li>"
        for i, before in enumerate(row["trend"])
    )
    chart = trend(f"trend-{row['name']}", f"{target_label(row['name'])}: target and actual by month", months)
    return f'<div class="card"><h3>{escape(target_label(row["name"]))}</h3>{chart}<ul>{lines}</ul></div>'
