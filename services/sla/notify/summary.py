"""A monthly review's summary on the wire: what the targets get once a month, when scoring has
produced the review of the month before (`lockstep.report.published.v1`).

Standard format: a Standard Webhooks event whose `data` is the event as published, every field
present (null where a figure is unknown): the month, where scoring serves the page, and each target
with its owner, target, actual, attainment and whether it was met. Slack format: the month as a
header, one section per owning team listing its targets, the actual against the target and the
attainment as the page prints them, and where the whole review is; within Slack's limits
(slack.py), what would not fit is cut, the whole review being one link away. No person is named: the
review names none.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from services.sla.notify import slack
from services.sla.notify.slack import escape
from services.sla.notify.targets import parse_when
from shared.events import ReportPublished

TEAMS = {"marketing": "Marketing", "sales": "Sales", "both": "Both teams"}  # in the order they are shown
_MET = {True: ":white_check_mark:", False: ":x:", None: ":white_circle:"}


def standard_body(payload: dict[str, Any]) -> dict[str, Any]:
    """Standard Webhooks' recommended shape; `timestamp` is when the review was produced, so every
    attempt sends the same bytes."""
    produced = parse_when(payload.get("produced_at"))
    timestamp = produced.isoformat().replace("+00:00", "Z") if produced else payload.get("produced_at")
    return {"type": ReportPublished.event_type, "timestamp": timestamp, "data": payload}


def slack_message(payload: dict[str, Any], *, dashboard_url: str | None = None) -> dict[str, Any]:
    """A Slack incoming-webhook message: a one-line `text` (the notification) and the blocks. With
    `dashboard_url` (LOCKSTEP_DASHBOARD_URL), a link to the month's scorecard page, which people open in
    a browser and sign in to: the stored page itself needs a key, which a click cannot send."""
    title = str(payload.get("title") or f"Monthly review: {payload.get('month')}")
    targets = [t for t in payload.get("targets") or [] if isinstance(t, dict)]
    met = sum(1 for t in targets if t.get("met") is True)
    counted = f"{met} of {len(targets)} targets met" if targets else "no targets are agreed in the contract"
    by_team: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for target in targets:
        by_team[str(target.get("owner"))].append(target)
    teams = [team for team in TEAMS if team in by_team] + sorted(set(by_team) - set(TEAMS))
    sections = [_team_section(team, by_team[team], str(payload.get("currency", ""))) for team in teams]
    where = (
        f"The whole review: `{escape(payload.get('path', ''))}` on the scoring service"
        f" · contract {escape(payload.get('contract_version', '-'))}"
        f" · months on the {escape(payload.get('time_zone', 'UTC'))} clock"
    )
    if dashboard_url:
        page = f"{dashboard_url}/dashboard/scorecard?{urlencode({'month': str(payload.get('month', ''))})}"
        where = f"<{escape(page)}|Open the scorecard for {escape(payload.get('month', ''))}> · " + where
    blocks = [slack.header(title), slack.section(f"*{escape(counted)}*"), *sections, slack.context(where)]
    if len(blocks) > slack.MAX_BLOCKS:  # keep the header, the count and the context: drop teams past the limit
        blocks = blocks[: slack.MAX_BLOCKS - 1] + blocks[-1:]
    return {"text": slack.cut(f"{title}: {counted}", 300), "blocks": blocks}


def _team_section(team: str, targets: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    met = sum(1 for t in targets if t.get("met") is True)
    lines = [f"*{escape(TEAMS.get(team, team))}* · {met} of {len(targets)} met"]
    lines += [_target_line(t, currency) for t in targets]
    return slack.section("\n".join(lines))


def _target_line(target: dict[str, Any], currency: str) -> str:
    """`:x: Revenue won: 20,000 USD of 25,000 USD (80%)`, the figures as the review prints them."""
    shown = target.get("shown") or {}
    money = f" {currency}" if target.get("unit") == "money" and currency else ""

    def figure(name: str) -> str:
        value = shown.get(name, "–")
        return f"{value}{money}" if name != "attainment" and target.get(name) is not None else str(value)

    return (
        f"{_MET.get(target.get('met'), _MET[None])} {escape(target.get('label') or target.get('name'))}:"
        f" {escape(figure('actual'))} of {escape(figure('target'))} ({escape(figure('attainment'))})"
    )
