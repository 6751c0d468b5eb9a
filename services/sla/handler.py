"""Applies lifecycle and sales events: starts timers, meets them, records rejection loops.

Runs inside the consumer runner's transaction (idempotent per event id). Timers start on
stage changes from scoring; touches and dispositions from the events topic meet them. A
touch may arrive before the stage change that starts its timer (two topics, no common
order), so touches are kept by identity and a new timer looks back at them. For the same reason a
touch may come by a name scoring announces only later (`lead.identified`): when a lead learns
names, its open timers look back at the touches by them too. When scoring merges lead B into A it
announces B's names under A; once B is left with no names, B is gone, and its open timers go to A
(or are cancelled where A already runs one of that policy) so they do not alert for a dead key.

Names (identities: `email:...`, `<source>:<record id>`) are only ever matched here, never shown, so
they are kept as their keyed hashes (shared/events/keys.py): no email in the SLA's tables for that.

A batch is handled set-wise: everything its events could read is loaded first (see
`SlaRepository`), the events are applied in order against that state, and the changes are
written at the end. Order within the batch still matters (a touch then the stage change, an
identity learned before the touch that uses it), which is why the events are applied one by one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contract.sla import Policy
from services.sla import routing
from services.sla.alerts import AlertDesk, label_of
from services.sla.batch_changes import Timer
from services.sla.erasure import erase_lead
from services.sla.loops import record_loop_step, starts_loop_check
from services.sla.metrics import SlaMetrics
from services.sla.policies import PolicyBook, event_kind
from services.sla.repository import SlaRepository
from shared.events import (
    AlertRaised,
    EventEnvelope,
    LeadErased,
    LeadIdentified,
    LeadKeys,
    LifecycleTransitioned,
    OpportunityChanged,
    SalesDispositioned,
    SalesTouched,
)

_TOUCH_EVENTS = (SalesTouched, SalesDispositioned, OpportunityChanged)
_TOUCHES = tuple(model.event_type for model in _TOUCH_EVENTS)
# What the SLA acts on: stage changes, identities, erasures and sales activity. The rest of the events topic
# (engagement, contact updates) is passed over by the consumer without an idempotency row.
WANTED = frozenset(
    (LifecycleTransitioned.event_type, LeadIdentified.event_type, LeadErased.event_type, *_TOUCHES, *routing.WANTED)
)

# (event id, payload, touch kind for touches and dispositions, else None)
Item = tuple[
    str, LifecycleTransitioned | LeadIdentified | SalesTouched | SalesDispositioned | OpportunityChanged, str | None
]


def _timer_key(policy: Policy, lead_key: str, event_id: str) -> str:
    return f"{policy.name}:{lead_key}:{event_id}"[:600]


class SlaHandler:
    def __init__(
        self,
        book: PolicyBook,
        desk: AlertDesk,
        keys: LeadKeys,
        metrics: SlaMetrics | None = None,
        *,
        keep_emails: bool = False,
    ) -> None:
        """`keep_emails`: whether a webhook target wants the lead's email (include_email); else the
        SLA keeps none."""
        self.book = book
        self.desk = desk
        self.routing = routing.RoutingFollower(book, desk)  # lead.assigned, lead.waiting (routing.py)
        self._keys = keys
        self._metrics = metrics
        self._keep_emails = keep_emails

    async def __call__(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> None:
        # An erasure (`lead.erased`) rewrites stored rows: what came before it is written first, and
        # what comes after it about the person is applied to what it left.
        part: list[EventEnvelope] = []
        for envelope in envelopes:
            if envelope.type == LeadErased.event_type:
                await self._handle(session, part)
                await erase_lead(session, LeadErased.model_validate(envelope.data))
                part = []
            else:
                part.append(envelope)
        await self._handle(session, part)

    async def _handle(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> None:
        await self._handle_timers(session, envelopes)
        # After the batch's timers are written: a lead's assignment follows the stage change that started them.
        await self.routing.apply(session, [e for e in envelopes if e.type in routing.WANTED])

    async def _handle_timers(self, session: AsyncSession, envelopes: list[EventEnvelope]) -> None:
        batch = [item for item in map(self._read, envelopes) if item is not None]
        if not batch:
            return
        repo = SlaRepository(session)
        await self._preload(repo, batch)
        loops: list[AlertRaised] = []
        for event_id, event, kind in batch:
            if isinstance(event, LifecycleTransitioned):
                self._transition(repo, event_id, event, loops)
            elif isinstance(event, LeadIdentified):
                self._identify(repo, event)
            elif kind is not None:
                self._touch(repo, event_id, kind, event)
        decided = repo.decisions()
        await repo.flush(lambda writes: self.desk.publish_decided(writes, decided))
        if loops:
            await self.desk.raise_many(session, loops)

    def _read(self, envelope: EventEnvelope) -> Item | None:
        if envelope.type == LifecycleTransitioned.event_type:
            return envelope.id, LifecycleTransitioned.model_validate(envelope.data), None
        if envelope.type == LeadIdentified.event_type:
            identified = LeadIdentified.model_validate(envelope.data)
            hashed = [self._keys.identity(name) for name in identified.identities]
            return envelope.id, identified.model_copy(update={"identities": hashed}), None
        if envelope.type in _TOUCHES:
            payload = envelope.payload()
            if isinstance(payload, _TOUCH_EVENTS) and payload.lead is not None:
                return envelope.id, payload, event_kind(envelope.type)
        return None

    async def _preload(self, repo: SlaRepository, batch: list[Item]) -> None:
        """Load whatever any event of the batch could read, whatever the order they come in."""
        transitions = [(event_id, e) for event_id, e, _ in batch if isinstance(e, LifecycleTransitioned)]
        identified = [e for _, e, _ in batch if isinstance(e, LeadIdentified)]
        touched = {name for _, e, _ in batch if isinstance(e, _TOUCH_EVENTS) for name in self._names(e)}
        starting = [t for _, t in transitions if self.book.starting_on(t.to_stage)]
        starting_leads = {t.lead_key for t in starting}
        announced = {name for e in identified for name in e.identities}
        learning = {e.lead_key for e in identified}
        await repo.load_identities(touched | announced, starting_leads | learning)
        # Whoever loses names to a lead may have been merged into it: whether it keeps any decides,
        # so all its names are needed, and its open timers.
        losing = repo.leads_of(announced) - learning
        await repo.load_identities((), losing)
        # A touch reaches the leads its names belong to now, or come to belong to earlier in the batch.
        await repo.load_open_timers({t.lead_key for _, t in transitions} | repo.leads_of(touched) | learning | losing)
        await repo.load_timer_keys(
            {
                _timer_key(p, t.lead_key, event_id)
                for event_id, t in transitions
                for p in self.book.starting_on(t.to_stage)
            }
        )
        # New timers, and open timers of leads learning names, look back at touches by any name they may have.
        names = {name for lead in starting_leads | learning | losing for name in repo.names_of(lead)} | announced
        since = [t.occurred_at for t in starting] + [timer.started_at for timer in repo.open_timers(learning | losing)]
        await repo.load_touches(names, min(since, default=None))
        looping = [(event_id, t) for event_id, t in transitions if starts_loop_check(t)]
        mqls = [t for _, t in looping if t.to_stage == "mql"]
        window = self.book.sla.rejection_loop.window
        # A lead losing its names may be merged into an MQL's lead in this batch: its history counts too.
        await repo.load_loops(
            {t.lead_key for t in mqls} | (losing if mqls else set()),
            min((t.occurred_at - window for t in mqls), default=None),
            {event_id for event_id, _ in looping},
        )

    def _transition(
        self, repo: SlaRepository, event_id: str, t: LifecycleTransitioned, loops: list[AlertRaised]
    ) -> None:
        at = t.occurred_at
        label = label_of(t.name, t.company, t.record_url)
        if label is not None or (self._keep_emails and t.email):
            repo.label(t.lead_key, label, t.email if self._keep_emails else None)
        # Leaving a stage meets the timers it started: the lead was dealt with.
        for timer in repo.open_timers([t.lead_key]):
            policy = self.book.policy(timer.policy)
            if policy is None or policy.starts_on.stage != t.to_stage:
                self._meet(repo, timer, at, f"stage:{t.to_stage}")
        for policy in self.book.starting_on(t.to_stage):
            self._start(repo, event_id, t, policy)
        if starts_loop_check(t):
            loop = record_loop_step(repo, self.book, event_id, t)
            if loop is not None:
                loops.append(loop)

    def _start(self, repo: SlaRepository, event_id: str, t: LifecycleTransitioned, policy: Policy) -> None:
        key = _timer_key(policy, t.lead_key, event_id)
        if repo.has_timer(key):
            return
        plan = self.book.plan(policy, t.owner, t.occurred_at)
        due = {tier: when.isoformat() for tier, when in plan.due.items()}
        tier, due_at = self.book.next_tier(due, None)
        timer = repo.start(
            {
                "timer_key": key,
                "lead_key": t.lead_key,
                "policy": policy.name,
                "owner": t.owner,
                "team": plan.team,
                "escalate_to": plan.escalate_to,
                "contract_version": self.book.contract.version,
                "calendar": plan.calendar,
                "started_at": t.occurred_at,
                "target_s": plan.target_s,
                "due": due,
                "next_tier": tier,
                "next_due_at": datetime.fromisoformat(due_at) if due_at else None,
                "status": "open",
                "met_at": None,
                "met_by": None,
                "business_s_to_met": None,
                "breached": 0,
                "created_at": datetime.now(UTC),
            }
        )
        # A touch that arrived before this timer (events and lifecycle are different topics) still counts.
        self._look_back(repo, timer, policy, repo.names_of(t.lead_key))

    def _identify(self, repo: SlaRepository, e: LeadIdentified) -> None:
        changed = repo.identify(e.lead_key, e.identities)
        if not changed:
            return  # names it had: every touch by them was matched when it came
        for lead in sorted({before for before in changed.values() if before is not None}):
            if not repo.names_of(lead):  # every name it had is this lead's now: scoring merged it into this one
                self._absorb(repo, lead, e.lead_key, e.occurred_at)
        # Touches by the new names (or, for a timer just moved here, by any name) meet what they
        # would have met had the names come first.
        names = repo.names_of(e.lead_key)
        for timer in repo.open_timers([e.lead_key]):
            policy = self.book.policy(timer.policy)
            if policy is not None:
                self._look_back(repo, timer, policy, names)

    def _absorb(self, repo: SlaRepository, absorbed: str, survivor: str, at: datetime) -> None:
        """The absorbed lead's open timers now run for the person under the survivor's key: one per
        policy; its MQLs and rejections are the survivor's rejection-loop history."""
        repo.merge_loops(absorbed, survivor)
        running = {timer.policy for timer in repo.open_timers([survivor])}
        for timer in repo.open_timers([absorbed]):
            if timer.policy in running:
                repo.cancel(timer, at)  # also resolves its alerts when written
            else:
                repo.move(timer, survivor)
                running.add(timer.policy)

    def _look_back(self, repo: SlaRepository, timer: Timer, policy: Policy, names: set[str]) -> None:
        """Meet `timer` by the first touch by `names` since it started that counts for `policy`."""
        kinds = [m for m in policy.met_by if isinstance(m, str)]
        if not names or not kinds:
            return
        for touch in repo.touches_since(names, kinds, timer.started_at):
            # Stored touches keep the user id as sent, not its CRM: any CRM's id of the owner counts.
            if not policy.touch_by_owner or timer.owner is None or self.book.by_owner(timer.owner, touch.rep, None):
                self._meet(repo, timer, touch.occurred_at, touch.kind)
                return

    def _touch(
        self,
        repo: SlaRepository,
        event_id: str,
        kind: str,
        payload: SalesTouched | SalesDispositioned | OpportunityChanged,
    ) -> None:
        names = self._names(payload)
        at = payload.occurred_at
        rep = getattr(payload, "rep", None)
        repo.touch(names, kind, rep, at, event_id)
        keys = repo.leads_of(names)
        if not keys:
            return
        for timer in repo.open_timers(keys):
            policy = self.book.policy(timer.policy)
            if policy is None or not self.book.met_by_event(policy, kind) or timer.started_at > at:
                continue
            source = payload.lead.source if payload.lead else None
            if policy.touch_by_owner and timer.owner is not None and not self.book.by_owner(timer.owner, rep, source):
                continue
            self._meet(repo, timer, at, kind)

    def _names(self, payload: SalesTouched | SalesDispositioned | OpportunityChanged) -> list[str]:
        """The names a touch came by, as the SLA keeps them: keyed hashes (none: `_read` keeps only
        the touches that name their lead)."""
        return [self._keys.identity(name) for name in payload.lead.identities()] if payload.lead else []

    def _meet(self, repo: SlaRepository, timer: Timer, at: datetime, by: str) -> None:
        calendar = self.book.calendars.get(timer.calendar)
        business = calendar.elapsed(timer.started_at, at).total_seconds() if calendar else None
        if self._metrics and business is not None:
            self._metrics.follow_up.labels(timer.policy).observe(business)
        repo.meet(timer, at, by, business)  # also resolves the timer's alerts when written
