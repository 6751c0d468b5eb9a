"""Tables owned by the scoring service."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
)

from services.scoring.schema import metadata
from shared.db.audit import audit_table
from shared.db.tables import AutoId, outbox_table, processed_events_table

# What reports group a lead's facts by (services/scoring/reports/groups.py), carried by each report
# fact so that a report groups a window's facts without looking each lead up. The lead as it is now
# (NOW): kept current, its facts updated with it in the same transaction when one changes. The fact as
# it was (THEN): the lead's grade, and the rule that had qualified it, when the fact happened.
NOW = ("owner", "lead_source", "campaign", "source")
THEN = ("mql_rule", "fit_grade")
GROUPS = (*NOW, *THEN)
_GROUP_LENGTHS = {"owner": 128, "lead_source": 128, "campaign": 256, "mql_rule": 128, "fit_grade": 1, "source": 64}


def _group_columns() -> list[Column]:
    return [Column(f"group_{name}", String(_GROUP_LENGTHS[name]), nullable=True) for name in GROUPS]


def group_names(names: tuple[str, ...] = GROUPS) -> list[str]:
    return [f"group_{name}" for name in names]


processed_events = processed_events_table(metadata, "scoring")
outbox = outbox_table(metadata, "scoring")
audit = audit_table(metadata, "scoring")  # who asked for an erasure (the key's name and the request's id)

leads = Table(
    "scoring_leads",
    metadata,
    Column("key", String(320), primary_key=True),  # the first identity the lead was known by; stable
    Column("email", String(320), nullable=True, index=True),
    Column("stage", String(32), nullable=False),
    Column("stage_entered_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("source", String(64), nullable=False),
    Column("owner", String(128), nullable=True),
    Column("campaign", String(256), nullable=True),
    Column("attributes", JSON, nullable=False),
    Column("attribute_times", JSON, nullable=False),
    Column("fit_score", Integer, nullable=False),
    Column("fit_grade", String(1), nullable=False),
    Column("fit_detail", JSON, nullable=False),
    Column("engagement_value", Float, nullable=False),
    Column("engagement_at", DateTime(timezone=True), nullable=True),
    Column("activities_since_mql", Integer, nullable=False),
    Column("rejection_reason", String(500), nullable=True),
    Column("deleted", Boolean, nullable=False),
    # What the scorecard groups by, kept as columns so a report groups in SQL, not over JSON.
    Column("lead_source", String(128), nullable=True),  # the channel the lead came through (attributes)
    Column("mql_rule", String(128), nullable=True),  # the rule that last qualified it
    Column("first_entered", JSON, nullable=True),  # stage -> ISO time of its first entry (see milestones)
    # Bumped by every write of the row; a batch writes a lead only if it is still the version it read
    # (repository.py), so an owner set by the routing queue or a reassignment in between is not undone.
    Column("version", BigInteger, nullable=False, server_default="0"),
    # The lead's first touch (marketing or sales) was a marketing one: its deals are marketing-sourced.
    # None before any touch.
    Column("marketing_sourced", Boolean, nullable=True),
    # How its touches are counted as they come (domain/lead.py TouchCount): marketing touches so far, the
    # latest one's time, the first touch of any kind, and the marketing touches before each first entry.
    Column("touch_count", JSON, nullable=True),
    Index("ix_scoring_leads_stage_key", "stage", "key"),
)

# Every identity a lead is known by: "email:ada@x.com", "hubspot:501", "salesforce:00Q...".
identities = Table(
    "scoring_identities",
    metadata,
    Column("identity", String(400), primary_key=True),
    Column("lead_key", String(320), nullable=False, index=True),
)

contributions = Table(
    "scoring_contributions",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("lead_key", String(320), nullable=False),
    Column("rule", String(128), nullable=False),
    Column("points", Integer, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("event_id", String(255), nullable=True),
    Column("activity", String(32), nullable=True),
    Index("ix_scoring_contributions_lead_time", "lead_key", "occurred_at"),
)

transitions = Table(
    "scoring_transitions",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("lead_key", String(320), nullable=False, index=True),
    Column("from_stage", String(32), nullable=True),
    Column("to_stage", String(32), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("event_id", String(255), nullable=True),
    Column("contract_version", String(64), nullable=False),
    Column("from_entered_at", DateTime(timezone=True), nullable=True),  # when the stay in from_stage began
    Column("stay_s", Float, nullable=True),  # that stay in seconds: reports rank it without date arithmetic
    Column("stay_business_s", Float, nullable=True),  # that stay in business seconds (reporting calendar)
    Column("reason_code", String(64), nullable=True),  # the agreed code of a rejection or disqualification
    Column("fit_score", Integer, nullable=False),
    Column("fit_grade", String(1), nullable=False),
    Column("engagement_score", Integer, nullable=False),
    Column("owner", String(128), nullable=True),
    Column("source", String(64), nullable=True),
    Column("campaign", String(256), nullable=True),
    Column("details", JSON, nullable=False),
    *_group_columns(),
    # A window's stage changes, read from the index alone: entries, stays, reasons, per group.
    Index(
        "ix_scoring_transitions_window",
        "occurred_at",
        "to_stage",
        "from_stage",
        "reason",
        "reason_code",
        "stay_s",
        "stay_business_s",
        *group_names(),
    ),
    Index("ix_scoring_transitions_left", "from_stage", "from_entered_at"),  # moves out of a stage by its entry
    Index("ix_scoring_transitions_entries", "to_stage", "occurred_at", "lead_key"),  # who entered a stage, once
)

# Deals and opportunities; lead_key stays empty until the source says whose it is.
opportunities = Table(
    "scoring_opportunities",
    metadata,
    Column("opportunity", String(400), primary_key=True),  # "hubspot:7781"
    Column("lead_key", String(320), nullable=True, index=True),
    Column("status", String(16), nullable=False),  # open | won | lost
    Column("stage", String(128), nullable=True),
    Column("amount", Float, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("currency", String(3), nullable=True),  # ISO 4217, as the source gave it
    Column("opened_at", DateTime(timezone=True), nullable=True),  # created in the source
    Column("closed_at", DateTime(timezone=True), nullable=True),  # its close date, once won or lost
    Column("lost_reason_code", String(64), nullable=True),  # the agreed code (contract reason_codes.lost)
    Column("lost_reason", String(500), nullable=True),  # the source's own words, beside the code
    Index("ix_scoring_opportunities_opened", "opened_at"),
    Index("ix_scoring_opportunities_closed", "status", "closed_at"),
)

# The first entry of each lead into each stage: the cohorts of conversion rates (docs/scorecard.md)
# are read from here by index, never by scanning every stage change. Written once per lead and stage.
milestones = Table(
    "scoring_milestones",
    metadata,
    Column("lead_key", String(320), primary_key=True),
    Column("stage", String(32), primary_key=True),
    Column("first_at", DateTime(timezone=True), nullable=False),
    # "|mql|sal|": the stages first entered at or after this one, so a cohort's conversions are counted
    # by reading its rows in the index, without looking each member's later stages up.
    Column("reached", String(400), nullable=False),
    Column("touches", Integer, nullable=True),  # the lead's marketing touches up to this first entry
    *_group_columns(),
    Index("ix_scoring_milestones_window", "stage", "first_at", "reached", "touches", *group_names()),
)

# Every touch of a lead, marketing (an activity) or sales: what attribution credits and what
# "touches before MQL" counts. No personal data: campaign, asset and channel describe the marketing.
touches = Table(
    "scoring_touches",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("lead_key", String(320), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),  # an activity kind, or "sales"
    Column("marketing", Boolean, nullable=False),
    Column("campaign", String(256), nullable=True),
    Column("asset", String(256), nullable=True),
    Column("channel", String(128), nullable=True),  # the lead_source it came through
    Index("ix_scoring_touches_lead_time", "lead_key", "marketing", "occurred_at"),  # counted from the index
)

# First-touch follow-up timers as the SLA service decided them (`lockstep.followup.decided.v1`):
# the scorecard's SLA targets. One row per timer, its latest decision.
followups = Table(
    "scoring_followups",
    metadata,
    Column("timer_id", String(255), primary_key=True),
    Column("lead_key", String(320), nullable=False, index=True),
    Column("policy", String(128), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # met | breached | cancelled
    Column("in_time", Boolean, nullable=True),  # met before its breach: counts toward attainment
    Column("business_s_to_met", Float, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Started for a new owner by a reassignment: the lead's first touch is its first timer's (followups.py).
    Column("reassigned", Boolean, nullable=False, server_default=false()),
    Index(
        "ix_scoring_followups_window", "policy", "started_at", "status", "in_time", "business_s_to_met", "reassigned"
    ),
)

# Report counters per hour and per day (UTC), kept on write in the same transaction as the facts they
# count (services/scoring/rollups.py): a window of months or of 180 days is a few thousand rows of
# sums, whatever the history behind it. `span`: 1 (an hour) or 24 (a day); `hour`: where the span
# starts, in hours since 1970-01-01T00:00Z; `amount`: in millionths. Without a rowid on SQLite: the
# rows of one measure are read in key order, and stored so.
rollups = Table(
    "scoring_rollups",
    metadata,
    Column("measure", String(160), primary_key=True),  # "entered:mql", "cohort:sql:customer", "won:USD"
    Column("span", Integer, primary_key=True),
    Column("hour", BigInteger, primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# The canonical events applied, in order: the history a backtest replays under another contract.
# lead_key: whose event it is (none for a deal nobody is linked to yet), so an erasure finds them.
event_log = Table(
    "scoring_event_log",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),
    Column("event_id", String(255), nullable=False, unique=True),
    Column("type", String(128), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("data", JSON, nullable=False),
    Column("lead_key", String(320), nullable=True, index=True),
    Index("ix_scoring_event_log_time", "occurred_at"),
)

# The monthly review of each finished month, produced once on the first business day after it
# (reports/monthly/producer.py) and served as it was then: the /scorecard document and its page.
reports = Table(
    "scoring_reports",
    metadata,
    Column("month", String(7), primary_key=True),  # YYYY-MM: one report per month, whoever produces it
    Column("document", JSON, nullable=False),  # the /scorecard document of the month, as GET /scorecard answers
    Column("html", Text, nullable=False),  # the page rendered from it
    Column("produced_at", DateTime(timezone=True), nullable=False),
    Column("contract_version", String(64), nullable=False),
)

# Since when the monthly reviews are produced: the first check's time, written once. A month that
# ended before it is never produced automatically (a first deployment does not report history).
report_schedule = Table(
    "scoring_report_schedule",
    metadata,
    Column("schedule", String(32), primary_key=True),  # "monthly"
    Column("since", DateTime(timezone=True), nullable=False),
)

# Kept beside the code that owns them, registered on the same metadata: imported here so that whoever
# reads `metadata` (migrations, their tests) sees every scoring table.
import services.scoring.routing.tables  # noqa: E402
import services.scoring.writeback.tables  # noqa: E402, F401
