"""A lead as a row of `scoring_leads`, and back: the one place the table's columns meet `Lead`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.scoring.domain.lead import Lead
from services.scoring.domain.touch_count import TouchCount
from services.scoring.tables import NOW, group_names
from shared.db.times import as_utc as _aware

# A leads row, read by column name: SQLAlchemy's Row (SQLite) or the snapshot's LeadRow (PostgreSQL),
# whose fields are the table's columns, known only when it is built: Any to the type checker.
LeadRecord = Any


def lead_from_row(row: LeadRecord) -> Lead:
    return Lead(
        key=row.key,
        stage=row.stage,
        stage_entered_at=_aware(row.stage_entered_at),
        created_at=_aware(row.created_at),
        source=row.source,
        email=row.email,
        owner=row.owner,
        campaign=row.campaign,
        attributes=dict(row.attributes),
        attribute_times=dict(row.attribute_times),
        fit_score=row.fit_score,
        fit_grade=row.fit_grade,
        fit_detail=[tuple(x) for x in row.fit_detail],
        engagement_value=row.engagement_value,
        engagement_at=_aware(row.engagement_at),
        activities_since_mql=row.activities_since_mql,
        rejection_reason=row.rejection_reason,
        deleted=row.deleted,
        mql_rule=row.mql_rule,
        first_entered={stage: _aware(datetime.fromisoformat(at)) for stage, at in (row.first_entered or {}).items()},
        version=row.version,
        touches=TouchCount.from_stored(row.touch_count),
    )


def lead_row(lead: Lead, now: datetime) -> dict:
    return {
        "key": lead.key,
        "email": lead.email,
        "stage": lead.stage,
        "stage_entered_at": lead.stage_entered_at,
        "created_at": lead.created_at,
        "updated_at": now,
        "source": lead.source,
        "owner": lead.owner,
        "campaign": lead.campaign,
        "attributes": lead.attributes,
        "attribute_times": lead.attribute_times,
        "fit_score": lead.fit_score,
        "fit_grade": lead.fit_grade,
        "fit_detail": [list(x) for x in lead.fit_detail],
        "engagement_value": lead.engagement_value,
        "engagement_at": lead.engagement_at,
        "activities_since_mql": lead.activities_since_mql,
        "rejection_reason": (lead.rejection_reason or "")[:500] or None,
        "deleted": lead.deleted,
        "lead_source": short_text(lead.attributes.get("lead_source"), 128),
        "mql_rule": lead.mql_rule,
        "first_entered": {stage: _utc_text(at) for stage, at in lead.first_entered.items()},
        "version": lead.version,  # as read: an update checks it and writes the next (repository.py)
        "marketing_sourced": lead.touches.first_marketing,
        "touch_count": lead.touches.stored(),
    }


def _utc_text(at: datetime) -> str:
    """ISO 8601 in UTC; a time read back from the row is in UTC already (most of a lead's first entries)."""
    return (at if at.tzinfo is UTC else at.astimezone(UTC)).isoformat()


GROUP_COLUMNS = tuple(group_names(NOW))


def group_values(lead: Lead) -> tuple[str | None, ...]:
    """What reports group the lead by as it is now: the `group_*` columns of its report facts that
    follow it (tables.NOW, in GROUP_COLUMNS' order), the same values its own row holds."""
    source = lead.attributes.get("lead_source")
    return (lead.owner, short_text(source, 128) if source is not None else None, lead.campaign, lead.source)


def short_text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None
