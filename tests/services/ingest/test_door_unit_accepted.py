"""The door's accepting branches, with a fake producer and a fixed clock (fake_door.py): no broker, no
database, milliseconds. An accepted request is published (raw record first, then its events) before
the 200, a redelivery is answered without publishing again, a broker away is a 503 with
Retry-After that the retry gets past, a bug is a logged 500 problem; and the metrics count it all as
docs/operations.md lists them. What needs the broker stays in test_webhooks.py and
test_broker_outage.py.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from services.ingest.metrics import DoorMetrics
from shared.bus import BusUnavailable
from tests.services.ingest.door_requests import ACTIVITY, CALL, generic, marketo
from tests.support.keys import key_of


async def test_an_accepted_request_publishes_the_raw_record_then_its_events_and_answers_200(door):
    answer = await door.post("/webhooks/generic", *reversed(generic()))
    assert answer.status == 200 and answer.json() == {"status": "accepted", "events": 1, "warnings": []}
    assert [(r.topic, r.key) for r in door.published()] == [
        ("t.raw", "generic"),
        ("t.events", key_of(source="forms", record_id="f-1")),
    ]
    assert door.count("generic", "accepted", "ok") == 1
    assert door.spied == [], "FastAPI's stack is not on the hot path"


async def test_a_generic_event_by_its_short_name_is_published_under_its_full_type(door):
    short = {**ACTIVITY, "type": "activity.recorded"}
    assert (await door.post("/webhooks/generic", *reversed(generic(short)))).status == 200
    assert dict(door.published()[1].headers)["ce_type"] == b"lockstep.activity.recorded.v1"


async def test_an_unmapped_marketo_activity_is_accepted_with_a_warning_counted_and_logged(door):
    unmapped = {**CALL, "activityType": "Change Score", "email": "ada@example.com"}
    answer = await door.post("/webhooks/marketo", *reversed(marketo([CALL, unmapped])))
    warning = (
        "[1].activityType: 'Change Score' has no mapping in sources.marketo.activity_types; the activity was not "
        "recorded (map it there, or send a canonical kind such as 'form_submit')"
    )
    assert answer.status == 200 and answer.json() == {"status": "accepted", "events": 3, "warnings": [warning]}
    assert door.recent.rows[-1]["warnings"] == [warning]
    labels = {"source": "marketo", "field": "activityType"}
    assert door.registry.get_sample_value("lockstep_ingest_unmapped_values_total", labels) == 1


async def test_metrics_count_each_request_its_events_and_its_latency_as_operations_lists_them(door):
    """The door counts in plain dictionaries and hands Prometheus samples over at a scrape: the same
    names, labels and cumulative buckets as `prometheus_client`'s own counters and histogram."""
    assert (await door.post("/webhooks/generic", *reversed(generic()))).status == 200
    assert (await door.post("/webhooks/generic", *reversed(generic({**ACTIVITY, "data": {}}, "msg_2")))).status == 400
    value = door.registry.get_sample_value
    assert value("lockstep_ingest_events_total", {"source": "generic", "type": "lockstep.activity.recorded.v1"}) == 1
    assert value(
        "lockstep_ingest_requests_total", {"source": "generic", "outcome": "rejected", "reason": "bad_payload"}
    )
    assert value("lockstep_ingest_request_seconds_count", {"source": "generic"}) == 2
    assert value("lockstep_ingest_request_seconds_bucket", {"source": "generic", "le": "+Inf"}) == 2
    assert value("lockstep_ingest_request_seconds_bucket", {"source": "generic", "le": "10.0"}) == 2
    assert 0 < value("lockstep_ingest_request_seconds_sum", {"source": "generic"}) < 10


def test_a_latency_lands_in_the_first_bucket_whose_bound_holds_it():
    registry = CollectorRegistry()
    metrics = DoorMetrics(registry)
    for seconds in (0.001, 0.0011, 0.3, 11):
        metrics.latency_of("hubspot", seconds)
    buckets = {
        sample.labels["le"]: sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "lockstep_ingest_request_seconds_bucket"
    }
    assert (buckets["0.001"], buckets["0.0025"], buckets["0.25"], buckets["0.5"]) == (1, 2, 2, 3)
    assert (buckets["10.0"], buckets["+Inf"]) == (3, 4)


async def test_a_redelivered_request_is_answered_200_without_publishing_again(door):
    for _ in range(2):
        assert (await door.post("/webhooks/generic", *reversed(generic()))).status == 200
    assert len(door.producer.batches) == 1
    assert door.count("generic", "accepted", "ok") == 1 and door.count("generic", "accepted", "duplicate") == 1
    assert [row["duplicate"] for row in door.recent.rows] == [False, True]


async def test_while_the_broker_is_away_the_answer_is_503_with_retry_after_and_the_retry_is_published(door):
    door.producer.failure = BusUnavailable("no ack within 3 s")
    refused = await door.post("/webhooks/generic", *reversed(generic()))
    assert refused.status == 503 and int(refused.headers["retry-after"]) > 0
    assert refused.headers["content-type"] == "application/problem+json"
    assert door.count("generic", "unavailable", "kafka_unavailable") == 1
    door.producer.failure = None
    assert (await door.post("/webhooks/generic", *reversed(generic()))).status == 200
    assert len(door.published()) == 2, "the refused attempt is not remembered as delivered"


async def test_a_bug_past_admission_is_a_logged_500_problem_not_a_crash(door, caplog):
    door.producer.failure = RuntimeError("a bug")
    answer = await door.post("/webhooks/generic", *reversed(generic()))
    assert answer.status == 500 and answer.headers["content-type"] == "application/problem+json"
    assert "webhook door failed" in caplog.text
