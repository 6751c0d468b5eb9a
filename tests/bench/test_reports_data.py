"""The reports benchmark's synthetic history (bench/reports_data.py) is what scoring would have
written: the reports it measures read milestones, stays and the leads' first entries by scoring's
invariants, so a history that broke them would time the wrong work. Written at 2,000 leads on each
backend, by the same bulk paths the benchmark uses, and read back through the service's tables."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.reports_data import history, months_before
from bench.reports_rows import Vocabulary
from bench.reports_store import Made, postgres_history, sqlite_history
from contract import load_contract
from contract.calendar import reporting_calendar
from contract.settings import DEFAULT_CONTRACT
from services.scoring.domain.lead import Lead
from services.scoring.reports.rollup_reads import Total, counted, totals
from services.scoring.tables import leads, milestones, opportunities, rollups, touches, transitions
from shared.db.engine import AnyRow, create_engine
from shared.db.times import as_utc
from tests.support.infra import drop_pg_database

LEADS = 2_000
END = datetime(2026, 11, 1, 4, tzinfo=UTC)


@pytest.fixture
def made(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    if backend == "sqlite":
        yield sqlite_history(LEADS, 7, END, folder=tmp_path)
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    name = f"t_reports_{uuid.uuid4().hex[:10]}"
    try:
        yield postgres_history(admin_url, LEADS, 7, END, name=name)
    finally:
        asyncio.run(drop_pg_database(admin_url, name))


async def _read(url: str) -> dict[str, Sequence[AnyRow]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return {
                table.name: (await connection.execute(select(table).order_by(*table.primary_key.columns))).all()
                for table in (leads, milestones, opportunities, touches, transitions)
            }
    finally:
        await engine.dispose()


def test_the_history_keeps_scorings_invariants_in_the_requested_proportions(made: Made):
    tables = asyncio.run(_read(made.url))
    assert not made.reused
    assert {name: len(rows) for name, rows in tables.items()} == {name: made.counts[name] for name in tables}, (
        "the counts the benchmark reports are the rows stored"
    )
    count = len(tables["scoring_leads"])
    assert count == LEADS
    assert 2.6 <= len(tables["scoring_transitions"]) / count <= 3.3  # about 3M stage changes at 1M leads
    assert 4.4 <= len(tables["scoring_touches"]) / count <= 5.6  # about 5M touches
    assert 0.035 <= len(tables["scoring_opportunities"]) / count <= 0.065  # about 50k deals

    calendar = reporting_calendar(load_contract(DEFAULT_CONTRACT).sla)
    history_of: dict[str, list] = defaultdict(list)
    for change in tables["scoring_transitions"]:  # by id: the order scoring wrote them in
        history_of[change.lead_key].append(change)
    firsts: dict[tuple[str, str], datetime] = {}
    for key, changes in history_of.items():
        assert (changes[0].from_stage, changes[0].from_entered_at, changes[0].stay_business_s) == (None, None, None)
        for before, after in itertools.pairwise(changes):
            assert as_utc(after.occurred_at) >= as_utc(before.occurred_at)
            assert after.from_stage == before.to_stage
            assert as_utc(after.from_entered_at) == as_utc(before.occurred_at)
            stay = calendar.elapsed(as_utc(before.occurred_at), as_utc(after.occurred_at))
            assert after.stay_business_s == pytest.approx(stay.total_seconds())
            assert after.stay_s == (as_utc(after.occurred_at) - as_utc(before.occurred_at)).total_seconds()
        for change in changes:
            firsts.setdefault((key, change.to_stage), as_utc(change.occurred_at))
    stored = {(m.lead_key, m.stage): as_utc(m.first_at) for m in tables["scoring_milestones"]}
    assert stored == firsts, "a milestone is each lead's first entry into each stage, and only that"

    entered = Counter(stage for _, stage in stored)
    assert entered["lead"] >= 0.98 * count  # every lead enters `lead` (a few only after the history ends)
    assert 0.25 <= entered["mql"] / count <= 0.36  # about 30% become MQLs
    assert 0.3 <= entered["sal"] / entered["mql"] <= 0.6
    assert entered["recycled"] and entered["disqualified"] and entered["customer"]
    by_lead: dict[str, dict[str, datetime]] = defaultdict(dict)
    for (key, stage), at in stored.items():
        by_lead[key][stage] = at
    for lead in tables["scoring_leads"]:
        last = history_of[lead.key][-1]
        assert (lead.stage, as_utc(lead.stage_entered_at)) == (last.to_stage, as_utc(last.occurred_at))
        assert {s: datetime.fromisoformat(at) for s, at in lead.first_entered.items()} == by_lead[lead.key]
    for row in tables["scoring_milestones"]:  # what each first entry went on to reach, as scoring marks it
        firsts_of = by_lead[row.lead_key]
        scored = Lead(row.lead_key, row.stage, row.first_at, row.first_at, "bench", first_entered=firsts_of)
        assert row.reached == scored.reached(row.stage)

    codes = load_contract(DEFAULT_CONTRACT).reason_codes
    rejections = [t for t in tables["scoring_transitions"] if t.reason == "disposition:rejected"]
    assert rejections and all(t.reason_code in codes.rejected or t.reason_code is None for t in rejections)
    assert sum(t.reason_code is not None for t in rejections) >= 0.8 * len(rejections)

    deals = tables["scoring_opportunities"]
    assert Counter(d.status for d in deals).keys() == {"open", "won", "lost"}
    assert Counter(d.currency for d in deals)["USD"] >= 0.85 * len(deals)
    assert "EUR" in {d.currency for d in deals}
    for deal in deals:
        assert stored[deal.lead_key, "opportunity"] <= as_utc(deal.opened_at)
        if deal.status == "won":
            assert stored[deal.lead_key, "customer"] == as_utc(deal.closed_at)
        if deal.status == "lost":
            assert deal.lost_reason
    assert all(t.lead_key in history_of for t in tables["scoring_touches"])

    # Upgraded as a deployment would be: every fact under its lead's groups, the counters what the facts say.
    groups = {lead.key: (lead.owner, lead.lead_source, lead.campaign) for lead in tables["scoring_leads"]}
    for t in tables["scoring_transitions"]:
        assert (t.group_owner, t.group_lead_source, t.group_campaign) == groups[t.lead_key]
    kept, recounted = asyncio.run(_counters(made.url))
    assert kept == recounted and kept["entered:lead"].count == entered["lead"]


async def _counters(url: str) -> tuple[dict, dict]:
    """Every counter over all the history, from the counters and from the facts."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            session = AsyncSession(bind=connection)
            measures = sorted((await session.execute(select(rollups.c.measure).distinct())).scalars())
            start, end = datetime(2000, 1, 1, tzinfo=UTC), END + timedelta(days=1)
            kept = await totals(session, measures, start, end)
            recounted = {m: Total(n, a) for m, n, a in await counted(session, measures, start, end) if n or a}
            return kept, recounted
    finally:
        await engine.dispose()


def test_the_same_seed_makes_the_same_history_and_a_kept_one_is_reused(tmp_path: Path):
    vocabulary = Vocabulary(load_contract(DEFAULT_CONTRACT))
    assert list(history(300, 3, END, vocabulary)) == list(history(300, 3, END, vocabulary))
    assert list(history(300, 3, END, vocabulary)) != list(history(300, 4, END, vocabulary))
    first = sqlite_history(300, 3, END, folder=tmp_path)
    again = sqlite_history(300, 3, END, folder=tmp_path)
    assert (first.reused, again.reused, again.counts) == (False, True, first.counts)
    assert not sqlite_history(300, 3, datetime(2026, 12, 1, 5, tzinfo=UTC), folder=tmp_path).reused


def _lead_starts_and_changes(batches) -> tuple[list[datetime], list[datetime]]:
    created, changed = [], []
    for batch in batches:
        created += [row[4] for row in batch.get("scoring_leads", [])]  # created_at
        changed += [row[4] for row in batch.get("scoring_transitions", [])]  # occurred_at
    return created, changed


def test_a_shortened_history_is_the_last_months_of_the_whole_one_at_the_same_pace(tmp_path: Path):
    vocabulary = Vocabulary(load_contract(DEFAULT_CONTRACT))
    kept_from, month = months_before(END, 4), months_before(END, 1)
    whole_created, whole_changed = _lead_starts_and_changes(history(6_000, 7, END, vocabulary))
    created, changed = _lead_starts_and_changes(history(6_000, 7, END, vocabulary, months=4))
    assert min(created) >= kept_from and min(changed) >= kept_from, "nothing from before the months kept"
    # The same leads arrive in those months as in the whole history's (its first one may fall either side).
    assert 0 <= sum(at >= kept_from for at in whole_created) - len(created) <= 1
    assert len(created) < 0.2 * len(whole_created)
    # So the month measured holds about as many stage changes, behind a ninth of the months.
    in_month = sum(at >= month for at in changed)
    whole_in_month = sum(at >= month for at in whole_changed)
    assert 0.9 * whole_in_month <= in_month <= 1.1 * whole_in_month
    for months in (0, 37):
        with pytest.raises(ValueError, match="months"):
            next(history(10, 7, END, vocabulary, months=months))

    whole = sqlite_history(300, 3, END, folder=tmp_path)
    short = sqlite_history(300, 3, END, folder=tmp_path, months=4)
    assert not short.reused and short.url != whole.url, "kept apart from the whole history"
    assert (short.leads, short.months, whole.months) == (300, 4, 36)
    assert short.counts["scoring_leads"] < whole.counts["scoring_leads"] == 300
    assert sqlite_history(300, 3, END, folder=tmp_path, months=4).reused
