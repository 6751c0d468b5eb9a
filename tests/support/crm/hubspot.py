"""A fake HubSpot for write-back tests: the CRM v3 contacts batch update, served over real HTTP on
127.0.0.1 by uvicorn in a thread of its own, so the official client (`hubspot-api-client`) calls it
as it calls HubSpot.

What it implements, as HubSpot documents it:
- Bearer authentication: another token or none is a 401 (category INVALID_AUTHENTICATION).
- POST /crm/v3/objects/contacts/batch/update: at most 100 inputs (more: 400 VALIDATION_ERROR); a
  property the account does not have fails the whole call with 400 VALIDATION_ERROR naming it;
  unknown or deleted contacts are refused in a 207 multi-status (OBJECT_NOT_FOUND, `context.ids`)
  while the others are updated; otherwise 200 with every contact.
- The burst window: at most `burst` calls in any `window_s` seconds (and, with `per_second`, at
  most that many in any second, HubSpot's secondly limit); past it a 429
  (RATE_LIMIT, policy TEN_SECONDLY_ROLLING) with Retry-After. `throttle(seconds)` answers 429 to
  everything for a while. Every answer carries the X-HubSpot-RateLimit-* headers. The counting is
  hubspot_limits.py's; this module is the API and the account.
- propertyChange webhooks back to ingest for every property a call changed (`echoes()`), which
  tests post signed as HubSpot signs them (hubspot_outside.py).

`changes` logs every property value a call actually changed (a write of the same value changes
nothing, as in HubSpot): what tests count to see that each write took effect once. `delay_s` holds an
answer after applying (a caller killed then never hears of it); `hold_s` holds a call before applying,
and one whose caller is gone by then changes nothing (the request was lost in flight).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.crm.hubspot_limits import HubSpotLimits

DEFAULT_PROPERTIES = frozenset(
    {
        "lockstep_stage",
        "lockstep_fit_grade",
        "lockstep_fit_score",
        "lockstep_engagement",
        "lockstep_mql_reason",
        "hubspot_owner_id",
        "firstname",
        "lastname",
        "email",
        "hs_lead_status",
    }
)


@dataclass(frozen=True)
class Change:
    contact_id: str
    name: str
    old: str | None
    new: str
    at: datetime


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeHubSpot:
    def __init__(
        self,
        token: str = "pat-na1-test-token",
        *,
        burst: int = 100,
        window_s: float = 10.0,
        daily: int = 250_000,
        properties: frozenset[str] = DEFAULT_PROPERTIES,
        delay_s: float = 0.0,
        per_second: int | None = None,
        port: int = 0,
    ) -> None:
        self.token = token
        self.limits = HubSpotLimits(burst=burst, window_s=window_s, daily=daily, per_second=per_second)
        self.properties = set(properties)
        self.delay_s = delay_s  # each update waits this long after applying, before answering
        self.hold_s = 0.0  # each update waits this long before applying: a caller gone by then changes nothing
        self.holding = 0  # updates being held now
        self.contacts: dict[str, dict[str, str]] = {}
        self.changes: list[Change] = []
        self.calls: list[tuple[float, int]] = []  # (time, HTTP status) of every update call
        self._unsent: list[Change] = []
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route("/crm/v3/objects/contacts/batch/update", self._update, methods=["POST"]),
                Route("/_fake/stats", self._stats, methods=["GET"]),  # the fake's own: for a run in another process
            ]
        )
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, name="fake-hubspot", daemon=True)

    # -- running --------------------------------------------------------------------------------

    def start(self) -> FakeHubSpot:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "fake HubSpot did not start"
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- the account ----------------------------------------------------------------------------

    def add_contacts(self, *ids: int | str) -> None:
        with self._lock:
            for contact_id in ids:
                self.contacts.setdefault(str(contact_id), {})

    def delete_contact(self, contact_id: int | str) -> None:
        with self._lock:
            self.contacts.pop(str(contact_id), None)

    def edit(self, contact_id: int | str, name: str, value: str) -> Change:
        """A person changes a property in HubSpot (its webhook is among the next `echoes()`)."""
        with self._lock:
            return self._apply(str(contact_id), name, value)

    def throttle(self, seconds: float, retry_after_s: float | None = None) -> None:
        """Answer every call with 429 for `seconds` from now, saying to retry after `retry_after_s`
        (by default: when the throttling ends)."""
        with self._lock:
            self.limits.throttle(time.monotonic() + seconds, retry_after_s)

    def value(self, contact_id: int | str, name: str) -> str | None:
        with self._lock:
            return self.contacts.get(str(contact_id), {}).get(name)

    def echoes(self) -> list[Change]:
        """The property changes whose webhooks have not been taken yet (each once)."""
        with self._lock:
            taken, self._unsent = self._unsent, []
            return taken

    def statuses(self) -> list[int]:
        with self._lock:
            return [status for _, status in self.calls]

    # -- the API --------------------------------------------------------------------------------

    async def _stats(self, request: Request) -> Response:
        with self._lock:
            return JSONResponse({"statuses": [status for _, status in self.calls], "changes": len(self.changes)})

    def _apply(self, contact_id: str, name: str, value: str) -> Change:
        properties = self.contacts[contact_id]
        change = Change(contact_id, name, properties.get(name), value, datetime.now(UTC))
        if properties.get(name) != value:
            properties[name] = value
            self.changes.append(change)
            self._unsent.append(change)
        return change

    @staticmethod
    def _error(status: int, category: str, message: str, headers: dict[str, str], **more: object) -> Response:
        body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
        return JSONResponse({**body, **more}, status_code=status, headers=headers)

    async def _update(self, request: Request) -> Response:
        raw = await request.body()
        if self.hold_s:
            self.holding += 1
            try:
                deadline = time.monotonic() + self.hold_s
                while time.monotonic() < deadline:
                    if await request.is_disconnected():  # the caller died with its request in flight
                        self.calls.append((time.monotonic(), 499))
                        return Response(status_code=499)
                    await asyncio.sleep(0.05)
            finally:
                self.holding -= 1
        with self._lock:
            response = self._answer(request.headers.get("authorization", ""), raw)
            self.calls.append((time.monotonic(), response.status_code))
        if self.delay_s and response.status_code in (200, 207):
            await asyncio.sleep(self.delay_s)  # applied already: an answer that never comes if the caller dies now
        return response

    def _answer(self, authorization: str, raw: bytes) -> Response:
        now = time.monotonic()
        self.limits.forget_before(now)
        if authorization != f"Bearer {self.token}":
            return self._error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
                {},
            )
        refusal = self.limits.refusal(now)
        if refusal is not None:
            return self._error(
                429, "RATE_LIMITS", refusal.message, refusal.headers, errorType="RATE_LIMIT", policyName=refusal.policy
            )
        headers = self.limits.take(now)
        try:
            inputs = json.loads(raw)["inputs"]
            assert isinstance(inputs, list) and all(isinstance(i, dict) and "id" in i for i in inputs)
        except (ValueError, KeyError, TypeError, AssertionError):
            return self._error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1", headers)
        if len(inputs) > 100:
            return self._error(400, "VALIDATION_ERROR", "Batch input limit is 100, got " + str(len(inputs)), headers)
        unknown = sorted({name for i in inputs for name in (i.get("properties") or {}) if name not in self.properties})
        if unknown:
            return self._error(
                400,
                "VALIDATION_ERROR",
                "Property values were not valid: " + ", ".join(f'Property "{n}" does not exist' for n in unknown),
                headers,
                errors=[
                    {
                        "message": f'Property "{n}" does not exist',
                        "code": "PROPERTY_DOESNT_EXIST",
                        "context": {"propertyName": [n]},
                    }
                    for n in unknown
                ],
            )
        started = _now_iso()
        results, missing = [], []
        for item in inputs:
            contact_id = str(item["id"])
            if contact_id not in self.contacts:
                missing.append(contact_id)
                continue
            for name, value in (item.get("properties") or {}).items():
                self._apply(contact_id, name, "" if value is None else str(value))
            results.append(
                {
                    "id": contact_id,
                    "properties": dict(self.contacts[contact_id]),
                    "createdAt": started,
                    "updatedAt": _now_iso(),
                    "archived": False,
                }
            )
        body: dict[str, object] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": _now_iso(),
        }
        if not missing:
            return JSONResponse(body, headers=headers)
        body["numErrors"] = 1
        body["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": (
                    "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid."
                ),
                "context": {"ids": missing},
            }
        ]
        return JSONResponse(body, status_code=207, headers=headers)
