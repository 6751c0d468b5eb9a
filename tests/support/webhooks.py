"""Vendor webhooks for whole-pipeline tests, and a sender that retries them the way vendors do.

A vendor keeps a delivery's ids when it retries and signs each attempt anew (HubSpot v3 and
Standard Webhooks sign a timestamp that must be fresh). So a `Webhook` fixes its ids when it is
built and makes its headers at every attempt. The wire formats and signatures are the
simulator's builders (services/simulator/wire.py), which follow the vendors' documentation.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from services.simulator import signing, wire
from services.simulator.requests import Credentials
from shared.webhooks.signing import standard_webhooks_headers
from tests.support.stack import CREDENTIALS

# Unique per test run: HubSpot event ids and Salesforce notification ids are the redelivery keys.
_serial = itertools.count(uuid.uuid4().int % 10**9 * 1000)


@dataclass(frozen=True)
class Webhook:
    source: str
    path: str
    sign: Callable[[str, datetime], tuple[dict[str, str], bytes]]  # (ingest base URL, now) -> headers, body


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class Vendors:
    """Builds each source's webhooks about one scripted world; `credentials` are the door's."""

    def __init__(self, credentials: Credentials = CREDENTIALS) -> None:
        self.creds = credentials

    def hubspot(
        self, contact_id: int, changes: dict[str, str], *, created: bool = False, at: datetime | None = None
    ) -> Webhook:
        """Contact subscription events of one contact: its creation and/or property changes, one batch."""
        when = _ms(at or datetime.now(UTC))
        events = [wire.hubspot_event(next(_serial), "contact.creation", contact_id, when)] if created else []
        events += [
            wire.hubspot_property_change(next(_serial), contact_id, name, value, when)
            for name, value in changes.items()
        ]

        def sign(base_url: str, now: datetime) -> tuple[dict[str, str], bytes]:
            return wire.hubspot_request(self.creds.hubspot_secret, f"{base_url}/webhooks/hubspot", events, _ms(now))

        return Webhook("hubspot", "/webhooks/hubspot", sign)

    def salesforce_lead(self, lead_id: str, fields: dict[str, Any], *, at: datetime | None = None) -> Webhook:
        """An Outbound Message about one Lead (credentials: the token in the URL, the org id in the body)."""
        notification = wire.salesforce_notification(
            f"04l{next(_serial):015d}", "Lead", {"Id": lead_id, "LastModifiedDate": at or datetime.now(UTC), **fields}
        )
        headers, body = wire.salesforce_request(self.creds.salesforce_org, [notification])
        path = f"/webhooks/salesforce?token={self.creds.salesforce_token}"
        return Webhook("salesforce", path, lambda base_url, now: (headers, body))

    def marketo(
        self, lead_id: str, email: str, activity_type: str, at: datetime | None = None, **fields: str
    ) -> Webhook:
        """The documented template's call. Marketo has no delivery id: the activity is the identity.
        Without `at` the activity happens when the webhook is first sent (a trigger campaign calls
        out as it fires); retries repeat that first call."""
        first: list[tuple[dict[str, str], bytes]] = []

        def sign(base_url: str, now: datetime) -> tuple[dict[str, str], bytes]:
            if not first:
                call = {
                    "leadId": lead_id,
                    "email": email,
                    "activityType": activity_type,
                    "occurredAt": (at or now).isoformat(),
                    **fields,
                }
                first.append(wire.marketo_request(self.creds.marketo_token, call))
            return first[0]

        return Webhook("marketo", "/webhooks/marketo", sign)

    def pipedrive_person(
        self, person_id: int, name: str, email: str, *, owner_id: int = 42, at: datetime | None = None
    ) -> Webhook:
        data = {
            "id": person_id,
            "name": name,
            "emails": [{"label": "work", "value": email, "primary": True}],
            "owner_id": owner_id,
        }
        hook = wire.pipedrive_webhook(
            str(uuid.uuid4()), "create", "person", str(person_id), at or datetime.now(UTC), data
        )
        headers, body = wire.pipedrive_request(self.creds.pipedrive_user, self.creds.pipedrive_password, hook)
        return Webhook("pipedrive", "/webhooks/pipedrive", lambda base_url, now: (headers, body))

    def generic(self, event_type: str, data: dict[str, Any], *, own_id: str | None = None) -> Webhook:
        """One canonical event under Standard Webhooks; the webhook-id stays across attempts.
        `own_id`: the sender's own id of the event (the `id` field)."""
        message_id = f"msg_{uuid.uuid4().hex}"
        event = {"type": f"lockstep.{event_type}.v1", "data": data, **({"id": own_id} if own_id else {})}

        def sign(base_url: str, now: datetime) -> tuple[dict[str, str], bytes]:
            return wire.generic_request(self.creds.generic_secret, message_id, event, int(now.timestamp()))

        return Webhook("generic", "/webhooks/generic", sign)

    def authentic(self, source: str, body: bytes) -> Webhook:
        """Any body, with the credentials `source` authenticates by: the door must judge its content."""

        def sign(base_url: str, now: datetime) -> tuple[dict[str, str], bytes]:
            if source == "hubspot":
                return {
                    **wire.JSON,
                    **signing.hubspot_v3_headers(
                        self.creds.hubspot_secret, "POST", f"{base_url}/webhooks/hubspot", body, _ms(now)
                    ),
                }, body
            if source == "generic":
                return {
                    **wire.JSON,
                    **standard_webhooks_headers(self.creds.generic_secret, f"msg_{uuid.uuid4().hex}", body, now),
                }, body
            if source == "pipedrive":
                return {
                    **wire.JSON,
                    **signing.basic_auth(self.creds.pipedrive_user, self.creds.pipedrive_password),
                }, body
            if source == "marketo":
                return {**wire.JSON, **signing.marketo_headers(self.creds.marketo_token)}, body
            return dict(wire.SOAP), body  # Salesforce: the token in the URL, and the org id in the body

        path = f"/webhooks/{source}"
        if source == "salesforce":
            path += f"?token={self.creds.salesforce_token}"
        return Webhook(source, path, sign)


@dataclass
class Attempt:
    status: int  # 0: no answer (connection refused or reset)
    retry_after: str | None = None
    content_type: str | None = None


@dataclass
class Delivery:
    webhook: Webhook
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def status(self) -> int:
        return self.attempts[-1].status


async def deliver(client: httpx.AsyncClient, webhook: Webhook, *, give_up_after_s: float = 120) -> Delivery:
    """Post until the door says anything but 503 (or nothing): a 503 is retried after its
    Retry-After, as the vendors do; every attempt is kept for the test to look at."""
    delivery = Delivery(webhook)
    deadline = asyncio.get_running_loop().time() + give_up_after_s
    base_url = str(client.base_url).rstrip("/")
    while True:
        headers, body = webhook.sign(base_url, datetime.now(UTC))
        try:
            response = await client.post(webhook.path, content=body, headers=headers)
            attempt = Attempt(
                response.status_code, response.headers.get("retry-after"), response.headers.get("content-type")
            )
        except httpx.TransportError:
            attempt = Attempt(0)
        delivery.attempts.append(attempt)
        if attempt.status not in (0, 503):
            return delivery
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"{webhook.source} webhook still refused after {give_up_after_s} s: {delivery.attempts}"
            )
        await asyncio.sleep(float(attempt.retry_after) if attempt.retry_after else 1.0)
