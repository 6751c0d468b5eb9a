"""The request log keeps what a sender sent in a refusal's reason, on both databases."""

from services.ingest.migrations import MIGRATIONS
from services.ingest.recent import RecentRequests
from shared.db import create_engine, session_factory
from shared.db.migrations import upgrade


async def test_a_reason_quoting_a_nul_is_kept_escaped(database_url):
    engine = create_engine(database_url)
    await upgrade(engine, MIGRATIONS)
    try:
        recent = RecentRequests(session_factory(engine), limit=5)
        for reason in ("data.custom: key 'a\x00' is not allowed", "fine"):
            recent.record(source="generic", outcome="rejected", status=400, reason=reason, events=0, summary=dict)
        await recent.flush()
        rows = await recent.latest("generic", 5)
        assert [row["reason"] for row in rows] == ["fine", "data.custom: key 'a\\x00' is not allowed"]
    finally:
        await engine.dispose()
