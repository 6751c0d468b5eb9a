"""Touches a CRM delivers late, on the real broker and the SLA service as bootstrap wires it, on
SQLite and PostgreSQL. The contract gives vendors 4 s of delivery grace on a 4 s first-touch target
(warning due at 3 s, breached at 4 s, escalated at 8 s after the MQL). Kafka's stamp on each record
is when the pipeline got it:
- Ann's rep called at 2 s; the CRM delivered it at 5 s, late but within the grace: met, no alert;
- Bo's rep called at 2 s too, but the CRM delivered it at 10 s, after the grace: the warning and the
  breach were raised (the touch resolves them and stops the escalation);
- Cy's rep called at 5 s, after the due time, delivered at once: a breach though it arrived before
  any tier fired (raised resolved); each alert once.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.simulator.contracts import with_first_touch
from services.sla.bootstrap import bootstrap
from services.sla.settings import SlaSettings
from services.sla.tables import alerts, timers
from shared.bus import EventProducer, OutgoingRecord, Topics, ensure_topics
from shared.events import EventEnvelope, LeadIdentified, LeadRef, LifecycleTransitioned, SalesTouched
from tests.support.keys import TEST_KEYS
from tests.support.observe import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
S = timedelta(seconds=1)
ANN, BO, CY = "ann@acme.io", "bo@acme.io", "cy@acme.io"


def _record(topic: str, payload: LeadIdentified | LifecycleTransitioned | SalesTouched, subject: str) -> OutgoingRecord:
    at = payload.occurred_at
    envelope = EventEnvelope.wrap(payload, id=f"test:{uuid.uuid4().hex}", source="/tests", subject=subject, time=at)
    return OutgoingRecord.event(topic, envelope)


def _mql(topic: str, lead: str, at: datetime) -> list[OutgoingRecord]:
    mql = LifecycleTransitioned(
        lead_key=lead,
        from_stage="lead",
        to_stage="mql",
        reason="mql:hand_raiser",
        fit_score=50,
        fit_grade="A",
        engagement_score=50,
        owner="rep-1",
        contract_version="2026.1",
        occurred_at=at,
    )
    identified = LeadIdentified(lead_key=lead, identities=[f"email:{lead}"], occurred_at=at)
    return [_record(topic, identified, lead), _record(topic, mql, lead)]


def _touch(topic: str, lead: str, at: datetime) -> OutgoingRecord:
    touch = SalesTouched(lead=LeadRef(source="hubspot", email=lead), channel="call", rep="rep-1", occurred_at=at)
    return _record(topic, touch, TEST_KEYS.of(touch.lead))


async def test_late_deliveries_count_by_event_time_within_the_grace(
    kafka_bootstrap, topic_prefix, database_url, tmp_path
):
    contract = tmp_path / "contract.yaml"
    contract.write_text(
        with_first_touch("4s").replace("  rejection_loop:", "  vendor_delivery_grace: {default: 4s}\n  rejection_loop:")
    )
    topics = Topics(topic_prefix)
    await ensure_topics(kafka_bootstrap, topics.all(), partitions=2, replication_factor=1, shapes=topics.shapes())
    settings = SlaSettings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        topic_partitions=2,
        database_url=database_url,
        contract=str(contract),
        scan_interval_s=0.1,
        watermark_tolerance_s=0.2,
        consumer_session_timeout_ms=6000,
    )
    service = await bootstrap(settings)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    try:

        async def cutoff() -> datetime | None:
            async with service.sessions() as session:
                return await service.scanner.cutoff(session, datetime.now(UTC))

        await eventually(cutoff, lambda at: at is not None, what="every input partition claimed")
        t0 = datetime.now(UTC)

        async def at(offset_s: float, records: list[OutgoingRecord]) -> None:
            await asyncio.sleep(max(0.0, (t0 + offset_s * S - datetime.now(UTC)).total_seconds()))
            await producer.send_many(records)

        await at(0, [r for lead in (ANN, BO, CY) for r in _mql(topics.lifecycle, lead, t0)])
        await at(5, [_touch(topics.events, ANN, t0 + 2 * S)])  # within the grace of both tiers
        await at(5.5, [_touch(topics.events, CY, t0 + 5 * S)])  # happened after the due time
        await at(10, [_touch(topics.events, BO, t0 + 2 * S)])  # after the grace: the tiers fired
        await eventually(cutoff, lambda c: c is not None and c > t0 + 10 * S, what="input complete past 10 s")
        await asyncio.sleep(5 * settings.scan_interval_s)

        async with service.sessions() as session:
            rows = (
                await session.execute(
                    select(alerts.c.lead_key, alerts.c.kind, alerts.c.status)
                    .where(alerts.c.policy == "mql_first_touch")
                    .order_by(alerts.c.id)
                )
            ).all()
            first_touch = {
                row.lead_key: (row.status, row.breached)
                for row in (await session.execute(select(timers).where(timers.c.policy == "mql_first_touch"))).all()
            }
        raised = sorted((r.lead_key, r.kind, r.status) for r in rows)
        assert raised == [
            (BO, "sla.breached", "resolved"),
            (BO, "sla.warning", "resolved"),
            (CY, "sla.breached", "resolved"),
            (CY, "sla.warning", "resolved"),
        ]
        assert first_touch == {ANN: ("met", 0), BO: ("met", 1), CY: ("met", 1)}
    finally:
        await producer.stop()
        await service.close()
