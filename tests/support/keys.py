"""The test suite's deployment secret, and lead keys under it.

Every settings object a test builds, and every service process it starts, reads
`LOCKSTEP_SECRET_KEY` from the environment tests/conftest.py sets to this fixed value, so a test
can compute the key a person's events carry (`key_of("ada@acme.io")`).
"""

from __future__ import annotations

from shared.events import LeadKeys

TEST_SECRET_KEY = "test-secret-key-for-lockstep-tests-only-0123456789"
TEST_KEYS = LeadKeys(TEST_SECRET_KEY)


def key_of(email: str | None = None, *, source: str = "", record_id: str | None = None) -> str:
    """The lead key of an email, or of a source record (`key_of(source="hubspot", record_id="501")`)."""
    return TEST_KEYS.lead_key(email=email, source=source, record_id=record_id)
