"""Partition progress as watermark claims, with a fake clock and fake partitions: a partition
lagging behind its end offset, an idle one, and one that moves to another consumer mid-backlog."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import TopicPartition

from shared.bus.progress import PartitionProgress

EVENTS, LIFECYCLE = "t.events", "t.lifecycle"
E0, E1, L0 = TopicPartition(EVENTS, 0), TopicPartition(EVENTS, 1), TopicPartition(LIFECYCLE, 0)
ALL = {EVENTS: [0, 1], LIFECYCLE: [0]}


@dataclass
class Record:
    offset: int
    timestamp: int  # Kafka's stamp, ms


class Clock:
    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def progress(clock: Clock, tolerance_ms: int = 100) -> PartitionProgress:
    return PartitionProgress(tolerance_ms=tolerance_ms, check_interval_ms=250, clock_ms=clock)


def test_a_new_partition_claims_nothing_until_processed_or_caught_up():
    p = progress(Clock())
    p.assigned({E0, E1}, ALL)
    assert p.claims() == {E0: None, E1: None}
    assert p.topic_partitions() == {EVENTS: frozenset({0, 1}), LIFECYCLE: frozenset({0})}


def test_a_lagging_partition_claims_the_newest_record_processed_less_the_tolerance():
    clock = Clock()
    p = progress(clock)
    p.assigned({E0}, ALL)
    p.processed({E0: [Record(0, 500_000), Record(1, 600_000)]})
    assert p.claims() == {E0: 600_000 - 100}
    # Still behind the end offset (a backlog): being asked gives no further claim, whatever the time.
    clock.now = 2_000_000
    p.caught_up(E0, position=2, end_offset=20_002, asked_ms=clock.now)
    assert p.claims() == {E0: 600_000 - 100}
    # A batch whose newest record is older (stamps out of order within the tolerance) lowers nothing.
    p.processed({E0: [Record(2, 599_950)]})
    assert p.claims() == {E0: 600_000 - 100}


def test_an_idle_partition_claims_the_time_its_end_offset_was_asked_for():
    clock = Clock()
    p = progress(clock)
    p.assigned({E0, E1}, ALL)
    p.processed({E0: [Record(41, 400_000)]})
    # Caught up: position at the end offset Kafka gave when asked at `asked_ms`, long after the last record.
    p.caught_up(E0, position=42, end_offset=42, asked_ms=900_000)
    p.caught_up(E1, position=0, end_offset=0, asked_ms=900_000)  # never had a record
    assert p.claims() == {E0: 900_000 - 100, E1: 900_000 - 100}
    # An answer to an older request says less, and is ignored.
    p.caught_up(E1, position=0, end_offset=0, asked_ms=800_000)
    assert p.claims()[E1] == 900_000 - 100


def test_a_partition_moved_during_a_rebalance_is_claimed_only_by_what_its_new_owner_did():
    clock = Clock()
    old, new = progress(clock), progress(clock)
    old.assigned({E0, E1}, ALL)
    old.processed({E0: [Record(99, 300_000)], E1: [Record(10, 310_000)]})
    # E0 moves mid-backlog (20,000 records still to go): the old owner forgets it at once...
    old.revoked({E0, E1})
    old.assigned({E1}, ALL)
    assert E0 not in old.claims()
    # ...and anything it still hears about E0 (a late batch, an end-offset answer) claims nothing.
    old.processed({E0: [Record(100, 900_000)]})
    old.caught_up(E0, position=20_100, end_offset=20_100, asked_ms=950_000)
    assert E0 not in old.claims() and old.claims()[E1] is None  # reassigned partitions start afresh too
    # The new owner starts from the committed offset with no claim, though it is idle on nothing.
    new.assigned({E0}, ALL)
    new.caught_up(E0, position=100, end_offset=20_100, asked_ms=960_000)
    assert new.claims() == {E0: None}
    new.processed({E0: [Record(100, 300_500), Record(101, 301_000)]})
    assert new.claims() == {E0: 301_000 - 100}
    new.caught_up(E0, position=20_100, end_offset=20_100, asked_ms=990_000)
    assert new.claims() == {E0: 990_000 - 100}


def test_claims_that_moved_are_counted_for_the_publisher():
    p = progress(Clock())
    p.assigned({E0}, ALL)
    seen = p.changes
    p.processed({E0: [Record(0, 5_000)]})
    assert p.changes > seen
    seen = p.changes
    p.processed({E0: [Record(1, 4_000)]})  # no new claim
    p.caught_up(E0, position=1, end_offset=3, asked_ms=6_000)  # not caught up
    assert p.changes == seen


def test_end_offsets_are_asked_for_at_most_every_interval():
    clock = Clock()
    p = progress(clock)
    assert p.check_due()
    clock.now += 249
    assert not p.check_due()
    clock.now += 1
    assert p.check_due()
