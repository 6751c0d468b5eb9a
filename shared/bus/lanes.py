"""Two lanes into one consumer: what lets an import be scored beside the interactive events
instead of ahead of them, without reordering any lead's events.

An import reaches the door as large batches of contact upserts (HubSpot: 100 per request, ten
requests at a time). On `<prefix>events` they would sit in every partition ahead of the touches,
dispositions and activities that follow, and hold each of those for as long as the import takes to
score. So the door puts such upserts on `<prefix>events.bulk` (the bulk lane), co-partitioned with
`<prefix>events`: the same key lands on the same partition number of both, and one consumer owns
both partitions of a number (range assignment). That consumer takes interactive records first and
the bulk lane in small slices between them (lane_runner.py).

What must not happen: a lead's interactive event applied before an import event of the same lead
that was acknowledged before the interactive event arrived (a lead's creation after its touch would
leave it in another state: the contract's rules are not order-free). The door therefore announces
each bulk request on `<prefix>events` once the bulk records are acknowledged and before it answers:
one notice per partition, naming the keys it put on that bulk partition and the last offset there
(`BulkNotice`). Read in order on the interactive partition, a notice makes its keys wait for the bulk
lane to pass that offset. A record of a waiting key is handed over: appended to the same bulk
partition, behind what it waits for, and applied from there in order. Records of other keys go on.
An interactive record that arrived before the notice was sent concurrently with the bulk request
(not yet acknowledged then), and either order of two concurrent requests is an order they could
have arrived in.

The barrier is kept in memory and rebuilt from Kafka: the interactive partition's committed offset
never passes a notice or a handed-over record whose bulk offset the bulk lane has not processed, so
whoever owns the pair next reads them again (and skips, as duplicates, what was already applied).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from aiokafka import TopicPartition

from shared.bus.producer import Delivered, OutgoingRecord
from shared.events.envelope import binary_headers

NOTICE_TYPE = "lockstep.bulk.queued.v1"
_NOTICE_TYPE = NOTICE_TYPE.encode()


@dataclass(frozen=True)
class BulkNotice:
    """Records of `keys` are on partition `partition` of the bulk lane, up to offset `through`."""

    partition: int
    through: int
    keys: tuple[str, ...]


def notices(events_topic: str, source: str, queued: Iterable[tuple[str, Delivered]]) -> list[OutgoingRecord]:
    """The notices of a bulk request whose records (key, where each landed) the broker acknowledged:
    one per bulk partition, on the same partition of `events_topic`."""
    by_partition: dict[int, tuple[int, set[str]]] = {}
    for key, landed in queued:
        through, keys = by_partition.get(landed.partition, (-1, set()))
        keys.add(key)
        by_partition[landed.partition] = (max(through, landed.offset), keys)
    now = datetime.now(UTC)
    out = []
    for partition, (through, keys) in sorted(by_partition.items()):
        value = orjson.dumps({"partition": partition, "through_offset": through, "keys": sorted(keys)})
        headers = binary_headers(f"bulk:{partition}:{through}", f"/lockstep/ingest/{source}", NOTICE_TYPE, now, None)
        out.append(OutgoingRecord(events_topic, None, value, headers, partition=partition))
    return out


def read_notice(headers: Sequence[tuple[str, bytes]] | None, value: bytes | None) -> BulkNotice | None:
    """The notice a record carries; None for any other record."""
    if not any(name == "ce_type" and kind == _NOTICE_TYPE for name, kind in headers or ()):
        return None
    data = orjson.loads(value or b"{}")
    return BulkNotice(int(data["partition"]), int(data["through_offset"]), tuple(data["keys"]))


@dataclass
class _Hold:
    """An interactive record (a notice, or a record handed over) whose effect waits on the bulk lane."""

    offset: int  # of the interactive record
    bulk: TopicPartition
    through: int  # the bulk offset it waits for


@dataclass
class LaneBarrier:
    """Which keys wait for the bulk lane, and how far each interactive partition may be committed.
    Pure bookkeeping: the lane runner feeds it and asks it."""

    bulk_topic: str
    done: dict[TopicPartition, int] = field(default_factory=dict)  # bulk partition -> next offset to process
    _waits: dict[str, tuple[TopicPartition, int]] = field(default_factory=dict)
    # Per bulk partition, (through, key) of every wait, smallest first: released as the lane passes them.
    _due: dict[TopicPartition, list[tuple[int, str]]] = field(default_factory=dict)
    _holds: dict[TopicPartition, deque[_Hold]] = field(default_factory=dict)  # per interactive partition, in order

    def _pending(self, bulk: TopicPartition, through: int) -> bool:
        # A bulk partition whose progress is not known yet holds everything back.
        return self.done.get(bulk, -1) <= through

    def noticed(self, tp: TopicPartition, offset: int, notice: BulkNotice) -> None:
        """The notice at `offset` of interactive partition `tp` was read."""
        bulk = TopicPartition(self.bulk_topic, notice.partition)
        if not self._pending(bulk, notice.through):
            return
        for key in notice.keys:
            self._wait(key, bulk, notice.through)
        self._holds.setdefault(tp, deque()).append(_Hold(offset, bulk, notice.through))

    def waiting(self, key: str | None) -> bool:
        """Whether a record of `key` must go behind the bulk lane."""
        wait = self._waits.get(key) if key is not None else None
        return wait is not None and self._pending(*wait)

    def handed_over(self, tp: TopicPartition, offset: int, key: str, landed: Delivered) -> None:
        """The record at `offset` of `tp` was appended to the bulk lane; its key's later records follow it."""
        bulk = TopicPartition(self.bulk_topic, landed.partition)
        self._wait(key, bulk, landed.offset)
        self._holds.setdefault(tp, deque()).append(_Hold(offset, bulk, landed.offset))

    def _wait(self, key: str, bulk: TopicPartition, through: int) -> None:
        known = self._waits.get(key)
        if known is None or known[1] < through:
            self._waits[key] = (bulk, through)
            heapq.heappush(self._due.setdefault(bulk, []), (through, key))

    def bulk_processed(self, bulk: TopicPartition, next_offset: int) -> None:
        """The bulk lane processed `bulk` up to `next_offset` (committed to the database)."""
        done = self.done[bulk] = max(self.done.get(bulk, next_offset), next_offset)
        due = self._due.get(bulk, [])
        while due and due[0][0] < done:
            through, key = heapq.heappop(due)
            if self._waits.get(key) == (bulk, through):
                del self._waits[key]

    def commit_offset(self, tp: TopicPartition, processed: int) -> int:
        """The offset of interactive partition `tp` that may be committed, its records processed up to
        `processed`: not past a record whose bulk work is still to do."""
        holds = self._holds.get(tp)
        while holds and not self._pending(holds[0].bulk, holds[0].through):
            holds.popleft()
        return min(processed, holds[0].offset) if holds else processed

    def forget(self) -> None:
        """Partitions moved: the next owner rebuilds all of it from the committed offsets."""
        self.done.clear()
        self._waits.clear()
        self._due.clear()
        self._holds.clear()

    @property
    def waiting_keys(self) -> int:
        return len(self._waits)
