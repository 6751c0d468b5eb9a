"""The scorecard page's server side: a page whose every file is local, linked with the ops dashboard,
and its data route, which needs a viewer's session, names a month or model it cannot read, and says
so with a problem when scoring cannot be asked. The figures it passes through are the browser test's
(test_scorecard_browser.py), on a real scoring service."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from services.sla.app import create_app
from services.sla.dashboard.scorecard import last_finished_month
from services.sla.settings import SlaSettings
from tests.support.access import bearer, issue_key
from tests.support.apps import running
from tests.support.servers import free_port

BASE = "http://sla"
DATA = "/dashboard/scorecard/data"


def _settings(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, scoring_key: str | None) -> SlaSettings:
    return SlaSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        topic_partitions=1,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/sla.db",
        scoring_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: scoring is down
        scoring_key=SecretStr(scoring_key) if scoring_key else None,
    )


class _References(HTMLParser):
    """The page's base, and every URL it makes the browser load or links to (src and href)."""

    def __init__(self) -> None:
        super().__init__()
        self.base: str | None = None
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value for name, value in attrs if value is not None}
        if tag == "base":
            self.base = found["href"]
        else:
            self.urls += [(tag, found[name]) for name in ("src", "href") if name in found]


def _references(page: httpx.Response) -> tuple[str, list[tuple[str, str]]]:
    """The page's base URL and its references, each resolved as a browser does, as paths."""
    found = _References()
    found.feed(page.text)
    base = urljoin(str(page.url), found.base or "")
    for tag, url in found.urls:
        # Relative, so same-origin wherever the service is mounted: no scheme, no host, no root.
        assert not re.match(r"^([a-z][a-z0-9+.-]*:|//|/)", url, re.IGNORECASE), f"<{tag}> loads {url}"
    return urlsplit(base).path, [(tag, urlsplit(urljoin(base, url)).path) for tag, url in found.urls]


@pytest.mark.kafka
async def test_the_page_loads_only_its_own_files_and_links_to_the_ops_dashboard(
    kafka_bootstrap, topic_prefix, tmp_path
):
    async with running(create_app(_settings(kafka_bootstrap, topic_prefix, tmp_path, None)), BASE) as client:
        # No key: the pages and their files hold no data and load for anyone (the page asks for a key).
        page, dashboard = await client.get("/dashboard/scorecard"), await client.get("/dashboard")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for header in ("content-security-policy", "referrer-policy", "x-content-type-options"):
            assert page.headers[header] == dashboard.headers[header], header
        root, references = _references(page)
        assert root == "/", "the page's URLs resolve from the service's root, as the ops dashboard's"
        assert ("a", "/dashboard") in references and ("a", "/dashboard/scorecard") in _references(dashboard)[1]

        scripts = []
        for tag, url in references:
            response = await client.get(url)
            assert response.status_code == 200, url
            if tag == "script":
                scripts.append(response)
        assert {url for tag, url in references if tag == "link"} >= {
            "/dashboard/static/dashboard.css",
            "/dashboard/static/scorecard.css",
        }
        loaded = {urlsplit(str(r.url)).path.rsplit("/", 1)[-1] for r in scripts}
        for script in scripts:  # ES module imports are loads too, each from the list of served files
            for imported in re.findall(r"""^import .* from ["']([^"']+)["']""", script.text, re.MULTILINE):
                assert imported.startswith("./"), imported
                if imported[2:] not in loaded:
                    loaded.add(imported[2:])
                    scripts.append(await client.get(f"/dashboard/static/{imported[2:]}"))
                    assert scripts[-1].status_code == 200, imported
        assert loaded == {
            "scorecard.js",
            "scorecard-figures.js",
            "scorecard-targets.js",
            "scorecard-panels.js",
            "charts.js",
            "session.js",
        }
        for response in [page, *scripts]:
            # The SVG namespace is an identifier the DOM API needs, never fetched.
            absolute = set(re.findall(r"https?://[^\s\"'`)]+", response.text)) - {"http://www.w3.org/2000/svg"}
            assert not absolute, (response.url, absolute)
        assert "dashboard/scorecard/data" in scripts[0].text


@pytest.mark.kafka
async def test_the_data_needs_a_session_and_names_what_it_cannot_read(kafka_bootstrap, topic_prefix, tmp_path):
    viewer = await issue_key(kafka_bootstrap, topic_prefix, "viewer", name="head-of-marketing")
    settings = _settings(kafka_bootstrap, topic_prefix, tmp_path, "lsk_the_pages_own_key")
    async with running(create_app(settings), BASE) as client:
        anonymous = await client.get(DATA, params={"month": "2026-11"})
        assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"

        signed_in = await client.post("/dashboard/session", json={"key": viewer})
        assert signed_in.status_code == 200, signed_in.text
        session = {"Cookie": f"lockstep_session={signed_in.cookies['lockstep_session']}"}
        for month in ("2026-13", "2026-00", "2026-1", "Nov-26", "2026-11-01", "2026-11&model=linear"):
            refused = await client.get(DATA, params={"month": month}, headers=session)
            assert refused.status_code == 400 and refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["detail"].startswith(("month: ", "query month: ")), refused.json()
        refused = await client.get(DATA, params={"month": "2026-11", "model": "u_shaped"}, headers=session)
        assert refused.status_code == 400 and refused.json()["detail"].startswith("query model: "), refused.json()

        # Read right, but scoring is down: the page is told so, and told to come back.
        for params in ({"month": "2026-11", "model": "linear"}, {}):
            gone = await client.get(DATA, params=params, headers=session)
            assert gone.status_code == 503 and gone.headers["content-type"] == "application/problem+json"
            problem = gone.json()
            assert "LOCKSTEP_SCORING_URL" in problem["detail"] and problem["instance"] == DATA, problem
            assert gone.headers["retry-after"]
        assert (await client.get("/readyz")).status_code == 200, "scoring down is the page's problem, not the service's"

    # Without a key of its own for scoring, the page cannot ask, and says which setting is missing.
    keyless = _settings(kafka_bootstrap, topic_prefix, tmp_path, None)
    async with running(create_app(keyless), BASE, bearer(viewer)) as client:
        unkeyed = await client.get(DATA, params={"month": "2026-11"})
        assert unkeyed.status_code == 503 and "LOCKSTEP_SCORING_KEY" in unkeyed.json()["detail"]
        document = (await client.get("/openapi.json")).json()
        assert set(document["paths"][DATA]["get"]["responses"]) >= {"200", "400", "502", "503"}


@pytest.mark.parametrize(
    ("zone", "now", "month"),
    [
        ("UTC", datetime(2026, 11, 28, 10, 0, tzinfo=UTC), "2026-10"),
        ("UTC", datetime(2026, 1, 1, 0, 0, tzinfo=UTC), "2025-12"),
        # 1 December at 03:00 UTC is still 30 November in New York: October is the last finished month there.
        ("America/New_York", datetime(2026, 12, 1, 3, 0, tzinfo=UTC), "2026-10"),
        ("Asia/Tokyo", datetime(2026, 11, 30, 16, 0, tzinfo=UTC), "2026-11"),
    ],
)
def test_the_page_opens_on_the_last_finished_month_on_the_reporting_clock(zone, now, month):
    assert last_finished_month(ZoneInfo(zone), now) == month
