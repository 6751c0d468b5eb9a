"""What the SLA's identity-change tests share (tests/services/sla/test_identity_*.py): the two people,
the announcements scoring makes when it learns a name late or merges two leads, and delivering a
scenario either one event per handler call or as one batch, since every scenario must end the same
both ways."""

from datetime import datetime

import pytest

from shared.events import LeadIdentified
from tests.support.sla_harness import T0, Harness

delivery = pytest.mark.parametrize("batched", [False, True], ids=["one_by_one", "one_batch"])
ADA, BOB = "ada@acme.io", "bob@acme.io"


async def deliver(h: Harness, events: list, batched: bool) -> None:
    if batched:
        await h.send_all(events)
    else:
        for event in events:
            await h.send(event)


def merged(survivor: str, absorbed: str, record: str, at: datetime) -> LeadIdentified:
    """What scoring publishes when it merges `absorbed` into `survivor`: every name of the absorbed
    lead, now the survivor's."""
    return LeadIdentified(lead_key=survivor, identities=[f"email:{absorbed}", f"salesforce:{record}"], occurred_at=at)


def later_name(record: str, lead: str = ADA) -> LeadIdentified:
    return LeadIdentified(lead_key=lead, identities=[f"email:{lead}", f"salesforce:{record}"], occurred_at=T0)
