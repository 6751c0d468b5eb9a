"""The processed-event record on both databases: claim once, whatever the repeats."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import MetaData, select

from shared.db import ProcessedEvents, create_engine, session_factory
from shared.db.keyed_statements import SQLITE_IN_LIST
from shared.db.tables import processed_events_table


def _row(event_id: str, offset: int = 0, outcome: str = "handled") -> dict:
    return {
        "event_id": event_id,
        "topic": "t",
        "partition": 1,
        "offset": offset,
        "outcome": outcome,
        "processed_at": datetime(2026, 11, 24, tzinfo=UTC),
    }


async def test_each_event_id_is_claimed_by_one_transaction_only(database_url):
    metadata = MetaData()
    table = processed_events_table(metadata, "idem")
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    processed = ProcessedEvents(table)
    try:
        async with sessions() as session, session.begin():
            assert await processed.claim(session, [_row("a", 1), _row("b", 2), _row("a", 3)]) == {
                "a",
                "b",
            }  # a repeat within the poll
        async with sessions() as session, session.begin():
            assert await processed.claim(session, [_row("b", 9), _row("c", 10, "deadlettered")]) == {"c"}
        async with sessions() as session, session.begin():
            assert await processed.claim(session, []) == set()
        # More rows than one SQLite statement takes: all of them, once.
        many = [_row(f"m{i}", i) for i in range(SQLITE_IN_LIST * 2 + 7)]
        async with sessions() as session, session.begin():
            assert len(await processed.claim(session, many + [_row("a")])) == len(many)
        async with sessions() as session:
            rows = {r.event_id: r for r in (await session.execute(select(table))).all()}
        assert len(rows) == len(many) + 3
        assert (rows["a"].offset, rows["b"].offset, rows["c"].outcome) == (
            1,
            2,
            "deadlettered",
        )  # the first claim's row stays
        assert rows["a"].processed_at.replace(tzinfo=rows["a"].processed_at.tzinfo or UTC) - datetime(
            2026, 11, 24, tzinfo=UTC
        ) == timedelta(0)
    finally:
        await engine.dispose()
