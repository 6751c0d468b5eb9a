"""Every route of every service behind the role it declares, or on the short list of exceptions.

The route tables of the three real apps are walked (on the real broker's keys topic and each
database): every protected route refuses a missing, malformed, unknown, wrong or revoked key
with a 401 problem, and a too-weak role with a 403 problem, and lets its own role through. A
route added without an entry below fails here, so no route is ever open by oversight. How keys fare
in a running service (failed guesses limited per address, revocation, the metrics token) is
test_access_keys.py's.
"""

from __future__ import annotations

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
from tests.support.access import bearer, is_problem, issue_key, revoke_key, wrong_secret

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
                refused += [f"Bearer {t}".encode() for t in (unknown, wrong_secret(keys[role]), revoked)]
                for authorization in refused:
                    response = await send(authorization)
                    assert is_problem(response, 401), (label, authorization and authorization[:40], response.text)
                    assert response.headers["www-authenticate"] == "Bearer", label
                if role in WEAKER:
                    weak = await send(f"Bearer {keys[WEAKER[role]]}".encode())
                    assert is_problem(weak, 403), (label, weak.text)
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
