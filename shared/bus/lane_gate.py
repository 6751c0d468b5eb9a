"""When the bulk lane may take its next slice (the lane itself: lanes.py, lane_runner.py).

An import's slice publishes a stage change per lead through the outbox, and the relay sends the
outbox in order: an interactive record's stage change queues behind whatever of the import waits
there. So the lane lets its next slice go only once the relay has caught up to within one slice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.outbox import Outbox
from shared.db.relay import RELAY_BATCH, OutboxRelay
from shared.logs import error_text

log = logging.getLogger(__name__)


def lane_gate(
    relay: OutboxRelay, outbox: Outbox, sessions: async_sessionmaker[AsyncSession]
) -> Callable[[], Awaitable[bool]]:
    """The bulk lane's `bulk_ready` for a service whose stage changes `relay` sends from `outbox`."""

    async def backlog_small() -> bool:
        """Whether a couple of relay batches at most wait in the outbox, every replica's (False when unknown)."""
        rows = 2 * RELAY_BATCH
        try:
            async with sessions() as session:
                return await outbox.waiting(session, rows) < rows
        except Exception as exc:  # the slice would fail the same way: it waits, and is asked again
            log.debug("outbox %s: backlog unknown (%s)", outbox.table.name, error_text(exc))
            return False

    return relay_keeps_up(relay, backlog_small)


def relay_keeps_up(relay: OutboxRelay, backlog_small: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
    """Whether the bulk lane may take its next slice: once `relay` has taken (read, to send) every row
    committed before the previous slice began. The relay sends in order, so an interactive record's
    stage change then queues behind one slice's rows at most, plus the batch on the wire, while the
    next slice is written as the relay sends the last one's.

    Known in memory while this process's relay sends every row (SQLite; PostgreSQL's leader): no
    round trip between two slices. A replica whose relay follows asks `backlog_small` (the database:
    whether a couple of relay batches at most wait) instead."""
    began_after = 0  # the relay's commit count when the last slice was let go

    async def ready() -> bool:
        nonlocal began_after
        if relay.sends_every_row:
            if relay.taken_through < began_after:
                return False
        elif not await backlog_small():
            return False
        began_after = relay.commits
        return True

    return ready
