"""The producer: what `send_many` promises, against the real broker."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
from aiokafka.partitioner import murmur2

from shared.bus import MAX_RECORD_BYTES, BusUnavailable, EventProducer, OutgoingRecord, RecordTooLarge, ensure_topics
from shared.bus.producer import KeyHashes, record_bytes
from shared.bus.topics import TopicShape
from tests.support.kafka import read_topic


async def test_records_arrive_in_order_with_key_value_and_headers(kafka_bootstrap, topic_prefix):
    topic = f"{topic_prefix}events"
    await ensure_topics(kafka_bootstrap, [topic], partitions=6, replication_factor=1)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_many(
            [OutgoingRecord(topic, "lead:1", f"v{i}".encode(), [("ce_id", f"id-{i}".encode())]) for i in range(50)]
        )
    finally:
        await producer.stop()
    records = await read_topic(kafka_bootstrap, topic, expect=50)
    assert [r.value for r in records] == [f"v{i}".encode() for i in range(50)]  # one key: one partition, in order
    assert {r.key for r in records} == {b"lead:1"}
    assert [dict(r.headers)["ce_id"] for r in records] == [f"id-{i}".encode() for i in range(50)]


async def test_a_key_lands_where_the_java_client_would_put_it(kafka_bootstrap, topic_prefix):
    """Per-lead order across clients: the same key goes to the same partition as with Kafka's default partitioner."""
    topic = f"{topic_prefix}events"
    await ensure_topics(kafka_bootstrap, [topic], partitions=6, replication_factor=1)
    keys = [f"email:lead{i}@example.com" for i in range(60)]
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_many([OutgoingRecord(topic, key, b"{}", []) for key in keys])
    finally:
        await producer.stop()
    records = await read_topic(kafka_bootstrap, topic, expect=len(keys))
    assert len({r.partition for r in records}) > 1
    assert {(r.key.decode(), r.partition) for r in records} == {
        (key, (murmur2(key.encode()) & 0x7FFFFFFF) % 6) for key in keys
    }


def test_a_remembered_key_hash_places_keys_as_murmur2_does_even_after_a_topic_grows():
    partitioner = KeyHashes(capacity=3)
    keys = [f"ld_{i}".encode() for i in range(10)]
    for partitions in (list(range(6)), list(range(6)), list(range(12))):  # the second round is remembered
        for key in keys:
            assert partitioner(key, partitions, partitions) == (murmur2(key) & 0x7FFFFFFF) % len(partitions)
    assert partitioner(None, [0, 1, 2], [2]) == 2, "no key: an available partition, as aiokafka chooses"


async def test_an_unreachable_broker_is_reported_not_waited_on_forever() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    producer = EventProducer(f"127.0.0.1:{port}", ack_timeout_s=1.0)
    await producer.start()
    try:
        assert not await producer.ping()
        with pytest.raises(BusUnavailable):
            await asyncio.wait_for(producer.send(OutgoingRecord("nowhere", "k", b"v", [])), timeout=10)
    finally:
        await producer.stop()


async def test_a_record_over_the_largest_is_refused_before_anything_of_its_call_is_sent(kafka_bootstrap, topic_prefix):
    """Not BusUnavailable, which callers retry: this record could never be sent."""
    topic = f"{topic_prefix}raw"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1, replication_factor=1)
    small = OutgoingRecord(topic, "k", b"before", [])
    big = OutgoingRecord(topic, "k", b"x" * MAX_RECORD_BYTES, [])
    # Exactly as large as the limit lets through, and random, so that the batch goes uncompressed.
    overhead = record_bytes(OutgoingRecord(topic, "k", b"x" * (MAX_RECORD_BYTES // 2), [])) - MAX_RECORD_BYTES // 2
    fits = OutgoingRecord(topic, "k", os.urandom(MAX_RECORD_BYTES - overhead), [])
    assert record_bytes(fits) == MAX_RECORD_BYTES < record_bytes(big)
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    try:
        with pytest.raises(RecordTooLarge, match=f"record 1 of 2 is {record_bytes(big)} bytes"):
            await producer.send_many([small, big])
        await producer.send_many([fits])  # the broker takes what the producer lets through
    finally:
        await producer.stop()
    assert [r.value for r in await read_topic(kafka_bootstrap, topic, expect=1)] == [fits.value]


async def test_a_record_the_broker_refuses_as_too_large_is_record_too_large_and_the_producer_goes_on(
    kafka_bootstrap, topic_prefix
):
    # A topic whose limit is set below the producer's: only the broker can tell.
    topic = f"{topic_prefix}small"
    shape = TopicShape(config={"max.message.bytes": "4096"})
    await ensure_topics(kafka_bootstrap, [topic], partitions=1, replication_factor=1, shapes={topic: shape})
    producer = EventProducer(kafka_bootstrap)
    await producer.start()
    try:
        with pytest.raises(RecordTooLarge, match="MessageSizeTooLarge"):  # random bytes: compression cannot shrink them
            await producer.send_many([OutgoingRecord(topic, "k", os.urandom(16_384), [])])
        await producer.send_many([OutgoingRecord(topic, "k", b"after", [])])
    finally:
        await producer.stop()
    assert [r.value for r in await read_topic(kafka_bootstrap, topic, expect=1)] == [b"after"]
