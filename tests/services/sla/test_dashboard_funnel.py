"""The ops dashboard's funnel: scoring's own answer, fetched from a real scoring service and passed
through as it is (its problem documents too, and the scorecard page's for a month scoring refuses),
a problem document of its own when the URL reaches something other than scoring, when the dashboard
has no key for it or when scoring is gone; and a scoring URL that cannot work stopping the SLA
service at start-up, in one line."""

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.sla.app import create_app
from services.sla.settings import SlaSettings
from shared.settings import SettingsError, load_settings
from tests.support.access import bearer, issue_key
from tests.support.apps import running
from tests.support.funnel_story import publish, story, wait_for_story
from tests.support.infra import REPO
from tests.support.servers import free_port, spawn_service
from tests.support.sla_dashboard import BASE, dashboard_settings

pytestmark = pytest.mark.kafka


async def test_the_funnel_is_scorings_own_answer_and_a_problem_once_scoring_is_gone(
    kafka_bootstrap, topic_prefix, tmp_path
):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    await publish(kafka_bootstrap, f"{topic_prefix}events", story(t0))
    env = {
        "LOCKSTEP_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "LOCKSTEP_TOPIC_PREFIX": topic_prefix,
        "LOCKSTEP_TOPIC_PARTITIONS": "2",
        "LOCKSTEP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/scoring.db",
    }
    # The dashboard's own viewer key for scoring, a visitor's, and one that reads leads (the story's progress).
    funnel_key, visitor = [await issue_key(kafka_bootstrap, topic_prefix, "viewer") for _ in range(2)]
    operator = await issue_key(kafka_bootstrap, topic_prefix, "operator")
    scoring = spawn_service("scoring", env, tmp_path)
    try:
        await asyncio.to_thread(scoring.wait_ready)
        async with httpx.AsyncClient(base_url=scoring.base_url, timeout=10, headers=bearer(operator)) as direct:
            await wait_for_story(direct)

            # A URL that reaches something other than scoring's API is scoring's trouble, not the caller's.
            astray = dashboard_settings(
                kafka_bootstrap,
                topic_prefix,
                f"sqlite+aiosqlite:///{tmp_path}/sla-astray.db",
                f"{scoring.base_url}/not-scoring",
                funnel_key,
            )
            async with running(create_app(astray), BASE, bearer(visitor)) as client:
                wrong = await client.get("/dashboard/funnel")
                assert wrong.status_code == 502 and wrong.headers["content-type"] == "application/problem+json"
                assert wrong.json()["title"] == "Bad Gateway" and "answered 404" in wrong.json()["detail"]

            # Without a key of its own the dashboard cannot ask scoring, and says so.
            keyless = dashboard_settings(
                kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/sla-keyless.db", scoring.base_url
            )
            async with running(create_app(keyless), BASE, bearer(visitor)) as client:
                unkeyed = await client.get("/dashboard/funnel")
                assert unkeyed.status_code == 503 and "LOCKSTEP_SCORING_KEY" in unkeyed.json()["detail"]

            settings = dashboard_settings(
                kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/sla.db", scoring.base_url, funnel_key
            )
            async with running(create_app(settings), BASE, bearer(visitor)) as client:
                window = {"from": (t0 - timedelta(days=1)).isoformat(), "to": datetime.now(UTC).isoformat()}
                for params in ({**window}, {**window, "group_by": "owner"}):
                    proxied, original = (
                        await client.get("/dashboard/funnel", params=params),
                        await direct.get("/funnel", params=params),
                    )
                    assert proxied.status_code == original.status_code == 200
                    assert proxied.json() == original.json()
                by_owner = (await client.get("/dashboard/funnel", params={**window, "group_by": "owner"})).json()
                assert by_owner["groups"]["rep-2"]["rejection_reasons"] == [{"reason": "(uncoded)", "count": 1}]
                assert (await client.get("/dashboard/funnel")).json()["groups"]["all"]["entered"][
                    "mql"
                ] == 2  # scoring's default window

                # What scoring refuses, it explains: its problem document comes through as it is.
                refused = await client.get("/dashboard/funnel", params={"group_by": "mood"})
                assert refused.status_code == 400 and refused.headers["content-type"] == "application/problem+json"
                assert (
                    refused.json()["detail"]
                    == (await direct.get("/funnel", params={"group_by": "mood"})).json()["detail"]
                )
                # The scorecard page's data too: a month scoring has no scorecard for is its 400, not a 502.
                early = await client.get("/dashboard/scorecard/data", params={"month": "1900-01"})
                assert early.status_code == 400 and early.headers["content-type"] == "application/problem+json"
                assert early.json() == (await direct.get("/scorecard", params={"month": "1900-01"})).json()
                assert early.json()["detail"].startswith("month: "), early.json()

                scoring.stop()
                gone = await client.get("/dashboard/funnel", params=window)
                assert gone.status_code == 503 and gone.headers["content-type"] == "application/problem+json"
                assert gone.headers["retry-after"]
                problem = gone.json()
                assert (
                    problem["status"] == 503
                    and "LOCKSTEP_SCORING_URL" in problem["detail"]
                    and problem["instance"] == "/dashboard/funnel"
                )
                assert (await client.get("/readyz")).status_code == 200, (
                    "scoring being down is the funnel's problem, not the SLA service's"
                )
    finally:
        scoring.stop()


@pytest.mark.parametrize(
    "url", ["ftp://user:s3cret@scoring", "scoring:8002", "http://", "http://scoring:99999", "http://scoring/?x=1"]
)
def test_a_scoring_url_that_cannot_work_stops_the_service_at_start_up(url):
    with pytest.raises(SettingsError) as info:
        load_settings(SlaSettings, scoring_url=url)
    assert str(info.value).startswith("LOCKSTEP_SCORING_URL: ") and "s3cret" not in str(info.value)


def test_the_scoring_url_defaults_to_the_local_scoring_service(monkeypatch):
    monkeypatch.delenv("LOCKSTEP_SCORING_URL", raising=False)
    assert load_settings(SlaSettings).scoring_url == "http://127.0.0.1:8002"
    assert (
        load_settings(SlaSettings, scoring_url="https://scoring.internal:8443/").scoring_url
        == "https://scoring.internal:8443"
    )


def test_serve_sla_with_a_bad_scoring_url_stops_before_binding_with_one_line():
    env = {**os.environ, "LOCKSTEP_SCORING_URL": "scoring:8002"}
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "sla", "--port", str(free_port())],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr.startswith(
        "lockstep: LOCKSTEP_SCORING_URL: expected an http:// or https:// URL"
    )
    assert result.stderr.count("\n") == 1
