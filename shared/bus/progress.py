"""How far a consumer has got through each partition it owns, in time: the input side of watermarks.

A partition's progress is a claim "every record of this partition stamped before T is processed"
(its transaction committed). The stamp is the record's Kafka timestamp, not the event time inside
it: event times are the senders' (a CRM may deliver an old touch late, a clock may be wrong), while
Kafka stamps every record as it takes it (`LogAppendTime` on the topics Lockstep creates, see
topics.py), so a partition's stamps rise with its offsets and say when the pipeline had the record.
Two things make a claim:
- records processed: T is the newest stamp among them;
- being caught up: the consumer's position reached the end offset Kafka gave when asked at T, so
  anything stamped before T is behind that offset and processed (an idle partition holds nothing
  older, however long ago its last record was).
Each claim is held back by `tolerance_ms`: stamps can be out of order by that much (clocks of
broker and consumer, producer-stamped `CreateTime` topics whose records a retry delays).

Claims only ever rise, and are true whoever owns the partition later: processing is durable. A
partition newly assigned starts with no claim until its new owner has processed some of it or
found it caught up; a partition given up is forgotten, so its former owner claims nothing more.
Pure bookkeeping: the consumer runner feeds it, whoever publishes the claims reads them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import TopicPartition

Millis = Callable[[], int]


class Stamped(Protocol):
    """A consumed record, as far as progress cares: Kafka's stamp, ms since the epoch."""

    timestamp: int


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Owned:
    newest_record_ms: int | None = None
    caught_up_ms: int | None = None

    def claim(self, tolerance_ms: int) -> int | None:
        marks = [m for m in (self.newest_record_ms, self.caught_up_ms) if m is not None]
        return max(marks) - tolerance_ms if marks else None


class PartitionProgress:
    """Per owned partition, the time before which every record is processed (ms since the epoch)."""

    def __init__(self, *, tolerance_ms: int = 1000, check_interval_ms: int = 250, clock_ms: Millis = wall_clock_ms):
        """`check_interval_ms`: how often the runner may ask Kafka for end offsets to find partitions
        caught up (one request for all its partitions)."""
        self._tolerance_ms = tolerance_ms
        self._check_interval_ms = check_interval_ms
        self._clock_ms = clock_ms
        self._owned: dict[TopicPartition, _Owned] = {}
        self._partitions: dict[str, frozenset[int]] = {}  # every partition of each topic, from Kafka's metadata
        self._checked_ms: int | None = None
        self.changes = 0  # rises with every claim that moved: publishers write when it did

    # -- fed by the consumer runner ----------------------------------------------------------------

    def assigned(self, partitions: Iterable[TopicPartition], topic_partitions: Mapping[str, Iterable[int]]) -> None:
        """Partitions given to this consumer start with no claim; `topic_partitions` is every partition
        of the subscribed topics (Kafka's metadata), whoever owns them."""
        for tp in partitions:
            self._owned.setdefault(tp, _Owned())
        for topic, numbers in topic_partitions.items():
            self._partitions[topic] = frozenset(numbers)
        self.changes += 1

    def revoked(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self._owned.pop(tp, None)
        self.changes += 1

    def processed(self, batch: Mapping[TopicPartition, Sequence[Stamped]]) -> None:
        """The batch's records are processed (their transaction committed), each partition's in order."""
        for tp, records in batch.items():
            owned = self._owned.get(tp)
            if owned is None or not records:
                continue  # given up meanwhile: the new owner claims it
            newest = max(r.timestamp for r in records)
            if owned.newest_record_ms is None or newest > owned.newest_record_ms:
                owned.newest_record_ms = newest
                self.changes += 1

    def check_due(self) -> bool:
        """Whether to ask Kafka for end offsets now (at most every `check_interval_ms`)."""
        now = self._clock_ms()
        if self._checked_ms is not None and now - self._checked_ms < self._check_interval_ms:
            return False
        self._checked_ms = now
        return True

    def now_ms(self) -> int:
        return self._clock_ms()

    def caught_up(self, tp: TopicPartition, position: int, end_offset: int, asked_ms: int) -> None:
        """`position`: the next offset this consumer would process (nothing taken and not yet
        processed); `end_offset`: Kafka's answer to a request sent at `asked_ms`."""
        owned = self._owned.get(tp)
        if owned is None or position < end_offset:
            return
        if owned.caught_up_ms is None or asked_ms > owned.caught_up_ms:
            owned.caught_up_ms = asked_ms
            self.changes += 1

    # -- read by whoever publishes the claims ------------------------------------------------------

    def claims(self) -> dict[TopicPartition, int | None]:
        """Each owned partition's claim (None: no progress yet)."""
        return {tp: owned.claim(self._tolerance_ms) for tp, owned in self._owned.items()}

    def topic_partitions(self) -> dict[str, frozenset[int]]:
        return dict(self._partitions)
