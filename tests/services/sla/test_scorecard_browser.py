"""The scorecard page in a real browser, on the hand-computed story of the scorecard
(tests/services/scoring/test_scorecard_story.py): the story applied by the scoring handler to a
database, scoring and SLA as processes on the broker reading it, the page loaded in headless
chromium (driven by tests/browser/scorecard.mjs). A head of sales signs in with a viewer key; the
page opens on the last finished month; November is picked, and every figure drawn is the API's
answer for that month and model, every number of the answer is drawn (but a few, named below),
no number is drawn that is not one, and each chart is to scale. Switching the model redraws the
revenue credit under it. The links lead to the ops dashboard and back on the same session.

Saves the page to var/screenshots/scorecard.png, which git ignores, so a test run leaves the tree
clean; `make screenshots` runs this test and copies it over the documented docs/scorecard.png.
"""

from __future__ import annotations

import asyncio
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from services.sla.dashboard.scorecard import last_finished_month
from tests.support import scorecard_story as story
from tests.support.access import bearer, issue_key
from tests.support.browser import BROWSER, browser_tools
from tests.support.infra import REPO
from tests.support.monthly_page import at, numeric_leaves, read
from tests.support.servers import spawn_service

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
SCREENSHOT = REPO / "var" / "screenshots" / "scorecard.png"
MONTH = "2026-11"
told = story.told  # the story applied by the scoring handler
# Numbers of the answer the page leaves out: each past month's attainment (its columns show actual
# and target), and the reasons by lead source and by MQL rule (the page shows them by campaign).
UNDRAWN = re.compile(r"targets\.\w+\.trend\.\d\.attainment|reasons\.\w+\.by_(lead_source|mql_rule)\.\d+\.count")
AGES = re.compile(r"conversion\.\d+\.age_days\.\w+")  # days since the month: they follow the clock


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """One backend is enough here: the story's figures on both are the scoring tests' concern."""
    return f"sqlite+aiosqlite:///{tmp_path}/scoring.db"


def _assert_drawn_as(documents: list[dict], drawn: dict) -> None:
    """Every figure on screen equals the answer's value at its path (ages: the answer's before or
    after the page was read); every number of the answer is on screen but the UNDRAWN ones; no
    number is on screen that is not a figure; chart marks carry the answer's values, to scale."""
    document = documents[0]
    assert drawn["stray"] == [], drawn["stray"]
    for figure in drawn["figures"]:
        path, unit, text = figure["metric"], figure["unit"], figure["text"]
        expected = [at(d, path) for d in documents] if AGES.fullmatch(path) else [at(document, path)]
        if text is None:  # a chart mark
            assert float(figure["value"]) in expected, figure
        elif unit == "text":  # a name: a long one is clipped to fit its chart
            assert text == expected[0] or (text.endswith("…") and expected[0].startswith(text[:-1])), figure
        elif unit == "flag":
            assert text == "overridden" and expected[0] is True, figure
        elif unit == "date":
            assert text == expected[0][:10], figure
        elif unit == "money":  # credits are exact; the page writes cents
            assert abs(read(text, unit) - expected[0]) < 0.005 if expected[0] is not None else text == "–", figure
        else:
            assert read(text, unit) in expected, figure
    shown = {f["metric"] for f in drawn["figures"]}
    missing = [p for p in numeric_leaves(document) if p not in shown and not UNDRAWN.fullmatch(p)]
    assert not missing, f"numbers of the answer the page does not draw: {missing}"
    for name in ("period.month", "currency", "contract_version", "revenue.model"):
        assert name in shown, name

    charts: dict[str, list[tuple[float, float]]] = {}
    for figure in drawn["figures"]:
        if figure["text"] is None:
            charts.setdefault(figure["chart"], []).append((float(figure["value"]), float(figure["length"])))
    # A chart for every series with a value to draw (a quiet month draws no empty ones).
    marked = {
        **{
            f"trend-{row['name']}": [row["target"], row["actual"]]
            + [m[k] for m in row["trend"] for k in ("target", "actual")]
            for row in document["targets"]
        },
        "leads-needed": [step["needed"] for step in document["leads_needed"]["steps"]],
        "revenue-by-campaign": [row["amount"] for row in document["revenue"]["by_campaign"]],
        "revenue-by-channel": [row["amount"] for row in document["revenue"]["by_channel"]],
        **{f"reasons-{kind}": [r["count"] for r in found["by_code"]] for kind, found in document["reasons"].items()},
    }
    assert set(charts) == {name for name, values in marked.items() if any(v is not None for v in values)}, charts
    for chart, marks in charts.items():
        highest, longest = max(marks)
        scale = longest / highest if highest else 0.0
        for value, length in marks:
            # One scale from zero; a bar too short to see is drawn 2 px wide.
            assert abs(length - value * scale) <= 0.01 or (0 < value * scale < 2 and length == 2), (chart, marks)


def _texts(drawn: dict, pattern: str) -> dict[str, str]:
    return {
        f["metric"]: f["text"] for f in drawn["figures"] if f["text"] is not None and re.fullmatch(pattern, f["metric"])
    }


async def test_the_numbers_drawn_are_the_apis(told, database_url, kafka_bootstrap, topic_prefix, tmp_path):
    node, chromium = browser_tools()
    env = {
        "LOCKSTEP_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "LOCKSTEP_TOPIC_PREFIX": topic_prefix,
        "LOCKSTEP_TOPIC_PARTITIONS": "1",
        "LOCKSTEP_CONTRACT": str(tmp_path / "story.yaml"),  # written by the story's fixture
        "LOCKSTEP_LOG_LEVEL": "WARNING",
    }
    person = await issue_key(kafka_bootstrap, topic_prefix, "viewer", name="head-of-sales")  # pasted in the page
    page_key = await issue_key(kafka_bootstrap, topic_prefix, "viewer", name="sla-dashboard")
    reader = await issue_key(kafka_bootstrap, topic_prefix, "viewer", name="test-reader")
    scoring = spawn_service("scoring", {**env, "LOCKSTEP_DATABASE_URL": database_url}, tmp_path)
    sla = spawn_service(
        "sla",
        {
            **env,
            "LOCKSTEP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/sla.db",
            "LOCKSTEP_SCORING_URL": scoring.base_url,
            "LOCKSTEP_SCORING_KEY": page_key,
        },
        tmp_path,
    )
    browser = None
    try:
        await asyncio.to_thread(scoring.wait_ready)
        await asyncio.to_thread(sla.wait_ready)
        async with (
            httpx.AsyncClient(base_url=scoring.base_url, timeout=30, headers=bearer(reader)) as api,
            httpx.AsyncClient(base_url=sla.base_url, timeout=30, headers=bearer(reader)) as sla_api,
        ):

            async def scorecard(model: str, month: str = MONTH) -> dict:
                answer = await api.get("/scorecard", params={"month": month, "model": model})
                assert answer.status_code == 200, answer.text
                return answer.json()

            # The page's route is scoring's answer, and scoring's own refusals come through as they are.
            proxied = await sla_api.get("/dashboard/scorecard/data", params={"month": MONTH})
            assert proxied.status_code == 200 and proxied.headers["cache-control"] == "no-store"
            assert proxied.json() == (await api.get("/scorecard", params={"month": MONTH})).json()
            refused = await sla_api.get("/dashboard/scorecard/data", params={"month": "0999-01"})
            assert refused.status_code == 400 and refused.headers["content-type"] == "application/problem+json"
            assert (
                refused.json()["detail"] == (await api.get("/scorecard", params={"month": "0999-01"})).json()["detail"]
            )

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            opened_at = datetime.now(UTC)
            before = {m: await scorecard(m) for m in ("w_shaped", "first_touch")}
            last_month = last_finished_month(ZoneInfo("UTC"), opened_at)
            before_opened = await scorecard("w_shaped", last_month)
            browser = await asyncio.create_subprocess_exec(
                node,
                str(BROWSER / "scorecard.mjs"),
                sla.base_url,
                MONTH,
                "first_touch",
                str(SCREENSHOT),
                chromium,
                cwd=BROWSER,
                env={**os.environ, "LOCKSTEP_TEST_KEY": person},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            stdout, stderr = await asyncio.wait_for(browser.communicate(), 240)
            assert browser.returncode == 0, stderr.decode()
            after = {m: await scorecard(m) for m in ("w_shaped", "first_touch")}
            seen = orjson.loads(stdout)
            assert seen["problems"] == [], seen["problems"]

            # The page opens on the last finished month on the reporting clock (the story's is UTC),
            # under the contract's attribution model: today's, with or without the story in it.
            opened = seen["opened"]
            assert opened["month"] in {last_finished_month(ZoneInfo("UTC"), t) for t in (opened_at, datetime.now(UTC))}
            assert opened["model"] == "w_shaped" and opened["address"] == f"?month={opened['month']}&model=w_shaped"
            after_opened = await scorecard("w_shaped", opened["month"])
            _assert_drawn_as([after_opened, *([before_opened] if opened["month"] == last_month else [])], opened)

            drawn = seen["drawn"]
            assert (drawn["month"], drawn["model"]) == (MONTH, "w_shaped")
            assert drawn["picked"] == {"month": MONTH, "model": "w_shaped"}
            assert drawn["address"] == f"?month={MONTH}&model=w_shaped"
            _assert_drawn_as([before["w_shaped"], after["w_shaped"]], drawn)
            # A few of the figures the story computed by hand, as the page writes them.
            assert _texts(drawn, r"targets\.mqls_created\.(actual|attainment|met)") == {
                "targets.mqls_created.actual": "5",
                "targets.mqls_created.attainment": "125%",
                "targets.mqls_created.met": "met",
            }
            assert _texts(drawn, r"targets\.median_time_to_first_touch\.actual") == {
                "targets.median_time_to_first_touch.actual": "2h"
            }
            assert _texts(drawn, r"leads_needed\.(steps\.leads_needed\.needed|rates\.0\.rate)") == {
                "leads_needed.steps.leads_needed.needed": "12",
                "leads_needed.rates.0.rate": "66.67%",
            }

            # Another model: the revenue credit is redrawn under it, everything else stays the API's.
            switched = seen["switched"]
            assert (switched["month"], switched["model"]) == (MONTH, "first_touch")
            _assert_drawn_as([before["first_touch"], after["first_touch"]], switched)
            credit = r"revenue\.by_(campaign|channel)\.\d+\.(amount|campaign|channel)"
            assert _texts(drawn, credit) == {
                "revenue.by_campaign.0.campaign": "fall-webinar",
                "revenue.by_campaign.0.amount": "15,800",
                "revenue.by_campaign.1.campaign": "paid-search",
                "revenue.by_campaign.1.amount": "4,200",
                "revenue.by_channel.0.channel": "webinar",
                "revenue.by_channel.0.amount": "15,800",
                "revenue.by_channel.1.channel": "paid_search",
                "revenue.by_channel.1.amount": "4,200",
            }
            assert _texts(switched, credit) == {
                "revenue.by_campaign.0.campaign": "fall-webinar",
                "revenue.by_campaign.0.amount": "20,000",
                "revenue.by_channel.0.channel": "webinar",
                "revenue.by_channel.0.amount": "20,000",
            }

            assert seen["links"] == {
                "dashboard": "/dashboard",
                "scorecard": "/dashboard/scorecard",
                "signInShown": False,
            }
            assert SCREENSHOT.stat().st_size > 0
    finally:
        if browser is not None and browser.returncode is None:
            browser.kill()
            await browser.wait()
        sla.stop()
        scoring.stop()
