"""A fake Pipedrive company, for the write-back adapter to talk to over real HTTP.

Implements, in the documented shapes, the endpoint write-back uses: `PATCH /api/v2/persons/{id}`
with the API token in the `x-api-token` header (401 without it; a token in the query string, which
v2 does not take, counts as none), a body of `owner_id` and a `custom_fields` object keyed by 40-hex
field keys, typed strictly as v2 does (a number sent as a string is a 400), answered
{"success": true, "data": person}; 404 for a person that does not exist or was deleted. Every answer
carries the burst window, `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset`
(seconds), and a call past it gets 429 with `Retry-After`.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.crm.fake import FakeCrmServer, RateWindow, same_secret

# Hash keys of the custom person fields a RevOps admin would create, with their Pipedrive types.
STAGE, FIT_GRADE, FIT_SCORE, ENGAGEMENT, MQL_REASON = (f"{n:x}" * 40 for n in range(10, 15))
PERSON_FIELDS = {STAGE: "varchar", FIT_GRADE: "varchar", FIT_SCORE: "double", ENGAGEMENT: "double", MQL_REASON: "text"}


def _failure(status: int, error: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"success": False, "error": error, "code": code, "error_info": "See the Pipedrive API reference."}
    return JSONResponse(body, status_code=status, headers=headers)


class FakePipedrive(FakeCrmServer):
    def __init__(
        self,
        *,
        api_token: str = "0123456789abcdef0123456789abcdef01234567",
        burst_limit: int = 20,
        window_s: float = 2.0,
        users: frozenset[int] = frozenset({101, 102}),
    ) -> None:
        self.api_token = api_token
        self.window = RateWindow(burst_limit, window_s)
        self.users = users
        self.persons: dict[int, dict[str, Any]] = {}
        routes = [Route("/api/v2/persons/{person_id}", self._update_person, methods=["PATCH"])]
        super().__init__(routes, name="fake-pipedrive")

    def add_person(self, person_id: int, owner_id: int = 101) -> None:
        with self.lock:
            self.persons[person_id] = {"id": person_id, "owner_id": owner_id, "custom_fields": {}}

    def delete_person(self, person_id: int) -> None:
        with self.lock:
            self.persons.pop(person_id, None)

    def _window_headers(self, now: float) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.window.limit),
            "x-ratelimit-remaining": str(self.window.remaining()),
            "x-ratelimit-reset": str(max(1, math.ceil(self.window.resets_in(now)))),
        }

    async def _update_person(self, request: Request) -> JSONResponse:
        raw = await request.body()
        now = time.monotonic()
        with self.lock:
            if not same_secret(request.headers.get("x-api-token"), self.api_token):
                return _failure(401, "unauthorized access", "ERR_UNAUTHORIZED")
            self.calls += 1
            throttled = self._throttled()
            if throttled or not self.window.take(now):
                wait = max(throttled, self.window.resets_in(now))
                headers = {
                    **self._window_headers(now),
                    "x-ratelimit-remaining": "0",
                    "retry-after": str(max(1, math.ceil(wait))),
                }
                return _failure(429, "Request over limit", "ERR_RATE_LIMIT", headers)
            headers = self._window_headers(now)
            injected = self._injected_failure()
            if injected is not None:
                return _failure(injected, "injected failure", "ERR_INTERNAL", headers)
            person_id = request.path_params["person_id"]
            person = self.persons.get(int(person_id)) if person_id.isdigit() else None
            if person is None:
                return _failure(404, "Person not found", "ERR_NOT_FOUND", headers)
            try:
                body = json.loads(raw)
            except ValueError:
                return _failure(400, "Invalid JSON", "ERR_SCHEMA_VALIDATION_FAILED", headers)
            problem = self._invalid(body)
            if problem:
                return _failure(400, problem, "ERR_SCHEMA_VALIDATION_FAILED", headers)
            changes = {k: v for k, v in body.items() if k != "custom_fields"}
            person.update(changes)
            person["custom_fields"].update(body.get("custom_fields", {}))
            self._record("person", person_id, {**changes, **body.get("custom_fields", {})})
            return JSONResponse({"success": True, "data": person}, headers=headers)

    def _invalid(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "body must be an object"
        for key in set(body) - {"owner_id", "custom_fields", "name", "label_ids", "visible_to"}:
            return f"Unknown field: {key}"
        owner = body.get("owner_id")
        if "owner_id" in body and (not isinstance(owner, int) or isinstance(owner, bool)):
            return "owner_id must be an integer"
        if "owner_id" in body and owner not in self.users:
            return f"User with id {owner} not found"
        for key, value in (body.get("custom_fields") or {}).items():
            kind = PERSON_FIELDS.get(key)
            if kind is None:
                return f"Custom field {key} does not exist"
            if (
                value is not None
                and kind == "double"
                and (not isinstance(value, int | float) or isinstance(value, bool))
            ):
                return f"Custom field {key} must be a number"
            if value is not None and kind in ("varchar", "text") and not isinstance(value, str):
                return f"Custom field {key} must be a string"
        return None
