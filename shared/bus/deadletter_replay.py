"""`lockstep replay deadletter`: put dead letters back on their original topic once the cause is fixed.

Each chosen dead letter is produced again as its original record: same topic, key, CloudEvents
headers and bytes, the dead-letter headers removed. Its event id is the original one, so the
consumers' idempotency record decides what happens:

- The consumer that dead-lettered it recorded the id as `deadlettered`, which would make it skip
  the copy as a duplicate. The replay first releases that mark in the consumer's own database
  (`release`), so the copy is applied, once.
- Every other consumer of the topic has handled it already (or passes it over) and skips it.

Dead letters are a log: a replay removes nothing from the topic, and running the same replay
again produces the copies again. That is harmless: the first copy a consumer applied is
recorded as handled, which a release never forgets, so every later copy is skipped.

Ordering: a replayed event is applied after the events that followed it on its topic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime

from shared.bus.deadletter import DeadLetter
from shared.bus.producer import EventProducer
from shared.bus.scan import scan_topic
from shared.bus.topics import Topics
from shared.settings import LockstepSettings

# consumer group, event ids -> how many dead-lettered marks were released in its database
Release = Callable[[str, list[str]], Awaitable[int]]


class UnknownTopic(ValueError):
    """--topic names no topic a consumer reads."""


def consumed_topic(topics: Topics, name: str) -> str:
    """The topic meant by `name`, with or without the prefix: one a consumer reads (and can dead-letter)."""
    consumed = (topics.events, topics.events_bulk, topics.lifecycle, topics.alerts)
    for topic in consumed:
        if name in (topic, topic.removeprefix(topics.prefix)):
            return topic
    raise UnknownTopic(f"--topic: unknown topic {name!r}; expected one of {', '.join(consumed)}")


@dataclass(frozen=True)
class DeadLetterChoice:
    """Which dead letters to replay; None means any."""

    topic: str | None = None  # original topic
    since: datetime | None = None  # failed at or after
    event_id: str | None = None

    def wants(self, letter: DeadLetter) -> bool:
        return (
            (self.topic is None or letter.original_topic == self.topic)
            and (self.event_id is None or letter.event_id == self.event_id)
            and (self.since is None or (letter.failed_at is not None and letter.failed_at >= self.since))
        )


@dataclass
class DeadLetterReplay:
    dry_run: bool
    replayed: list[DeadLetter] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    released: int = 0

    def lines(self) -> list[str]:
        """One line per replayed record (where it came from, its id and type, never its content), then a summary."""
        verb = "would replay" if self.dry_run else "replayed"
        out = [
            f"{verb} {letter.came_from} id={letter.event_id or '(none: not a CloudEvent)'} "
            f"type={letter.event_type or '-'} (dead letter [{letter.partition}]@{letter.offset}, "
            f"{letter.consumer or '?'}: {letter.error_type or '?'})"
            for letter in self.replayed
        ]
        summary = f"{len(self.replayed)} " + ("would be replayed" if self.dry_run else "replayed")
        if self.skipped:
            reasons = "; ".join(f"{count} {reason}" for reason, count in self.skipped.most_common())
            summary += f", {sum(self.skipped.values())} skipped ({reasons})"
        out.append(summary)
        return out


async def replay_deadletters(
    *,
    bootstrap: str,
    deadletter_topic: str,
    choice: DeadLetterChoice,
    producer: EventProducer | None,
    release: dict[str, Release],
) -> DeadLetterReplay:
    """Replay the chosen dead letters; a dry run (`producer` None) releases and produces nothing.
    `release` holds, per consumer group, how to release its dead-lettered marks."""
    report = DeadLetterReplay(dry_run=producer is None)
    chosen: dict[tuple[str, str], DeadLetter] = {}
    consumers: dict[tuple[str, str], set[str]] = {}
    async with aclosing(
        scan_topic(bootstrap, deadletter_topic, since=choice.since, client_id="lockstep-replay")
    ) as records:
        async for record in records:
            letter = DeadLetter.from_record(record)
            if not choice.wants(letter):
                continue
            if not letter.original_topic:
                report.skipped["without an original topic"] += 1
                continue
            # One copy per event: a consumer skips the second anyway, and two consumers dead-lettering
            # the same event are both served by one copy on the topic they share.
            ident = (letter.original_topic, letter.event_id or f"deadletter:{letter.partition}:{letter.offset}")
            consumers.setdefault(ident, set()).add(letter.consumer)
            if ident in chosen:
                report.skipped["repeated dead letters of an event replayed once"] += 1
                continue
            chosen[ident] = letter
    for ident, letter in chosen.items():
        unknown = sorted(c for c in consumers[ident] if c not in release)
        if letter.event_id is not None and unknown:
            # Without releasing its mark, that consumer would skip the copy as a duplicate.
            report.skipped[f"dead-lettered by {', '.join(unknown)}, whose idempotency record is not reachable"] += 1
            continue
        report.replayed.append(letter)
    if producer is None or not report.replayed:
        return report
    # Release before producing: a copy that arrived before its mark was released would be skipped.
    for consumer, releaser in release.items():
        ids = [
            letter.event_id
            for letter in report.replayed
            if letter.event_id is not None and consumer in consumers[(letter.original_topic, letter.event_id)]
        ]
        if ids:
            report.released += await releaser(consumer, ids)
    copies = [letter.original() for letter in report.replayed]
    for start in range(0, len(copies), 500):
        await producer.send_many(copies[start : start + 500])
    return report


async def replay_deadletter_command(
    settings: LockstepSettings, choice: DeadLetterChoice, *, dry_run: bool, release: dict[str, Release]
) -> DeadLetterReplay:
    """`lockstep replay deadletter`: Kafka and the topics from settings."""
    producer = None if dry_run else EventProducer(settings.kafka_bootstrap, client_id="lockstep-replay")
    if producer is not None:
        await producer.start()
    try:
        return await replay_deadletters(
            bootstrap=settings.kafka_bootstrap,
            deadletter_topic=Topics(settings.topic_prefix).deadletter,
            choice=choice,
            producer=producer,
            release=release,
        )
    finally:
        if producer is not None:
            await producer.stop()
