"""Where alerts go, and the monthly review's summary: the configured webhook targets, read from
LOCKSTEP_ALERT_WEBHOOKS."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.events import AlertRaised
from shared.events.published import AlertKind

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)

# What a target may ask for beside alerts: the summary of each month's review (lockstep.report.published.v1).
REPORT_KIND = "report.published"
DeliveryKind = Literal[AlertKind, "report.published"]

EVENT_TYPE = AlertRaised.event_type  # "lockstep.alert.raised.v1"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
USER_AGENT = "lockstep-sla-webhooks/1"
SETTING = "LOCKSTEP_ALERT_WEBHOOKS"


def system_clock() -> datetime:
    return datetime.now(UTC)


class WebhookTarget(BaseModel):
    """One configured receiver of alert webhooks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9_-]+$",
        description="Stored with each delivery and used as the metrics label",
    )
    url: str = Field(
        min_length=1,
        max_length=2000,
        repr=False,
        description="https://, or http:// to 127.0.0.1 / localhost for local testing",
    )
    format: Literal["standard", "slack"] = "standard"
    secret: str | None = Field(
        None, repr=False, description="whsec_<base64>: sign requests with the Standard Webhooks scheme"
    )
    kinds: list[DeliveryKind] | None = Field(
        None, description="Alert kinds to send, and report.published for the monthly review; every kind when absent"
    )
    include_email: bool = Field(
        False, description="Send the lead's email with each alert (name, company and CRM link are always sent)"
    )

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
            raise ValueError(
                f"url must be https:// (plain http:// is allowed only to 127.0.0.1 or localhost), got http://{host}"
            )
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
            fields = "name, url, format, secret, kinds, include_email"
            raise ValueError(f"{where} must be an object with {fields}; got {_json_kind(item)}")
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
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _explain(exc: ValidationError) -> str:
    """Pydantic's errors on one line, without echoing input values (a secret or a credential URL)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in error["loc"]) or "target"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "extra_forbidden":
            message = "is not a known field (name, url, format, secret, kinds, include_email)"
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


def parse_when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, str):
        try:
            return to_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def to_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
