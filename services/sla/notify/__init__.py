"""Outbound alert webhooks, and the monthly review's summary: durable, retried with backoff, never
blocking the consumer.

Targets come from `LOCKSTEP_ALERT_WEBHOOKS`, a JSON list read by `parse_targets`:

    [{"name": "ops", "url": "https://hooks.example.com/lockstep", "format": "standard", "secret": "whsec_..."},
     {"name": "slack", "url": "https://hooks.slack.com/services/...", "format": "slack",
      "kinds": ["sla.breached", "sla.escalated"]}]

`enqueue` adds one `sla_deliveries` row per matching target inside the transaction that
raises the alert, so a delivery exists exactly when the alert does. `AlertNotifier` sends
the due rows in the background. It first claims a batch in a short transaction (on
PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas share the work) by moving the rows'
`next_attempt_at` a lease ahead; it then sends them with no transaction open and records
each outcome: `sent` on a 2xx, otherwise a retry with exponential backoff and jitter, and
`failed` after `max_attempts`. A replica that dies mid-send leaves its rows leased; they
become due again when the lease ends. Delivery is therefore at-least-once: every request
of one alert to one target carries the same `webhook-id` and the same body, so receivers
can drop repeats. Deliveries of one target are not ordered. A monthly review's summary is queued
by `enqueue_report` (services/sla/reports.py), rendered by summary.py, and retried for about a day
(retries.py); a target that lists `kinds` gets it only with `report.published` among them.
"""

from services.sla.notify.delivery import AlertNotifier
from services.sla.notify.metrics import NotifierMetrics
from services.sla.notify.queueing import enqueue, enqueue_report
from services.sla.notify.targets import ALERT_KINDS, AlertKind, Clock, WebhookTarget, parse_targets, system_clock
from services.sla.notify.wire import render_request, slack_message, standard_body, webhook_id

__all__ = [
    "ALERT_KINDS",
    "AlertKind",
    "AlertNotifier",
    "Clock",
    "NotifierMetrics",
    "WebhookTarget",
    "enqueue",
    "enqueue_report",
    "parse_targets",
    "render_request",
    "slack_message",
    "standard_body",
    "system_clock",
    "webhook_id",
]
