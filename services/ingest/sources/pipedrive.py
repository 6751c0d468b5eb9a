"""Pipedrive webhooks v2 (`meta`, `data`, `previous`), authenticated with HTTP Basic auth.

A merge arrives as a `delete` of the absorbed record carrying `meta.merged_to_id` (the
survivor's id) plus a `change` of the survivor; the delete becomes `contact.merged`.
"""

from __future__ import annotations

import base64
import binascii

from pydantic import ValidationError

from contract.sources import PipedriveMapping
from services.ingest.signatures import any_equal
from services.ingest.sources.base import (
    BadPayload,
    InboundRequest,
    ParseResult,
    SourceAdapter,
    Unauthorized,
    json_body,
)
from services.ingest.sources.pipedrive_mapping import ENTITIES, Webhook


class Pipedrive(SourceAdapter):
    name = "pipedrive"

    def __init__(self, credentials: list[str], mapping: PipedriveMapping) -> None:
        self._expected = ["Basic " + base64.b64encode(pair.encode()).decode() for pair in credentials]
        self._mapping = mapping

    def authenticate(self, request: InboundRequest) -> None:
        if not self._expected:
            raise Unauthorized("LOCKSTEP_PIPEDRIVE_BASIC_AUTH is not set")
        given = request.header("authorization") or ""
        scheme, _, token = given.partition(" ")
        try:
            canonical = "Basic " + base64.b64encode(base64.b64decode(token.strip(), validate=True)).decode()
        except (binascii.Error, ValueError):
            raise Unauthorized("Authorization is not HTTP Basic") from None
        if scheme.lower() != "basic" or not any_equal(canonical, self._expected):
            raise Unauthorized("HTTP Basic credentials wrong")

    def parse(self, request: InboundRequest) -> ParseResult:
        raw = json_body(request)
        if isinstance(raw, dict) and "current" in raw and "data" not in raw:
            raise BadPayload("this is a webhooks v1 payload; create the Pipedrive webhook with version 2.0")
        try:
            webhook = Webhook.model_validate(raw)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise BadPayload(f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}") from None
        result = ParseResult(drafts=[])
        handler = ENTITIES.get(webhook.meta.entity)
        if handler is None or webhook.meta.action not in ("create", "change", "delete"):
            result.ignored += 1
            return result
        handler(webhook, self._mapping, result)
        return result
