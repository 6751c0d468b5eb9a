"""Scoring's copy of the SLA's follow-up timers, on the real databases (SQLite and PostgreSQL): each
timer's decisions merge into one row whatever their order and however often they come, a row never
keeps a key erasure took away, and the first-touch numbers read from the rows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from contract import load_contract
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.engine import LifecycleEngine
from services.scoring.erasure import erasure_request
from services.scoring.followups import FollowUpDecisions, follow_up_attainment
from services.scoring.handler import ScoringHandler
from services.scoring.migrations import MIGRATIONS
from services.scoring.tables import followups, outbox
from shared.db import Outbox, create_engine, session_factory
from shared.db.migrations import upgrade
from shared.db.times import as_utc
from shared.events import ContactMerged, ContactUpserted, EventEnvelope, FollowUpDecided, LeadRef
from tests.support.keys import TEST_KEYS, key_of

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
POLICY = "mql_first_touch"
ADA = LeadRef(source="hubspot", record_id="501", email="ada@acme.io")
ADA_MARKETO = LeadRef(source="marketo", record_id="318581")  # the same person, known first without her email
BOB = LeadRef(source="hubspot", record_id="502", email="bob@beta.io")


def decided(
    timer: str,
    status: str,
    lead: str = "",
    in_time: bool | None = None,
    seconds: float | None = None,
    started: datetime = T0,
    policy: str = POLICY,
) -> FollowUpDecided:
    return FollowUpDecided(
        timer_id=timer,
        lead_key=lead or key_of("bob@beta.io"),
        policy=policy,
        started_at=started,
        status=status,  # type: ignore[arg-type]
        in_time=in_time if status != "breached" else False,
        business_seconds_to_met=seconds,
        occurred_at=started + timedelta(hours=4),
    )


def met(timer: str, in_time: bool, seconds: float, **kw) -> FollowUpDecided:
    return decided(timer, "met", in_time=in_time, seconds=seconds, **kw)


def _envelope(d: FollowUpDecided) -> EventEnvelope:
    return EventEnvelope.wrap(
        d, id=f"followup:{d.timer_id}:{d.status}", source="/lockstep/sla", subject=d.lead_key, time=d.occurred_at
    )


@pytest.fixture
async def scoring_db(database_url):
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    sessions = session_factory(engine)
    # Ada and Bob are scoring's leads (Ada first known by her Marketo record alone, a lead of its own).
    scoring = ScoringHandler(LifecycleEngine(load_contract(DEFAULT_CONTRACT)), Outbox(outbox), "t.lifecycle", TEST_KEYS)
    people = [ContactUpserted(lead=ref, occurred_at=T0 - timedelta(days=1)) for ref in (ADA, ADA_MARKETO, BOB)]
    async with sessions() as session, session.begin():
        await scoring(session, [_scored(p, n) for n, p in enumerate(people)])
    yield sessions, scoring
    await engine.dispose()


def _scored(payload, n: int) -> EventEnvelope:
    return EventEnvelope.wrap(payload, id=f"s{n}", source="/tests", subject=TEST_KEYS.of(payload.lead), time=T0)


async def _apply(sessions, *batches: list[FollowUpDecided]) -> None:
    """Each batch as the consumer hands one over, in its own transaction, idempotency record aside."""
    for batch in batches:
        async with sessions() as session, session.begin():
            await FollowUpDecisions()(session, [_envelope(d) for d in batch])


async def _rows(sessions) -> dict[str, tuple]:
    async with sessions() as session:
        rows = (await session.execute(select(followups))).all()
    return {r.timer_id: (r.lead_key, r.policy, r.started_at, r.status, r.in_time, r.business_s_to_met) for r in rows}


# Each timer's decisions, and the row they make, whatever the order and however batched.
STORIES = {
    "met in time": ([met("t", True, 3600)], ("met", True, 3600)),
    "breached, then met late": ([decided("t", "breached"), met("t", False, 18000)], ("met", False, 18000)),
    # The breach raised just before a touch that came by its due time: compliance counts the breach.
    "breached, then met by its due time": ([decided("t", "breached"), met("t", True, 14000)], ("met", False, 14000)),
    "breached, then cancelled": ([decided("t", "breached"), decided("t", "cancelled")], ("cancelled", False, None)),
    "still breached": ([decided("t", "breached")], ("breached", False, None)),
}


@pytest.mark.parametrize("story", STORIES)
async def test_a_timer_s_decisions_make_one_row_in_any_order_batched_or_not_and_again(scoring_db, story):
    sessions, _ = scoring_db
    decisions, (status, in_time, seconds) = STORIES[story]
    ways = []
    for n, order in enumerate(itertools.permutations(decisions)):
        for batched in (False, True):
            timer = f"fu_{n}_{batched}"
            mine = [d.model_copy(update={"timer_id": timer}) for d in order]
            ways.append(timer)
            await _apply(sessions, *([mine] if batched else [[d] for d in mine]))
    first = await _rows(sessions)
    assert {timer: row[3:] for timer, row in first.items()} == {timer: (status, in_time, seconds) for timer in ways}
    assert {(lead, policy, as_utc(started)) for lead, policy, started, *_ in first.values()} == {
        (key_of("bob@beta.io"), POLICY, T0)
    }
    # Every decision again, in one batch and one by one, last first (a redelivery, a replayed dead letter).
    again = [d.model_copy(update={"timer_id": t}) for t in ways for d in reversed(decisions)]
    await _apply(sessions, again, *[[d] for d in again])
    assert await _rows(sessions) == first


async def test_a_row_never_keeps_a_key_erasure_or_a_merge_took_away(scoring_db):
    sessions, scoring = scoring_db
    ada, marketo, bob = key_of("ada@acme.io"), TEST_KEYS.of(ADA_MARKETO), key_of("bob@beta.io")
    await _apply(
        sessions,
        [
            decided("fu_ada", "breached", lead=ada),
            decided("fu_marketo", "breached", lead=marketo),
            met("fu_bob", True, 60, lead=bob),
            met("fu_nobody", True, 60, lead="ld_nobodyscoringknows00000"),
        ],
    )
    stored = await _rows(sessions)
    assert [stored[t][0] for t in ("fu_ada", "fu_marketo", "fu_bob")] == [ada, marketo, bob]
    nobody = stored["fu_nobody"][0]
    assert nobody.startswith("ld_") and nobody != "ld_nobodyscoringknows00000", (
        "a key scoring does not know is kept by no row"
    )

    # Scoring merges Ada's Marketo lead into her: its follow-ups are hers. Then she is erased.
    merge = ContactMerged(lead=ADA, merged=[ADA_MARKETO], occurred_at=T0)
    erase = erasure_request("t.events", TEST_KEYS, "ada@acme.io", now=T0 + timedelta(days=1))
    async with sessions() as session, session.begin():
        await scoring(session, [_scored(merge, 10), EventEnvelope.from_record(erase.headers, erase.value)])
        await session.execute(delete(outbox))
    erased = await _rows(sessions)
    hidden = erased["fu_ada"][0]
    assert erased["fu_marketo"][0] == hidden and hidden not in (ada, marketo) and hidden.startswith("ld_")
    assert erased["fu_bob"] == stored["fu_bob"], "nobody else is touched"

    # Decisions the SLA made before it heard of the erasure come after it: they bring back no key of hers.
    await _apply(
        sessions,
        [met("fu_ada", False, 20000, lead=ada), met("fu_marketo", False, 20000, lead=marketo)],
        [met("fu_ada_new", True, 60, lead=ada)],
    )
    after = await _rows(sessions)
    assert after["fu_ada"][0] == after["fu_marketo"][0] == hidden and after["fu_ada"][3:] == ("met", False, 20000)
    assert after["fu_ada_new"][0] not in (ada, marketo, hidden)
    assert not {ada, marketo} & {row[0] for row in after.values()}


async def test_attainment_and_median_of_a_policy_s_timers_started_in_the_window(scoring_db):
    sessions, _ = scoring_db
    hour = timedelta(hours=1)
    await _apply(
        sessions,
        [
            met("in1", True, 3600),
            met("in2", True, 7200, started=T0 + hour),
            met("late", False, 18000, started=T0 + 2 * hour),
            decided("open_breach", "breached", started=T0 + 3 * hour),
            decided("twin", "breached", started=T0 + 3 * hour),
            decided("twin", "cancelled", started=T0 + 3 * hour),  # a merged lead's twin: counted nowhere
            met("before", True, 60, started=T0 - timedelta(seconds=1)),  # outside the window
            met("at_end", True, 60, started=T0 + 10 * hour),  # the end belongs to the next window
            met("other_policy", False, 60, policy="mql_accept_or_reject"),
        ],
    )
    async with sessions() as session:
        got = await follow_up_attainment(session, POLICY, T0, T0 + 10 * hour)
        empty = await follow_up_attainment(session, POLICY, T0 - 10 * hour, T0 - 5 * hour)
        # Seen from another time zone, the window is the same instants.
        berlin = await follow_up_attainment(
            session,
            POLICY,
            T0.astimezone(ZoneInfo("Europe/Berlin")),
            (T0 + 10 * hour).astimezone(ZoneInfo("Asia/Tokyo")),
        )
    assert (got.decided, got.met_in_time, got.breached) == (4, 2, 2)
    assert got.attainment == Fraction(1, 2)
    # Nearest rank over every met timer, late ones included: of 3600, 7200, 18000 the second.
    assert got.median_business_s_to_met == 7200
    assert berlin == got
    assert (empty.decided, empty.attainment, empty.median_business_s_to_met) == (0, None, None)
    async with sessions() as session:
        await FollowUpDecisions()(session, [_envelope(met("in3", True, 100, started=T0 + 4 * hour))])
        await session.commit()
        even = await follow_up_attainment(session, POLICY, T0, T0 + 10 * hour)
    assert even.median_business_s_to_met == 3600, "of an even count, the lower middle value: 100, 3600, 7200, 18000"
    assert even.attainment == Fraction(3, 5)
