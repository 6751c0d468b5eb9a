"""A fake Marketo instance, for the write-back adapter to talk to over real HTTP.

Implements, in the documented shapes, the endpoints write-back uses:
- GET or POST /identity/oauth/token with grant_type=client_credentials, client_id and client_secret
  (query string or form): {"access_token", "token_type": "bearer", "expires_in", "scope"}; 401
  {"error", "error_description"} for unknown credentials.
- POST /rest/v1/leads.json with the token in `Authorization: Bearer` (the `access_token` query
  parameter is no longer taken): {"requestId", "success", "result"} with one entry per input lead,
  in order, {"id", "status": "updated"} or {"status": "skipped", "reasons": [{"code", "message"}]}
  (1004: lead not found, 1006: field not found). Whole-call failures come back, as Marketo sends
  them, with HTTP 200 and {"success": false, "errors": [{"code", "message"}]}: 600/601/602 for a
  missing, unknown or expired token, 606 past `rate_limit` calls in `window_s` seconds (100 in 20
  by default), 607 past the daily quota, 1003 for more than 300 leads.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.crm.fake import FakeCrmServer, RateWindow, same_secret

LEAD_FIELDS = frozenset(
    {"lockstepStage", "lockstepFitGrade", "lockstepFitScore", "lockstepEngagement", "lockstepMQLReason"}
)


class FakeMarketo(FakeCrmServer):
    def __init__(
        self,
        *,
        client_id: str = "0f1e2d3c-fake-client-id",
        client_secret: str = "fake-marketo-secret",
        rate_limit: int = 100,
        window_s: float = 20.0,
        daily_quota: int = 50_000,
        fields: frozenset[str] = LEAD_FIELDS,
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.window = RateWindow(rate_limit, window_s)
        self.daily_quota = daily_quota
        self.quota_used = 0
        self.fields = fields
        self.leads: dict[int, dict[str, Any]] = {}
        self.token_requests = 0
        self._tokens: dict[str, bool] = {}  # token -> still valid
        routes = [
            Route("/identity/oauth/token", self._token, methods=["GET", "POST"]),
            Route("/rest/v1/leads.json", self._sync_leads, methods=["POST"]),
        ]
        super().__init__(routes, name="fake-marketo")

    def add_lead(self, lead_id: int) -> None:
        with self.lock:
            self.leads[lead_id] = {}

    def expire_tokens(self) -> None:
        with self.lock:
            self._tokens = dict.fromkeys(self._tokens, False)

    async def _token(self, request: Request) -> JSONResponse:
        params = dict(request.query_params)
        params.update(parse_qsl((await request.body()).decode()))
        with self.lock:
            self.token_requests += 1
            if params.get("grant_type") != "client_credentials":
                return JSONResponse({"error": "invalid_request", "error_description": "Bad grant type"}, 400)
            if params.get("client_id") != self.client_id or not same_secret(
                params.get("client_secret"), self.client_secret
            ):
                return JSONResponse({"error": "unauthorized", "error_description": "Bad client credentials"}, 401)
            token = f"{secrets.token_hex(16)}:ab"
            self._tokens[token] = True
        return JSONResponse(
            {"access_token": token, "token_type": "bearer", "expires_in": 3599, "scope": "apis@lockstep.test"}
        )

    async def _sync_leads(self, request: Request) -> JSONResponse:
        raw = await request.body()
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        with self.lock:
            if token is None:
                return self._failed("600", "Access token not specified")
            if token not in self._tokens:
                return self._failed("601", "Access token invalid")
            if not self._tokens[token]:
                return self._failed("602", "Access token expired")
            self.calls += 1
            if self._throttled() or not self.window.take(time.monotonic()):
                limit, window = self.window.limit, round(self.window.window_s)
                return self._failed("606", f"Max rate limit '{limit}' exceeded with in '{window}' secs")
            if self.quota_used >= self.daily_quota:
                return self._failed("607", "Daily quota reached")
            self.quota_used += 1
            injected = self._injected_failure()
            if injected is not None:
                return self._failed(str(injected), "injected failure")
            try:
                body = json.loads(raw)
            except ValueError:
                return self._failed("609", "Invalid JSON")
            if body.get("action") != "updateOnly" or body.get("lookupField") != "id":
                return self._failed("1003", "write-back expects action updateOnly and lookupField id")
            leads = body.get("input")
            if not isinstance(leads, list) or not 0 < len(leads) <= 300:
                return self._failed("1003", "input must hold 1 to 300 leads")
            return JSONResponse(
                {"requestId": self._request_id(), "success": True, "result": [self._update(x) for x in leads]}
            )

    def _update(self, lead: dict[str, Any]) -> dict[str, Any]:
        lead_id = lead.get("id")
        if not isinstance(lead_id, int) or lead_id not in self.leads:
            return {"status": "skipped", "reasons": [{"code": "1004", "message": "Lead not found"}]}
        unknown = sorted(set(lead) - {"id"} - self.fields)
        if unknown:
            return {"status": "skipped", "reasons": [{"code": "1006", "message": f"Field '{unknown[0]}' not found"}]}
        changes = {k: v for k, v in lead.items() if k != "id"}
        self.leads[lead_id].update(changes)
        self._record("lead", str(lead_id), changes)
        return {"id": lead_id, "status": "updated"}

    def _failed(self, code: str, message: str) -> JSONResponse:
        # As Marketo does: HTTP 200, the failure in the body.
        return JSONResponse(
            {"requestId": self._request_id(), "success": False, "errors": [{"code": code, "message": message}]}
        )

    @staticmethod
    def _request_id() -> str:
        return f"{secrets.token_hex(2)}#{secrets.token_hex(6)}"
