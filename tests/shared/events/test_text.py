"""What text the stores can hold, and how the first that cannot is named."""

from datetime import UTC, datetime

import pytest

from shared.events import ContactAttributes, ContactMerged, ContactUpserted, LeadRef
from shared.events.text import storable, unstorable, unstorable_in

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
LEAD = LeadRef(source="marketo", record_id="1")


@pytest.mark.parametrize(
    "text", ["", "ada@example.com", "Zoë", "日本", "emoji \U0001f600", "\\u0000", "tab\tnew\nline"]
)
def test_ordinary_text_is_storable(text):
    assert unstorable(text) is None and storable(text) == text


@pytest.mark.parametrize(
    ("text", "why"), [("a\x00b", "NUL"), ("\x00", "NUL"), ("a\ud800", "surrogate"), ("\udfff", "surrogate")]
)
def test_nul_and_lone_surrogates_are_not(text, why):
    assert why in unstorable(text)
    assert unstorable(storable(text)) is None and storable(text).encode("utf-8")


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (ContactUpserted(lead=LeadRef(source="m", email="a\x00@b.io"), occurred_at=NOW), "lead.email: holds a NUL"),
        (
            ContactUpserted(lead=LEAD, occurred_at=NOW, attributes=ContactAttributes(custom={"k\x00": 1})),
            "attributes.custom: key 'k\\\\x00' holds a NUL",
        ),
        (
            ContactUpserted(lead=LEAD, occurred_at=NOW, attributes=ContactAttributes(title="CTO\ud83d")),
            "attributes.title: holds a lone surrogate",
        ),
        (
            ContactMerged(lead=LEAD, merged=[LEAD, LeadRef(source="m", record_id="2\x00")], occurred_at=NOW),
            "merged[1].record_id: holds a NUL",
        ),
        ({"details": {"steps": [{"why": "x\x00"}]}}, "details.steps[0].why: holds a NUL"),
    ],
)
def test_the_first_unstorable_text_is_named_by_its_path(payload, named):
    assert unstorable_in(payload).startswith(named)


def test_a_storable_event_has_nothing_to_name():
    assert (
        unstorable_in(ContactUpserted(lead=LEAD, occurred_at=NOW, attributes=ContactAttributes(custom={"a": "b"})))
        is None
    )
