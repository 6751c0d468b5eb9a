"""Text the stores cannot hold (a NUL, which PostgreSQL's text and JSON refuse, or a lone surrogate,
which no encoder writes) is refused by the door with a 400 naming the field, whichever source and
field it came in, before anything is published; text that only looks like it is accepted. With a
fake producer (fake_door.py); tests/e2e/test_door_accepts_only_storable.py checks, on the real
stores, that what the door does accept they can hold.
"""

from __future__ import annotations

import json

import pytest

from services.simulator import signing
from tests.services.ingest.door_requests import ACTIVITY, CALL, generic, marketo
from tests.services.ingest.fake_door import HOST
from tests.services.ingest.sources import factories
from tests.services.ingest.sources.factories import NOW, NOW_MS


def _nul_requests() -> list[tuple[str, str, tuple[dict[str, str], bytes], str]]:
    change = {"eventId": 1, "subscriptionType": "contact.propertyChange", "objectId": 5, "occurredAt": NOW_MS}
    hub_body = json.dumps([{**change, "propertyName": "jobtitle", "propertyValue": "CTO\x00"}]).encode()
    hub_signature = signing.hubspot_v3_headers(
        factories.HUBSPOT_SECRET, "POST", f"https://{HOST}/webhooks/hubspot", hub_body, NOW_MS
    )
    meta = {"action": "change", "entity": "person", "id": "e-1", "entity_id": "7", "timestamp": "1793611800"}
    pd_body = json.dumps({"meta": meta, "data": {"name": "Ada\x00 Lovelace"}, "previous": {}}).encode()
    pd_auth = signing.basic_auth(factories.PIPEDRIVE_USER, factories.PIPEDRIVE_PASSWORD)
    as_json = {"content-type": "application/json"}
    custom = {**ACTIVITY, "data": {**ACTIVITY["data"], "properties": {"note\x00": "x"}}}
    return [
        ("marketo email", "marketo", marketo({**CALL, "email": "ada\x00@example.com"}), "lead.email: holds a NUL"),
        ("hubspot property", "hubspot", ({**as_json, **hub_signature}, hub_body), "attributes.title: holds a NUL"),
        ("pipedrive name", "pipedrive", ({**as_json, **pd_auth}, pd_body), "attributes.first_name: holds a NUL"),
        ("generic key", "generic", generic(custom), "properties: key 'note\\\\x00' holds a NUL"),
        ("generic own id", "generic", generic({**ACTIVITY, "id": "a\x00"}), "the event id 'generic:a\\\\x00'"),
    ]


@pytest.mark.parametrize(("case", "source", "request_", "named"), _nul_requests(), ids=[r[0] for r in _nul_requests()])
async def test_text_the_stores_cannot_hold_is_refused_with_a_400_naming_the_field(door, case, source, request_, named):
    headers, body = request_
    assert b"\\u0000" in body
    answer = await door.post(f"/webhooks/{source}", body, headers)
    assert answer.status == 400 and answer.json()["detail"].startswith(named), answer.json()
    assert door.published() == [] and door.count(source, "rejected", "bad_payload") == 1
    assert "\x00" not in door.recent.rows[-1]["reason"]


async def test_a_nul_in_a_salesforce_message_is_not_xml_and_refused(door):
    body = b"<soapenv:Envelope>&#0;</soapenv:Envelope>"
    path = f"/webhooks/salesforce?token={factories.SALESFORCE_TOKEN}"
    answer = await door.post(path, body, {"content-type": "text/xml"})
    assert answer.status == 400 and "XML" in answer.json()["detail"]


async def test_an_escaped_nul_that_is_only_text_is_accepted(door):
    # A backslash followed by "u0000" is ordinary text: its JSON holds the suspect bytes, the value is fine.
    literal = {**ACTIVITY, "data": {**ACTIVITY["data"], "asset": "C:\\u0000 page"}}
    assert (await door.post("/webhooks/generic", *reversed(generic(literal)))).status == 200


class SurrogateAdapter:
    """Nothing a sender can send decodes to a lone surrogate (JSON and XML parsers refuse them); an
    adapter bug could still make one, and the door must refuse it as well."""

    name, content_types = "surrogates", ("application/json",)

    def authenticate(self, request) -> None:
        return None

    def parse(self, request):
        from services.ingest.sources.base import Draft, ParseResult
        from shared.events import ActivityRecorded, LeadRef

        lead = LeadRef(source="s", record_id="1")
        payload = ActivityRecorded(lead=lead, kind="form_submit", occurred_at=NOW, asset="Q4\ud800")
        return ParseResult([Draft("surrogates:1", payload)])


async def test_a_lone_surrogate_made_by_an_adapter_is_refused_naming_the_field(door):
    door.door.adapters["surrogates"] = SurrogateAdapter()
    answer = await door.post("/webhooks/surrogates", b"{}", {"content-type": "application/json"})
    assert answer.status == 400 and answer.json()["detail"].startswith("asset: holds a lone surrogate")
    assert door.published() == []
