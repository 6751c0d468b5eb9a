"""The ops dashboard's server side, what the SLA service shows of its own: a page whose every file is
local (no other origin, no absolute URL, nothing outside its static folder), open timers counted per
policy and owner, and dead letters in the metrics and on the dead-letter panel. The funnel, which
comes from scoring, is test_dashboard_funnel.py's."""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import insert

from services.sla.app import create_app
from services.sla.tables import timers
from shared.bus import EventProducer, OutgoingRecord
from tests.support.access import bearer, issue_key
from tests.support.apps import running
from tests.support.servers import free_port
from tests.support.sla_dashboard import BASE, dashboard_settings

pytestmark = pytest.mark.kafka


class _References(HTMLParser):
    """Every URL the page makes the browser load: src and href attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [(tag, value) for name, value in attrs if name in ("src", "href") and value is not None]


def _is_local(url: str) -> bool:
    # Relative to the page, so same-origin wherever the service is mounted: no scheme, no host.
    return not re.match(r"^([a-z][a-z0-9+.-]*:|//|/)", url, re.IGNORECASE)


async def test_the_page_and_everything_it_loads_come_from_this_service(kafka_bootstrap, topic_prefix, tmp_path):
    settings = dashboard_settings(
        kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/sla.db", f"http://127.0.0.1:{free_port()}"
    )
    viewer = await issue_key(kafka_bootstrap, topic_prefix, "viewer")
    # No key: the page and its files hold no data and load for anyone (the page asks for a key).
    async with running(create_app(settings), BASE) as client:
        page = await client.get("/dashboard")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        references = _References()
        references.feed(page.text)
        tags = {tag for tag, _ in references.urls}
        assert {"script", "link"} <= tags, references.urls
        files = {}
        for tag, url in references.urls:
            assert _is_local(url), f"<{tag}> loads {url}"
            response = await client.get(f"/{url}")
            assert response.status_code == 200, url
            files[url] = response
        scripts = [r for r in files.values() if r.headers["content-type"].startswith("text/javascript")]
        assert scripts and any(r.headers["content-type"].startswith("text/css") for r in files.values())
        loaded = {url.rsplit("/", 1)[-1] for url, r in files.items() if r in scripts}
        for script in scripts:  # ES module imports are loads too, and so are theirs
            for imported in re.findall(r"""^import .* from ["']([^"']+)["']""", script.text, re.MULTILINE):
                assert imported.startswith("./"), imported
                if imported[2:] not in loaded:
                    loaded.add(imported[2:])
                    scripts.append(await client.get(f"/dashboard/static/{imported[2:]}"))
                    assert scripts[-1].status_code == 200, imported
        assert loaded == {
            "dashboard.js",
            "dashboard-alerts.js",
            "dashboard-elements.js",
            "dashboard-panels.js",
            "dashboard-pipeline.js",
            "charts.js",
            "session.js",
        }
        for response in [*files.values(), *scripts]:
            # The SVG namespace is an identifier the DOM API needs, never fetched.
            absolute = set(re.findall(r"https?://[^\s\"'`)]+", response.text)) - {"http://www.w3.org/2000/svg"}
            assert not absolute, (response.url, absolute)
        assert "EventSource" in "".join(s.text for s in scripts)

        for bad in ("../settings.py", "index.html.bak", "%2e%2e%2fsettings.py"):
            missing = await client.get(f"/dashboard/static/{bad}")
            assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json", bad
        document = await client.get("/openapi.json", headers=bearer(viewer))
        assert "/dashboard/funnel" in document.json()["paths"]


def _timer(n: int, policy: str, owner: str | None, status: str, next_due_at: datetime, breached: int = 0) -> dict:
    now = datetime.now(UTC)
    return {
        "timer_key": f"{policy}:lead{n}@acme.io:e{n}",
        "lead_key": f"lead{n}@acme.io",
        "policy": policy,
        "owner": owner,
        "team": None,
        "escalate_to": None,
        "contract_version": "t",
        "calendar": "always",
        "started_at": now,
        "target_s": 3600.0,
        "due": {"breached": next_due_at.isoformat()},
        "next_tier": "escalated" if breached else "warning",
        "next_due_at": next_due_at,
        "status": status,
        "breached": breached,
        "created_at": now,
    }


async def test_open_timers_are_counted_per_policy_and_owner(kafka_bootstrap, topic_prefix, database_url):
    settings = dashboard_settings(kafka_bootstrap, topic_prefix, database_url, f"http://127.0.0.1:{free_port()}")
    app = create_app(settings)
    viewer = await issue_key(kafka_bootstrap, topic_prefix, "viewer")
    async with running(app, BASE, bearer(viewer)) as client:
        assert (await client.get("/sla/timers/open")).json() == {"total": 0, "breached": 0, "groups": []}
        # Due tomorrow and later: the running scanner leaves these rows alone.
        soon, later = [(datetime.now(UTC) + timedelta(days=d)).replace(microsecond=0) for d in (1, 2)]
        rows = [
            _timer(1, "mql_first_touch", "rep-1", "open", later),
            _timer(2, "mql_first_touch", "rep-1", "open", soon, breached=1),
            _timer(3, "mql_first_touch", "rep-2", "open", later),
            _timer(4, "mql_first_touch", None, "open", later, breached=1),
            _timer(5, "mql_first_touch", "rep-1", "met", soon),
            _timer(6, "mql_accept_or_reject", "rep-1", "open", later),
            _timer(7, "sal_to_sql_or_reject", "rep-2", "cancelled", soon),
        ]
        async with app.state.service.runtime.sessions() as session, session.begin():
            await session.execute(insert(timers), rows)

        body = (await client.get("/sla/timers/open")).json()
        assert (body["total"], body["breached"]) == (5, 2)
        assert [(g["policy"], g["owner"], g["open"], g["breached"]) for g in body["groups"]] == [
            ("mql_accept_or_reject", "rep-1", 1, 0),
            ("mql_first_touch", "rep-1", 2, 1),
            ("mql_first_touch", "rep-2", 1, 0),
            ("mql_first_touch", None, 1, 1),
        ]
        soonest = {(g["policy"], g["owner"]): datetime.fromisoformat(g["next_due_at"]) for g in body["groups"]}
        assert soonest[("mql_first_touch", "rep-1")] == soon and soonest[("mql_accept_or_reject", "rep-1")] == later


async def _panel_once_kafka_answers(client) -> dict:
    """The panel answers 503 with Retry-After while Kafka cannot tell it about the dead-letter topic, as
    may happen just after start-up (the topic was just created, the broker busy): the page asks again."""
    deadline = asyncio.get_running_loop().time() + 30
    while (response := await client.get("/dashboard/deadletters")).status_code == 503:
        assert asyncio.get_running_loop().time() < deadline, response.text
        await asyncio.sleep(0.5)
    assert response.status_code == 200, response.text
    return response.json()


async def test_dead_letters_show_in_metrics_and_on_the_dashboard(kafka_bootstrap, topic_prefix, tmp_path):
    settings = dashboard_settings(
        kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/sla.db", f"http://127.0.0.1:{free_port()}"
    )
    lifecycle, events = f"{topic_prefix}lifecycle", f"{topic_prefix}events"
    viewer = await issue_key(kafka_bootstrap, topic_prefix, "viewer")
    async with running(create_app(settings), BASE, bearer(viewer)) as client:
        before = await _panel_once_kafka_answers(client)
        assert (before["records"], before["latest"]) == (0, [])
        # Shown at zero before anything failed; alerts is read for the monthly review's summary (reports.py).
        assert before["this_service"] == {lifecycle: 0, events: 0, f"{topic_prefix}alerts": 0}
        producer = EventProducer(kafka_bootstrap)
        await producer.start()
        try:  # a record that is no CloudEvent: the SLA consumer dead-letters it at once
            await producer.send(OutgoingRecord(lifecycle, "ada@acme.io", b"not an event", []))
        finally:
            await producer.stop()
        metric = f'lockstep_deadlettered_total{{topic="{lifecycle}"}} 1.0'
        deadline = asyncio.get_running_loop().time() + 30
        while metric not in (await client.get("/metrics")).text:
            assert asyncio.get_running_loop().time() < deadline, "the dead letter was not counted"
            await asyncio.sleep(0.1)
        assert f'lockstep_deadlettered_total{{topic="{events}"}} 0.0' in (await client.get("/metrics")).text

        await asyncio.sleep(5.1)  # the panel asks Kafka at most every 5 s
        panel = await client.get("/dashboard/deadletters")
        assert panel.status_code == 200 and panel.headers["cache-control"] == "no-store"
        body = panel.json()
        assert body["topic"] == f"{topic_prefix}deadletter" and body["records"] == 1
        assert body["this_service"] == {lifecycle: 1, events: 0, f"{topic_prefix}alerts": 0}
        [latest] = body["latest"]
        assert {k: v for k, v in latest.items() if k != "failed_at"} == {
            "topic": lifecycle,
            "consumer": f"{topic_prefix}sla",
            "error_type": "MalformedEvent",
            "type": None,
        }
        assert datetime.fromisoformat(latest["failed_at"]) <= datetime.now(UTC)
        assert "acme.io" not in panel.text  # the key is personal data: never shown
