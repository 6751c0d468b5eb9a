"""Signing in to the dashboard: a pasted key becomes a strict, expiring session cookie; requests that
change state also need the session's CSRF token; revoking the key ends its sessions and its open
alert feeds; every ack, resolve, sign-in and sign-out is in the audit trail, readable by admins."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert

from services.sla.app import create_app
from services.sla.settings import SlaSettings
from services.sla.tables import alerts
from shared.access.sessions import SessionSeal
from tests.support.access import bearer, issue_key, revoke_key
from tests.support.apps import running
from tests.support.infra import REPO
from tests.support.served import serving
from tests.support.servers import free_port

pytestmark = pytest.mark.kafka


def _settings(kafka_bootstrap: str, topic_prefix: str, database_url: str) -> SlaSettings:
    return SlaSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        topic_partitions=1,
        database_url=database_url,
        scoring_url=f"http://127.0.0.1:{free_port()}",
    )


async def _alerts(app: FastAPI, count: int) -> list[int]:
    now = datetime.now(UTC)
    rows = [
        {
            "alert_id": f"test-alert-{n}",
            "kind": "sla.warning",
            "severity": "warning",
            "lead_key": f"lead-{n}",
            "raised_at": now,
            "message": "first touch due soon",
            "details": {},
            "status": "open",
        }
        for n in range(count)
    ]
    async with app.state.service.runtime.sessions() as session, session.begin():
        await session.execute(insert(alerts), rows)
    return list(range(1, count + 1))


def _cookie(set_cookie: str) -> tuple[str, dict[str, str]]:
    """The session token and the attributes of a Set-Cookie header (names lower-cased)."""
    first, *attributes = [part.strip() for part in set_cookie.split(";")]
    name, _, value = first.partition("=")
    assert name == "lockstep_session", set_cookie
    parsed = {}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        parsed[key.lower()] = val
    return value, parsed


async def test_a_pasted_key_becomes_a_strict_session_and_state_changes_need_its_csrf_token(
    kafka_bootstrap, topic_prefix, database_url
):
    person = await issue_key(kafka_bootstrap, topic_prefix, "operator", name="ops-kim")
    admin = await issue_key(kafka_bootstrap, topic_prefix, "admin", name="auditor")
    app = create_app(_settings(kafka_bootstrap, topic_prefix, database_url))
    async with running(app, "http://sla") as client:
        first, second = await _alerts(app, 2)
        # One resource, three routes: a method it lacks is refused naming all three.
        other = await client.put("/dashboard/session")
        assert other.status_code == 405 and other.headers["allow"] == "DELETE, GET, POST"
        as_form = await client.post("/dashboard/session", data={"key": person})
        assert as_form.status_code == 415, as_form.text  # a cross-site form cannot sign anyone in
        typeless = await client.post("/dashboard/session", content=f'{{"key": "{person}"}}'.encode())
        assert typeless.status_code == 415 and "set-cookie" not in typeless.headers
        as_text = await client.post(
            "/dashboard/session", content=f'{{"key": "{person}"}}'.encode(), headers={"content-type": "text/plain"}
        )
        assert as_text.status_code == 415 and as_text.json()["detail"] == "content type must be application/json"
        wrong = await client.post("/dashboard/session", json={"key": person[:-4] + "AAAA"})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers

        signed_in = await client.post("/dashboard/session", json={"key": person})
        assert signed_in.status_code == 200, signed_in.text
        token, attributes = _cookie(signed_in.headers["set-cookie"])
        assert {"httponly", "path", "samesite", "max-age"} <= set(attributes) and "secure" not in attributes
        assert (attributes["path"], attributes["samesite"].lower(), attributes["max-age"]) == ("/", "strict", "43200")
        assert person.split("_")[-1] not in token and person not in signed_in.text, "the key stays with its holder"
        view = signed_in.json()
        assert (view["name"], view["role"]) == ("ops-kim", "operator") and view["csrf_token"]
        csrf = view["csrf_token"]
        session = {"Cookie": f"lockstep_session={token}"}

        # The cookie alone admits reads, the feed's page of alerts included ...
        assert (await client.get("/alerts", headers=session)).status_code == 200
        assert (await client.get("/dashboard/session", headers=session)).json()["csrf_token"] == csrf
        # ... but a change needs the CSRF token the page was given: a cross-site request lacks it.
        for headers in (session, {**session, "X-CSRF-Token": csrf[:-2] + "xx"}):
            refused = await client.post(f"/alerts/{first}/ack", headers=headers)
            assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
        acked = await client.post(f"/alerts/{first}/ack", headers={**session, "X-CSRF-Token": csrf})
        assert acked.status_code == 200 and acked.json()["acked_by"] == "ops-kim"
        resolved = await client.post(f"/alerts/{second}/resolve", headers={**session, "X-CSRF-Token": csrf})
        assert resolved.json()["resolved_by"] == "ops-kim" and resolved.json()["acked_by"] is None
        # A bearer key needs no CSRF token: no browser sends one by itself. Repeating a change records nothing.
        assert (await client.post(f"/alerts/{first}/resolve", headers=bearer(admin))).json()["resolved_by"] == "auditor"
        assert (await client.post(f"/alerts/{first}/resolve", headers=bearer(admin))).status_code == 200

        # A session this service did not sign, or one past its end, is no session.
        tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        assert (await client.get("/alerts", headers={"Cookie": f"lockstep_session={tampered}"})).status_code == 401
        seal = SessionSeal(os.environ["LOCKSTEP_SECRET_KEY"].encode(), timedelta(hours=12))
        key_id = person.split("_")[1]
        stale, _ = seal.issue(key_id, now=datetime.now(UTC) - timedelta(hours=13))
        expired = await client.get("/alerts", headers={"Cookie": f"lockstep_session={stale}"})
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]

        out = await client.delete("/dashboard/session", headers={**session, "X-CSRF-Token": csrf})
        assert out.status_code == 204 and _cookie(out.headers["set-cookie"])[1]["max-age"] == "0"

        trail = (await client.get("/audit", headers=bearer(admin))).json()["entries"]
        assert [(e["actor"], e["action"], e["target"]) for e in trail] == [
            ("ops-kim", "session.sign_out", key_id),
            ("auditor", "alert.resolve", str(first)),
            ("ops-kim", "alert.resolve", str(second)),
            ("ops-kim", "alert.ack", str(first)),
            ("ops-kim", "session.sign_in", key_id),
        ]
        assert (await client.get("/audit", headers=session)).status_code == 403, "operators do not read the audit"
        page = (await client.get("/audit", params={"limit": 2}, headers=bearer(admin))).json()
        rest = (await client.get("/audit", params={"cursor": page["next_cursor"]}, headers=bearer(admin))).json()
        assert [e["id"] for e in page["entries"] + rest["entries"]] == [e["id"] for e in trail]

        # Revoking the key ends the session everywhere, without anyone signing out.
        assert (await client.get("/alerts", headers=session)).status_code == 200
        await revoke_key(kafka_bootstrap, topic_prefix, "ops-kim")
        for _ in range(100):
            status = (await client.get("/alerts", headers=session)).status_code
            if status == 401:
                break
            await asyncio.sleep(0.1)
        assert status == 401


async def test_over_https_the_session_cookie_is_secure(kafka_bootstrap, topic_prefix, tmp_path):
    person = await issue_key(kafka_bootstrap, topic_prefix, "viewer")
    app = create_app(_settings(kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/sla.db"))
    async with running(app, "https://sla.example.com") as client:
        signed_in = await client.post("/dashboard/session", json={"key": person})
        assert "secure" in _cookie(signed_in.headers["set-cookie"])[1]


async def test_an_open_alert_feed_ends_when_its_key_is_revoked(kafka_bootstrap, topic_prefix, tmp_path):
    person = await issue_key(kafka_bootstrap, topic_prefix, "operator", name="ops-feed")
    app = create_app(_settings(kafka_bootstrap, topic_prefix, f"sqlite+aiosqlite:///{tmp_path}/sla.db"))
    async with (
        serving(app) as url,
        httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10, read=30)) as client,
        client.stream("GET", "/alerts/stream", headers=bearer(person)) as feed,
    ):
        assert feed.status_code == 200
        lines = feed.aiter_lines()
        assert (await anext(lines)).startswith("retry:")
        await revoke_key(kafka_bootstrap, topic_prefix, "ops-feed")
        # The server closes the stream: iterating ends instead of waiting for events forever.
        async with asyncio.timeout(20):  # it ends within a second or so; without the check, never
            rest = [line async for line in lines]
        assert all(not line.startswith("data:") for line in rest)


@pytest.mark.parametrize("secret", [None, "too-short"])
def test_serve_sla_without_a_usable_secret_key_stops_with_one_line(secret):
    env = {k: v for k, v in os.environ.items() if k != "LOCKSTEP_SECRET_KEY"}
    if secret:
        env["LOCKSTEP_SECRET_KEY"] = secret
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "sla", "--port", str(free_port())],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr.startswith("lockstep: LOCKSTEP_SECRET_KEY: "), result.stderr
    assert result.stderr.count("\n") == 1 and (secret is None or secret not in result.stderr)
