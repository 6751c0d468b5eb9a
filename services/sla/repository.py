"""What one batch of SLA events needs from the database, loaded up front, and what it changed, written at the end.

One repository per handler call, inside the consumer runner's transaction (this only reads and
flushes). The handler applies the batch's events in order against the state held here, so a
timer started and met, or identities learned and used, within one batch behave as they would
one event at a time; the database sees a few set-wise statements instead of several per event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.sla.tables import alerts, identities, loop_history, timers, touches
from shared.db.bulk_writes import CombinedWrite
from shared.db.engine import is_postgres_session
from shared.db.keyed_statements import KeyedStatement
from shared.db.times import as_utc as _aware

# The reads and deletes of every batch, built once (shared/db/keyed_statements.py).
_i, _t, _to, _h = identities.c, timers.c, touches.c, loop_history.c
_NAMES_BY_IDENTITY = KeyedStatement(_i.identity, lambda matching: select(_i.identity, _i.lead_key).where(matching))
_NAMES_BY_LEAD = KeyedStatement(_i.lead_key, lambda matching: select(_i.identity, _i.lead_key).where(matching))
_OPEN_TIMERS = KeyedStatement(
    _t.lead_key,
    lambda matching: select(_t.id, _t.timer_key, _t.lead_key, _t.policy, _t.owner, _t.calendar, _t.started_at).where(
        matching, _t.status == "open"
    ),
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


@dataclass(eq=False)
class Timer:
    """An open follow-up timer: stored (`id`) or started in this batch (`row` still to insert)."""

    timer_key: str
    lead_key: str  # whose it is now: a merge moves it to the surviving lead
    policy: str
    owner: str | None
    calendar: str
    started_at: datetime  # UTC
    id: int | None = None
    row: dict[str, Any] | None = None
    met: dict[str, Any] | None = None  # met_at, met_by, business_s_to_met once a touch or a move met it
    cancelled_at: datetime | None = None  # its lead was merged into one with a timer of the same policy
    stored_lead_key: str | None = None  # whose it is in the database (its alerts carry that key)


@dataclass(frozen=True)
class Touch:
    kind: str
    rep: str | None
    occurred_at: datetime  # UTC
    order: tuple[int, int] = field(compare=False)  # stored ones by id first, then this batch's in arrival order


@dataclass(frozen=True)
class LoopEntry:
    kind: str  # mql | rejected
    occurred_at: datetime  # UTC
    reason: str | None
    rule: str
    order: tuple[int, int] = field(compare=False)


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
        self._renamed: dict[str, str] = {}  # identity -> lead key, as this batch left it
        self._new_touches: list[dict[str, Any]] = []
        self._started: list[Timer] = []
        self._met: list[tuple[Timer, dict[str, Any]]] = []  # each with its `met`
        self._cancelled: list[Timer] = []
        self._moved: list[Timer] = []  # stored timers now of another lead
        self._new_loops: list[dict[str, Any]] = []
        self._loops_merged: list[tuple[str, str]] = []  # (absorbed lead key, survivor), in merge order
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
            self._renamed[name] = lead_key
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
        )
        self._timer_keys.add(timer.timer_key)
        self._open[timer.lead_key].append(timer)
        self._started.append(timer)
        return timer

    def meet(self, timer: Timer, at: datetime, by: str, business_s: float | None) -> None:
        timer.met = met = {"met_at": at, "met_by": by[:200], "business_s_to_met": business_s}
        self._open[timer.lead_key].remove(timer)
        self._met.append((timer, met))

    def move(self, timer: Timer, lead_key: str) -> None:
        self._open[timer.lead_key].remove(timer)
        timer.lead_key = lead_key
        self._open[lead_key].append(timer)
        if timer.row is not None:
            timer.row["lead_key"] = lead_key
        elif timer not in self._moved:
            self._moved.append(timer)

    def cancel(self, timer: Timer, at: datetime) -> None:
        timer.cancelled_at = at
        self._open[timer.lead_key].remove(timer)
        self._cancelled.append(timer)

    def touch(self, names: list[str], kind: str, rep: str | None, at: datetime, event_id: str) -> None:
        for name in names:
            self._new_touches.append(
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
        self._new_loops.append(
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
        for row in self._new_loops:
            if row["lead_key"] == absorbed:
                row["lead_key"] = survivor
        self._loops_merged.append((absorbed, survivor))

    def loop_history(self, lead_key: str, since: datetime) -> list[LoopEntry]:
        return sorted(
            (h for h in self._loops.get(lead_key, ()) if h.occurred_at >= since), key=lambda h: (h.occurred_at, h.order)
        )

    # -- writing ------------------------------------------------------------------------------

    async def flush(self) -> None:
        s = self.session
        # What is appended or upserted goes last, in one statement on PostgreSQL (shared/db/bulk_writes.py:
        # CombinedWrite): nothing below reads it, and the updates below touch stored rows only.
        writes = CombinedWrite()
        writes.upsert(
            identities, [{"identity": i, "lead_key": key} for i, key in self._renamed.items()], key="identity"
        )
        writes.append(touches, self._new_touches)
        # A timer started and met (or cancelled) in this batch is stored so; the ones stored open are updated.
        writes.append(timers, [self._stored_row(t) for t in self._started])
        t, a = timers.c, alerts.c
        moved = [x for x in self._moved if x.lead_key != x.stored_lead_key]
        if moved:
            # The timer first, then its alerts: on PostgreSQL this waits for a scanner pass that holds the
            # timer (FOR UPDATE) and raises an alert for it, so that alert is committed and gets moved too.
            rekey = (
                update(timers)
                .where(t.id == bindparam("b_id"))
                .values(lead_key=bindparam("b_lead"))
                .execution_options(synchronize_session=False)
            )
            await s.execute(rekey, [{"b_id": x.id, "b_lead": x.lead_key} for x in moved])
            # Its alerts go with it, so the lead being dealt with later resolves them (by lead key, below).
            await s.execute(
                update(alerts)
                .where(and_(a.lead_key == bindparam("b_was"), a.alert_id.like(bindparam("b_like"))))
                .values(lead_key=bindparam("b_lead"))
                .execution_options(synchronize_session=False),
                [{"b_was": x.stored_lead_key, "b_like": f"{x.timer_key}:%", "b_lead": x.lead_key} for x in moved],
            )
        stored_met = [(x, met) for x, met in self._met if x.id is not None]
        if stored_met:
            met_values: dict[str, Any] = {
                "status": "met",
                "met_at": bindparam("b_at"),
                "met_by": bindparam("b_by"),
                "business_s_to_met": bindparam("b_s"),
                "next_tier": None,
                "next_due_at": None,
            }
            await s.execute(
                update(timers)
                .where(t.id == bindparam("b_id"), t.status == "open")
                .values(met_values)
                .execution_options(synchronize_session=False),
                [
                    {"b_id": x.id, "b_at": met["met_at"], "b_by": met["met_by"], "b_s": met["business_s_to_met"]}
                    for x, met in stored_met
                ],
            )
        stored = [x for x in self._cancelled if x.id is not None]
        if stored:
            cancel = (
                update(timers)
                .where(t.id == bindparam("b_id"), t.status == "open")
                .values(status="cancelled", next_tier=None, next_due_at=None)
            )
            await s.execute(cancel.execution_options(synchronize_session=False), [{"b_id": x.id} for x in stored])
        ended = [(x, met["met_at"]) for x, met in self._met] + [(x, x.cancelled_at) for x in self._cancelled]
        if ended:
            # A touch after a breach resolves its alerts: the lead is being dealt with; a cancelled timer's
            # lead is no more. lead_key first: it is indexed, and LIKE 'prefix%' uses no index on PostgreSQL's
            # default collation nor in SQLite, so without it every meet would scan every alert ever raised.
            resolve = update(alerts).where(
                and_(a.lead_key == bindparam("b_lead"), a.alert_id.like(bindparam("b_like")), a.status != "resolved")
            )
            await s.execute(
                resolve.values(status="resolved", resolved_at=bindparam("b_at")).execution_options(
                    synchronize_session=False
                ),
                [{"b_lead": x.lead_key, "b_like": f"{x.timer_key}:%", "b_at": at} for x, at in ended],
            )
        for absorbed, survivor in self._loops_merged:  # in order: a chain of merges ends at the last survivor
            await s.execute(update(loop_history).where(loop_history.c.lead_key == absorbed).values(lead_key=survivor))
        writes.append(loop_history, self._new_loops)
        await writes.write(s)

    @staticmethod
    def _stored_row(timer: Timer) -> dict[str, Any]:
        row = dict(timer.row or {})
        if timer.met is not None:
            row.update(timer.met, status="met", next_tier=None, next_due_at=None)
        elif timer.cancelled_at is not None:
            row.update(status="cancelled", next_tier=None, next_due_at=None)
        return row
