"""API keys in a running service, on the real broker's keys topic: failed keys limited per address
without holding up anyone else (a revoked key refused, never limited), a revoked key refused and a new
key admitted without a restart, and /metrics behind its own token when one is set."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.scoring.app import create_app as scoring_app
from services.scoring.settings import ScoringSettings
from shared.access.keys import Role
from tests.support.access import bearer, is_problem, issue_key, revoke_key, wrong_secret

pytestmark = pytest.mark.kafka
V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN


async def test_failed_keys_are_limited_per_address_without_slowing_anyone_else(kafka_bootstrap, topic_prefix, tmp_path):
    good = await issue_key(kafka_bootstrap, topic_prefix, V, name="good")
    stale = await issue_key(kafka_bootstrap, topic_prefix, V, name="stale")
    await revoke_key(kafka_bootstrap, topic_prefix, "stale")
    settings = ScoringSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        topic_partitions=1,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/scoring.db",
    )
    app = scoring_app(settings)

    def client(address: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://scoring"
        )

    async with (
        app.router.lifespan_context(app),
        client("10.0.0.66") as guesser,
        client("10.0.0.7") as colleague,
        client("10.0.0.8") as late,
    ):
        wrong = bearer(wrong_secret(good))
        for _ in range(20):
            assert (await guesser.get("/funnel", headers=wrong)).status_code == 401
        limited = await guesser.get("/funnel", headers=wrong)
        assert is_problem(limited, 429), limited.text
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Refused before the key is looked at: from that address even a good key waits its turn.
        assert (await guesser.get("/funnel", headers=bearer(good))).status_code == 429
        # A request with no key at all presents nothing to refuse unread: its plain 401.
        assert (await guesser.get("/funnel")).status_code == 401
        # Nobody else is held up or limited: a colleague's key works, a typo is a plain 401.
        assert (await colleague.get("/funnel", headers=bearer(good))).status_code == 200
        assert (await colleague.get("/funnel", headers=wrong)).status_code == 401
        # A revoked key is not a guess (its holder had the real one): refused, never limited.
        for _ in range(25):
            assert (await late.get("/funnel", headers=bearer(stale))).status_code == 401
        metrics = (await colleague.get("/metrics")).text
    assert 'lockstep_auth_failures_total{reason="wrong_secret"} 21.0' in metrics
    assert 'lockstep_auth_failures_total{reason="throttled"} 2.0' in metrics
    assert 'lockstep_auth_failures_total{reason="revoked"} 25.0' in metrics
    assert "10.0.0" not in metrics and good not in metrics


async def test_a_revoked_key_stops_working_in_a_running_service_without_a_restart(
    kafka_bootstrap, topic_prefix, tmp_path
):
    token = await issue_key(kafka_bootstrap, topic_prefix, OP, name="leaver")
    settings = ScoringSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        topic_partitions=1,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/scoring.db",
    )
    app = scoring_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scoring", headers=bearer(token)) as api:
            assert (await api.get("/leads")).status_code == 200
            joiner = await issue_key(kafka_bootstrap, topic_prefix, OP, name="joiner")
            await revoke_key(kafka_bootstrap, topic_prefix, "leaver")
            statuses = []
            for _ in range(100):  # ten seconds at most; it takes about one
                statuses.append((await api.get("/leads")).status_code)
                if statuses[-1] == 401:
                    break
                await asyncio.sleep(0.1)
            assert statuses[-1] == 401, statuses
            # ... and a key created while it runs works in it, equally without a restart.
            assert (await api.get("/leads", headers=bearer(joiner))).status_code == 200


async def test_metrics_take_their_own_token_when_one_is_set(kafka_bootstrap, topic_prefix, tmp_path):
    settings = ScoringSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        topic_partitions=1,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/scoring.db",
        metrics_token="prometheus-scrape-token-0123456789",
    )
    key = await issue_key(kafka_bootstrap, topic_prefix, A)
    app = scoring_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:
            for headers in ({}, bearer("prometheus-scrape-token-0123456780"), bearer(key)):
                refused = await client.get("/metrics", headers=headers)
                assert is_problem(refused, 401) and refused.headers["www-authenticate"] == "Bearer", headers
            scraped = await client.get("/metrics", headers=bearer("prometheus-scrape-token-0123456789"))
            assert scraped.status_code == 200 and 'lockstep_auth_failures_total{reason="metrics_token"} 3.0' in (
                scraped.text
            )
