"""Pipedrive write-back: person fields through the persons API v2, over plain httpx.

Pipedrive has no maintained official Python client, and no batch update of persons: each record is
one `PATCH /api/v2/persons/{id}` with `owner_id` and a `custom_fields` object keyed by the fields'
40-character hash keys. v2 is the version Pipedrive documents for persons (v1's `PUT
/v1/persons/{id}` is being retired; its migration guide asks for v2 where it exists), and v2 types
strictly: a numeric field or `owner_id` sent as a string is refused, so ids are sent as numbers.

The API token travels in the `x-api-token` header, as Pipedrive documents, never in the URL, where
HTTP logs would keep it. A batch's records go out a few at a time (`LOCKSTEP_PIPEDRIVE_CONCURRENCY`)
and never faster than the burst window Pipedrive reports on every answer (`x-ratelimit-limit`,
`-remaining`, `-reset`, a 2-second window): when the window is spent the next call waits for its
reset, and a 429 gives its `Retry-After` to the writer.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from services.scoring.writeback.vendor import Allowance, RecordUpdate, WriteOutcome
from services.scoring.writeback.vendors.credentials import PipedriveSettings
from shared.events.keys import remove_emails

BURST_WINDOW_S = 2.0  # Pipedrive's documented rate-limit window
_LONGEST_WAIT_S = 5.0  # beyond this a call is handed back to the writer instead of waited for here
_CUSTOM_FIELD = re.compile(r"^[0-9a-f]{40}$")
_TIMEOUT_S = 30.0


class PipedriveWriter:
    """The CrmWriter for Pipedrive: `LOCKSTEP_PIPEDRIVE_*` settings, records typed "person"."""

    source = "pipedrive"
    max_batch = 10  # records per write(): one call each, a few at a time

    def __init__(
        self,
        settings: PipedriveSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        assert settings.pipedrive_api_token is not None, "build only when settings.pipedrive_configured"
        self._clock = clock
        self._client = httpx.AsyncClient(
            base_url=settings.pipedrive_base_url,
            headers={"x-api-token": settings.pipedrive_api_token.get_secret_value(), "accept": "application/json"},
            timeout=_TIMEOUT_S,
            transport=transport,
        )
        self._at_once = asyncio.Semaphore(settings.pipedrive_concurrency)
        self._pace = asyncio.Lock()
        self._in_flight = 0
        # The window as last reported: calls left, its size, and when it ends (on `clock`).
        self._remaining: int | None = None
        self._limit: int | None = None
        self._window_ends = 0.0

    def allowance(self) -> Allowance:
        resets_in = max(self._window_ends - self._clock(), 0.0)
        remaining = self._remaining if resets_in > 0 else self._limit
        return Allowance(remaining=remaining, limit=self._limit, window_s=BURST_WINDOW_S, resets_in_s=resets_in)

    async def write(self, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        if len(updates) > self.max_batch:
            raise ValueError(f"at most {self.max_batch} records per call, got {len(updates)}")
        return list(await asyncio.gather(*(self._write_one(u) for u in updates)))

    async def close(self) -> None:
        await self._client.aclose()

    async def _write_one(self, update: RecordUpdate) -> WriteOutcome:
        body = _body(update)
        if isinstance(body, str):
            return WriteOutcome(update.record_id, "failed", body)
        async with self._at_once:
            wait = await self._take_a_call()
            if wait is not None:
                return WriteOutcome(update.record_id, "retry", "rate window spent", wait)
            self._in_flight += 1
            try:
                response = await self._client.patch(f"/api/v2/persons/{update.record_id}", json=body)
            except httpx.HTTPError as exc:
                return WriteOutcome(update.record_id, "retry", f"{type(exc).__name__}: no answer from Pipedrive")
            finally:
                self._in_flight -= 1
        self._observe(response)
        return self._outcome(update, response)

    async def _take_a_call(self) -> float | None:
        """Wait, if need be, until the reported window has room for one more call and count it; or,
        when that would take longer than a short pause, the seconds to wait, for the writer."""
        async with self._pace:
            while self._remaining is not None and self._remaining <= 0:
                wait = self._window_ends - self._clock()
                if wait <= 0:
                    self._remaining = self._limit  # a new window, as large as the last one said
                    self._window_ends = self._clock() + BURST_WINDOW_S
                    break
                if wait > _LONGEST_WAIT_S:
                    return wait
                await asyncio.sleep(wait)
            if self._remaining is not None:
                self._remaining -= 1
            return None

    def _observe(self, response: httpx.Response) -> None:
        headers = response.headers
        limit, remaining, reset = (
            _number(headers.get(h)) for h in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
        )
        retry_after = _number(headers.get("retry-after"))
        now = self._clock()
        if limit is not None:
            self._limit = int(limit)
        if remaining is not None:
            # Calls still under way were counted by Pipedrive but are not in this answer's figure.
            self._remaining = max(int(remaining) - self._in_flight, 0)
            self._window_ends = now + (reset if reset is not None else BURST_WINDOW_S)
        if response.status_code == 429:
            self._remaining = 0
            self._window_ends = max(self._window_ends, now + (retry_after or reset or BURST_WINDOW_S))

    def _outcome(self, update: RecordUpdate, response: httpx.Response) -> WriteOutcome:
        status = response.status_code
        if status == 200:
            return WriteOutcome(update.record_id, "ok")
        error = _error_text(response)
        if status == 429:
            wait = _number(response.headers.get("retry-after")) or _number(response.headers.get("x-ratelimit-reset"))
            return WriteOutcome(update.record_id, "retry", error, wait or BURST_WINDOW_S)
        if status in (400, 404, 410, 422):
            return WriteOutcome(update.record_id, "failed", error)  # no such person, or a field it cannot take
        # 401/403 (a revoked token, a user without access), 5xx: nothing about the record; try again later.
        return WriteOutcome(update.record_id, "retry", error)


def _body(update: RecordUpdate) -> dict[str, Any] | str:
    """The PATCH body of one update, or why it cannot be sent."""
    if not update.record_id.isdigit() or not update.record_id.isascii():
        return "not a Pipedrive person id"
    body: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for name, value in update.fields.items():
        if _CUSTOM_FIELD.match(name):
            custom[name] = value
        elif name == "owner_id":
            if isinstance(value, str) and value.isdigit() and value.isascii():
                value = int(value)
            if not (value is None or (isinstance(value, int) and not isinstance(value, bool))):
                return "owner_id: not a Pipedrive user id"
            body[name] = value
        else:
            body[name] = value  # a standard person field, named as Pipedrive names it
    if custom:
        body["custom_fields"] = custom
    return body


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        answer = None
    error = answer.get("error") if isinstance(answer, dict) else None
    code = (answer.get("code") or answer.get("errorCode")) if isinstance(answer, dict) else None
    text = f"HTTP {response.status_code}" + (f" {code}" if code else "") + (f": {error}" if error else "")
    return remove_emails(text)[:300]
