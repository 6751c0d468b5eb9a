"""GET /reports and GET /reports/{month} over HTTP, for the viewer role: the stored reviews as they were
produced, the page by default, the document as JSON; a bad month is a 400 problem naming it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.scoring.app import create_app
from services.scoring.domain.periods import month_period
from services.scoring.reports.monthly import render_monthly_page
from services.scoring.reports.monthly.archive import store_once
from services.scoring.reports.monthly.month import month_document
from tests.services.scoring.test_monthly_reports import settings_for
from tests.support import scorecard_story as story
from tests.support.access import bearer, issue_key
from tests.support.apps import running

pytestmark = pytest.mark.kafka
told = story.told
PRODUCED = datetime(2026, 12, 1, 0, 1, tzinfo=UTC)


async def test_the_stored_reviews_over_http(told, database_url, kafka_bootstrap, topic_prefix, tmp_path):
    sessions, engine = told
    settings = await settings_for(told, database_url, kafka_bootstrap, topic_prefix, tmp_path)
    documents = {}
    async with sessions() as session, session.begin():
        for month in ("2026-10", "2026-11"):
            period = month_period(month, engine.calendar.zone)
            documents[month] = await month_document(session, engine.contract, engine.calendar, period, None, PRODUCED)
            html = render_monthly_page(documents[month])
            assert await store_once(session, month, documents[month], html, PRODUCED, engine.contract.version)
    viewer = bearer(await issue_key(kafka_bootstrap, topic_prefix, "viewer"))

    async with running(create_app(settings), "http://scoring") as client:
        for path in ("/reports", "/reports/2026-11", "/reports/2026-11.json"):
            refused = await client.get(path)
            assert refused.status_code == 401, (path, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"

        listing = await client.get("/reports", headers=viewer)
        assert listing.status_code == 200, listing.text
        assert listing.json() == {
            "reports": [
                {
                    "month": month,
                    "produced_at": "2026-12-01T00:01:00+00:00",
                    "contract_version": engine.contract.version,
                    "links": {"html": f"/reports/{month}", "json": f"/reports/{month}.json"},
                }
                for month in ("2026-11", "2026-10")  # newest first
            ]
        }

        page = await client.get("/reports/2026-11", headers={**viewer, "Accept": "text/html,*/*;q=0.8"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.text == render_monthly_page(documents["2026-11"])
        assert "default-src 'none'" in page.headers["content-security-policy"]  # the page runs and fetches nothing
        assert (await client.get("/reports/2026-10", headers=viewer)).text == render_monthly_page(documents["2026-10"])
        for asked in ({"Accept": "application/json"}, {}):
            path = "/reports/2026-11" if asked else "/reports/2026-11.json"
            document = await client.get(path, headers={**viewer, **asked})
            assert document.status_code == 200 and document.headers["content-type"] == "application/json", path
            assert document.json() == documents["2026-11"]

        for path, status, named in (
            ("/reports/2026-13", 400, "2026-13"),
            ("/reports/november", 400, "november"),
            ("/reports/2026-1.json", 400, "2026-1"),
            ("/reports/2026-09", 404, "2026-09"),
            ("/reports/2026-09.json", 404, "2026-09"),
        ):
            bad = await client.get(path, headers=viewer)
            assert bad.status_code == status, (path, bad.text)
            assert bad.headers["content-type"] == "application/problem+json"
            assert "month" in bad.json()["detail"] and named in bad.json()["detail"], bad.json()
