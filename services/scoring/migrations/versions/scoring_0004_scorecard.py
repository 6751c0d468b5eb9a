"""scoring: the scorecard's facts. Each lead's first entry into each stage (milestones), every touch,
deals' currency, dates and lost reason, stage changes' stay start and reason code, first-touch
follow-ups as the SLA decided them, and the columns reports group by. Filled from what is stored:
milestones and stays from the stage changes, touches from the event log, groups from the leads.

Revision ID: scoring_0004
"""

from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "scoring_0004"
down_revision = "scoring_0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
_CHUNK = 5000
# The activity kinds that are a marketing touch (services/scoring/domain/attribution.py), as of this revision.
_MARKETING = {
    "email_open",
    "email_click",
    "page_view",
    "form_submit",
    "content_download",
    "webinar_attended",
    "demo_request",
}
_ACTIVITY = "lockstep.activity.recorded.v1"
_SALES = "lockstep.sales.touched.v1"
_DEAL = "lockstep.opportunity.changed.v1"
_STATUS = {"closed_won": "won", "closed_lost": "lost", "reopened": "open", "created": "open"}  # as the handler


def upgrade() -> None:
    with op.batch_alter_table("scoring_leads") as batch:
        batch.add_column(sa.Column("lead_source", sa.String(128), nullable=True))
        batch.add_column(sa.Column("mql_rule", sa.String(128), nullable=True))
        batch.add_column(sa.Column("first_entered", sa.JSON, nullable=True))
    with op.batch_alter_table("scoring_transitions") as batch:
        batch.add_column(sa.Column("from_entered_at", TZ, nullable=True))
        batch.add_column(sa.Column("stay_s", sa.Float, nullable=True))
        batch.add_column(sa.Column("stay_business_s", sa.Float, nullable=True))
        batch.add_column(sa.Column("reason_code", sa.String(64), nullable=True))
    with op.batch_alter_table("scoring_opportunities") as batch:
        batch.add_column(sa.Column("currency", sa.String(3), nullable=True))
        batch.add_column(sa.Column("opened_at", TZ, nullable=True))
        batch.add_column(sa.Column("closed_at", TZ, nullable=True))
        batch.add_column(sa.Column("lost_reason_code", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lost_reason", sa.String(500), nullable=True))
    op.drop_index("ix_scoring_transitions_time", "scoring_transitions")
    op.create_index("ix_scoring_transitions_time", "scoring_transitions", ["occurred_at", "to_stage"])
    op.create_index("ix_scoring_transitions_left", "scoring_transitions", ["from_stage", "from_entered_at"])
    op.create_index("ix_scoring_opportunities_opened", "scoring_opportunities", ["opened_at"])
    op.create_index("ix_scoring_opportunities_closed", "scoring_opportunities", ["status", "closed_at"])
    op.create_table(
        "scoring_milestones",
        sa.Column("lead_key", sa.String(320), primary_key=True),
        sa.Column("stage", sa.String(32), primary_key=True),
        sa.Column("first_at", TZ, nullable=False),
        sa.Column("reached", sa.String(400), nullable=False),
    )
    op.create_index("ix_scoring_milestones_stage_time", "scoring_milestones", ["stage", "first_at", "reached"])
    op.create_table(
        "scoring_touches",
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("lead_key", sa.String(320), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("marketing", sa.Boolean, nullable=False),
        sa.Column("campaign", sa.String(256), nullable=True),
        sa.Column("asset", sa.String(256), nullable=True),
        sa.Column("channel", sa.String(128), nullable=True),
    )
    op.create_index("ix_scoring_touches_lead_time", "scoring_touches", ["lead_key", "marketing", "occurred_at"])
    op.create_table(
        "scoring_followups",
        sa.Column("timer_id", sa.String(255), primary_key=True),
        sa.Column("lead_key", sa.String(320), nullable=False),
        sa.Column("policy", sa.String(128), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("in_time", sa.Boolean, nullable=True),
        sa.Column("business_s_to_met", sa.Float, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_scoring_followups_lead_key", "scoring_followups", ["lead_key"])
    op.create_index("ix_scoring_followups_policy_start", "scoring_followups", ["policy", "started_at"])
    _fill()


def _fill() -> None:
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "INSERT INTO scoring_milestones (lead_key, stage, first_at, reached) "
            "SELECT lead_key, to_stage, min(occurred_at), '' FROM scoring_transitions GROUP BY lead_key, to_stage"
        )
    )
    # Stage changes are written in each lead's time order, so the one before (by id) began the stay.
    bind.execute(
        sa.text(
            "UPDATE scoring_transitions SET from_entered_at = (SELECT p.occurred_at FROM scoring_transitions p "
            "WHERE p.lead_key = scoring_transitions.lead_key AND p.id < scoring_transitions.id "
            "ORDER BY p.id DESC LIMIT 1) WHERE from_stage IS NOT NULL"
        )
    )
    _fill_stays(bind)
    bind.execute(
        sa.text(
            "UPDATE scoring_leads SET mql_rule = (SELECT substr(t.reason, 5) FROM scoring_transitions t "
            "WHERE t.lead_key = scoring_leads.key AND t.to_stage = 'mql' AND t.reason LIKE 'mql:%' "
            "ORDER BY t.occurred_at DESC, t.id DESC LIMIT 1)"
        )
    )
    leads = sa.table(
        "scoring_leads",
        sa.column("key", sa.String),
        sa.column("attributes", sa.JSON),
        sa.column("lead_source", sa.String),
        sa.column("first_entered", sa.JSON),
    )
    firsts: dict[str, dict[str, str]] = defaultdict(dict)
    for key, stage, first_at in bind.execute(sa.text("SELECT lead_key, stage, first_at FROM scoring_milestones")):
        firsts[key][stage] = _iso(first_at)
    sources: dict[str, str | None] = {}
    for key, attributes in bind.execute(sa.select(leads.c.key, leads.c.attributes)):
        sources[key] = _text((attributes or {}).get("lead_source"), 128)
    update = (
        sa.update(leads)
        .where(leads.c.key == sa.bindparam("b_key"))
        .values(lead_source=sa.bindparam("b_source"), first_entered=sa.bindparam("b_first"))
    )
    rows = [{"b_key": k, "b_source": s, "b_first": firsts.get(k, {})} for k, s in sources.items()]
    for start in range(0, len(rows), _CHUNK):
        bind.execute(update, rows[start : start + _CHUNK])
    reached = sa.text("UPDATE scoring_milestones SET reached = :b_reached WHERE lead_key = :b_key AND stage = :b_stage")
    marks = [
        {"b_key": key, "b_stage": stage, "b_reached": _reached(stages, stage)}
        for key, stages in firsts.items()
        for stage in stages
    ]
    for start in range(0, len(marks), _CHUNK):
        bind.execute(reached, marks[start : start + _CHUNK])
    _fill_touches(bind, sources)
    _fill_deals(bind)


def _fill_touches(bind: sa.Connection, sources: dict[str, str | None]) -> None:
    log = sa.table(
        "scoring_event_log",
        sa.column("event_id", sa.String),
        sa.column("type", sa.String),
        sa.column("occurred_at", TZ),
        sa.column("data", sa.JSON),
        sa.column("lead_key", sa.String),
    )
    touches = sa.table(
        "scoring_touches",
        *(sa.column(c) for c in ("event_id", "lead_key", "occurred_at", "kind", "marketing")),
        *(sa.column(c) for c in ("campaign", "asset", "channel")),
    )
    query = sa.select(log.c.event_id, log.c.type, log.c.occurred_at, log.c.data, log.c.lead_key).where(
        log.c.type.in_([_ACTIVITY, _SALES]), log.c.lead_key.is_not(None)
    )
    batch: list[dict] = []
    for event_id, kind, occurred_at, data, lead_key in bind.execute(query):
        data = data or {}
        activity = data.get("kind") if kind == _ACTIVITY else "sales"
        properties = data.get("properties") or {}
        channel = _text(properties.get("lead_source"), 128) or sources.get(lead_key)  # as the handler chooses it
        batch.append(
            {
                "event_id": event_id,
                "lead_key": lead_key,
                "occurred_at": occurred_at,
                "kind": str(activity)[:32],
                "marketing": activity in _MARKETING,
                "campaign": _text(data.get("campaign"), 256),
                "asset": _text(data.get("asset"), 256),
                "channel": channel if kind == _ACTIVITY else None,
            }
        )
        if len(batch) >= _CHUNK:
            bind.execute(sa.insert(touches), batch)
            batch = []
    if batch:
        bind.execute(sa.insert(touches), batch)


def _fill_deals(bind: sa.Connection) -> None:
    """Deals' currency and dates from their logged events, folded as services/scoring/deals.py folds them
    (events of this revision state no dates of their own): opened at the earliest event, closed when the
    event that closed it happened (a close sent again does not move it), no close date while open."""
    log = sa.table(
        "scoring_event_log",
        sa.column("seq"),
        sa.column("type"),
        sa.column("occurred_at", TZ),
        sa.column("data", sa.JSON),
    )
    query = sa.select(log.c.occurred_at, log.c.data).where(log.c.type == _DEAL).order_by(log.c.seq)
    deals: dict[str, dict] = {}
    for occurred_at, data in bind.execute(query):
        deal = deals.setdefault(
            f"{data.get('source')}:{data.get('opportunity_id')}",
            {"b_opened": occurred_at, "b_closed": None, "b_currency": None, "status": "open"},
        )
        deal["b_opened"] = min(deal["b_opened"], occurred_at)
        currency = str(data.get("currency") or "").strip().upper()
        if len(currency) == 3 and currency.isascii() and currency.isalpha():  # an ISO 4217 code; else left out
            deal["b_currency"] = currency
        change, was = data.get("change"), deal["status"]
        deal["status"] = _STATUS.get(change, was)
        if deal["status"] == "open":
            deal["b_closed"] = None
        elif change in ("closed_won", "closed_lost") and (was != deal["status"] or deal["b_closed"] is None):
            deal["b_closed"] = occurred_at
    deal_rows = sa.table(
        "scoring_opportunities",
        sa.column("opportunity", sa.String),
        sa.column("opened_at", TZ),
        sa.column("closed_at", TZ),
        sa.column("currency", sa.String),
    )
    update = (
        sa.update(deal_rows)
        .where(deal_rows.c.opportunity == sa.bindparam("b_key"))
        .values(
            opened_at=sa.bindparam("b_opened"), closed_at=sa.bindparam("b_closed"), currency=sa.bindparam("b_currency")
        )
    )
    rows = [{"b_key": key, **{k: v for k, v in d.items() if k != "status"}} for key, d in deals.items()]
    for start in range(0, len(rows), _CHUNK):
        bind.execute(update, rows[start : start + _CHUNK])


def _text(value: object, limit: int) -> str | None:
    """A value for a text column as the handler writes it (lead_rows.short_text, frozen here): cut to the
    column, empty as none."""
    return str(value)[:limit] if value not in (None, "") else None


def _fill_stays(bind: sa.Connection) -> None:
    """Each stay's length in seconds, computed here exactly (SQLite's julianday is not to the microsecond)."""
    changes = sa.table(
        "scoring_transitions", sa.column("id"), sa.column("occurred_at", TZ), sa.column("from_entered_at", TZ)
    )
    stays = [
        {"b_id": id_, "b_s": (_aware(left) - _aware(began)).total_seconds()}
        for id_, left, began in bind.execute(
            sa.select(changes.c.id, changes.c.occurred_at, changes.c.from_entered_at).where(
                changes.c.from_entered_at.is_not(None)
            )
        )
    ]
    update = sa.text("UPDATE scoring_transitions SET stay_s = :b_s WHERE id = :b_id")
    for start in range(0, len(stays), _CHUNK):
        bind.execute(update, stays[start : start + _CHUNK])


def _aware(value: datetime | str) -> datetime:
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _reached(firsts: dict[str, str], stage: str) -> str:
    """As the handler marks it (domain/lead.py): the stages first entered at or after `stage`."""
    since = datetime.fromisoformat(firsts[stage])
    later = sorted(s for s, at in firsts.items() if s != stage and datetime.fromisoformat(at) >= since)
    return "|" + "".join(f"{s}|" for s in later)


def _iso(value: datetime | str) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def downgrade() -> None:
    op.drop_table("scoring_followups")
    op.drop_table("scoring_touches")
    op.drop_table("scoring_milestones")
    op.drop_index("ix_scoring_transitions_left", "scoring_transitions")
    op.drop_index("ix_scoring_transitions_time", "scoring_transitions")
    op.create_index("ix_scoring_transitions_time", "scoring_transitions", ["occurred_at"])
    op.drop_index("ix_scoring_opportunities_closed", "scoring_opportunities")
    op.drop_index("ix_scoring_opportunities_opened", "scoring_opportunities")
    with op.batch_alter_table("scoring_opportunities") as batch:
        for name in ("lost_reason", "lost_reason_code", "closed_at", "opened_at", "currency"):
            batch.drop_column(name)
    with op.batch_alter_table("scoring_transitions") as batch:
        batch.drop_column("reason_code")
        batch.drop_column("stay_business_s")
        batch.drop_column("stay_s")
        batch.drop_column("from_entered_at")
    with op.batch_alter_table("scoring_leads") as batch:
        for name in ("first_entered", "mql_rule", "lead_source"):
            batch.drop_column(name)
