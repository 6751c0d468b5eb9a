"""What goes on the wire: the Standard Webhooks body and the Slack message, signed. An alert's are
here; a monthly review's summary is summary.py's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from services.sla.notify import slack, summary
from services.sla.notify.slack import escape as _esc
from services.sla.notify.targets import EVENT_TYPE, USER_AGENT, WebhookTarget, parse_when
from shared.events import ReportPublished
from shared.webhooks.signing import standard_webhooks_headers

# -- what goes on the wire -----------------------------------------------------------------------------------------


def webhook_id(event_id: str, target: str) -> str:
    """The `webhook-id`: the same for every attempt of one alert (or one review) to one target."""
    return f"{event_id}:{target}"


def render_request(
    target: WebhookTarget,
    event_type: str,
    event_id: str,
    payload: dict,
    when: datetime,
    *,
    dashboard_url: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one request of a delivery of `event_type` (an alert's, or a monthly
    review's), `event_id` the alert's or the review's id; `when` is the signature's timestamp;
    `dashboard_url` where a review's Slack message links to its scorecard page."""
    if event_type == ReportPublished.event_type:
        message = (
            summary.slack_message(payload, dashboard_url=dashboard_url)
            if target.format == "slack"
            else summary.standard_body(payload)
        )
    else:
        message = slack_message(payload) if target.format == "slack" else standard_body(payload)
    body = orjson.dumps(message)
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    if target.secret:
        headers.update(standard_webhooks_headers(target.secret, webhook_id(event_id, target.name), body, when))
    return body, headers


def standard_body(payload: dict) -> dict:
    """Standard Webhooks' recommended shape; `timestamp` is when the alert was raised, so retries
    send the same bytes."""
    raised = parse_when(payload.get("raised_at"))
    timestamp = raised.isoformat().replace("+00:00", "Z") if raised else payload.get("raised_at")
    return {"type": EVENT_TYPE, "timestamp": timestamp, "data": payload}


_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
_TITLE = {
    "sla.warning": "SLA warning",
    "sla.breached": "SLA breached",
    "sla.escalated": "SLA escalated",
    "loop.detected": "Rejection loop detected",
    "pipeline.lagging": "SLA pipeline lagging",
}


def slack_message(payload: dict) -> dict:
    """A Slack incoming-webhook message: a one-line `text` (notifications, fallbacks) and one mrkdwn section."""
    kind = str(payload.get("kind", "alert"))
    severity = str(payload.get("severity", "info"))
    given = payload.get("lead")
    label: dict[str, Any] = given if isinstance(given, dict) else {}
    lead = _who(label, str(payload.get("lead_key", "?")))
    policy = payload.get("policy")
    owner = payload.get("owner") or "unassigned"
    if payload.get("team"):
        owner = f"{owner} ({payload['team']})"
    title = _TITLE.get(kind, kind)
    text = (
        f"{_EMOJI.get(severity, '')} {title} [{severity}]: {lead}"
        + (f", policy {policy}" if policy else "")
        + f", owner {owner}"
    )
    lines = [
        f"{_EMOJI.get(severity, '')} *{_esc(title)}* · `{_esc(kind)}` · severity *{_esc(severity)}*",
        f"*Lead:* {_lead_line(label, lead)}",
        f"*Policy:* {_esc(policy or '-')}    *Owner:* {_esc(owner)}"
        + (f"    *Escalate to:* {_esc(payload['escalate_to'])}" if payload.get("escalate_to") else ""),
        f"*Due:* {_slack_time(payload.get('due_at'))}    *Raised:* {_slack_time(payload.get('raised_at'))}",
        "> " + _esc(str(payload.get("message", ""))).replace("\n", "\n> "),
    ]
    return {
        "text": " ".join(text.split())[:300],
        "blocks": [
            slack.section("\n".join(lines)),
            slack.context(f"alert `{_esc(str(payload.get('alert_id', '')))[:200]}`"),
        ],
    }


def _who(label: dict[str, Any], lead_key: str) -> str:
    """As services/sla/alerts.py `who` names the lead: name (company); else the key it is filed under
    (a lead's opaque key, `pipeline` for the pipeline's own alerts)."""
    name, company = label.get("name"), label.get("company")
    if name and company:
        return f"{name} ({company})"
    return str(name or (f"a lead at {company}" if company else lead_key))


def _lead_line(label: dict[str, Any], who: str) -> str:
    """The lead, linked to their CRM record when there is one, with their email when the target asked for it."""
    url = label.get("record_url")
    line = f"<{_link(url)}|{_esc(who)}>" if isinstance(url, str) and url.startswith("https://") else _esc(who)
    return line + (f" · {_esc(label['email'])}" if label.get("email") else "")


def _link(url: str) -> str:
    """A URL inside Slack's <url|text>: its control characters escaped, no `|` or `>` to end it early."""
    return _esc(url).replace("|", "%7C")


def _slack_time(value: Any) -> str:
    when = parse_when(value)
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "-"
