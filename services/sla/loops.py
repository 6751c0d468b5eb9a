"""Rejection loops: an MQL that sales rejected, re-qualified again and again, is a definition problem.

Every MQL and every rejection goes into the lead's loop history; an MQL that finds `count`
rejections within the contract's `rejection_loop.window` raises one `loop.detected` alert, naming
the rejections and the rules that re-qualified the lead, so marketing fixes the definition rather
than sending the lead once more.
"""

from __future__ import annotations

from services.sla.alerts import label_of, who
from services.sla.policies import PolicyBook
from services.sla.repository import SlaRepository
from shared.events import AlertRaised, LifecycleTransitioned


def starts_loop_check(t: LifecycleTransitioned) -> bool:
    return t.to_stage == "mql" or t.reason == "disposition:rejected"


def record_loop_step(
    repo: SlaRepository, book: PolicyBook, event_id: str, t: LifecycleTransitioned
) -> AlertRaised | None:
    """Record this MQL or rejection in the lead's loop history; the alert when an MQL closes a loop."""
    kind = "mql" if t.to_stage == "mql" else "rejected"
    repo.record_loop(
        t.lead_key,
        event_id,
        kind,
        t.occurred_at,
        (t.details.get("disposition_reason") or "")[:500] or None,
        t.reason[:200],
    )
    if kind != "mql":
        return None
    rule = book.sla.rejection_loop
    history = repo.loop_history(t.lead_key, t.occurred_at - rule.window)
    rejections = [h for h in history if h.kind == "rejected"]
    if len(rejections) < rule.count:
        return None
    requalified = [h.rule for h in history if h.kind == "mql"]
    reasons = [{"reason": h.reason or "(no reason given)", "at": h.occurred_at.isoformat()} for h in rejections]
    # Raised with the batch's writes (`raise_many`), once per alert id however often the batch asks.
    label = label_of(t.name, t.company, t.record_url)
    return AlertRaised(
        alert_id=f"loop:{t.lead_key}:{event_id}",
        kind="loop.detected",
        severity="warning",
        lead_key=t.lead_key,
        owner=t.owner,
        team=book.team_of(t.owner),
        raised_at=t.occurred_at,
        message=(
            f"{who(label, t.lead_key)} re-qualified as MQL after {len(rejections)} rejections in"
            f" {rule.window.days} days: fix the definition, not the lead"
        ),
        lead=label,
        details={"rejections": reasons, "requalified_by": requalified, "window_days": rule.window.days},
    )
