"""What one batch of SLA events needs from the database, loaded up front, and what it changed, written at the end.

One repository per handler call, inside the consumer runner's transaction (this only reads and
flushes; the records and the writes are batch_changes.py's). The handler applies the batch's
events in order against the state held here, so a timer started and met, or identities learned
and used, within one batch behave as they would one event at a time; the database sees a few
set-wise statements instead of several per event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla import followups
from services.sla.batch_changes import BatchChanges, LoopEntry, Timer, Touch
from services.sla.tables import identities, loop_history, timers, touches
from shared.db.bulk_writes import CombinedWrite
from shared.db.engine import is_postgres_session
from shared.db.keyed_statements import KeyedStatement
from shared.db.times import as_utc as _aware
from shared.events import FollowUpDecided, LeadLabel

# The reads and deletes of every batch, built once (shared/db/keyed_statements.py).
_i, _t, _to, _h = identities.c, timers.c, touches.c, loop_history.c
_NAMES_BY_IDENTITY = KeyedStatement(_i.identity, lambda matching: select(_i.identity, _i.lead_key).where(matching))
_NAMES_BY_LEAD = KeyedStatement(_i.lead_key, lambda matching: select(_i.identity, _i.lead_key).where(matching))
_OPEN_TIMERS = KeyedStatement(
    _t.lead_key,
    lambda matching: select(
        _t.id, _t.timer_key, _t.lead_key, _t.policy, _t.owner, _t.calendar, _t.started_at, _t.due, _t.breached
    ).where(matching, _t.status == "open"),
)
_TIMER_KEYS = KeyedStatement(_t.timer_key, lambda matching: select(_t.timer_key).where(matching))
_TOUCHES = KeyedStatement(
    _to.identity,
    lambda matching: select(_to.id, _to.identity, _to.kind, _to.rep, _to.occurred_at).where(
        matching, _to.occurred_at >= bindparam("since")
    ),
)
_LOOPS = KeyedStatement(
    _h.lead_key,
    lambda matching: select(_h.id, _h.lead_key, _h.kind, _h.occurred_at, _h.reason, _h.rule).where(
        matching, _h.occurred_at >= bindparam("since")
    ),
)
_LOOP_EVENTS = KeyedStatement(_h.event_id, lambda matching: select(_h.event_id).where(matching))


def _utc(value: datetime) -> datetime:
    """As the database hands it back (UTC), so an in-batch value reads the same as a stored one."""
    return _aware(value).astimezone(UTC)


def _breach_due(due: dict[str, str]) -> datetime | None:
    return datetime.fromisoformat(due["breached"]) if "breached" in due else None


class SlaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._postgres = False
        self._lead_of: dict[str, str] = {}  # identity -> lead key
        self._names: dict[str, set[str]] = defaultdict(
            set
        )  # lead key -> identities (complete for the leads loaded by key)
        self._open: dict[str, list[Timer]] = defaultdict(list)  # lead key -> open timers, oldest first
        self._timer_keys: set[str] = set()
        self._touches: dict[str, list[Touch]] = defaultdict(list)  # identity -> touches
        self._loops: dict[str, list[LoopEntry]] = defaultdict(list)  # lead key -> MQL entries and rejections
        self._loop_events: set[str] = set()
        self._changes = BatchChanges()  # what the batch changed, written by flush()
        self._arrivals = 0

    # -- loading ------------------------------------------------------------------------------

    async def _rows_for(self, statement: KeyedStatement, values: Iterable[str], **params: Any) -> list:
        """One array parameter on PostgreSQL, short IN lists on SQLite; values sorted for a stable plan."""
        return await statement.execute(self.session, sorted(set(values)), self._postgres, **params)

    async def load_identities(self, names: Iterable[str], of_leads: Iterable[str]) -> None:
        """Who `names` belong to, and every name of `of_leads` (a new timer looks back at touches by any of them)."""
        self._postgres = await is_postgres_session(self.session)
        for statement, values in ((_NAMES_BY_IDENTITY, names), (_NAMES_BY_LEAD, of_leads)):
            for row in await self._rows_for(statement, values):
                if row.identity not in self._lead_of:
                    self._lead_of[row.identity] = row.lead_key
                    self._names[row.lead_key].add(row.identity)

    async def load_open_timers(self, lead_keys: Iterable[str]) -> None:
        for row in sorted(await self._rows_for(_OPEN_TIMERS, lead_keys), key=lambda r: r.id):
            timer = Timer(
                row.timer_key,
                row.lead_key,
                row.policy,
                row.owner,
                row.calendar,
                _utc(row.started_at),
                id=row.id,
                stored_lead_key=row.lead_key,
                breach_due=_breach_due(row.due),
                breached=bool(row.breached),
            )
            self._open[row.lead_key].append(timer)
            self._timer_keys.add(row.timer_key)

    async def load_timer_keys(self, keys: Iterable[str]) -> None:
        """Which of the timers the batch would start exist already (in any status): a start is idempotent."""
        self._timer_keys.update(row.timer_key for row in await self._rows_for(_TIMER_KEYS, keys))

    async def load_touches(self, names: Iterable[str], since: datetime | None) -> None:
        """Touches by `names` at or after `since`: the ones a timer started in this batch could count."""
        if since is None:
            return
        for row in await self._rows_for(_TOUCHES, names, since=since):
            self._touches[row.identity].append(Touch(row.kind, row.rep, _utc(row.occurred_at), (0, row.id)))

    async def load_loops(self, lead_keys: Iterable[str], since: datetime | None, event_ids: Iterable[str]) -> None:
        """The loop history of `lead_keys` from `since` (the earliest rejection-loop window in the batch),
        and which of the batch's loop events were recorded already."""
        if since is not None:
            for row in await self._rows_for(_LOOPS, lead_keys, since=since):
                self._loops[row.lead_key].append(
                    LoopEntry(row.kind, _utc(row.occurred_at), row.reason, row.rule, (0, row.id))
                )
        self._loop_events.update(row.event_id for row in await self._rows_for(_LOOP_EVENTS, event_ids))

    # -- the state the events are applied to --------------------------------------------------

    def _arrival(self) -> tuple[int, int]:
        self._arrivals += 1
        return (1, self._arrivals)

    def identify(self, lead_key: str, names: list[str]) -> dict[str, str | None]:
        """Map `names` to `lead_key`; return the names that were not its yet, with whose they were (None: unknown)."""
        changed: dict[str, str | None] = {}
        for name in names:
            before = self._lead_of.get(name)
            if before == lead_key:
                continue  # announced again (scoring repeats names): nothing to rewrite, nothing to match anew
            if before is not None:
                self._names[before].discard(name)
            self._lead_of[name] = lead_key
            self._names[lead_key].add(name)
            self._changes.renamed[name] = lead_key
            changed[name] = before
        return changed

    def leads_of(self, names: Iterable[str]) -> set[str]:
        return {self._lead_of[n] for n in names if n in self._lead_of}

    def names_of(self, lead_key: str) -> set[str]:
        return set(self._names.get(lead_key, ()))

    def open_timers(self, lead_keys: Iterable[str]) -> list[Timer]:
        """A copy: meeting a timer while going through them takes it out of the open ones."""
        return [timer for key in sorted(lead_keys) for timer in self._open.get(key, ())]

    def has_timer(self, timer_key: str) -> bool:
        return timer_key in self._timer_keys

    def start(self, row: dict[str, Any]) -> Timer:
        timer = Timer(
            row["timer_key"],
            row["lead_key"],
            row["policy"],
            row["owner"],
            row["calendar"],
            _utc(row["started_at"]),
            row=row,
            breach_due=_breach_due(row["due"]),
        )
        self._timer_keys.add(timer.timer_key)
        self._open[timer.lead_key].append(timer)
        self._changes.started.append(timer)
        return timer

    def meet(self, timer: Timer, at: datetime, by: str, business_s: float | None) -> None:
        timer.met = met = {"met_at": at, "met_by": by[:200], "business_s_to_met": business_s}
        self._open[timer.lead_key].remove(timer)
        self._changes.met.append((timer, met))

    def move(self, timer: Timer, lead_key: str) -> None:
        self._open[timer.lead_key].remove(timer)
        timer.lead_key = lead_key
        self._open[lead_key].append(timer)
        if timer.row is not None:
            timer.row["lead_key"] = lead_key
        elif timer not in self._changes.moved:
            self._changes.moved.append(timer)

    def cancel(self, timer: Timer, at: datetime) -> None:
        timer.cancelled_at = at
        self._open[timer.lead_key].remove(timer)
        self._changes.cancelled.append(timer)

    def touch(self, names: list[str], kind: str, rep: str | None, at: datetime, event_id: str) -> None:
        for name in names:
            self._changes.new_touches.append(
                {"identity": name, "kind": kind, "rep": rep, "occurred_at": at, "event_id": event_id}
            )
            self._touches[name].append(Touch(kind, rep, _utc(at), self._arrival()))

    def touches_since(self, names: Iterable[str], kinds: Collection[str], since: datetime) -> list[Touch]:
        found = [t for name in names for t in self._touches.get(name, ()) if t.kind in kinds and t.occurred_at >= since]
        return sorted(found, key=lambda t: (t.occurred_at, t.order))

    def record_loop(self, lead_key: str, event_id: str, kind: str, at: datetime, reason: str | None, rule: str) -> None:
        if event_id in self._loop_events:
            return
        self._loop_events.add(event_id)
        self._changes.new_loops.append(
            {
                "lead_key": lead_key,
                "kind": kind,
                "occurred_at": at,
                "reason": reason,
                "rule": rule,
                "event_id": event_id,
            }
        )
        self._loops[lead_key].append(LoopEntry(kind, _utc(at), reason, rule, self._arrival()))

    def merge_loops(self, absorbed: str, survivor: str) -> None:
        """The absorbed lead's MQLs and rejections are the survivor's history from now on."""
        self._loops[survivor].extend(self._loops.pop(absorbed, []))
        for row in self._changes.new_loops:
            if row["lead_key"] == absorbed:
                row["lead_key"] = survivor
        self._changes.loops_merged.append((absorbed, survivor))

    def label(self, lead_key: str, label: LeadLabel | None, email: str | None) -> None:
        """Who the lead is, as its latest stage change names them (the batch's last one is written)."""
        self._changes.labels[lead_key] = {
            "lead_key": lead_key,
            "name": (label.name or "")[:300] or None if label else None,
            "company": (label.company or "")[:300] or None if label else None,
            "record_url": (label.record_url or "")[:2000] or None if label else None,
            "email": email,
            "updated_at": datetime.now(UTC),
        }

    def loop_history(self, lead_key: str, since: datetime) -> list[LoopEntry]:
        return sorted(
            (h for h in self._loops.get(lead_key, ()) if h.occurred_at >= since), key=lambda h: (h.occurred_at, h.order)
        )

    # -- writing ------------------------------------------------------------------------------

    def decisions(self) -> list[FollowUpDecided]:
        """What became of the timers this batch met or cancelled, for the scorecard (followups.py)."""
        changes = self._changes
        return [followups.met(t, met) for t, met in changes.met] + [followups.cancelled(t) for t in changes.cancelled]

    async def flush(self, publish: Callable[[CombinedWrite], None] | None = None) -> None:
        """`publish`: adds what the batch publishes to its writes (batch_changes.py)."""
        await self._changes.write(self.session, publish)
