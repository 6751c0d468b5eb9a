"""The monthly review's summary as it goes on the wire: a Slack incoming-webhook message within Slack's
Block Kit limits, a Standard Webhooks event carrying the review's data, and a retry schedule that
outlasts a receiver down for hours."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from services.sla.notify import slack
from services.sla.notify.retries import REPORT_RETRIES, RetrySchedule
from services.sla.notify.summary import slack_message, standard_body
from shared.events import ReportFigures, ReportPublished, ReportTarget

PRODUCED = datetime(2026, 12, 1, 0, 1, tzinfo=UTC)


def target(name: str, label: str, owner: str, unit: str, target, actual, attainment, met, shown) -> ReportTarget:
    return ReportTarget.model_validate(
        {
            "name": name,
            "label": label,
            "owner": owner,
            "unit": unit,
            "better": "lower" if unit == "duration" else "higher",
            "target": target,
            "actual": actual,
            "attainment": attainment,
            "met": met,
            "shown": ReportFigures(target=shown[0], actual=shown[1], attainment=shown[2]),
        }
    )


def review(targets: list[ReportTarget]) -> dict:
    return ReportPublished(
        month="2026-11",
        title="Monthly review: November 2026",
        path="/reports/2026-11",
        starts_at=datetime(2026, 11, 1, tzinfo=UTC),
        ends_at=datetime(2026, 12, 1, tzinfo=UTC),
        time_zone="UTC",
        currency="USD",
        contract_version="2026.1",
        targets=targets,
        produced_at=PRODUCED,
    ).model_dump(mode="json")


# The story's November (test_scorecard_story.py), as scoring publishes it.
NOVEMBER = [
    target("mqls_created", "MQLs created", "marketing", "count", 4, 5, 1.25, True, ("4", "5", "125%")),
    target("mql_acceptance_rate", "MQL acceptance rate", "both", "rate", 0.5, 0.5, 1.0, True, ("50%", "50%", "100%")),
    target("sqls", "SQLs", "sales", "count", 2, 1, 0.5, False, ("2", "1", "50%")),
    target("revenue_won", "Revenue won", "sales", "money", 25000.0, 20000.0, 0.8, False, ("25,000", "20,000", "80%")),
    target("marketing_sourced_share", "Marketing <b> & co", "marketing", "rate", 0.5, None, None, None,
           ("50%", "–", "–")),
    target("median_time_to_first_touch", "Median time to first touch", "sales", "duration", 7200.0, 7200.0, 1.0, True,
           ("2h", "2h", "100%")),
]  # fmt: skip


def test_the_slack_summary_lists_each_target_by_team_within_slacks_limits() -> None:
    message = slack_message(review(NOVEMBER))
    assert set(message) == {"text", "blocks"}
    assert message["text"] == "Monthly review: November 2026: 3 of 6 targets met"
    blocks = message["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "section", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Monthly review: November 2026"}
    assert blocks[1]["text"] == {"type": "mrkdwn", "text": "*3 of 6 targets met*"}
    assert [b["text"]["text"].splitlines() for b in blocks[2:5]] == [
        [
            "*Marketing* · 1 of 2 met",
            ":white_check_mark: MQLs created: 5 of 4 (125%)",
            ":white_circle: Marketing &lt;b&gt; &amp; co: – of 50% (–)",  # unknown; Slack's control characters escaped
        ],
        [
            "*Sales* · 1 of 3 met",
            ":x: SQLs: 1 of 2 (50%)",
            ":x: Revenue won: 20,000 USD of 25,000 USD (80%)",
            ":white_check_mark: Median time to first touch: 2h of 2h (100%)",
        ],
        ["*Both teams* · 1 of 1 met", ":white_check_mark: MQL acceptance rate: 50% of 50% (100%)"],
    ]
    [where] = blocks[-1]["elements"]
    assert where["type"] == "mrkdwn" and "`/reports/2026-11`" in where["text"] and "2026.1" in where["text"]


def test_with_a_dashboard_url_the_slack_summary_links_to_the_months_scorecard_page() -> None:
    [where] = slack_message(review(NOVEMBER))["blocks"][-1]["elements"]
    assert "<http" not in where["text"], "no link unless LOCKSTEP_DASHBOARD_URL says where people open the pages"
    [where] = slack_message(review(NOVEMBER), dashboard_url="https://lockstep.example.com")["blocks"][-1]["elements"]
    assert where["text"].startswith(
        "<https://lockstep.example.com/dashboard/scorecard?month=2026-11|Open the scorecard for 2026-11> · "
    )


def test_a_summary_of_any_size_stays_within_slacks_limits() -> None:
    many = [
        target(
            f"t{n}",
            "A very long target name " * 8,
            "sales" if n < 100 else f"team-{n % 70}",
            "count",
            n,
            n,
            1.0,
            True,
            (str(n),) * 3,
        )
        for n in range(400)
    ]
    message = slack_message({**review(many), "title": "Monthly review " * 20})
    blocks = message["blocks"]
    assert len(blocks) <= slack.MAX_BLOCKS == 50
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= slack.MAX_HEADER_TEXT == 150
    assert all(len(b["text"]["text"]) <= slack.MAX_SECTION_TEXT == 3000 for b in blocks if b["type"] == "section")
    assert blocks[-1]["type"] == "context" and len(blocks[-1]["elements"]) <= 10
    assert len(message["text"]) <= 300 and "\n" not in message["text"]
    assert slack_message(review([]))["blocks"][1]["text"]["text"] == "*no targets are agreed in the contract*"


def test_the_standard_body_is_the_event_with_every_field() -> None:
    payload = review(NOVEMBER)
    body = standard_body(payload)
    assert body == {"type": "lockstep.report.published.v1", "timestamp": "2026-12-01T00:01:00Z", "data": payload}
    unknown = next(t for t in body["data"]["targets"] if t["name"] == "marketing_sourced_share")
    assert (unknown["actual"], unknown["attainment"], unknown["met"]) == (None, None, None)  # present, null


def test_a_review_is_retried_for_a_day_an_alert_for_minutes() -> None:
    rng = random.Random(0)
    delays = [REPORT_RETRIES.delay_s(n, rng, 0.0) for n in range(1, 15)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1800, 1800, 1800]
    assert 24 * 3600 < REPORT_RETRIES.span_s() < 25 * 3600  # a receiver down for an hour, or a night, gets it
    alerts = RetrySchedule(max_attempts=10, base_s=1.0, cap_s=600.0)  # the notifier's default for alerts
    assert alerts.span_s() == 511
    assert REPORT_RETRIES.delay_s(3, rng, 0.0, retry_after_s=7200) == 1800  # Retry-After honoured up to the cap
