"""Marketo write-back: lead fields through the REST leads API, over plain httpx.

One call updates up to 300 leads by their Marketo id (POST /rest/v1/leads.json, action updateOnly,
lookupField id), and Marketo answers for each lead in the order sent: updated, or skipped with its
reasons (1004: no such lead). Marketo answers HTTP 200 even when the whole call failed; the body's
`success: false` and its `errors` codes say why (601/602: the token, signed in again once; 606: over
100 calls in 20 seconds; 615: over 10 calls at once; 607: the day's quota, which resets at midnight
US Central time).

The access token comes from the identity endpoint by the client-credentials grant, asked by POST
with the credentials in the form body rather than in the URL's query string (which HTTP logs
keep), and is sent in the `Authorization: Bearer` header, Marketo's only way since the
`access_token` query parameter was retired. Marketo sends no rate headers: the adapter counts its
own calls against the documented 100 per 20 seconds, for `allowance()` and to pace itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx

from services.scoring.writeback.vendor import Allowance, RecordUpdate, WriteOutcome
from services.scoring.writeback.vendors.credentials import MarketoSettings
from shared.events.keys import remove_emails

log = logging.getLogger(__name__)

RATE_LIMIT, RATE_WINDOW_S = 100, 20.0  # Marketo's documented limit: 100 calls per 20 seconds
_QUOTA_ZONE = ZoneInfo("America/Chicago")  # the daily quota resets at midnight there
_LONGEST_WAIT_S = 5.0  # beyond this a batch is handed back to the writer instead of waited for here
_TOKEN_MARGIN_S = 60.0  # a token this close to its end is renewed before use
_TIMEOUT_S = 30.0
_RENEW = frozenset({"601", "602"})
_LATER = frozenset({"502", "500", "603", "604", "608", "611", "614", "713"})
_WAIT_S = {"606": RATE_WINDOW_S, "615": 2.0}


class SignInFailed(Exception):
    """The identity endpoint refused the credentials (its error code, never the credentials)."""


class MarketoWriter:
    """The CrmWriter for Marketo: `LOCKSTEP_MARKETO_*` settings, records typed "lead" by Marketo id."""

    source = "marketo"
    max_batch = 300  # the leads API's documented maximum

    def __init__(
        self,
        settings: MarketoSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        assert settings.marketo_base_url and settings.marketo_client_secret, "build only when marketo_configured"
        self._settings = settings
        self._clock = clock
        self._client = httpx.AsyncClient(base_url=settings.marketo_base_url, timeout=_TIMEOUT_S, transport=transport)
        self._token: str | None = None
        self._token_ends = 0.0
        self._calls: deque[float] = deque()  # when each call of the last window was made, on `clock`

    def allowance(self) -> Allowance:
        now = self._clock()
        self._forget_before(now - RATE_WINDOW_S)
        resets_in = self._calls[0] + RATE_WINDOW_S - now if self._calls else 0.0
        return Allowance(RATE_LIMIT - len(self._calls), RATE_LIMIT, RATE_WINDOW_S, max(resets_in, 0.0))

    async def write(self, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        if len(updates) > self.max_batch:
            raise ValueError(f"at most {self.max_batch} records per call, got {len(updates)}")
        outcomes: dict[int, WriteOutcome] = {}
        sendable = []
        for i, update in enumerate(updates):
            if update.record_id.isdigit() and update.record_id.isascii():
                sendable.append(i)
            else:
                outcomes[i] = WriteOutcome(update.record_id, "failed", "not a Marketo lead id")
        if sendable:
            sent = [updates[i] for i in sendable]
            for i, outcome in zip(sendable, await self._send(sent), strict=True):
                outcomes[i] = outcome
        return [outcomes[i] for i in range(len(updates))]

    async def close(self) -> None:
        await self._client.aclose()

    async def _send(self, updates: list[RecordUpdate]) -> list[WriteOutcome]:
        window = self.allowance()
        wait = window.resets_in_s if window.remaining == 0 and window.resets_in_s else 0.0
        if wait > _LONGEST_WAIT_S:
            return _all(updates, "retry", "606: rate window spent (counted here)", wait)
        if wait:
            await asyncio.sleep(wait)
        body = {
            "action": "updateOnly",
            "lookupField": "id",
            "input": [{**u.fields, "id": int(u.record_id)} for u in updates],
        }
        try:
            answer = await self._post_leads(body)
            code, message = _first_error(answer)
            if code in _RENEW:
                log.info("marketo access token expired or invalid; signing in again")
                answer = await self._post_leads(body, renew=True)
        except SignInFailed as exc:
            return _all(updates, "retry", f"sign-in failed: {exc}")
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            # 413/414: a call too large for Marketo, which sending again cannot mend.
            return _all(updates, "failed" if status in (413, 414) else "retry", f"HTTP {status}")
        except (httpx.HTTPError, ValueError) as exc:
            return _all(updates, "retry", f"{type(exc).__name__}: no answer from Marketo")
        return self._outcomes(updates, answer)

    def _outcomes(self, updates: list[RecordUpdate], answer: Any) -> list[WriteOutcome]:
        code, message = _first_error(answer)
        if answer.get("success") is not True:
            error = _error_text(code or "unknown", message)
            if code == "607":
                return _all(updates, "retry", error, _until_quota_resets())
            if code in _WAIT_S:
                return _all(updates, "retry", error, _WAIT_S[code])
            if code in _RENEW or code in _LATER:
                return _all(updates, "retry", error)
            return _all(updates, "failed", error)
        results = answer.get("result")
        if not isinstance(results, list) or len(results) != len(updates):
            return _all(updates, "retry", "unexpected answer to the leads update")
        return [_record_outcome(u, r) for u, r in zip(updates, results, strict=True)]

    async def _post_leads(self, body: dict[str, Any], renew: bool = False) -> Any:
        token = await self._access_token(renew)
        now = self._clock()
        self._forget_before(now - RATE_WINDOW_S)
        self._calls.append(now)
        response = await self._client.post(
            "/rest/v1/leads.json", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        response.raise_for_status()
        answer = response.json()
        if not isinstance(answer, dict):
            raise ValueError("not a JSON object")
        return answer

    async def _access_token(self, renew: bool) -> str:
        if self._token is not None and not renew and self._clock() < self._token_ends - _TOKEN_MARGIN_S:
            return self._token
        s = self._settings
        assert s.marketo_client_secret is not None
        form = {
            "grant_type": "client_credentials",
            "client_id": s.marketo_client_id or "",
            "client_secret": s.marketo_client_secret.get_secret_value(),
        }
        try:
            response = await self._client.post("/identity/oauth/token", data=form)
            answer = response.json()
        except (httpx.HTTPError, ValueError):
            raise SignInFailed("no answer from the identity endpoint") from None
        if response.status_code != 200 or not isinstance(answer, dict) or "access_token" not in answer:
            error = answer.get("error") if isinstance(answer, dict) else None
            raise SignInFailed(f"HTTP {response.status_code}" + (f" {error}" if error else ""))
        self._token = str(answer["access_token"])
        self._token_ends = self._clock() + float(answer.get("expires_in") or 0)
        return self._token

    def _forget_before(self, moment: float) -> None:
        while self._calls and self._calls[0] <= moment:
            self._calls.popleft()


def _record_outcome(update: RecordUpdate, result: Any) -> WriteOutcome:
    if isinstance(result, dict) and result.get("status") in ("updated", "created"):
        return WriteOutcome(update.record_id, "ok")
    reasons = result.get("reasons") if isinstance(result, dict) else None
    code, message = _first_error({"errors": reasons})
    error = _error_text(code or str(result.get("status") if isinstance(result, dict) else "unknown"), message)
    # 1004 (no such lead), 1006 (no such field), 1003 (invalid data): the record's own, for good.
    return WriteOutcome(update.record_id, "retry" if code in _LATER else "failed", error)


def _first_error(answer: Any) -> tuple[str | None, str | None]:
    errors = answer.get("errors") if isinstance(answer, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code, message = first.get("code"), first.get("message")
    return (str(code) if code is not None else None), (str(message) if message else None)


def _error_text(code: str, message: str | None) -> str:
    return remove_emails(f"{code}: {message}" if message else code)[:300]


def _until_quota_resets() -> float:
    now = datetime.now(UTC).astimezone(_QUOTA_ZONE)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


def _all(
    updates: Sequence[RecordUpdate], status: Literal["retry", "failed"], error: str, retry_after_s: float | None = None
) -> list[WriteOutcome]:
    return [WriteOutcome(u.record_id, status, error, retry_after_s) for u in updates]
