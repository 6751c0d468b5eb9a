"""Deals and touches as reports read them: pipeline created, deals won with their leads' touches,
and the reasons leads and deals were turned down.

Amounts are kept as the source sent them; a report counts in the contract's reporting currency
only. A deal whose source names no currency is in the reporting currency: a CRM that keeps one
currency (a HubSpot portal without multi-currency, a Salesforce org without it) sends none.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, and_, cast, false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from services.scoring.domain.attribution import Touch
from services.scoring.reports.facts import DISPOSITIONS, utc
from services.scoring.rollups import MICROS
from services.scoring.tables import leads, milestones, opportunities, touches, transitions
from shared.db.engine import is_postgres_session
from shared.db.keyed_statements import key_chunks, key_in
from shared.db.times import as_utc

o, ld, m, tc, t = opportunities.c, leads.c, milestones.c, touches.c, transitions.c


@dataclass(frozen=True)
class Money:
    """Deals and their sum in the reporting currency; deals in another currency are counted apart."""

    deals: int = 0
    amount: Decimal = Decimal(0)
    other_currency: int = 0


def amount_in(currency: str | None, reporting: str | None, amount: float | None) -> Decimal | None:
    """A deal's amount in the reporting currency, None when it is in another one (or has none)."""
    if amount is None or (currency and reporting and currency.upper() != reporting.upper()):
        return None
    return Decimal(str(amount))


def in_reporting_currency(currency: str | None, reporting: str | None) -> bool:
    return not (currency and reporting and currency.upper() != reporting.upper())


async def pipeline_created(session: AsyncSession, start: datetime, end: datetime, reporting: str | None) -> Money:
    """Opportunities created in the window, and their amounts."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    query = select(o.currency, o.amount).where(o.opened_at >= start, o.opened_at < end)
    deals, total, other = 0, Decimal(0), 0
    for currency, amount in await session.execute(query):
        deals += 1
        if not in_reporting_currency(currency, reporting):
            other += 1
        elif amount is not None:
            total += Decimal(str(amount))
    return Money(deals, total, other)


@dataclass(frozen=True)
class WonDeal:
    opportunity: str
    lead_key: str | None
    amount: Decimal | None  # in the reporting currency; None in another one
    in_reporting_currency: bool
    opened_at: datetime | None
    closed_at: datetime
    lead_created_at: datetime | None  # the lead's first event: where the sales cycle starts
    lead_entered_lead: datetime | None  # its first entry into `lead`: w_shaped's lead-creation touch
    marketing_sourced: bool  # the lead's first touch (marketing or sales) was a marketing one


async def won_deals(session: AsyncSession, start: datetime, end: datetime, reporting: str | None) -> list[WonDeal]:
    """Deals whose won close date falls in the window, with what attribution and cycle time need."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    # Marketing-sourced: the lead's first touch of any kind (a marketing activity or a rep's touch; an
    # unsubscribe or a bounce touches nobody) was marketing's, as scoring noted it (domain/touch_count.py).
    query = (
        select(
            o.opportunity,
            o.lead_key,
            o.amount,
            o.currency,
            o.opened_at,
            o.closed_at,
            ld.created_at,
            m.first_at,
            ld.marketing_sourced.label("sourced"),
        )
        .select_from(opportunities)
        .outerjoin(leads, ld.key == o.lead_key)
        .outerjoin(milestones, and_(m.lead_key == o.lead_key, m.stage == "lead"))
        .where(o.status == "won", o.closed_at >= start, o.closed_at < end)
        .order_by(o.closed_at, o.opportunity)
    )
    return [
        WonDeal(
            opportunity=row.opportunity,
            lead_key=row.lead_key,
            amount=amount_in(row.currency, reporting, row.amount),
            in_reporting_currency=in_reporting_currency(row.currency, reporting),
            opened_at=as_utc(row.opened_at),
            closed_at=as_utc(row.closed_at),
            lead_created_at=as_utc(row.created_at),
            lead_entered_lead=as_utc(row.first_at),
            marketing_sourced=bool(row.sourced),
        )
        for row in await session.execute(query)
    ]


@dataclass(frozen=True)
class WonTotals:
    """Deals won in a window as the targets read them: counted, summed in the reporting currency, and
    the marketing-sourced part (docs/scorecard.md "Money"), exact to the millionth."""

    deals: int
    other_currency: int
    amount: Decimal
    sourced_deals: int  # of the deals in the reporting currency
    sourced_amount: Decimal


async def won_totals(session: AsyncSession, start: datetime, end: datetime, reporting: str | None) -> WonTotals:
    """The sums of `won_deals`, added up in SQL: a month of trend needs no deal one by one."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    currency = func.upper(o.currency)
    sourced = func.coalesce(ld.marketing_sourced, false())
    micros = func.sum(cast(func.round(o.amount * MICROS), BigInteger))
    query = (
        select(currency, sourced, func.count(), micros)
        .select_from(opportunities)
        .outerjoin(leads, ld.key == o.lead_key)
        .where(o.status == "won", o.closed_at >= start, o.closed_at < end)
        .group_by(currency, sourced)
    )
    deals = other = sourced_deals = 0
    amount = sourced_amount = 0
    for code, was_sourced, n, summed in await session.execute(query):
        deals += n
        if not in_reporting_currency(code, reporting):
            other += n
            continue
        amount += int(summed or 0)
        if was_sourced:
            sourced_deals += n
            sourced_amount += int(summed or 0)
    return WonTotals(deals, other, Decimal(amount) / MICROS, sourced_deals, Decimal(sourced_amount) / MICROS)


async def touches_of(session: AsyncSession, won: list[WonDeal]) -> dict[str, list[Touch]]:
    """The marketing touches of these deals' leads, oldest first: all that attribution credits or
    counts as influence (domain/attribution.py); a rep's touch does neither. A deal counts none after
    it was created or closed, so none later than the last of those is read: a past month's scorecard
    reads the same touches however long its customers go on being touched."""
    found: dict[str, list[Touch]] = defaultdict(list)
    linked = [d for d in won if d.lead_key]
    if not linked:
        return found
    until = max(max(d.opened_at or d.closed_at, d.closed_at) for d in linked)
    postgres = await is_postgres_session(session)
    query = (
        select(tc.lead_key, tc.event_id, tc.occurred_at, tc.kind, tc.campaign, tc.channel)
        .where(key_in(tc.lead_key, postgres), tc.marketing == true(), tc.occurred_at <= utc(until))
        .order_by(tc.occurred_at, tc.event_id)
    )
    for chunk in key_chunks(sorted({d.lead_key for d in linked if d.lead_key}), postgres):
        for row in await session.execute(query, {"key_values": chunk}):
            found[row.lead_key].append(
                Touch(row.event_id, as_utc(row.occurred_at), row.kind, row.campaign, row.channel)
            )
    return found


@dataclass(frozen=True)
class ReasonCount:
    kind: str  # rejected | disqualified | lost
    code: str | None  # None: a reason nobody mapped to an agreed code, or none given
    lead_source: str | None
    campaign: str | None
    mql_rule: str | None
    count: int


async def reasons(session: AsyncSession, start: datetime, end: datetime) -> list[ReasonCount]:
    """Rejections and disqualifications in the window, and deals lost in it, by code and by the
    lead's source, campaign and qualifying rule: the lead-quality feedback loop."""
    start, end = utc(start), utc(end)  # SQLite compares stored UTC wall-clock text
    # The stage changes carry their lead's groups as it is now (reports/groups.py).
    groups: list[ColumnElement] = [t.group_lead_source, t.group_campaign, t.group_mql_rule]
    turned_down = (
        select(t.reason, t.reason_code, *groups, func.count())
        .where(t.occurred_at >= start, t.occurred_at < end, t.reason.in_(list(DISPOSITIONS)))
        .group_by(t.reason, t.reason_code, *groups)
    )
    dims: list[ColumnElement] = [ld.lead_source, ld.campaign, ld.mql_rule]
    found = [
        ReasonCount(DISPOSITIONS[reason], code, *rest) for reason, code, *rest in await session.execute(turned_down)
    ]
    lost = (
        select(o.lost_reason_code, *dims, func.count())
        .select_from(opportunities)
        .outerjoin(leads, ld.key == o.lead_key)
        .where(o.status == "lost", o.closed_at >= start, o.closed_at < end)
        .group_by(o.lost_reason_code, *dims)
    )
    found += [ReasonCount("lost", code, *rest) for code, *rest in await session.execute(lost)]
    return found
