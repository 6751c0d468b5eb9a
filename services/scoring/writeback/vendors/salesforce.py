"""Salesforce write-back: Lead and Contact fields through simple-salesforce and the sObject Collections API.

One call updates up to 200 records (PATCH /services/data/vXX.X/composite/sobjects, allOrNone=false),
and Salesforce answers for each record in the order sent, so one bad record never sinks its batch.
Sign-in is the OAuth 2.0 client-credentials flow, or the JWT bearer flow when a private key is set;
simple-salesforce's own sign-in only knows *.salesforce.com hosts, so the token request is made here
(on the client's requests session) and the client is handed the token and the org's instance URL.
Salesforce does not say when a token expires: an INVALID_SESSION_ID answer signs in again, once.

Every response carries `Sforce-Limit-Info: api-usage=used/limit`, the org's rolling 24-hour API
allowance; a hook on the session reads it from every answer (errors included, which the client
does not) so that `allowance()` tells the writer how close the org is to its daily limit.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jwt
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from services.scoring.writeback.vendor import Allowance, RecordUpdate, WriteOutcome
from services.scoring.writeback.vendors.credentials import SalesforceSettings
from shared.events.keys import remove_emails

log = logging.getLogger(__name__)

DAY_S = 86_400.0
# Per-record errors that say "not now" rather than "never": a record locked by another transaction,
# the org over its allowance or briefly unavailable. Every other per-record error is the record's own.
_TRANSIENT = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE"})
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_SOBJECT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_TIMEOUT_S = 30.0
_JWT_LIFETIME_S = 180


class SignInFailed(Exception):
    """The token endpoint refused the credentials (its error code, never the credentials)."""


class SalesforceWriter:
    """The CrmWriter for Salesforce: `LOCKSTEP_SALESFORCE_*` settings, records typed Lead or Contact."""

    source = "salesforce"
    max_batch = 200  # sObject Collections' documented maximum

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        verify: str | bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`verify` is requests' TLS setting (a CA bundle path for a private CA); `clock` signs JWTs."""
        assert settings.salesforce_configured, "build only when salesforce_configured"
        self._settings = settings
        self._clock = clock
        # Given with every request: requests lets REQUESTS_CA_BUNDLE override a session's own setting.
        self._verify = verify
        self._session = requests.Session()
        self._session.hooks["response"].append(self._read_limit_info)
        self._client: Salesforce | None = None
        self._sign_in_lock = threading.Lock()
        self._usage: tuple[int, int] | None = None

    def allowance(self) -> Allowance:
        if self._usage is None:
            return Allowance(remaining=None, limit=None, window_s=DAY_S, resets_in_s=None)
        used, limit = self._usage
        remaining = max(limit - used, 0)
        # The allowance is a rolling 24 hours: no moment resets it. Spent, it is tried again after the
        # configured wait, the one REQUEST_LIMIT_EXCEEDED answers get.
        resets_in = self._settings.salesforce_limit_retry_s if remaining == 0 else None
        return Allowance(remaining=remaining, limit=limit, window_s=DAY_S, resets_in_s=resets_in)

    async def write(self, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        if len(updates) > self.max_batch:
            raise ValueError(f"at most {self.max_batch} records per call, got {len(updates)}")
        return await asyncio.to_thread(self._write, list(updates))

    async def close(self) -> None:
        await asyncio.to_thread(self._session.close)

    def _read_limit_info(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self._usage = (int(match[1]), int(match[2]))

    def _write(self, updates: list[RecordUpdate]) -> list[WriteOutcome]:
        outcomes: dict[int, WriteOutcome] = {}
        sendable: list[int] = []
        for i, update in enumerate(updates):
            if not _RECORD_ID.match(update.record_id):
                outcomes[i] = WriteOutcome(update.record_id, "failed", "MALFORMED_ID: not a Salesforce record id")
            elif not _SOBJECT.match(update.record_type):
                outcomes[i] = WriteOutcome(update.record_id, "failed", "INVALID_TYPE: not an sObject name")
            else:
                sendable.append(i)
        # Records of one type travel together: Salesforce processes a collection in runs of one type,
        # at most ten runs a request.
        sendable.sort(key=lambda i: updates[i].record_type)
        if sendable:
            sent = [updates[i] for i in sendable]
            for i, outcome in zip(sendable, self._send(sent), strict=True):
                outcomes[i] = outcome
        return [outcomes[i] for i in range(len(updates))]

    def _send(self, updates: list[RecordUpdate]) -> list[WriteOutcome]:
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": u.record_type}, "id": u.record_id, **u.fields} for u in updates],
        }
        try:
            try:
                results = self._client_signed_in().restful(
                    "composite/sobjects", method="PATCH", json=body, timeout=_TIMEOUT_S, verify=self._verify
                )
            except SalesforceError as exc:
                if exc.status != 401:
                    raise
                log.info("salesforce session expired or revoked; signing in again")
                results = self._client_signed_in(renew=True).restful(
                    "composite/sobjects", method="PATCH", json=body, timeout=_TIMEOUT_S, verify=self._verify
                )
        except SignInFailed as exc:
            return _all(updates, "retry", f"sign-in failed: {exc}")
        except SalesforceError as exc:
            return self._refused(updates, exc)
        except requests.RequestException as exc:
            return _all(updates, "retry", f"{type(exc).__name__}: no answer from Salesforce")
        if not isinstance(results, list) or len(results) != len(updates):
            return _all(updates, "retry", "unexpected answer to the collection update")
        return [_record_outcome(u, r) for u, r in zip(updates, results, strict=True)]

    def _refused(self, updates: list[RecordUpdate], exc: SalesforceError) -> list[WriteOutcome]:
        code, message = _first_error(exc.content)
        error = _error_text(code or f"HTTP {exc.status}", message)
        if exc.status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            return _all(updates, "retry", error, self._settings.salesforce_limit_retry_s)
        if exc.status in (400, 404):
            return _all(updates, "failed", error)  # the request itself is wrong: a field or object that is not there
        # 401 after a fresh sign-in, 403 (permissions), 5xx: nothing the records can change; try again later.
        return _all(updates, "retry", error)

    def _client_signed_in(self, renew: bool = False) -> Salesforce:
        with self._sign_in_lock:
            if self._client is None or renew:
                token, instance_url = self._sign_in()
                self._client = Salesforce(
                    instance_url=instance_url,
                    session_id=token,
                    version=self._settings.salesforce_api_version,
                    session=self._session,
                )
            return self._client

    def _sign_in(self) -> tuple[str, str]:
        s = self._settings
        form: dict[str, str]
        if s.salesforce_private_key is not None:
            now = int(self._clock())
            claims = {"iss": s.salesforce_client_id, "sub": s.salesforce_username, "aud": s.salesforce_jwt_audience}
            assertion = jwt.encode(
                {**claims, "exp": now + _JWT_LIFETIME_S}, s.salesforce_private_key.get_secret_value(), "RS256"
            )
            form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
        else:
            assert s.salesforce_client_secret is not None  # the settings require one or the other
            form = {
                "grant_type": "client_credentials",
                "client_id": s.salesforce_client_id or "",
                "client_secret": s.salesforce_client_secret.get_secret_value(),
            }
        try:
            response = self._session.post(
                f"{s.salesforce_login_url}/services/oauth2/token", data=form, timeout=_TIMEOUT_S, verify=self._verify
            )
        except requests.RequestException as exc:
            raise SignInFailed(f"{type(exc).__name__}: no answer from the token endpoint") from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or "access_token" not in answer or "instance_url" not in answer:
            raise SignInFailed(
                _error_text(str(answer.get("error") or f"HTTP {response.status_code}"), answer.get("error_description"))
            )
        return str(answer["access_token"]), str(answer["instance_url"])


def _record_outcome(update: RecordUpdate, result: Any) -> WriteOutcome:
    if isinstance(result, dict) and result.get("success") is True:
        return WriteOutcome(update.record_id, "ok")
    errors = result.get("errors") if isinstance(result, dict) else None
    code, message = _first_error(errors)
    error = _error_text(code or "UNKNOWN_ERROR", message)
    return WriteOutcome(update.record_id, "retry" if code in _TRANSIENT else "failed", error)


def _first_error(content: Any) -> tuple[str | None, str | None]:
    """The code and message of the first error of an answer: REST errors name it `errorCode`, a
    record's SaveResult `statusCode`."""
    first = content[0] if isinstance(content, list) and content else content
    if not isinstance(first, dict):
        return None, None
    code = first.get("errorCode") or first.get("statusCode")
    message = first.get("message")
    return (str(code) if code else None), (str(message) if message else None)


def _error_text(code: str, message: Any) -> str:
    # A validation message may quote a record's value: emails are removed and the text kept short.
    return remove_emails(f"{code}: {message}" if message else code)[:300]


def _all(
    updates: Sequence[RecordUpdate], status: Literal["retry", "failed"], error: str, retry_after_s: float | None = None
) -> list[WriteOutcome]:
    return [WriteOutcome(u.record_id, status, error, retry_after_s) for u in updates]
