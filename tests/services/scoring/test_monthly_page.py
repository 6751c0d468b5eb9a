"""The monthly page of the hand-computed story (test_scorecard_story.py): every number it prints is
the API's, every number of the API is printed, and each chart has one mark per value, to scale."""

from __future__ import annotations

from services.scoring.domain.periods import month_period
from services.scoring.reports.monthly import month_page, render_monthly_page
from services.scoring.reports.scorecard import scorecard_document, scorecard_report
from tests.support import scorecard_story as story
from tests.support.monthly_page import PrintedPage, assert_drawn_to_scale, assert_printed_as

told = story.told  # the story applied by the scoring handler, on SQLite and PostgreSQL


async def _document(told, month: str, model: str | None = None) -> dict:
    if month == "2026-11":
        return scorecard_document(await story.scorecard(told, model))
    sessions, engine = told
    async with sessions() as session:
        report = await scorecard_report(
            session,
            engine.contract,
            engine.calendar,
            month_period(month, engine.calendar.zone),
            model or engine.contract.attribution.default_model,
            story.NOW,
        )
    return scorecard_document(report)


def _first_printed(page: PrintedPage) -> dict[str, str]:
    """Each path's text where the page first prints it (the heading's month before the charts')."""
    found: dict[str, str] = {}
    for path, _, text in page.figures:
        found.setdefault(path, text)
    return found


def _trend_points(row: dict) -> list[str]:
    at = f"targets.{row['name']}"
    points = [
        f"{at}.trend.{i}.{part}"
        for i, month in enumerate(row["trend"])
        for part in ("target", "actual")
        if month[part] is not None
    ]
    return points + [f"{at}.{part}" for part in ("target", "actual") if row[part] is not None]


async def test_every_number_is_the_apis_and_every_chart_draws_them(told):
    document = await _document(told, "2026-11")
    html = render_monthly_page(document)
    page = PrintedPage(html)
    assert_printed_as(document, page)

    # The figures the story computed by hand, as the page writes them.
    printed = _first_printed(page)
    assert printed["period.month"] == "November 2026"
    assert printed["targets.mqls_created.actual"] == "5"
    assert printed["targets.mqls_created.attainment"] == "125%"
    assert printed["targets.mqls_created.trend.2.target"] == "3"
    assert printed["targets.mqls_created.trend.2.overridden"] == "overridden"
    assert printed["targets.revenue_won.actual"] == "20,000"
    assert printed["targets.median_time_to_first_touch.actual"] == "2h"
    assert printed["targets.median_time_to_first_touch.trend.2.actual"] == "30m"
    assert printed["leads_needed.rates.0.rate"] == "66.67%"
    assert printed["leads_needed.steps.leads_needed.needed"] == "12"
    assert printed["revenue.by_campaign.1.amount"] == "4,200"
    assert printed["reasons.lost.by_code.0.label"] == "Lost on price"

    # Targets against actuals, each with its three months before.
    for row in document["targets"]:
        assert_drawn_to_scale(document, page, f"trend-{row['name']}", _trend_points(row))
    # The reverse waterfall, the revenue credit under the model, the reasons by code.
    steps = [f"leads_needed.steps.{s}.needed" for s in ("deals_needed", "sqls_needed", "mqls_needed", "leads_needed")]
    assert_drawn_to_scale(document, page, "leads-needed", steps)
    kinds = ("won", "marketing_influenced", "marketing_sourced", "unattributed")
    assert_drawn_to_scale(document, page, "revenue-summary", [f"revenue.{k}.amount" for k in kinds])
    assert_drawn_to_scale(
        document, page, "revenue-by-campaign", ["revenue.by_campaign.0.amount", "revenue.by_campaign.1.amount"]
    )
    assert_drawn_to_scale(
        document, page, "revenue-by-channel", ["revenue.by_channel.0.amount", "revenue.by_channel.1.amount"]
    )
    for kind in ("rejected", "disqualified", "lost"):
        assert_drawn_to_scale(document, page, f"reasons-{kind}", [f"reasons.{kind}.by_code.0.count"])
    assert len(page.charts) == len(document["targets"]) + 7

    # One file, nothing fetched, nothing run.
    for outside in ("://", "<script", "<link", "<img", "<iframe", "src=", "@import", "url("):
        assert outside not in html, outside


async def test_a_quiet_month_prints_what_cannot_be_known(told):
    """August: one lead, nothing decided, no quota reachable (no deal won in the trailing window)."""
    document = await _document(told, "2026-08")
    page = PrintedPage(render_monthly_page(document))
    assert_printed_as(document, page)
    printed = _first_printed(page)
    assert printed["targets.mql_acceptance_rate.actual"] == "–"
    assert printed["leads_needed.steps.deals_needed.needed"] == "–"
    assert "no deal was won" in printed["leads_needed.steps.deals_needed.unknown_because"]
    assert page.charts["leads-needed"] == []  # no figure, no mark
    assert "reasons-lost" not in page.charts  # nothing lost: no chart, and no empty one


async def test_the_page_follows_the_model_asked_for(told):
    sessions, engine = told
    async with sessions() as session:
        html = await month_page(
            session,
            engine.contract,
            engine.calendar,
            month_period("2026-11", engine.calendar.zone),
            "first_touch",
            story.NOW,
        )
    document = await _document(told, "2026-11", "first_touch")
    page = PrintedPage(html)
    assert_printed_as(document, page)
    assert _first_printed(page)["revenue.by_campaign.0.amount"] == "20,000"
    assert_drawn_to_scale(document, page, "revenue-by-campaign", ["revenue.by_campaign.0.amount"])
