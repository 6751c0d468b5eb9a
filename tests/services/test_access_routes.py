"""Every route of every service behind the role it declares, or on the short list of exceptions.

The route tables of the three real apps are walked (on the real broker's keys topic and each
database): every protected route refuses a missing, malformed, unknown, wrong or revoked key
with a 401 problem, and a too-weak role with a 403 problem, and lets its own role through. A
route added without an entry below fails here, so no route is ever open by oversight.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TypeVar

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from services.ingest.app import create_app as ingest_app
from services.ingest.settings import IngestSettings
from services.scoring.app import create_app as scoring_app
from services.scoring.settings import ScoringSettings
from services.sla.app import create_app as sla_app
from services.sla.settings import SlaSettings
from shared.access.keys import Role, new_key
from shared.settings import LockstepSettings
from tests.support.access import bearer, issue_key, revoke_key

pytestmark = pytest.mark.kafka
V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN
S = TypeVar("S", bound=LockstepSettings)

# The only routes without a key: probes, Prometheus (its own token), the vendors' webhooks (their
# own signatures), and the dashboard's pages, files and sign-in (they hold no data).
EXEMPT = {
    "ingest": {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("POST", "/webhooks/{source}")},
    "scoring": {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")},
    "sla": {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/dashboard"),
        ("GET", "/dashboard/scorecard"),
        ("GET", "/dashboard/static/{name}"),
        ("POST", "/dashboard/session"),
    },
}
# Aggregates and the contract: viewer. Leads and alerts (personal data, state changes): operator.
ROLES = {
    "ingest": {("GET", "/openapi.json"): V, ("GET", "/webhooks/recent"): A},
    "scoring": {
        ("GET", "/openapi.json"): V,
        ("GET", "/contract"): V,
        ("GET", "/funnel"): V,
        ("GET", "/scorecard"): V,
        ("GET", "/reports"): V,  # the stored monthly reviews: aggregates, no personal data
        ("GET", "/reports/{month}"): V,
        ("GET", "/leads"): OP,
        ("GET", "/leads/{lead_key}"): OP,
        ("POST", "/leads/search"): OP,  # an email in the body, never in a URL
        ("POST", "/leads/erase"): A,
        ("GET", "/audit"): A,
        ("GET", "/writeback/status"): OP,  # write-back queues and errors: record ids, no personal data
        ("GET", "/routing/queue"): OP,  # lead keys waiting for a rep: opaque, but leads
    },
    "sla": {
        ("GET", "/openapi.json"): V,
        ("GET", "/sla/compliance"): V,
        ("GET", "/sla/timers/open"): V,
        ("GET", "/dashboard/funnel"): V,
        ("GET", "/dashboard/scorecard/data"): V,  # scoring's scorecard: aggregates, no personal data
        ("GET", "/dashboard/deadletters"): V,  # counts, topics and error types: no records, no keys
        ("GET", "/dashboard/lag"): V,  # topics, partitions, times and replicas (host:pid): no lead's data
        ("GET", "/dashboard/session"): V,
        ("DELETE", "/dashboard/session"): V,
        ("GET", "/alerts"): OP,
        ("GET", "/alerts/stream"): OP,
        ("POST", "/alerts/{alert_id}/ack"): OP,
        ("POST", "/alerts/{alert_id}/resolve"): OP,
        ("GET", "/audit"): A,
    },
}
PATH_VALUES = {
    "{source}": "generic",
    "{lead_key}": "someone",
    "{alert_id}": "1",
    "{name}": "dashboard.css",
    "{month}": "2026-11",
}
MALFORMED = [
    b"",
    b"Basic dXNlcjpwYXNzd29yZA==",
    b"Bearer",
    b"Bearer lsk_short",
    b"Bearer " + b"A" * 10_240,
    "Bearer lsk_ünïcödé_ÿ".encode(),
    b"Bearer \xff\xfe\x80",
]
WEAKER = {OP: V, A: OP}


def _apps(kafka_bootstrap: str, topic_prefix: str, database_url: str) -> dict[str, FastAPI]:
    def common(cls: type[S]) -> S:
        return cls(
            kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, database_url=database_url, topic_partitions=1
        )

    return {
        "ingest": ingest_app(common(IngestSettings)),
        "scoring": scoring_app(common(ScoringSettings)),
        "sla": sla_app(
            SlaSettings(
                kafka_bootstrap=kafka_bootstrap,
                topic_prefix=topic_prefix,
                database_url=database_url,
                topic_partitions=1,
                scoring_url="http://127.0.0.1:9",
            )
        ),
    }


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            found.add((method, route.path or ""))
    return found


def _url(path: str) -> str:
    for placeholder, value in PATH_VALUES.items():
        path = path.replace(placeholder, value)
    return path


def _is_problem(response: httpx.Response, status: int) -> bool:
    return (
        response.status_code == status
        and response.headers.get("content-type") == "application/problem+json"
        and response.json()["status"] == status
    )


def _wrong_secret(token: str) -> str:
    """The same key id with another key's secret."""
    other = new_key("other", Role.VIEWER)[1]
    return token[: len("lsk_12345678_")] + other[len("lsk_12345678_") :]


@pytest.mark.parametrize("service", ["ingest", "scoring", "sla"])
async def test_every_route_refuses_what_it_must_and_the_exempt_list_is_exact(
    service, kafka_bootstrap, topic_prefix, database_url
):
    keys = {role: await issue_key(kafka_bootstrap, topic_prefix, role, name=f"k-{role.value}") for role in Role}
    revoked = await issue_key(kafka_bootstrap, topic_prefix, A, name="k-revoked")
    await revoke_key(kafka_bootstrap, topic_prefix, "k-revoked")
    unknown = new_key("nobody", A)[1]
    app = _apps(kafka_bootstrap, topic_prefix, database_url)[service]
    routes = _routes(app)
    assert routes - EXEMPT[service] == set(ROLES[service]), "a route without a declared role, or a stale entry"
    assert EXEMPT[service] <= routes

    addresses = (f"10.9.{n // 250}.{n % 250 + 1}" for n in itertools.count())
    async with app.router.lifespan_context(app):
        for (method, path), role in sorted(ROLES[service].items()):
            # An address per route: each route's own failures stay under the per-address limit.
            transport = httpx.ASGITransport(app=app, client=(next(addresses), 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:

                async def send(authorization: bytes | None, url: str = _url(path), m: str = method) -> httpx.Response:
                    headers = [] if authorization is None else [(b"authorization", authorization)]
                    return await client.request(m, url, headers=headers)

                label = f"{service}: {method} {path}"
                refused = [None, *MALFORMED]
                refused += [f"Bearer {t}".encode() for t in (unknown, _wrong_secret(keys[role]), revoked)]
                for authorization in refused:
                    response = await send(authorization)
                    assert _is_problem(response, 401), (label, authorization and authorization[:40], response.text)
                    assert response.headers["www-authenticate"] == "Bearer", label
                if role in WEAKER:
                    weak = await send(f"Bearer {keys[WEAKER[role]]}".encode())
                    assert _is_problem(weak, 403), (label, weak.text)
                    assert WEAKER[role].value in weak.json()["detail"], label
                if path != "/alerts/stream":  # endless once admitted; the feed has tests of its own
                    for holder in [r for r in Role if r.includes(role)]:
                        admitted = await send(f"Bearer {keys[holder]}".encode())
                        assert admitted.status_code not in (401, 403, 429), (label, holder, admitted.text)

        transport = httpx.ASGITransport(app=app, client=(next(addresses), 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            for url in ("/healthz", "/readyz", "/metrics") + (("/dashboard",) if service == "sla" else ()):
                assert (await client.get(url)).status_code == 200, url
            document = (await client.get("/openapi.json", headers=bearer(keys[V]))).json()

    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "lsk_<id>_<secret>",
        "description": "An API key (`lockstep keys create --name NAME --role viewer|operator|admin`)",
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (method.upper(), path) in EXEMPT[service]:
                assert "security" not in operation, (method, path)
            else:
                assert operation["security"] == [{"apiKey": []}], (method, path)
                for status in ("401", "403", "429"):
                    assert "application/problem+json" in operation["responses"][status]["content"], (method, path)


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
        wrong = bearer(_wrong_secret(good))
        for _ in range(20):
            assert (await guesser.get("/funnel", headers=wrong)).status_code == 401
        limited = await guesser.get("/funnel", headers=wrong)
        assert _is_problem(limited, 429), limited.text
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
                assert _is_problem(refused, 401) and refused.headers["www-authenticate"] == "Bearer", headers
            scraped = await client.get("/metrics", headers=bearer("prometheus-scrape-token-0123456789"))
            assert scraped.status_code == 200 and 'lockstep_auth_failures_total{reason="metrics_token"} 3.0' in (
                scraped.text
            )
