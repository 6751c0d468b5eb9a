"""Loads the leads a batch of events touches, in a few queries, and writes back what changed.

One repository per transaction (the consumer runner owns the transaction; this only
reads and flushes). Identities map every way a person is known to one lead key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.domain.attribution import SALES_TOUCH
from services.scoring.domain.lead import Contribution, Lead, Transition
from services.scoring.lead_rows import GROUP_COLUMNS, LeadRecord, group_values, lead_from_row, lead_row, short_text
from services.scoring.report_facts import ReportFacts, merge_milestones, write_milestones
from services.scoring.routing.tables import routing_queue
from services.scoring.snapshot import ContributionRow, read_snapshot
from services.scoring.tables import (
    contributions,
    event_log,
    followups,
    identities,
    leads,
    opportunities,
    touches,
    transitions,
)
from services.scoring.writeback.tables import writeback_dead, writeback_leads, writeback_queue, writeback_written
from shared.db.bulk_writes import CombinedWrite, Stale
from shared.db.engine import AnyRow, execute_on_cursor, is_postgres_session
from shared.db.keyed_statements import KeyedStatement
from shared.db.times import as_utc as _aware
from shared.events import LeadRef

# SQLite's reads of every batch, built once (shared/db/keyed_statements.py); PostgreSQL reads them in one
# round trip (snapshot.py).
_IDENTITIES = KeyedStatement(
    identities.c.identity, lambda matching: select(identities.c.identity, identities.c.lead_key).where(matching)
)
_OPPORTUNITIES = KeyedStatement(opportunities.c.opportunity, lambda matching: select(opportunities).where(matching))
_LEADS = KeyedStatement(leads.c.key, lambda matching: select(leads).where(matching))
_c = contributions.c
_CONTRIBUTIONS = KeyedStatement(
    _c.lead_key,
    lambda matching: (
        select(_c.lead_key, _c.rule, _c.points, _c.occurred_at, _c.event_id, _c.activity)
        .where(matching, _c.occurred_at >= bindparam("since"))
        .order_by(_c.occurred_at)
    ),
)


ContributionRecord = AnyRow | ContributionRow


class LeadRepository:
    def __init__(self, session: AsyncSession, contract_version: str) -> None:
        self.session = session
        self.version = contract_version
        self.identity: dict[str, str] = {}  # identity -> lead key
        self.leads: dict[str, Lead] = {}
        self.opportunities: dict[str, dict] = {}
        self._new_identities: dict[str, str] = {}
        self._absorbed: dict[str, str] = {}  # absorbed lead key -> survivor key
        self._read_versions: dict[str, int] = {}  # absorbed lead key -> its row's version when read
        self.survivors: dict[str, str] = {}  # lead key -> the event that last merged another lead into it
        self._events: list[dict] = []
        self._touches: list[dict] = []
        self.transitions: list[Transition] = []
        self._reports = ReportFacts()

    async def preload(
        self, refs: Iterable[LeadRef], opportunity_keys: Iterable[str], contributions_since: datetime | None
    ) -> None:
        """Read what the batch's events concern: their identities' leads, the deals named, and
        each lead's score contributions since `contributions_since` (None: none are needed)."""
        wanted = sorted({i for ref in refs for i in ref.identities()})
        deals = sorted(set(opportunity_keys))
        if await is_postgres_session(self.session):
            snapshot = await read_snapshot(self.session, wanted, deals, contributions_since)
            self._found(snapshot.identities, snapshot.opportunities, snapshot.leads, snapshot.contributions)
            return
        found = await _IDENTITIES.execute(self.session, wanted, False)
        opportunity_rows = [dict(row._mapping) for row in await _OPPORTUNITIES.execute(self.session, deals, False)]
        keys = sorted({key for _, key in found} | {o["lead_key"] for o in opportunity_rows if o["lead_key"]})
        lead_rows = await _LEADS.execute(self.session, keys, False)
        recent = (
            await _CONTRIBUTIONS.execute(self.session, keys, False, since=contributions_since)
            if contributions_since is not None
            else []
        )
        self._found([(identity, key) for identity, key in found], opportunity_rows, lead_rows, recent)

    def _found(
        self,
        known: list[tuple[str, str]],
        deals: list[dict[str, Any]],
        lead_rows: Sequence[LeadRecord],
        recent: Sequence[ContributionRecord],
    ) -> None:
        self.identity.update(known)
        self.opportunities.update((deal["opportunity"], deal) for deal in deals)
        self.leads.update((row.key, lead_from_row(row)) for row in lead_rows)
        self._reports.loaded(self.leads.values(), deals)
        for row in recent:  # oldest first
            if row.lead_key in self.leads:
                self.leads[row.lead_key].contributions.append(
                    Contribution(row.rule, row.points, _aware(row.occurred_at), row.event_id, row.activity)
                )

    def lead_for(self, ref: LeadRef) -> list[Lead]:
        """Every lead this reference's identities point to (more than one: they are the same person)."""
        keys = []
        for identity in ref.identities():
            key = self.identity.get(identity)
            key = self._absorbed.get(key, key) if key else None
            if key and key not in keys:
                keys.append(key)
        return [self.leads[k] for k in keys if k in self.leads]

    def add(self, lead: Lead) -> None:
        self.leads[lead.key] = lead

    def remember(self, ref: LeadRef, lead: Lead) -> None:
        for identity in ref.identities():
            if self.identity.get(identity) != lead.key:
                self.identity[identity] = lead.key
                self._new_identities[identity] = lead.key

    def absorb(self, absorbed: Lead, survivor: Lead, event_id: str) -> None:
        self._absorbed[absorbed.key] = survivor.key
        self.survivors.pop(absorbed.key, None)
        self.survivors[survivor.key] = event_id
        if not absorbed.is_new:
            self._read_versions[absorbed.key] = absorbed.version
        for target, key in list(self._absorbed.items()):
            if key == absorbed.key:
                self._absorbed[target] = survivor.key
        for identity, key in list(self.identity.items()):
            if key == absorbed.key:
                self.identity[identity] = survivor.key
        self.leads.pop(absorbed.key, None)
        survivor.absorb_touches(absorbed)
        # What the absorbed lead did in this batch is saved under the survivor.
        survivor.new_contributions += absorbed.new_contributions
        survivor.new_transitions = absorbed.new_transitions + survivor.new_transitions

    @property
    def merges(self) -> bool:
        """Whether this batch merged leads (the absorbed lead's stored rows are re-keyed at flush)."""
        return bool(self._absorbed)

    def log_event(
        self, event_id: str, event_type: str, occurred_at: datetime, data: dict, lead_key: str | None
    ) -> None:
        self._events.append(
            {"event_id": event_id, "type": event_type, "occurred_at": occurred_at, "data": data, "lead_key": lead_key}
        )

    def touch(self, lead: Lead, event_id: str, at: datetime, kind: str, marketing: bool, **facts: Any) -> None:
        """Keep a touch of the lead (campaign, asset, channel: no personal data) for the scorecard."""
        self._touches.append(
            {
                "event_id": event_id,
                "lead_key": lead.key,
                "occurred_at": at,
                "kind": kind,
                "marketing": marketing,
                "campaign": short_text(facts.get("campaign"), 256),  # the columns' lengths
                "asset": short_text(facts.get("asset"), 256),
                "channel": short_text(facts.get("channel"), 128),
            }
        )
        if marketing or kind == SALES_TOUCH:  # an unsubscribe or a bounce touches nobody
            lead.touched(at, event_id, marketing)

    def new_identities(self) -> dict[str, list[str]]:
        """Lead key -> identities learned in this unit of work."""
        by_lead: dict[str, list[str]] = {}
        for identity, key in self._new_identities.items():
            by_lead.setdefault(self._absorbed.get(key, key), []).append(identity)
        return by_lead

    async def flush(self, writes: CombinedWrite) -> list[Transition]:
        """Put what changed in `writes`, for the caller to write with its own (one statement on
        PostgreSQL); only a merge's re-keying of the absorbed lead's rows is written here, first."""
        now = datetime.now(UTC)
        s = self.session
        for absorbed, survivor in self._absorbed.items():
            # Consumers keep their own identity maps (SLA matches touches to timers by them) and learn
            # of a merge only from the identities published: announce every name of the absorbed lead
            # again, now under the survivor, or a touch by e.g. its email keeps going to a dead key.
            for identity in (
                await s.execute(select(identities.c.identity).where(identities.c.lead_key == absorbed))
            ).scalars():
                self._new_identities.setdefault(identity, survivor)
            if absorbed in self._read_versions:
                read = self._read_versions[absorbed]
                gone = await execute_on_cursor(s, delete(leads).where(leads.c.key == absorbed, leads.c.version == read))
                if gone.rowcount != 1:  # assigned since this batch read it: read both again
                    raise Stale(f"lead {absorbed} changed since it was read")
            for table in (identities, contributions, transitions, opportunities, event_log, touches, followups):
                await s.execute(update(table).where(table.c.lead_key == absorbed).values(lead_key=survivor))
            for table in (writeback_queue, writeback_written, writeback_dead):
                await s.execute(update(table).where(table.c.lead_key == absorbed).values(lead_key=survivor))
            # The survivor is routed on its own account: the absorbed lead no longer waits for a rep.
            await s.execute(delete(routing_queue).where(routing_queue.c.lead_key == absorbed))
            # What the CRMs were last sent for either lead no longer holds: every record is written again.
            await s.execute(delete(writeback_leads).where(writeback_leads.c.lead_key.in_([absorbed, survivor])))
            # The survivor's first entries are the earlier of both (engine.merge), each row as it was.
            await merge_milestones(s, absorbed, survivor)
            if survivor in self.leads:
                self.leads[survivor].new_milestones.update(self.leads[survivor].first_entered)
        live = [lead for lead in self.leads.values() if lead.key not in self._absorbed]
        for row in self._events + self._touches:  # under a lead this batch then merged into another
            row["lead_key"] = self._absorbed.get(row["lead_key"], row["lead_key"])
        await self._reports.count_touches(s, live, self._touches)
        fresh = [t for lead in live for t in lead.new_transitions]
        for t in fresh:
            t.lead_key = self._absorbed.get(t.lead_key, t.lead_key)
        deals = self._opportunity_rows(now)
        groups = {lead.key: group_values(lead) for lead in live}
        self._reports.write(writes, live, groups, self._absorbed, set(self._absorbed.values()), fresh, deals)
        # Only as read: the routing queue or a reassignment may have given a lead its owner since (Stale).
        changed = [lead_row(lead, now) for lead in live if lead.dirty and not lead.is_new]
        writes.update_unchanged(leads, changed, key="key", version="version")
        writes.append(leads, [lead_row(lead, now) for lead in live if lead.is_new])
        writes.upsert(opportunities, deals, key="opportunity")
        writes.upsert(
            identities,
            [{"identity": i, "lead_key": self._absorbed.get(k, k)} for i, k in self._new_identities.items()],
            key="identity",
        )
        writes.append(
            contributions,
            [
                {
                    "lead_key": lead.key,
                    "rule": c.rule,
                    "points": c.points,
                    "occurred_at": c.occurred_at,
                    "event_id": c.event_id,
                    "activity": c.activity,
                }
                for lead in live
                for c in lead.new_contributions
            ],
        )
        by_column = {key: dict(zip(GROUP_COLUMNS, groups[key], strict=True)) for key in {t.lead_key for t in fresh}}
        writes.append(transitions, [self._transition_row(t, now) | by_column[t.lead_key] for t in fresh])
        write_milestones(writes, live, groups, fresh)
        writes.append(event_log, self._events)
        writes.append(touches, self._touches)
        return fresh

    def _transition_row(self, t: Transition, now: datetime) -> dict:
        return {
            "lead_key": t.lead_key,
            "from_stage": t.from_stage,
            "to_stage": t.to_stage,
            "reason": t.reason[:200],
            "occurred_at": t.occurred_at,
            "recorded_at": now,
            "event_id": t.event_id,
            "contract_version": self.version,
            "from_entered_at": t.from_entered_at,
            "stay_s": t.stay_s,
            "stay_business_s": t.stay_business_s,
            "fit_score": t.fit_score,
            "fit_grade": t.fit_grade,
            "engagement_score": t.engagement_score,
            "owner": t.owner,
            "source": t.details.get("source"),
            "campaign": t.details.get("campaign"),
            "reason_code": t.details.get("reason_code"),
            "details": t.details,
            "group_mql_rule": t.mql_rule,  # reports group a stage change by these as they were (tables.THEN)
            "group_fit_grade": t.fit_grade,
        }

    def _opportunity_rows(self, now: datetime) -> list[dict]:
        rows = []
        for row in self.opportunities.values():
            if row.get("_dirty"):
                lead_key: str | None = row.get("lead_key")
                rows.append(
                    {
                        **{k: v for k, v in row.items() if not k.startswith("_")},
                        "lead_key": None if lead_key is None else self._absorbed.get(lead_key, lead_key),
                        "updated_at": now,
                    }
                )
        return rows
