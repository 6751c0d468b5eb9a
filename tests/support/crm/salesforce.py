"""A fake Salesforce org over HTTPS, for the write-back adapter and simple-salesforce to talk to.

Implements, in the documented shapes, the endpoints write-back uses:
- POST /services/oauth2/token: the client-credentials grant (client_id and client_secret in the
  form or as HTTP Basic) and the JWT bearer grant (an RS256 assertion with iss, sub, aud and exp,
  checked against the connected app's certificate key); 400 {"error", "error_description"} otherwise.
- PATCH /services/data/vXX.X/composite/sobjects: sObject Collections update, up to 200 records,
  allOrNone false, one SaveResult per record in order ({"id", "success", "errors"}), at most ten
  runs of one sObject type (chunks) a request; a field the
  object does not have fails the whole request (400 INVALID_FIELD), a deleted record fails alone
  (ENTITY_IS_DELETED).
- PATCH /services/data/vXX.X/sobjects/{type}/{id}: the single-record update, 204, or 404 NOT_FOUND
  for a deleted record.
Every REST answer carries `Sforce-Limit-Info: api-usage=used/limit`; past the daily allowance
calls get 403 REQUEST_LIMIT_EXCEEDED. A request without a live token gets 401 INVALID_SESSION_ID;
`expire_sessions()` ends every token issued so far.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.crm.fake import FakeCrmServer, same_secret

LOCKSTEP_FIELDS = frozenset(
    {
        "Lockstep_Stage__c",
        "Lockstep_Fit_Grade__c",
        "Lockstep_Fit_Score__c",
        "Lockstep_Engagement__c",
        "Lockstep_MQL_Reason__c",
        "OwnerId",
    }
)
_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _errors(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code}], status_code=status, headers=headers)


class FakeSalesforce(FakeCrmServer):
    def __init__(
        self,
        *,
        client_id: str = "3MVG9fake.consumer.key",
        client_secret: str | None = "fake-consumer-secret",
        username: str = "integration@lockstep.test",
        jwt_public_key: str | None = None,
        daily_limit: int = 100_000,
        fields: frozenset[str] = LOCKSTEP_FIELDS,
    ) -> None:
        self.client_id, self.client_secret, self.username = client_id, client_secret, username
        self.jwt_public_key = jwt_public_key
        self.daily_limit = daily_limit
        self.api_used = 0
        self.fields = {"Lead": set(fields), "Contact": set(fields)}
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.deleted: set[tuple[str, str]] = set()
        self.token_requests = 0
        self._tokens: set[str] = set()
        routes = [
            Route("/services/oauth2/token", self._token, methods=["POST"]),
            Route("/services/data/v{version}/composite/sobjects", self._collection_update, methods=["PATCH"]),
            Route("/services/data/v{version}/sobjects/{sobject}/{record_id}", self._record_update, methods=["PATCH"]),
        ]
        super().__init__(routes, tls=True, name="fake-salesforce")

    # What tests set up and read.

    def add_record(self, sobject: str, record_id: str) -> None:
        with self.lock:
            self.records[(sobject, record_id)] = {}

    def delete_record(self, sobject: str, record_id: str) -> None:
        with self.lock:
            self.records.pop((sobject, record_id), None)
            self.deleted.add((sobject, record_id))

    def expire_sessions(self) -> None:
        with self.lock:
            self._tokens.clear()

    # The token endpoint.

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        grant = form.get("grant_type")
        with self.lock:
            self.token_requests += 1
        if grant == "client_credentials":
            client_id, secret = form.get("client_id"), form.get("client_secret")
            basic = request.headers.get("authorization", "")
            if basic.startswith("Basic "):
                client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            if self.client_secret is None or not (
                client_id == self.client_id and same_secret(str(secret) if secret else None, self.client_secret)
            ):
                return JSONResponse({"error": "invalid_client", "error_description": "invalid client credentials"}, 400)
        elif grant == _JWT_GRANT:
            problem = self._jwt_problem(str(form.get("assertion") or ""))
            if problem:
                return JSONResponse({"error": "invalid_grant", "error_description": problem}, 400)
        else:
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "grant type not supported"}, 400
            )
        token = f"00Dfake!{secrets.token_urlsafe(24)}"
        with self.lock:
            self._tokens.add(token)
        return JSONResponse(
            {
                "access_token": token,
                "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
                "scope": "api",
                "instance_url": self.base_url,
                "id": f"{self.base_url}/id/00Dfake0000000001/005fake0000000001",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
            }
        )

    def _jwt_problem(self, assertion: str) -> str | None:
        if self.jwt_public_key is None:
            return "the connected app has no certificate"
        try:
            claims = jwt.decode(
                assertion,
                self.jwt_public_key,
                algorithms=["RS256"],
                audience="https://login.salesforce.com",
                options={"require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.PyJWTError:
            return "invalid assertion"
        if claims["iss"] != self.client_id:
            return "invalid client_id"
        if claims["sub"] != self.username:
            return "user hasn't approved this consumer"
        return None

    # The REST endpoints.

    def _refusal(self, request: Request) -> Response | None:
        """What every REST call goes through, holding the lock: the session, the daily allowance, faults."""
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self._tokens:
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        self.calls += 1
        if self.api_used >= self.daily_limit:
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", self._limit_info())
        self.api_used += 1
        status = self._injected_failure()
        if status is not None:
            return _errors(status, "SERVER_UNAVAILABLE", "injected failure", self._limit_info())
        return None

    def _limit_info(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.daily_limit}"}

    async def _collection_update(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        with self.lock:
            refused = self._refusal(request)
            if refused is not None:
                return refused
            records = body.get("records") if isinstance(body, dict) else None
            if not isinstance(records, list) or not records:
                return _errors(400, "JSON_PARSER_ERROR", "records: a list of sObjects is required", self._limit_info())
            if len(records) > 200:
                return _errors(
                    400,
                    "EXCEEDED_ID_LIMIT",
                    "record limit reached. cannot submit more than 200 records",
                    self._limit_info(),
                )
            if body.get("allOrNone") is not False:
                return _errors(400, "INVALID_FIELD", "write-back expects allOrNone false", self._limit_info())
            types = [(r.get("attributes") or {}).get("type") for r in records]
            if 1 + sum(a != b for a, b in zip(types, types[1:], strict=False)) > 10:
                return _errors(
                    400,
                    "EXCEEDED_MAX_TYPES_LIMIT",
                    "Cannot have more than 10 chunks in a single operation",
                    self._limit_info(),
                )
            for record in records:
                sobject = (record.get("attributes") or {}).get("type")
                if sobject not in self.fields:
                    return _errors(
                        400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported", self._limit_info()
                    )
                unknown = sorted(set(record) - {"attributes", "id"} - self.fields[sobject])
                if unknown:
                    return _errors(
                        400,
                        "INVALID_FIELD",
                        f"No such column '{unknown[0]}' on sObject of type {sobject}",
                        self._limit_info(),
                    )
            results = [self._update(r["attributes"]["type"], str(r.get("id", "")), r) for r in records]
            return JSONResponse(results, headers=self._limit_info())

    def _update(self, sobject: str, record_id: str, record: dict[str, Any]) -> dict[str, Any]:
        if not _ID.match(record_id):
            error = {
                "statusCode": "MALFORMED_ID",
                "message": f"{sobject} ID: id value of incorrect type",
                "fields": ["Id"],
            }
            return {"success": False, "errors": [error]}
        if (sobject, record_id) not in self.records:
            return {
                "success": False,
                "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}],
            }
        changes = {k: v for k, v in record.items() if k not in ("attributes", "id")}
        self.records[(sobject, record_id)].update(changes)
        self._record(sobject, record_id, changes)
        return {"id": record_id, "success": True, "errors": []}

    async def _record_update(self, request: Request) -> Response:
        sobject, record_id = request.path_params["sobject"], request.path_params["record_id"]
        changes = json.loads(await request.body() or b"{}")
        with self.lock:
            refused = self._refusal(request)
            if refused is not None:
                return refused
            if sobject not in self.fields or (sobject, record_id) not in self.records:
                return _errors(404, "NOT_FOUND", "The requested resource does not exist", self._limit_info())
            unknown = sorted(set(changes) - self.fields[sobject])
            if unknown:
                return _errors(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{unknown[0]}' on sObject of type {sobject}",
                    self._limit_info(),
                )
            self.records[(sobject, record_id)].update(changes)
            self._record(sobject, record_id, changes)
            return Response(status_code=204, headers=self._limit_info())
