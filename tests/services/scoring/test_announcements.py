"""What scoring announces carries no personal data in its ids, not even hashed without the secret."""

from __future__ import annotations

from datetime import UTC, datetime

from services.scoring.announcements import digest, identified
from shared.events import LeadKeys

SECRET = "a" * 16 + "-first-deployment-secret-0123"


def test_the_announcement_of_a_leads_names_is_identified_by_a_keyed_digest():
    keys = LeadKeys(SECRET)
    names = ["hubspot:501", "email:ada@example.com"]
    envelope = identified("ld_abc", names, datetime(2026, 11, 2, tzinfo=UTC), keys)
    assert envelope.id == f"identified:ld_abc:{keys.opaque_id(*sorted(names))}"
    assert "ada" not in envelope.id and digest(*sorted(names)) not in envelope.id
