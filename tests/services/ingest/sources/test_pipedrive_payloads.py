"""A Pipedrive delivery as a whole: event ids the same on every redelivery, entities Lockstep does not
use ignored, and what is not a webhooks v2 body (a v1 delivery asks for a version 2.0 webhook) a
400 naming what is wrong.
"""

from __future__ import annotations

import pytest

from services.ingest.sources.base import BadPayload
from tests.services.ingest.sources.factories import ids, pipedrive
from tests.services.ingest.sources.pipedrive_samples import (
    ACTIVITY_DONE,
    DEAL_WON,
    MERGE_DELETE,
    PERSON,
    PERSON_CHANGE,
    V1_PAYLOAD,
    meta,
    parse,
    pd_request,
)


def test_other_entities_are_ignored():
    result = parse(
        {"meta": meta("change", "organization", "55"), "data": {"id": 55, "name": "Acme"}, "previous": {"name": "ACME"}}
    )
    assert result.drafts == [] and result.ignored == 1


def test_ids_are_deterministic():
    for payload in (PERSON_CHANGE, MERGE_DELETE, DEAL_WON, ACTIVITY_DONE):
        assert ids(parse(payload)) == ids(parse(payload))
        assert [d.payload for d in parse(payload).drafts] == [d.payload for d in parse(payload).drafts]


# --- malformed ----------------------------------------------------------------------------------------


def test_v1_payload_asks_for_a_version_2_webhook():
    with pytest.raises(BadPayload, match="version 2.0"):
        parse(V1_PAYLOAD)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "body"),
        ({"data": PERSON}, "meta"),
        ({"meta": {"action": "change", "entity": "person"}, "data": PERSON}, "meta"),
        ({**PERSON_CHANGE, "meta": meta("change", "person", "1234", timestamp="yesterday")}, "meta.timestamp"),
        ({**PERSON_CHANGE, "data": [1, 2]}, "data"),
        ({**PERSON_CHANGE, "meta": meta("change", "person", "1234", timestamp="\u00b2")}, "meta.timestamp"),
        ({**PERSON_CHANGE, "meta": meta("change", "person", "1234", timestamp="9" * 30)}, "meta.timestamp"),
        ({**PERSON_CHANGE, "meta": meta("change", "person", "1234", timestamp="9" * 5000)}, "meta.timestamp"),
    ],
)
def test_malformed_bodies_are_bad_payloads(payload, message):
    with pytest.raises(BadPayload, match=message):
        pipedrive().parse(pd_request(payload))
