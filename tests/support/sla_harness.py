"""The SLA's handler and timer scanner on a real database, driven one handler call at a time with a
clock the test sets: what the SLA's scenario tests share (tests/services/sla: scenarios, batches,
event time, follow-ups, identity changes, erasure, routed owners; and scoring's follow-ups from the SLA),
so that each tells its story in stage changes and touches, not in envelopes and sessions."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from contract import parse_contract
from services.simulator.contracts import with_first_touch
from services.sla.alerts import AlertDesk
from services.sla.handler import SlaHandler
from services.sla.migrations import MIGRATIONS
from services.sla.policies import PolicyBook
from services.sla.scanner import TimerScanner
from services.sla.tables import alerts, outbox, timers
from shared.db import Outbox, create_engine, is_postgres, session_factory
from shared.db.migrations import upgrade
from shared.events import EventEnvelope, LeadIdentified, LeadRef, LifecycleTransitioned, SalesTouched
from tests.support.clock import FakeClock
from tests.support.keys import TEST_KEYS

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # a Monday


def contract(first_touch_calendar: str = "always", teams: str = ""):
    text = with_first_touch("4h", calendar=first_touch_calendar)
    text = text.replace(
        "    always: {timezone: UTC",
        "    berlin: {timezone: Europe/Berlin, days: [mon, tue, wed, thu, fri],"
        ' hours: ["09:00", "17:00"], holidays: {country: DE}}\n    always: {timezone: UTC',
    )
    text = text.replace("  rejection_loop:", f"{teams}  rejection_loop:")
    return parse_contract(text)


def entered(
    stage: str,
    at: datetime,
    lead: str = "ada@acme.io",
    owner: str | None = "rep-1",
    reason: str = "mql:hand_raiser",
    *,
    who: dict | None = None,  # name, company, record_url, email: who the lead is
    contract_version: str = "t",
    **details,
) -> LifecycleTransitioned:
    """Scoring's announcement that `lead` entered `stage` from `lead` at `at`: what starts and meets timers."""
    return LifecycleTransitioned(
        **(who or {}),
        lead_key=lead,
        from_stage="lead",
        to_stage=stage,
        reason=reason,
        fit_score=50,
        fit_grade="A",
        engagement_score=50,
        owner=owner,
        contract_version=contract_version,
        occurred_at=at,
        details=details,
    )


class Harness:
    def __init__(self, sessions, book: PolicyBook, postgres: bool, alerts_topic: str = "lockstep.alerts") -> None:
        self.sessions = sessions
        self.clock = FakeClock(T0)
        desk = AlertDesk(Outbox(outbox), alerts_topic, self._no_delivery)
        self.handler = SlaHandler(book, desk, TEST_KEYS)
        self.scanner = TimerScanner(
            sessions, book, desk, postgres=postgres, input_complete_until=self._input_complete, clock=self.clock
        )
        self.n = 0

    async def _input_complete(self, session) -> datetime | None:
        """What the consumer's watermarks would say with no backlog: everything up to now is in."""
        return self.clock.now

    @staticmethod
    async def _no_delivery(session, payload) -> None:
        return None

    async def send(self, payload) -> None:
        await self.send_all([payload])

    async def send_all(self, payloads: list) -> None:
        """Several events in ONE handler call, as the consumer runner hands over a poll."""
        envelopes = []
        for payload in payloads:
            self.n += 1
            subject = getattr(payload, "lead_key", None) or TEST_KEYS.of(payload.lead)
            envelopes.append(
                EventEnvelope.wrap(payload, id=f"e{self.n}", source="/tests", subject=subject, time=payload.occurred_at)
            )
        async with self.sessions() as session, session.begin():
            await self.handler(session, envelopes)

    async def enter(
        self,
        stage: str,
        at: datetime,
        lead: str = "ada@acme.io",
        owner: str | None = "rep-1",
        reason: str = "mql:hand_raiser",
        who: dict | None = None,  # name, company, record_url, email: who the lead is
        **details,
    ) -> None:
        await self.send(entered(stage, at, lead, owner, reason, who=who, **details))

    async def touch(self, at: datetime, rep: str = "rep-1") -> None:
        await self.send(
            SalesTouched(
                lead=LeadRef(source="salesforce", record_id="00Q1", email="ada@acme.io"),
                channel="call",
                rep=rep,
                occurred_at=at,
            )
        )

    async def scan_at(self, at: datetime) -> list[str]:
        self.clock.now = at
        await self.scanner.scan_once()
        return await self.alert_kinds()

    async def alert_kinds(self, policy: str | None = "mql_first_touch") -> list[str]:
        async with self.sessions() as session:
            query = select(alerts.c.kind).order_by(alerts.c.id)
            if policy:
                query = query.where((alerts.c.policy == policy) | (alerts.c.policy.is_(None)))
            return list((await session.execute(query)).scalars())

    async def alerts(self):
        async with self.sessions() as session:
            return (await session.execute(select(alerts).order_by(alerts.c.id))).all()

    async def timer(self, policy: str = "mql_first_touch"):
        async with self.sessions() as session:
            return (
                await session.execute(select(timers).where(timers.c.policy == policy).order_by(timers.c.id.desc()))
            ).first()


@pytest.fixture
async def harness(database_url):
    """A fresh database per backend, a Harness per contract (`harness(book)`)."""
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    yield lambda book: Harness(session_factory(engine), book, is_postgres(engine))
    await engine.dispose()


async def identify(h: Harness) -> None:
    """Scoring's announcement that Ada's email and her Salesforce record are one lead, as touches name her."""
    await h.send(
        LeadIdentified(lead_key="ada@acme.io", identities=["email:ada@acme.io", "salesforce:00Q1"], occurred_at=T0)
    )
