"""A scoring database as the 0003 service left it, for the scorecard upgrade's test
(tests/services/scoring/test_scorecard_upgrade.py): two leads' stage changes, deals and logged events,
written into the 0003 tables as they are in the database (reflected, not today's models), so the
upgrade has a real history to fill the scorecard's facts from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from shared.events import (
    ActivityRecorded,
    ContactAttributes,
    ContactUpserted,
    EventEnvelope,
    LeadRef,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
)
from shared.events.catalog import OpportunityChange
from tests.support.keys import TEST_KEYS

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # a Monday
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
ADA = LeadRef(source="hubspot", record_id="501", email="ada@acme.io")
BOB = LeadRef(source="salesforce", record_id="00Q7", email="bob@beta.io")
A, B = TEST_KEYS.of(ADA), TEST_KEYS.of(BOB)
LONG_ASSET = "https://acme.io/pricing?" + "utm_content=" + "x" * 290  # a tracked link: longer than the column

# Each lead's stage changes as the 0003 service wrote them, in order: (from, to, reason, at).
ADA_CHANGES = [
    (None, "subscriber", "created", T0),
    ("subscriber", "lead", "enter:lead", T0 + HOUR),
    ("lead", "mql", "mql:fit_and_engagement", T0 + 2 * HOUR),
    ("mql", "recycled", "disposition:rejected", T0 + 3 * HOUR),
    ("recycled", "mql", "mql:hand_raiser", T0 + DAY),  # qualified again, by another rule
    ("mql", "opportunity", "opportunity:created", T0 + DAY + 2 * HOUR),
    ("opportunity", "recycled", "opportunity:closed_lost", T0 + 5 * DAY),
]
BOB_CHANGES = [
    (None, "subscriber", "created", T0 + HOUR / 2),
    ("subscriber", "opportunity", "opportunity:stage_changed", T0 + 2 * DAY + HOUR),
    ("opportunity", "customer", "opportunity:closed_won", T0 + 4 * DAY),
]


def deal(lead: LeadRef | None, deal: str, change: OpportunityChange, at: datetime, **facts) -> OpportunityChanged:
    source, opportunity_id = deal.split(":")
    return OpportunityChanged(
        source=source, opportunity_id=opportunity_id, change=change, occurred_at=at, lead=lead, **facts
    )


# What the 0003 service logged, in the order it applied them, with whose each event was.
EVENTS: list[tuple[str, str, Any]] = [
    ("a1", A, ContactUpserted(lead=ADA, occurred_at=T0, attributes=ContactAttributes(lead_source="paid_search"))),
    ("b1", B, ContactUpserted(lead=BOB, occurred_at=T0 + HOUR / 2, attributes=ContactAttributes(company="Beta"))),
    (
        "a2",
        A,
        ActivityRecorded(
            lead=ADA,
            kind="form_submit",
            occurred_at=T0 + HOUR,
            campaign="q4-webinar",
            asset="/ebook/funnel-math",
            properties={"lead_source": "webinar"},  # this touch came through another channel than the lead
        ),
    ),
    ("a3", A, ActivityRecorded(lead=ADA, kind="page_view", occurred_at=T0 + 1.5 * HOUR, asset=LONG_ASSET)),
    ("a4", A, SalesTouched(lead=ADA, channel="call", rep="rep-7", occurred_at=T0 + 2.5 * HOUR)),
    ("a5", A, SalesDispositioned(lead=ADA, disposition="rejected", reason="BAD_TIMING", occurred_at=T0 + 3 * HOUR)),
    ("a6", A, ActivityRecorded(lead=ADA, kind="demo_request", occurred_at=T0 + DAY, campaign="demo-nov")),
    ("b2", B, ActivityRecorded(lead=BOB, kind="bounce", occurred_at=T0 + DAY + HOUR)),  # not a marketing touch
    ("a7", A, deal(ADA, "hubspot:7781", "created", T0 + DAY + 2 * HOUR, amount=12000.0, currency="dollars")),
    # Salesforce: an edit arrives before the creation it follows, and the won deal is sent again.
    ("b3", B, deal(BOB, "salesforce:006B", "stage_changed", T0 + 2 * DAY + HOUR, currency="usd")),
    ("b4", B, deal(BOB, "salesforce:006B", "created", T0 + 2 * DAY, currency="dollars")),
    ("b5", B, deal(BOB, "salesforce:006B", "closed_won", T0 + 4 * DAY, amount=30000.0, currency="USD")),
    ("b6", B, deal(BOB, "salesforce:006B", "closed_won", T0 + 4 * DAY + 3 * HOUR, amount=30000.0)),
    ("a8", A, deal(ADA, "hubspot:7781", "closed_lost", T0 + 5 * DAY, lost_reason="Price")),
]


def write_0003_history(connection: Connection) -> None:
    """Rows as the 0003 service wrote them, into the tables as they are at 0003 (read from the database)."""
    old = MetaData()
    old.reflect(connection)
    lead: dict[str, Any] = {
        "updated_at": T0 + 5 * DAY,
        "owner": None,
        "campaign": None,
        "attribute_times": {},
        "fit_score": 35,
        "fit_grade": "B",
        "fit_detail": [["senior_title", 20], ["target_industry", 15]],
        "engagement_value": 0.0,
        "engagement_at": None,
        "activities_since_mql": 0,
        "rejection_reason": None,
        "deleted": False,
    }
    connection.execute(
        old.tables["scoring_leads"].insert(),
        [
            lead
            | {
                "key": A,
                "email": ADA.email,
                "stage": "recycled",
                "stage_entered_at": T0 + 5 * DAY,
                "created_at": T0,
                "source": "hubspot",
                "attributes": {"lead_source": "paid_search", "title": "VP Marketing", "industry": "Software"},
            },
            lead
            | {
                "key": B,
                "email": BOB.email,
                "stage": "customer",
                "stage_entered_at": T0 + 4 * DAY,
                "created_at": T0 + HOUR / 2,
                "source": "salesforce",
                "attributes": {"company": "Beta"},
            },
        ],
    )
    connection.execute(
        old.tables["scoring_identities"].insert(),
        [{"identity": identity, "lead_key": TEST_KEYS.of(ref)} for ref in (ADA, BOB) for identity in ref.identities()],
    )
    # One lead's changes after the other's, as batches interleave: ids order each lead's own in time.
    connection.execute(
        old.tables["scoring_transitions"].insert(),
        [
            {
                "lead_key": key,
                "from_stage": from_stage,
                "to_stage": to_stage,
                "reason": reason,
                "occurred_at": at,
                "recorded_at": at,
                "event_id": None,
                "contract_version": "2026.1",
                "fit_score": 35,
                "fit_grade": "B",
                "engagement_score": 0,
                "details": {},
            }
            for key, changes in ((A, ADA_CHANGES[:4]), (B, BOB_CHANGES[:2]), (A, ADA_CHANGES[4:]), (B, BOB_CHANGES[2:]))
            for from_stage, to_stage, reason, at in changes
        ],
    )
    connection.execute(
        old.tables["scoring_opportunities"].insert(),
        [
            {"opportunity": deal, "lead_key": key, "status": status, "stage": None, "amount": amount, "updated_at": at}
            for deal, key, status, amount, at in (
                ("hubspot:7781", A, "lost", 12000.0, T0 + 5 * DAY),
                ("salesforce:006B", B, "won", 30000.0, T0 + 4 * DAY + 3 * HOUR),
            )
        ],
    )
    connection.execute(
        old.tables["scoring_event_log"].insert(),
        [
            {
                "event_id": f"ev-{name}",
                "type": p.event_type,
                "occurred_at": p.occurred_at,
                "data": _data(p),
                "lead_key": k,
            }
            for name, k, p in EVENTS
        ],
    )


def _data(payload: Any) -> dict:
    return EventEnvelope.wrap(payload, id="-", source="/tests", subject=None).data
