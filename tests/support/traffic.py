"""A crowd of leads as webhooks from several sources, sent at a steady pace like many CRMs at once.

The fault tests need traffic that keeps arriving while something breaks, and an outcome that does
not depend on the order in which retried webhooks finally get through: each lead's final stage
and its number of scored activities are fixed by what was sent, whatever the order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from tests.support.webhooks import Delivery, Vendors, Webhook, deliver


@dataclass
class LeadPlan:
    email: str
    webhooks: list[Webhook]
    activities: int  # activity webhooks sent: each must become exactly one engagement contribution
    stage: str  # where the lead must end up


def crowd(vendors: Vendors, count: int, *, name: str = "lead") -> list[LeadPlan]:
    """`count` leads at business addresses: a contact from Salesforce, Pipedrive or a form tool, two
    Marketo activities, and for every other lead a demo request (hand-raiser: MQL, whatever the
    order); the rest stay leads (a manager of unknown company size does not fit well enough).

    Every record carries the email, so however retries reorder them, each person is one lead from
    the start (two records that meet later are merged: tests/e2e/test_identity_merge.py)."""
    plans = []
    start = datetime.now(UTC) - timedelta(hours=1)
    for n in range(count):
        email, at = f"{name}{n}@acme.io", start + timedelta(seconds=n)
        attributes = {"title": "Marketing Manager", "company": "Acme"}
        if n % 3 == 0:
            contact = vendors.salesforce_lead(
                f"00Q{n:012d}", {"Email": email, "Title": attributes["title"], "Company": attributes["company"]}, at=at
            )
        elif n % 3 == 1:
            contact = vendors.pipedrive_person(30_000 + n, f"Lead {n}", email, at=at)
        else:
            contact = vendors.generic(
                "contact.upserted",
                {
                    "lead": {"source": "webforms", "record_id": f"{name}-{n}", "email": email},
                    "occurred_at": at.isoformat(),
                    "attributes": attributes,
                },
            )
        triggers = ["Open Email", "Download Content"] + (["Request Demo"] if n % 2 == 0 else [])
        # Engagement happens as it is sent: an MQL's SLA timer starts then, its tiers due seconds later.
        activities = [vendors.marketo(f"{name}-{n}", email, trigger) for trigger in triggers]
        plans.append(LeadPlan(email, [contact, *activities], len(activities), "mql" if n % 2 == 0 else "lead"))
    return plans


class Traffic:
    """Delivers the leads' webhooks, lead after lead, one every `interval_s`: the first leads are
    scored (and their SLA timers run) while the last are still to come. Each webhook is delivered
    in its own task with the vendors' retries, so a refused one never holds back the next."""

    def __init__(self, door: httpx.AsyncClient, plans: list[LeadPlan], *, interval_s: float) -> None:
        self._door = door
        self._webhooks: list[Webhook] = [webhook for plan in plans for webhook in plan.webhooks]
        self._interval_s = interval_s
        self._deliveries: list[asyncio.Task[Delivery]] = []
        self._pacer: asyncio.Task | None = None

    def start(self) -> None:
        self._pacer = asyncio.create_task(self._pace())

    async def _pace(self) -> None:
        for webhook in self._webhooks:
            self._deliveries.append(asyncio.create_task(deliver(self._door, webhook, give_up_after_s=180)))
            await asyncio.sleep(self._interval_s)

    @property
    def started(self) -> int:
        """Webhooks whose first attempt went out."""
        return len(self._deliveries)

    @property
    def total(self) -> int:
        return len(self._webhooks)

    @property
    def accepted(self) -> int:
        return sum(
            1 for task in self._deliveries if task.done() and not task.exception() and task.result().status == 200
        )

    async def finish(self) -> list[Delivery]:
        """Wait until every webhook was sent and answered for good (retries included)."""
        assert self._pacer is not None
        await self._pacer
        return list(await asyncio.gather(*self._deliveries))

    def cancel(self) -> None:
        for task in [self._pacer, *self._deliveries]:
            if task is not None:
                task.cancel()
