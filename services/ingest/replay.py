"""`lockstep replay raw`: run archived webhook bodies through the current adapters and contract mapping.

For a mapping fix: the raw records of one source in a time window (`<prefix>raw`) are parsed
again by today's adapter, with today's contract `sources:` mapping, and the canonical events
that result are compared with what the events topic holds under the same ids:

- An id nobody published (an activity type that was unmapped, a status value that meant nothing)
  is new: it is published, and consumers apply it.
- An id published before with the same bytes is skipped: nothing to correct.
- An id published before with other bytes (a value the old mapping read differently) is skipped
  and counted: consumers applied the first version under that id and would skip a second one as
  a duplicate. Replay cannot correct such events; neither can a new id, which would apply both
  versions (an activity counted twice). They are corrected at the source, or by hand.

Event ids derive from the sources' own ids (a HubSpot event id, a Salesforce notification id, a
Pipedrive event id, a Marketo activity's identity, a sender's id), plus the role of the event
(`:contact`, `:activity`, `:touch`, ...): the same webhook gives the same ids, so replaying a
window twice publishes nothing the second time (and consumers would skip it if it did).

Signatures are not verified again: the raw record was verified when it arrived, and what it
keeps has the secrets and signatures removed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from contract import load_contract
from services.ingest.bootstrap import build_adapters
from services.ingest.door import event_record, first_unstorable
from services.ingest.raw import ReceivedWebhook
from services.ingest.redaction import mask_emails
from services.ingest.settings import IngestSettings
from services.ingest.sources.base import BadPayload, SourceAdapter, Unauthorized
from shared.bus import EventProducer, OutgoingRecord, Topics
from shared.bus.scan import scan_topic
from shared.events import LeadKeys


class UnknownSource(ValueError):
    """The source named is not one the door has an adapter for."""


NEW = "new: not produced when the webhook arrived (e.g. a value unmapped then)"


@dataclass
class RawReplay:
    source: str
    since: datetime
    until: datetime
    dry_run: bool
    webhooks: int = 0
    produced: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)  # "field=value" still without a mapping
    refused: Counter[str] = field(default_factory=Counter)  # why the current adapter refused a webhook
    no_longer_produced: int = 0  # events produced on arrival that the current mapping does not produce

    def lines(self) -> list[str]:
        """The report: counts and grouped reasons, never a record's content."""
        out = [f"{self.source} from {_iso(self.since)} until {_iso(self.until)}: {self.webhooks} webhook(s) read"]
        out.append(
            f"{'would produce' if self.dry_run else 'produced'} {self.produced} event(s)"
            + (f": {NEW}" if self.produced else "")
        )
        out.append(f"skipped {sum(self.skipped.values())} event(s)" + (":" if self.skipped else ""))
        out += [f"  {count} {reason}" for reason, count in self.skipped.most_common()]
        if self.no_longer_produced:
            out.append(
                f"{self.no_longer_produced} event(s) produced on arrival are not produced by the current mapping: "
                "they stay applied"
            )
        if self.unmapped:
            out.append(
                "still unmapped: " + ", ".join(f"{value} ({count})" for value, count in self.unmapped.most_common())
            )
        if self.refused:
            out.append(f"refused by the current adapter: {sum(self.refused.values())} webhook(s):")
            out += [f"  {count} {reason}" for reason, count in self.refused.most_common()]
        out.append("signatures were not verified again: each webhook was verified when it arrived")
        return out


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _fingerprint(key: bytes | None, headers: Iterable[tuple[str, bytes | None]] | None, value: bytes | None) -> bytes:
    digest = hashlib.sha256(key or b"")
    for name, raw in headers or ():
        digest.update(b"\0" + name.encode() + b"\0" + (raw or b""))
    digest.update(b"\0\0" + (value or b""))
    return digest.digest()


def _record_fingerprint(record: OutgoingRecord) -> bytes:
    return _fingerprint(record.key.encode() if record.key is not None else None, record.headers, record.value)


def _refusal(exc: Exception) -> str:
    if isinstance(exc, (BadPayload, Unauthorized)):
        return mask_emails(str(exc))
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return mask_emails(f"{'.'.join(str(p) for p in error['loc']) or 'payload'}: {error['msg']}")
    return f"parser error ({type(exc).__name__})"


async def replay_raw(
    *,
    bootstrap: str,
    topics: Topics,
    adapter: SourceAdapter,
    since: datetime,
    until: datetime,
    producer: EventProducer | None,
    keys: LeadKeys,
) -> RawReplay:
    """Replay `adapter`'s webhooks received in [since, until); a dry run (`producer` None) publishes nothing."""
    report = RawReplay(adapter.name, since, until, dry_run=producer is None)
    candidates: dict[str, tuple[OutgoingRecord, bool]] = {}  # event id -> (record, published on arrival)
    async with aclosing(scan_topic(bootstrap, topics.raw, since=since, client_id="lockstep-replay")) as records:
        async for record in records:
            webhook = ReceivedWebhook.from_record(record)
            if webhook is None or webhook.source != adapter.name or not since <= webhook.received_at < until:
                continue
            report.webhooks += 1
            try:
                result = adapter.parse(webhook.request)
            except Exception as exc:  # whatever the adapter refuses today is reported, never fatal
                report.refused[_refusal(exc)] += 1
                continue
            problem = first_unstorable(result.drafts)
            if problem is not None:  # accepted before the door refused such text: it would be dead-lettered
                report.refused[mask_emails(problem)] += 1
                continue
            for unmapped in result.unmapped:
                report.unmapped[mask_emails(f"{unmapped.field}={unmapped.value}")] += 1
            produced_now = {draft.event_id for draft in result.drafts}
            report.no_longer_produced += len(set(webhook.event_ids) - produced_now)
            for draft in result.drafts:
                if draft.event_id in candidates:
                    report.skipped["repeated: the same event from another delivery in the window"] += 1
                    continue
                published = draft.event_id in webhook.event_ids
                candidates[draft.event_id] = (event_record(topics.events, adapter.name, draft, keys), published)
    # What the events topics hold under these ids: the publication on arrival (an import's on the bulk
    # lane), or an earlier replay's.
    held: dict[str, set[bytes]] = {}
    for topic in (topics.events, topics.events_bulk) if candidates else ():
        async with aclosing(scan_topic(bootstrap, topic, since=since, client_id="lockstep-replay")) as records:
            async for record in records:
                event_id = next((v.decode("utf-8", "replace") for k, v in record.headers or () if k == "ce_id"), None)
                if event_id in candidates:
                    held.setdefault(event_id, set()).add(_fingerprint(record.key, record.headers, record.value))
    outgoing: list[OutgoingRecord] = []
    for event_id, (record, published) in candidates.items():
        fingerprints = held.get(event_id)
        when = "on arrival" if published else "by an earlier replay"
        if fingerprints is None and published:
            report.skipped["published on arrival, no longer on the events topic to compare: consumers have it"] += 1
        elif fingerprints is None:
            outgoing.append(record)
        elif _record_fingerprint(record) in fingerprints:
            report.skipped[f"unchanged: published {when}"] += 1
        else:
            report.skipped[
                f"changed by the current mapping but published {when} under the same id: "
                "consumers keep that version (replay cannot correct it)"
            ] += 1
    report.produced = len(outgoing)
    if producer is not None:
        for start in range(0, len(outgoing), 500):
            await producer.send_many(outgoing[start : start + 500])
    return report


async def replay_raw_window(
    settings: IngestSettings, source: str, since: datetime, until: datetime, *, dry_run: bool
) -> RawReplay:
    """`lockstep replay raw`: the adapters and mapping of today's settings and contract, Kafka from settings."""
    adapters = build_adapters(settings, load_contract(settings.contract))
    if source not in adapters:
        raise UnknownSource(f"--source: unknown source {source!r}; expected one of {', '.join(sorted(adapters))}")
    producer = None if dry_run else EventProducer(settings.kafka_bootstrap, client_id="lockstep-replay")
    if producer is not None:
        await producer.start()
    try:
        return await replay_raw(
            bootstrap=settings.kafka_bootstrap,
            topics=Topics(settings.topic_prefix),
            adapter=adapters[source],
            since=since,
            until=until,
            producer=producer,
            keys=settings.lead_keys(),
        )
    finally:
        if producer is not None:
            await producer.stop()
