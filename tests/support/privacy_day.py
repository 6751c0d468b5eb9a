"""A scripted day with known people, for the privacy tests: every source, MQLs, breaches (nobody
calls in time), a rejection loop, and the day's webhooks in their vendors' wire formats.

- Ada, a HubSpot contact (name, title, company, her email set afterwards), engaging through
  Marketo until she asks for a demo: an MQL nobody calls.
- Bob, a Salesforce lead attending a webinar through Marketo, accepted by his rep: the control,
  whom no erasure touches.
- Cyd, a Pipedrive person who asks for a demo through a web form (Standard Webhooks) three times
  and is rejected twice in between: a rejection loop. The form tool names its deliveries by her
  address (an id the door must not pass on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from tests.support.webhooks import Vendors, Webhook, deliver


@dataclass(frozen=True)
class Person:
    email: str
    first: str
    last: str
    company: str


ADA = Person("ada.lovelace@analytical.example", "Ada", "Lovelace", "Analytical Engines")
BOB = Person("bob.babbage@difference.example", "Bob", "Babbage", "Difference Engines")
CYD = Person("cyd.hopper@navy.example", "Cyd", "Hopper", "Navy Labs")
PEOPLE = (ADA, BOB, CYD)
CYD_FORM = {"source": "webforms", "record_id": "f-77", "email": CYD.email}


def morning(vendors: Vendors, at: datetime) -> list[Webhook]:
    """Every source once: the three people arrive and engage; nobody is an MQL yet."""
    ada = {"firstname": ADA.first, "lastname": ADA.last, "jobtitle": "VP Marketing", "company": ADA.company}
    return [
        vendors.hubspot(7101, {**ada, "numberofemployees": "400"}, created=True, at=at),
        vendors.hubspot(7101, {"email": ADA.email}, at=at + timedelta(minutes=1)),
        vendors.marketo("9101", ADA.email, "Open Email", at + timedelta(minutes=5)),
        vendors.marketo("9101", ADA.email, "Visit Webpage", at + timedelta(minutes=6)),
        vendors.salesforce_lead(
            "00Q000000000B0B",
            {"Email": BOB.email, "FirstName": BOB.first, "LastName": BOB.last, "Company": BOB.company, "Title": "CTO"},
            at=at,
        ),
        vendors.marketo("9102", BOB.email, "Attend Webinar", at + timedelta(minutes=10)),
        vendors.pipedrive_person(5101, f"{CYD.first} {CYD.last}", CYD.email, at=at),
        vendors.generic(
            "contact.upserted",
            {
                "lead": CYD_FORM,
                "occurred_at": at.isoformat(),
                "attributes": {"first_name": CYD.first, "last_name": CYD.last, "company": CYD.company},
            },
        ),
    ]


def hand_raise(vendors: Vendors, person: Person, n: int = 0) -> Webhook:
    """A demo request: the hand-raiser rule makes the person an MQL."""
    if person is ADA:
        return vendors.marketo("9101", ADA.email, "Request Demo", datetime.now(UTC))
    event = {"lead": CYD_FORM, "kind": "demo_request", "occurred_at": datetime.now(UTC).isoformat()}
    # The form tool names the submission by who sent it: an id the door must not pass on as it is.
    return vendors.generic("activity.recorded", {**event, "asset": f"demo form {n}"}, own_id=f"{CYD.email}/{n}")


def rejection(vendors: Vendors, n: int) -> Webhook:
    """Cyd's rep rejects her, in words that name her."""
    return vendors.generic(
        "sales.dispositioned",
        {
            "lead": CYD_FORM,
            "disposition": "rejected",
            "reason": f"{CYD.first} {CYD.last} has no budget ({n})",
            "occurred_at": datetime.now(UTC).isoformat(),
        },
    )


async def send(door: httpx.AsyncClient, webhooks: list[Webhook]) -> None:
    for webhook in webhooks:
        delivery = await deliver(door, webhook)
        assert delivery.status == 200, (webhook.source, delivery.attempts)
