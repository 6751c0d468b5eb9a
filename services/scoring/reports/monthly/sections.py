"""The monthly page's sections after the targets: leads needed for the quota, revenue by what
created it, how leads moved (conversion, cycle, touches), and why leads and deals were turned down.

Each takes the whole /scorecard document and writes its part; every value printed is a figure
(figures.py) and every chart is drawn from the same values (charts.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from services.scoring.reports.monthly.charts import Bar, bars
from services.scoring.reports.monthly.figures import figure, path

STEPS = {"deals_needed": "Deals", "sqls_needed": "SQLs", "mqls_needed": "MQLs", "leads_needed": "Leads"}
CREDITED = {
    "won": "Revenue won",
    "marketing_influenced": "Marketing-influenced",
    "marketing_sourced": "Marketing-sourced",
    "unattributed": "Unattributed (no touch that counts)",
}
TURNED_DOWN = {
    "rejected": "MQLs sales sent back",
    "disqualified": "Leads disqualified",
    "lost": "Deals lost",
}
WHERE_FROM = {"lead_source": "lead source", "campaign": "campaign", "mql_rule": "MQL rule"}


def leads_needed(document: Mapping[str, Any]) -> str:
    """The reverse waterfall: the figures, then every input they are worked out from."""
    needed, at = document["leads_needed"], "leads_needed"
    chart = bars(
        "leads-needed",
        "Needed to make the quota",
        [
            Bar(
                escape(f"{STEPS.get(s['name'], s['name'])} needed"),
                path(at, "steps", s["name"], "needed"),
                s["needed"],
                "count",
            )
            for s in needed["steps"]
        ],
    )
    steps = "".join(
        f"<tr><td>{escape(STEPS.get(s['name'], s['name']))}</td>"
        f"<td>{escape(s['of'])} / {escape(s['divided_by'])}, rounded up</td>"
        f"<td>{figure(path(at, 'steps', s['name'], 'needed'), s['needed'], 'count')}"
        + (
            f"<br>unknown: {figure(path(at, 'steps', s['name'], 'unknown_because'), s['unknown_because'], 'text')}"
            if s.get("unknown_because")
            else ""
        )
        + "</td></tr>"
        for s in needed["steps"]
    )
    rates = "".join(
        f"<tr><td>{figure(path(at, 'rates', i, 'from'), r['from'], 'text')} to"
        f" {figure(path(at, 'rates', i, 'to'), r['to'], 'text')}</td>"
        f"<td>{figure(path(at, 'rates', i, 'cohort'), r['cohort'], 'count')}</td>"
        f"<td>{figure(path(at, 'rates', i, 'converted'), r['converted'], 'count')}</td>"
        f"<td>{figure(path(at, 'rates', i, 'rate'), r['rate'], 'rate')}</td></tr>"
        for i, r in enumerate(needed["rates"])
    )
    trailing = needed["trailing"]
    return (
        '<section id="leads-needed"><h2>Leads needed for the quota</h2>'
        f"<p>Quota {figure(path(at, 'quota'), needed['quota'], 'money')} for"
        f" {figure(path(at, 'month'), needed['month'], 'month')}. Average won deal size"
        f" {figure(path(at, 'average_won_deal_size'), needed['average_won_deal_size'], 'money')}, from"
        f" {figure(path(at, 'trailing', 'from'), trailing['from'], 'date')} to"
        f" {figure(path(at, 'trailing', 'to'), trailing['to'], 'date')}: deals won"
        f" {figure(path(at, 'won_deals'), needed['won_deals'], 'count')}, for"
        f" {figure(path(at, 'won_amount'), needed['won_amount'], 'money')}; won in another currency, left out:"
        f" {figure(path(at, 'won_deals_other_currency'), needed['won_deals_other_currency'], 'count')}.</p>"
        f"{chart}<table><thead><tr><th>Step</th><th>Worked out as</th><th>Needed</th></tr></thead>"
        f"<tbody>{steps}</tbody></table>"
        "<h3>The rates, from the cohorts of the same trailing window</h3>"
        "<table><thead><tr><th>From</th><th>Cohort</th><th>Went on</th><th>Rate</th></tr></thead>"
        f"<tbody>{rates}</tbody></table></section>"
    )


def revenue(document: Mapping[str, Any]) -> str:
    """Revenue won, what marketing sourced and influenced, and the credit by campaign and channel."""
    found, at = document["revenue"], "revenue"
    rows = "".join(
        f"<tr><td>{escape(label)}</td><td>{figure(path(at, key, 'deals'), found[key]['deals'], 'count')}</td>"
        f"<td>{figure(path(at, key, 'amount'), found[key]['amount'], 'money')}</td></tr>"
        for key, label in CREDITED.items()
    )
    summary = bars(
        "revenue-summary",
        "Revenue won and what marketing sourced and influenced",
        [Bar(escape(label), path(at, key, "amount"), found[key]["amount"], "money") for key, label in CREDITED.items()],
    )
    return (
        '<section id="revenue"><h2>Revenue won, credited to what created it</h2>'
        f"<p>Credited under the {figure(path(at, 'model'), found['model'], 'text')} attribution model."
        " Marketing-sourced share:"
        f" {figure(path(at, 'marketing_sourced_share'), found['marketing_sourced_share'], 'rate')}."
        f" Won in another currency (counted, not summed):"
        f" {figure(path(at, 'won', 'other_currency'), found['won']['other_currency'], 'count')}.</p>"
        "<table><thead><tr><th></th><th>Deals</th><th>Amount</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{summary}"
        f"<h3>By campaign</h3>{_credits(found['by_campaign'], 'campaign', '(no campaign)')}"
        f"<h3>By channel</h3>{_credits(found['by_channel'], 'channel', '(no channel)')}</section>"
    )


def _credits(credited: list[Mapping[str, Any]], key: str, nameless: str) -> str:
    if not credited:
        return "<p>Nothing credited.</p>"
    rows = []
    for i, row in enumerate(credited):
        at = path("revenue", f"by_{key}", i)
        name = row[key]
        markup = figure(path(at, key), name, "text", tag="tspan") if name is not None else escape(nameless)
        rows.append(Bar(markup, path(at, "amount"), row["amount"], "money"))
    return bars(f"revenue-by-{key}", f"Revenue won by {key}", rows)


def movement(document: Mapping[str, Any]) -> str:
    """Cohort conversion with each cohort's age, the sales cycle overall and per stage, touches."""
    conversion = "".join(
        f"<tr><td>{figure(path('conversion', i, 'from'), c['from'], 'text')} to"
        f" {figure(path('conversion', i, 'to'), c['to'], 'text')}</td>"
        f"<td>{figure(path('conversion', i, 'cohort'), c['cohort'], 'count')}</td>"
        f"<td>{figure(path('conversion', i, 'converted'), c['converted'], 'count')}</td>"
        f"<td>{figure(path('conversion', i, 'rate'), c['rate'], 'rate')}</td>"
        f"<td>{figure(path('conversion', i, 'age_days', 'youngest'), c['age_days']['youngest'], 'count')} to"
        f" {figure(path('conversion', i, 'age_days', 'oldest'), c['age_days']['oldest'], 'count')}</td></tr>"
        for i, c in enumerate(document["conversion"])
    )
    cycle = document["sales_cycle"]
    stages = "".join(
        f"<tr><td>{escape(stage)}</td>{_days(path('sales_cycle', 'per_stage', stage), stay, 'stays')}</tr>"
        for stage, stay in cycle["per_stage"].items()
    )
    touches = "".join(
        f"<tr><td>{label}</td>"
        + "".join(
            f"<td>{figure(path('touches', key, part), document['touches'][key][part], 'count')}</td>"
            for part in ("leads", "median", "p90")
        )
        + "</tr>"
        for key, label in (("before_lead", "Before becoming a lead"), ("before_mql", "Before becoming an MQL"))
    )
    return (
        '<section id="movement"><h2>How leads moved</h2>'
        '<h3>Cohort conversion</h3><p class="note">Of the leads that first reached a stage in the month,'
        " how many went on, up to now; a young cohort has had little time.</p>"
        "<table><thead><tr><th>From</th><th>Cohort</th><th>Went on</th><th>Rate</th>"
        f"<th>Cohort age, days</th></tr></thead><tbody>{conversion}</tbody></table>"
        "<h3>Sales cycle</h3><p>From the lead's first event to the won deal's close, over the deals won"
        f" (deals won without a lead, left out:"
        f" {figure('sales_cycle.deals_without_lead', cycle['deals_without_lead'], 'count')}); per stage, the"
        " stays that ended in the month.</p>"
        "<table><thead><tr><th></th><th>Counted</th><th>Median, days</th><th>p90, days</th>"
        "<th>Median, business days</th><th>p90, business days</th></tr></thead><tbody>"
        f"<tr><td>Lead to won</td>{_days('sales_cycle', cycle, 'deals')}</tr>{stages}</tbody></table>"
        "<h3>Marketing touches</h3><table><thead><tr><th></th><th>Leads</th><th>Median</th><th>p90</th>"
        f"</tr></thead><tbody>{touches}</tbody></table></section>"
    )


def _days(at: str, found: Mapping[str, Any], counted: str) -> str:
    cells = [figure(path(at, counted), found[counted], "count")] + [
        figure(path(at, clock, part), found[clock][part], "days")
        for clock in ("calendar_days", "business_days")
        for part in ("median", "p90")
    ]
    return "".join(f"<td>{cell}</td>" for cell in cells)


def reasons(document: Mapping[str, Any]) -> str:
    """Per kind: the agreed codes as a chart, then where the turned-down leads came from."""
    parts = ['<section id="reasons"><h2>Why leads and deals were turned down</h2>']
    for kind, title in TURNED_DOWN.items():
        found, at = document["reasons"][kind], path("reasons", kind)
        parts.append(f"<h3>{escape(title)}: {figure(path(at, 'total'), found['total'], 'count')}</h3>")
        if not found["by_code"]:
            parts.append("<p>None.</p>")
            continue
        parts.append(
            bars(
                f"reasons-{kind}",
                f"{title} by reason",
                [_reason_bar(path(at, "by_code", i), row) for i, row in enumerate(found["by_code"])],
            )
        )
        rows = "".join(
            f"<tr><td>{escape(where)}: {_named(path(at, f'by_{key}', i, key), row[key], '(none)')}</td>"
            f"<td>{_named(path(at, f'by_{key}', i, 'code'), row['code'], '(uncoded)')}</td>"
            f"<td>{figure(path(at, f'by_{key}', i, 'count'), row['count'], 'count')}</td></tr>"
            for key, where in WHERE_FROM.items()
            for i, row in enumerate(found[f"by_{key}"])
        )
        parts.append(
            "<table><thead><tr><th>Where from</th><th>Code</th><th>Count</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    return "".join(parts) + "</section>"


def _reason_bar(at: str, row: Mapping[str, Any]) -> Bar:
    label = figure(path(at, "label"), row["label"], "text", tag="tspan")
    if row["code"] is None:
        return Bar(label, path(at, "count"), row["count"], "count")
    code = figure(path(at, "code"), row["code"], "text", tag="tspan")
    return Bar(f"{label} ({code})", path(at, "count"), row["count"], "count")


def _named(at: str, value: str | None, nameless: str) -> str:
    return figure(at, value, "text") if value is not None else escape(nameless)
