"""Outbound alert webhooks: durable, retried with backoff, never blocking the consumer.

Targets come from `LOCKSTEP_ALERT_WEBHOOKS`, a JSON list read by `parse_targets`:

    [{"name": "ops", "url": "https://hooks.example.com/lockstep", "format": "standard", "secret": "whsec_..."},
     {"name": "slack", "url": "https://hooks.slack.com/services/...", "format": "slack", "kinds": ["sla.breached", "sla.escalated"]}]

`enqueue` adds one `sla_deliveries` row per matching target inside the transaction that
raises the alert, so a delivery exists exactly when the alert does. `AlertNotifier` sends
the due rows in the background. It first claims a batch in a short transaction (on
PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas share the work) by moving the rows'
`next_attempt_at` a lease ahead; it then sends them with no transaction open and records
each outcome: `sent` on a 2xx, otherwise a retry with exponential backoff and jitter, and
`failed` after `max_attempts`. A replica that dies mid-send leaves its rows leased; they
become due again when the lease ends. Delivery is therefore at-least-once: every request
of one alert to one target carries the same `webhook-id` and the same body, so receivers
can drop repeats. Deliveries of one target are not ordered.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Callable, Literal, get_args
from urllib.parse import urlsplit

import httpx
import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.sla.tables import deliveries
from services.simulator.signing import standard_webhooks_headers
from shared.events import AlertRaised

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
AlertKind = Literal["sla.warning", "sla.breached", "sla.escalated", "loop.detected"]
ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)
assert set(ALERT_KINDS) == set(get_args(AlertRaised.model_fields["kind"].annotation)), "AlertKind out of step with AlertRaised.kind"

EVENT_TYPE = AlertRaised.event_type  # "lockstep.alert.raised.v1"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
USER_AGENT = "lockstep-sla-webhooks/1"
SETTING = "LOCKSTEP_ALERT_WEBHOOKS"


def system_clock() -> datetime:
    return datetime.now(UTC)


class WebhookTarget(BaseModel):
    """One configured receiver of alert webhooks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$", description="Stored with each delivery and used as the metrics label")
    url: str = Field(min_length=1, max_length=2000, repr=False, description="https://, or http:// to 127.0.0.1 / localhost for local testing")
    format: Literal["standard", "slack"] = "standard"
    secret: str | None = Field(None, repr=False, description="whsec_<base64>: sign requests with the Standard Webhooks scheme")
    kinds: list[AlertKind] | None = Field(None, description="Alert kinds to send; every kind when absent")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        # The URL itself may be a credential (Slack's are): name its scheme and host only.
        if any(c.isspace() for c in value):
            raise ValueError("url must not contain whitespace")
        try:
            parts = urlsplit(value)
            host = parts.hostname
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError("url is not a valid URL") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not host:
            raise ValueError("url must be an absolute https:// URL")
        if scheme == "http" and host not in LOCAL_HOSTS:
            raise ValueError(f"url must be https:// (plain http:// is allowed only to 127.0.0.1 or localhost), got http://{host}")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("whsec_"):
            raise ValueError("secret must start with whsec_ (a Standard Webhooks secret)")
        try:
            key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("secret must be whsec_ followed by base64") from None
        if len(key) < 16:
            raise ValueError("secret must hold at least 16 bytes (24 to 64 are recommended)")
        return value

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("kinds must not be empty: leave it out to send every kind")
        return value

    def wants(self, kind: str | None) -> bool:
        return self.kinds is None or kind in self.kinds


def parse_targets(text: str) -> list[WebhookTarget]:
    """Targets from a JSON list (the `LOCKSTEP_ALERT_WEBHOOKS` setting); ValueError with a one-line message."""
    if not text or not text.strip():
        return []
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{SETTING} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(raw, list):
        raise ValueError(f"{SETTING} must be a JSON list of targets, got {_json_kind(raw)}")
    targets: list[WebhookTarget] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"{SETTING}[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object with name, url, format, secret, kinds; got {_json_kind(item)}")
        if isinstance(item.get("name"), str):
            where += f" ({item['name']})"
        try:
            target = WebhookTarget.model_validate(item)
        except ValidationError as exc:
            raise ValueError(f"{where}: {_explain(exc)}") from None
        if target.name in seen:
            raise ValueError(f"{where}: name {target.name!r} is used by an earlier target")
        seen.add(target.name)
        targets.append(target)
    return targets


def _json_kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _explain(exc: ValidationError) -> str:
    """Pydantic's errors on one line, without echoing input values (a secret or a credential URL)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in error["loc"]) or "target"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "extra_forbidden":
            message = "is not a known field (name, url, format, secret, kinds)"
        elif error["type"] == "string_pattern_mismatch":
            message = "may only contain a-z, 0-9, _ and -"
        if message.startswith(field + " "):  # our own validators name the field already
            parts.append(message)
        elif error["type"] in ("missing", "extra_forbidden", "string_pattern_mismatch"):
            parts.append(f"{field} {message}")
        else:
            parts.append(f"{field}: {message}")
    return "; ".join(parts).replace("\n", " ")


# -- enqueueing, inside the caller's transaction ------------------------------------------------------------------


async def enqueue(session: AsyncSession, targets: list[WebhookTarget], alert_payload: dict, *, now: datetime | None = None) -> None:
    """Queue `alert_payload` (AlertRaised as JSON) for every target that wants its kind, in the caller's transaction.

    A row is due at once: at `now` when given, else at the earlier of the alert's `raised_at`
    and the wall clock, which is due under the notifier's clock whether that is the system
    clock or a test's clock that the alert was raised by.
    """
    wanted = [t for t in targets if t.wants(alert_payload.get("kind"))]
    if not wanted:
        return
    alert_id = alert_payload.get("alert_id")
    if not alert_id:
        raise ValueError("alert payload has no alert_id")
    wall = datetime.now(UTC)
    due = _aware(now) if now is not None else min(_when(alert_payload.get("raised_at")) or wall, wall)
    await session.execute(
        insert(deliveries),
        [
            {
                "alert_id": alert_id,
                "target": t.name,
                "payload": alert_payload,
                "attempts": 0,
                "next_attempt_at": due,
                "status": "pending",
                "last_error": None,
                "updated_at": wall,
            }
            for t in wanted
        ],
    )


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, str):
        try:
            return _aware(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- what goes on the wire -----------------------------------------------------------------------------------------


def webhook_id(alert_id: str, target: str) -> str:
    """The `webhook-id`: the same for every attempt of one alert to one target."""
    return f"{alert_id}:{target}"


def render_request(target: WebhookTarget, payload: dict, when: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one request; `when` is the signature's timestamp."""
    if target.format == "slack":
        body = orjson.dumps(slack_message(payload))
    else:
        body = orjson.dumps(standard_body(payload))
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    if target.secret:
        headers.update(standard_webhooks_headers(target.secret, webhook_id(str(payload.get("alert_id")), target.name), body, when))
    return body, headers


def standard_body(payload: dict) -> dict:
    """Standard Webhooks' recommended shape; `timestamp` is when the alert was raised, so retries send the same bytes."""
    raised = _when(payload.get("raised_at"))
    timestamp = raised.isoformat().replace("+00:00", "Z") if raised else payload.get("raised_at")
    return {"type": EVENT_TYPE, "timestamp": timestamp, "data": payload}


_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
_TITLE = {"sla.warning": "SLA warning", "sla.breached": "SLA breached", "sla.escalated": "SLA escalated", "loop.detected": "Rejection loop detected"}


def slack_message(payload: dict) -> dict:
    """A Slack incoming-webhook message: a one-line `text` (notifications, fallbacks) and one mrkdwn section."""
    kind = str(payload.get("kind", "alert"))
    severity = str(payload.get("severity", "info"))
    lead = str(payload.get("lead_key", "?"))
    policy = payload.get("policy")
    owner = payload.get("owner") or "unassigned"
    if payload.get("team"):
        owner = f"{owner} ({payload['team']})"
    title = _TITLE.get(kind, kind)
    text = f"{_EMOJI.get(severity, '')} {title} [{severity}]: {lead}" + (f", policy {policy}" if policy else "") + f", owner {owner}"
    lines = [
        f"{_EMOJI.get(severity, '')} *{_esc(title)}* · `{_esc(kind)}` · severity *{_esc(severity)}*",
        f"*Lead:* `{_esc(lead)}`",
        f"*Policy:* {_esc(policy or '-')}    *Owner:* {_esc(owner)}" + (f"    *Escalate to:* {_esc(payload['escalate_to'])}" if payload.get("escalate_to") else ""),
        f"*Due:* {_slack_time(payload.get('due_at'))}    *Raised:* {_slack_time(payload.get('raised_at'))}",
        "> " + _esc(str(payload.get("message", ""))).replace("\n", "\n> "),
    ]
    section = "\n".join(lines)
    if len(section) > 3000:  # Slack's limit for a section's text
        section = section[:2999] + "…"
    return {
        "text": " ".join(text.split())[:300],
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": section}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"alert `{_esc(str(payload.get('alert_id', '')))[:200]}`"}]},
        ],
    }


def _esc(value: object) -> str:
    """Slack's three control characters in mrkdwn text."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_time(value: Any) -> str:
    when = _when(value)
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "-"


# -- the background relay -------------------------------------------------------------------------------------------


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry, targets: list[str]) -> None:
        self.sent = Counter("lockstep_sla_webhook_sent", "Alert webhooks delivered (2xx)", ["target"], registry=registry)
        self.failed = Counter("lockstep_sla_webhook_failed", "Alert webhooks given up on after the last attempt", ["target"], registry=registry)
        self.retried = Counter("lockstep_sla_webhook_retried", "Failed alert webhook attempts scheduled for a retry", ["target"], registry=registry)
        self.pending = Gauge("lockstep_sla_webhook_pending", "Alert webhooks waiting to be delivered", ["target"], registry=registry)
        for name in targets:  # every configured target shows up, at zero
            for metric in (self.sent, self.failed, self.retried, self.pending):
                metric.labels(name)


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    error: str | None = None
    retry_after_s: float | None = None
    final: bool = False  # no point retrying (the target is no longer configured)


class AlertNotifier:
    """Background task sending queued alert webhooks: `run()` until `stop()`, `wake()` when rows were queued."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        targets: list[WebhookTarget],
        *,
        postgres: bool,
        clock: Clock = system_clock,
        registry: CollectorRegistry | None = None,
        max_attempts: int = 10,
        base_backoff_s: float = 1.0,
        max_backoff_s: float = 600.0,
        jitter: float = 0.1,
        timeout_s: float = 5.0,
        batch_size: int = 100,
        concurrency: int = 10,
        poll_interval_s: float = 1.0,
        lease_s: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._sessions = sessions
        self._targets = {t.name: t for t in targets}
        self._postgres = postgres
        self._clock = clock
        self._max_attempts = max_attempts
        self._base_backoff_s = base_backoff_s
        self._max_backoff_s = max_backoff_s
        self._jitter = jitter
        self._timeout_s = timeout_s
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._poll_interval_s = poll_interval_s
        # A claimed row is someone's for the lease: longer than a whole round can take (every wave of
        # sends hitting the per-request bound), so no other replica sends it again meanwhile.
        waves = -(-batch_size // concurrency)
        self._lease = timedelta(seconds=lease_s if lease_s is not None else waves * timeout_s * 3 + 60)
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._busy = asyncio.Lock()
        self._client: httpx.AsyncClient | None = None
        self.metrics = NotifierMetrics(registry if registry is not None else CollectorRegistry(), list(self._targets))

    @property
    def targets(self) -> list[WebhookTarget]:
        return list(self._targets.values())

    def wake(self) -> None:
        self._wake.set()

    def backoff_s(self, attempts: int, retry_after_s: float | None = None) -> float:
        """Delay before attempt `attempts + 1`: base * 2^(attempts-1), capped, plus up to `jitter` of itself."""
        delay = min(self._max_backoff_s, self._base_backoff_s * 2 ** max(0, attempts - 1))
        delay *= 1 + self._rng.uniform(0, self._jitter)
        if retry_after_s is not None:  # the receiver asked for more time (429/503 Retry-After)
            delay = max(delay, min(retry_after_s, self._max_backoff_s))
        return delay

    def _now(self) -> datetime:
        return _aware(self._clock())  # stored in UTC: SQLite keeps a datetime's fields, not its offset

    def _client_for_run(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=httpx.Timeout(self._timeout_s), follow_redirects=False, headers={"user-agent": USER_AGENT})

    async def deliver_once(self) -> int:
        """One round: claim the due deliveries, send them, record the outcomes; return how many were attempted."""
        async with self._busy:
            if self._client is not None:
                attempted = await self._round(self._client)
            else:
                async with self._client_for_run() as client:
                    attempted = await self._round(client)
            await self.refresh_pending()
            return attempted

    async def _round(self, client: httpx.AsyncClient) -> int:
        now = self._now()
        lease_until = now + self._lease
        claimed = await self._claim(now, lease_until)
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self._concurrency)

        async def attempt(row) -> _Outcome:  # type: ignore[no-untyped-def]
            async with gate:
                return await self._send(client, row)

        outcomes = await asyncio.gather(*(attempt(row) for row in claimed))
        await self._record(list(zip(claimed, outcomes)), lease_until)
        return len(claimed)

    async def _claim(self, now: datetime, lease_until: datetime) -> list:
        d = deliveries
        async with self._sessions() as session, session.begin():
            query = (
                select(d.c.id, d.c.alert_id, d.c.target, d.c.payload, d.c.attempts)
                .where(d.c.status == "pending", d.c.next_attempt_at <= now)
                .order_by(d.c.next_attempt_at, d.c.id)
                .limit(self._batch_size)
            )
            if self._postgres:
                query = query.with_for_update(skip_locked=True)
            rows = (await session.execute(query)).all()
            if rows:
                await session.execute(update(d).where(d.c.id.in_([r.id for r in rows])).values(next_attempt_at=lease_until, updated_at=now))
        return rows

    async def _send(self, client: httpx.AsyncClient, row) -> _Outcome:  # type: ignore[no-untyped-def]
        target = self._targets.get(row.target)
        if target is None:
            return _Outcome(False, f"target {row.target!r} is no longer configured", final=True)
        try:
            body, headers = render_request(target, row.payload, self._now())
            async with asyncio.timeout(self._timeout_s * 3):  # httpx's timeouts are per phase; this bounds the whole request
                response = await client.post(target.url, content=body, headers=headers)
        except Exception as exc:  # connection refused, DNS, TLS, timeouts: all retried
            return _Outcome(False, _describe(exc))
        if 200 <= response.status_code < 300:
            return _Outcome(True)
        snippet = " ".join(response.text.split())[:200]
        retry_after = _retry_after(response) if response.status_code in (429, 503) else None
        return _Outcome(False, f"HTTP {response.status_code}" + (f": {snippet}" if snippet else ""), retry_after)

    async def _record(self, results: list[tuple[Any, _Outcome]], lease_until: datetime) -> None:
        d = deliveries
        now = self._now()
        counted: list[tuple[str, str]] = []
        async with self._sessions() as session, session.begin():
            for row, outcome in results:
                attempts = row.attempts + 1
                if outcome.ok:
                    values: dict[str, Any] = {"status": "sent", "attempts": attempts, "updated_at": now}
                    event = "sent"
                elif outcome.final or attempts >= self._max_attempts:
                    values = {"status": "failed", "attempts": attempts, "last_error": (outcome.error or "")[:500], "updated_at": now}
                    event = "failed"
                else:
                    retry_at = now + timedelta(seconds=self.backoff_s(attempts, outcome.retry_after_s))
                    values = {"attempts": attempts, "last_error": (outcome.error or "")[:500], "next_attempt_at": retry_at, "updated_at": now}
                    event = "retried"
                # Only while the lease is ours: a replica that took the row over after the lease ran out records its own outcome.
                result = await session.execute(
                    update(d).where(d.c.id == row.id, d.c.status == "pending", d.c.next_attempt_at == lease_until).values(**values)
                )
                if result.rowcount:
                    counted.append((event, row.target))
                    if event == "failed":
                        log.warning("alert webhook to %s for %s failed for good after %d attempts: %s", row.target, row.alert_id, attempts, outcome.error)
                    elif event == "retried":
                        log.info("alert webhook to %s for %s failed (attempt %d): %s; retrying", row.target, row.alert_id, attempts, outcome.error)
        for event, target in counted:  # after the commit, so the counters never run ahead of the table
            getattr(self.metrics, event).labels(target).inc()

    async def refresh_pending(self) -> datetime | None:
        """Set the pending gauge; return when the next pending delivery is due (None when there is none)."""
        d = deliveries
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(d.c.target, func.count(), func.min(d.c.next_attempt_at)).where(d.c.status == "pending").group_by(d.c.target)
                )
            ).all()
        for name in self._targets:
            self.metrics.pending.labels(name).set(0)
        for target, count, _ in rows:
            self.metrics.pending.labels(target).set(count)
        due = [_aware(first) for _, _, first in rows if first is not None]
        return min(due) if due else None

    async def run(self) -> None:
        """Send due deliveries until `stop()`; sleep until the next is due, the poll interval, or `wake()`."""
        error_backoff = 0.1
        async with self._client_for_run() as client:
            self._client = client
            try:
                while not self._stopping.is_set():
                    delay = self._poll_interval_s
                    try:
                        async with self._busy:
                            while await self._round(client) == self._batch_size and not self._stopping.is_set():
                                pass
                            next_due = await self.refresh_pending()
                        if next_due is not None:
                            delay = min(self._poll_interval_s, max(0.02, (next_due - self._now()).total_seconds()))
                        error_backoff = 0.1
                    except Exception:
                        log.exception("alert notifier round failed; retrying in %.1fs", error_backoff)
                        delay = error_backoff
                        error_backoff = min(error_backoff * 2, 30.0)
                    if self._stopping.is_set():
                        break
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=delay)
                    except TimeoutError:
                        pass
                    self._wake.clear()
            finally:
                self._client = None

    async def stop(self) -> None:
        """Finish the round in progress and return from `run()`; what is still pending goes out at next start."""
        self._stopping.set()
        self._wake.set()


def _describe(exc: BaseException) -> str:
    detail = str(exc).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # the HTTP-date form: fall back to our own backoff
