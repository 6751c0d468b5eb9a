"""HubSpot: contact properties written with the official client (`hubspot-api-client`), 100 contacts
per call to the CRM v3 batch update (POST /crm/v3/objects/contacts/batch/update).

What HubSpot answers, and what each answer means for the records of the call:
- 200: every contact updated.
- 207 (multi-status): some updated (`results`), the others listed in `errors`, each naming its ids
  in `context.ids`; a missing contact (deleted, merged away) is OBJECT_NOT_FOUND. Refused for good.
- 400 VALIDATION_ERROR: the whole call is refused, for a field or a value of any one contact. A
  call of one contact is that contact's fault (dead-lettered); a larger one is split in halves and
  each written again, so one bad value does not take the 99 others with it. A property the account
  lacks is every record's: all are dead-lettered at once, with the property named.
- 401/403: the token (or its scopes) is wrong: nobody's fault but the configuration's, so every
  record waits, with the error for the operator to see.
- 429: the account's window is used up. Retry-After when given, else HubSpot's ten-second window
  (or, past the daily limit, a while).
- 5xx, timeouts, connection errors: tried again later.

The rate headers every answer carries (X-HubSpot-RateLimit-Max, -Remaining, -Interval-Milliseconds,
-Daily, -Daily-Remaining) are kept for `allowance()`. The token is set on the client and never
appears in an error or a log line: errors are built from HubSpot's status, category and message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

from hubspot import HubSpot
from hubspot.crm.contacts import ApiException, BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput
from urllib3.exceptions import HTTPError
from urllib3.util.retry import Retry

from services.scoring.writeback.values import as_sent_back
from services.scoring.writeback.vendor import Allowance, RecordUpdate, WriteOutcome
from shared.events.keys import remove_emails

API_URL = "https://api.hubapi.com"
TEN_SECONDS = 10.0
_DAILY_PAUSE_S = 600.0  # past the daily limit: look again in ten minutes (HubSpot resets it at midnight)
_PERMANENT = {400, 404, 409, 410, 422}


def _int(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, TypeError, ValueError):
        return None


def _error_text(status: int, body: Any) -> str:
    """HubSpot's words for an error, without the person: status, category, message (emails removed)."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            body = {}
    if not isinstance(body, dict):
        body = {}
    category = body.get("category") or body.get("errorType") or ""
    message = str(body.get("message") or "")
    return remove_emails(" ".join(part for part in (str(status), category, message) if part))[:300]


def _about_properties(body: Any) -> bool:
    """Whether a refusal names properties (one the account lacks): every record of the call has them."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return False
    errors = body.get("errors") if isinstance(body, dict) else None
    return any(isinstance(e, dict) and "propertyName" in (e.get("context") or {}) for e in errors or [])


class HubSpotWriter:
    """A `CrmWriter` (../vendor.py) over HubSpot's contacts batch API."""

    source = "hubspot"
    max_batch = 100

    def __init__(self, access_token: str, *, api_url: str = API_URL, timeout_s: float = 30.0) -> None:
        # No retries inside the client: the writer decides when to try again, paced to the window.
        self._client = HubSpot(access_token=access_token, host=api_url.rstrip("/"), retry=Retry(total=0))
        self._batch = self._client.crm.contacts.batch_api
        self._timeout_s = timeout_s
        self._allowance = Allowance(None, None, None, None)
        self.daily_remaining: int | None = None
        self.calls = 0

    def allowance(self) -> Allowance:
        return self._allowance

    async def close(self) -> None:
        self._batch.api_client.rest_client.pool_manager.clear()

    async def write(self, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        if not updates:
            return []
        return await asyncio.to_thread(self._write, list(updates))

    def _write(self, updates: list[RecordUpdate]) -> list[WriteOutcome]:
        status, body, headers = self._call(updates)
        if status in (200, 201, 207):
            return self._per_record(updates, body)
        error = _error_text(status, body)
        if status in _PERMANENT and len(updates) > 1 and not _about_properties(body):
            half = len(updates) // 2  # find the record at fault: each half on its own
            first = self._write(updates[:half])
            if any(o.status == "retry" and o.retry_after_s for o in first):
                return first + [
                    WriteOutcome(u.record_id, "retry", "not tried: the window is used up") for u in updates[half:]
                ]
            return first + self._write(updates[half:])
        if status in _PERMANENT:
            return [WriteOutcome(u.record_id, "failed", error) for u in updates]
        wait: float | None = None
        if status == 429:
            wait = self._retry_after(headers, body)
        elif status in (401, 403):
            wait = 60.0  # the configuration is wrong: no point asking again at once
        return [WriteOutcome(u.record_id, "retry", error or "no answer", wait) for u in updates]

    def _call(self, updates: list[RecordUpdate]) -> tuple[int, Any, Mapping[str, str]]:
        """One batch update: (HTTP status, body, headers); status 0 when no answer came."""
        inputs = [
            SimplePublicObjectBatchInput(id=u.record_id, properties={k: as_sent_back(v) for k, v in u.fields.items()})
            for u in updates
        ]
        self.calls += 1
        try:
            body, status, headers = self._batch.update_with_http_info(
                BatchInputSimplePublicObjectBatchInput(inputs=inputs), _request_timeout=self._timeout_s
            )
        except ApiException as exc:
            headers = dict(exc.headers or {})
            self._observe(headers)
            return int(exc.status or 0), exc.body, headers
        except (HTTPError, OSError) as exc:
            return 0, {"message": type(exc).__name__}, {}
        headers = dict(headers or {})
        self._observe(headers)
        return int(status), body, headers

    def _per_record(self, updates: list[RecordUpdate], body: Any) -> list[WriteOutcome]:
        updated = {str(result.id) for result in (getattr(body, "results", None) or [])}
        refused: dict[str, str] = {}
        for error in getattr(body, "errors", None) or []:
            context = error.context or {}
            text = _error_text(207, {"category": error.category, "message": error.message})
            for record_id in context.get("ids") or context.get("id") or []:
                refused[str(record_id)] = text
        outcomes = []
        for update in updates:
            if update.record_id in refused:
                outcomes.append(WriteOutcome(update.record_id, "failed", refused[update.record_id]))
            elif update.record_id in updated:
                outcomes.append(WriteOutcome(update.record_id, "ok"))
            else:  # neither: HubSpot said nothing of it, and writing it again does no harm
                outcomes.append(WriteOutcome(update.record_id, "retry", "not in HubSpot's answer"))
        return outcomes

    def _observe(self, headers: Mapping[str, str]) -> None:
        h = {name.lower(): value for name, value in headers.items()}
        interval = _int(h, "x-hubspot-ratelimit-interval-milliseconds")
        self.daily_remaining = _int(h, "x-hubspot-ratelimit-daily-remaining")
        remaining = _int(h, "x-hubspot-ratelimit-remaining")
        if self.daily_remaining is not None and self.daily_remaining <= 0:
            self._allowance = Allowance(0, _int(h, "x-hubspot-ratelimit-daily"), 86400.0, _DAILY_PAUSE_S)
            return
        if remaining is None and interval is None:
            return
        window = interval / 1000 if interval else TEN_SECONDS
        self._allowance = Allowance(remaining, _int(h, "x-hubspot-ratelimit-max"), window, None)

    def _retry_after(self, headers: Mapping[str, str], body: Any) -> float:
        h = {name.lower(): value for name, value in headers.items()}
        try:
            return max(0.0, float(h["retry-after"]))
        except (KeyError, ValueError):
            pass
        if "DAILY" in str(body):
            return _DAILY_PAUSE_S
        return self._allowance.window_s or TEN_SECONDS
