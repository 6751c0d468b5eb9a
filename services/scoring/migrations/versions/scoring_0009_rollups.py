"""scoring: report counters per hour and per day (scoring_rollups); the groups reports put each stage
change and first entry under, carried by them (the lead's owner, lead source, campaign and source as
they are now; its grade and qualifying rule as they were); each first entry's count of the marketing
touches before it; each lead's touch count and whether its first touch was a marketing one; indexes
a report reads a window through alone. Filled from what is stored, as the handler would have kept it.

Revision ID: scoring_0009
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "scoring_0009"
down_revision = "scoring_0008"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
_CHUNK = 5000
# scoring tables.GROUPS as of this revision: the lead's column each group is read from.
_GROUPS = {
    "owner": ("owner", 128),
    "lead_source": ("lead_source", 128),
    "campaign": ("campaign", 256),
    "source": ("source", 64),
    "mql_rule": ("mql_rule", 128),
    "fit_grade": ("fit_grade", 1),
}
_GROUP_COLUMNS = [f"group_{name}" for name in _GROUPS]
_NOW = ("owner", "lead_source", "campaign", "source")  # the others are as they were when the fact happened
_SALES = "sales"  # a rep's touch (domain/attribution.py SALES_TOUCH)
_MICROS = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def upgrade() -> None:
    with op.batch_alter_table("scoring_leads") as batch:
        batch.add_column(sa.Column("marketing_sourced", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("touch_count", sa.JSON, nullable=True))
    with op.batch_alter_table("scoring_transitions") as batch:
        for name, (_, length) in _GROUPS.items():
            batch.add_column(sa.Column(f"group_{name}", sa.String(length), nullable=True))
    with op.batch_alter_table("scoring_milestones") as batch:
        batch.add_column(sa.Column("touches", sa.Integer, nullable=True))
        for name, (_, length) in _GROUPS.items():
            batch.add_column(sa.Column(f"group_{name}", sa.String(length), nullable=True))
    op.create_table(
        "scoring_rollups",
        sa.Column("measure", sa.String(160), primary_key=True),
        sa.Column("span", sa.Integer, primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    # The old indexes go before the fill (every row's group columns are written), the new come after it.
    op.drop_index("ix_scoring_transitions_time", "scoring_transitions")
    op.drop_index("ix_scoring_milestones_stage_time", "scoring_milestones")
    op.drop_index("ix_scoring_followups_policy_start", "scoring_followups")
    bind = op.get_bind()
    _fill_groups(bind)
    _fill_touch_counts(bind)
    _fill_rollups(bind)
    op.create_index(
        "ix_scoring_transitions_window",
        "scoring_transitions",
        [
            "occurred_at",
            "to_stage",
            "from_stage",
            "reason",
            "reason_code",
            "stay_s",
            "stay_business_s",
            *_GROUP_COLUMNS,
        ],
    )
    op.create_index("ix_scoring_transitions_entries", "scoring_transitions", ["to_stage", "occurred_at", "lead_key"])
    op.create_index(
        "ix_scoring_milestones_window",
        "scoring_milestones",
        ["stage", "first_at", "reached", "touches", *_GROUP_COLUMNS],
    )
    op.create_index(
        "ix_scoring_followups_window",
        "scoring_followups",
        ["policy", "started_at", "status", "in_time", "business_s_to_met", "reassigned"],
    )


def _fill_groups(bind: sa.Connection) -> None:
    """Each stage change and first entry under its lead's groups as they are now (lead_rows.group_values),
    and as they were when it happened: the grade the stage change recorded, the rule of the lead's
    latest MQL before it (an MQL's own rule: its reason), and a first entry's those of the change that
    made it."""
    now = [name for name in _GROUPS if name in _NOW]
    targets = ", ".join(f"group_{name}" for name in now)
    sources = ", ".join(f"l.{_GROUPS[name][0]}" for name in now)
    for table in ("scoring_transitions", "scoring_milestones"):
        bind.execute(
            sa.text(
                f"UPDATE {table} SET ({targets}) = "
                f"(SELECT {sources} FROM scoring_leads l WHERE l.key = {table}.lead_key)"
            )
        )
    bind.execute(
        sa.text(
            "UPDATE scoring_transitions SET group_fit_grade = fit_grade, group_mql_rule = CASE "
            "WHEN reason LIKE 'mql:%' THEN substr(reason, 5) "
            "ELSE (SELECT substr(p.reason, 5) FROM scoring_transitions p "
            "WHERE p.lead_key = scoring_transitions.lead_key AND p.reason LIKE 'mql:%' "
            "AND p.occurred_at < scoring_transitions.occurred_at ORDER BY p.occurred_at DESC, p.id DESC LIMIT 1) END"
        )
    )
    bind.execute(
        sa.text(
            "UPDATE scoring_milestones SET (group_mql_rule, group_fit_grade) = "
            "(SELECT t.group_mql_rule, t.group_fit_grade FROM scoring_transitions t "
            "WHERE t.lead_key = scoring_milestones.lead_key AND t.to_stage = scoring_milestones.stage "
            "AND t.occurred_at = scoring_milestones.first_at ORDER BY t.id LIMIT 1)"
        )
    )


def _fill_touch_counts(bind: sa.Connection) -> None:
    """The marketing touches before each first entry, and each lead's touch count (domain/touch_count.py)."""
    bind.execute(
        sa.text(
            "UPDATE scoring_milestones SET touches = (SELECT count(*) FROM scoring_touches t "
            "WHERE t.lead_key = scoring_milestones.lead_key AND t.marketing "
            "AND t.occurred_at <= scoring_milestones.first_at)"
        )
    )
    counts: dict[str, dict] = defaultdict(
        lambda: {"marketing": 0, "latest": None, "first": None, "before": {}, "newest_entry": None}
    )
    marketing = "SELECT lead_key, count(*), max(occurred_at) FROM scoring_touches WHERE marketing GROUP BY lead_key"
    for key, n, latest in bind.execute(sa.text(marketing)):
        counts[key].update(marketing=int(n), latest=_micros(latest))
    # The first touch of any kind, ties in time broken by event id as Python orders them (byte order).
    binary = ' COLLATE "C"' if bind.dialect.name == "postgresql" else ""
    first = (
        "SELECT lead_key, occurred_at, event_id, marketing FROM (SELECT lead_key, occurred_at, event_id, marketing, "
        f"row_number() OVER (PARTITION BY lead_key ORDER BY occurred_at, event_id{binary}) AS n "
        f"FROM scoring_touches WHERE marketing OR kind = '{_SALES}') AS firsts WHERE n = 1"
    )
    for key, at, event_id, was_marketing in bind.execute(sa.text(first)):
        counts[key].update(first=[_micros(at), event_id], first_marketing=bool(was_marketing))
    stones = "SELECT lead_key, stage, touches, first_at FROM scoring_milestones"
    for key, stage, n, first_at in bind.execute(sa.text(stones)):
        count = counts[key]
        count["before"][stage] = int(n)
        count["newest_entry"] = max(count["newest_entry"] or 0, _micros(first_at) or 0)
    leads = sa.table(
        "scoring_leads", sa.column("key"), sa.column("marketing_sourced"), sa.column("touch_count", sa.JSON)
    )
    update = (
        sa.update(leads)
        .where(leads.c.key == sa.bindparam("b_key"))
        .values(marketing_sourced=sa.bindparam("b_sourced"), touch_count=sa.bindparam("b_count", type_=sa.JSON))
    )
    rows = [
        {
            "b_key": key,
            "b_sourced": count.get("first_marketing"),
            "b_count": {
                "marketing": count["marketing"],
                "latest": count["latest"],
                "first": count["first"],
                "first_marketing": count.get("first_marketing"),
                "before": count["before"],
                "newest_entry": count["newest_entry"],
            },
        }
        for key, count in counts.items()
    ]
    for start in range(0, len(rows), _CHUNK):
        bind.execute(update, rows[start : start + _CHUNK])


def _fill_rollups(bind: sa.Connection) -> None:
    """The counters of services/scoring/rollups.py, per hour, from the facts; then per day from the hours."""
    if bind.dialect.name == "postgresql":

        def hour(column: str) -> str:
            return f"CAST(floor(extract(epoch FROM {column}) / 3600) AS BIGINT)"

        micros = f"CAST(round(CAST(amount AS NUMERIC) * {_MICROS}) AS BIGINT)"
    else:

        def hour(column: str) -> str:
            return f"(CAST(strftime('%s', {column}) AS INTEGER) / 3600)"

        micros = f"CAST(round(amount * {_MICROS}) AS INTEGER)"
    currency = "coalesce(upper(nullif(currency, '')), 'none')"
    counted = [
        ("'entered:' || to_stage", "occurred_at", "0", "scoring_transitions", "TRUE"),
        ("'left_mql:' || to_stage", "from_entered_at", "0", "scoring_transitions", "from_stage = 'mql'"),
        ("'cohort:' || stage", "first_at", "0", "scoring_milestones", "TRUE"),
        ("'opened'", "opened_at", micros, "scoring_opportunities", "opened_at IS NOT NULL"),
        (f"'opened:' || {currency}", "opened_at", micros, "scoring_opportunities", "opened_at IS NOT NULL"),
        ("'won'", "closed_at", micros, "scoring_opportunities", "status = 'won' AND closed_at IS NOT NULL"),
        (
            f"'won:' || {currency}",
            "closed_at",
            micros,
            "scoring_opportunities",
            "status = 'won' AND closed_at IS NOT NULL",
        ),
    ]
    insert = "INSERT INTO scoring_rollups (measure, span, hour, count, amount) "
    for measure, at, amount, table, where in counted:
        bind.execute(
            sa.text(
                f"{insert}SELECT {measure}, 1, {hour(at)}, count(*), coalesce(sum({amount}), 0) "
                f"FROM {table} WHERE {where} AND {at} IS NOT NULL GROUP BY 1, 3"
            )
        )
    # Conversions: each first entry, with every stage first entered at or after it.
    bind.execute(
        sa.text(
            f"{insert}SELECT 'cohort:' || a.stage || ':' || b.stage, 1, {hour('a.first_at')}, count(*), 0 "
            "FROM scoring_milestones a JOIN scoring_milestones b "
            "ON b.lead_key = a.lead_key AND b.stage <> a.stage AND b.first_at >= a.first_at GROUP BY 1, 3"
        )
    )
    bind.execute(
        sa.text(
            f"{insert}SELECT measure, 24, hour / 24 * 24, sum(count), sum(amount) FROM scoring_rollups "
            "WHERE span = 1 GROUP BY measure, hour / 24"
        )
    )


def _micros(value: datetime | str | None) -> int | None:
    """A stored time as whole microseconds since 1970 (domain/touch_count.py); SQLite's come back as text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


def downgrade() -> None:
    op.drop_index("ix_scoring_followups_window", "scoring_followups")
    op.drop_index("ix_scoring_milestones_window", "scoring_milestones")
    op.drop_index("ix_scoring_transitions_window", "scoring_transitions")
    op.drop_index("ix_scoring_transitions_entries", "scoring_transitions")
    op.create_index("ix_scoring_followups_policy_start", "scoring_followups", ["policy", "started_at"])
    op.create_index("ix_scoring_milestones_stage_time", "scoring_milestones", ["stage", "first_at", "reached"])
    op.create_index("ix_scoring_transitions_time", "scoring_transitions", ["occurred_at", "to_stage"])
    op.drop_table("scoring_rollups")
    with op.batch_alter_table("scoring_milestones") as batch:
        for name in ("touches", *_GROUP_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("scoring_transitions") as batch:
        for name in _GROUP_COLUMNS:
            batch.drop_column(name)
    with op.batch_alter_table("scoring_leads") as batch:
        batch.drop_column("touch_count")
        batch.drop_column("marketing_sourced")
