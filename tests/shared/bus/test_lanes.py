"""The lane barrier's bookkeeping (shared/bus/lanes.py), without a broker: which keys wait for the
bulk lane, for how long, and how far an interactive partition may be committed meanwhile."""

from aiokafka import TopicPartition

from shared.bus.lanes import NOTICE_TYPE, BulkNotice, LaneBarrier, notices, read_notice
from shared.bus.producer import Delivered

EVENTS = TopicPartition("t.events", 1)
BULK = TopicPartition("t.events.bulk", 1)


def _barrier(bulk_done: int = 0) -> LaneBarrier:
    barrier = LaneBarrier("t.events.bulk")
    barrier.bulk_processed(BULK, bulk_done)
    return barrier


def test_a_request_gets_one_notice_per_bulk_partition_naming_its_keys_and_last_offset():
    queued = [
        ("ld_a", Delivered(1, 40)),
        ("ld_b", Delivered(0, 7)),
        ("ld_c", Delivered(1, 42)),
        ("ld_a", Delivered(1, 41)),
    ]
    records = notices("t.events", "hubspot", queued)

    assert [(r.topic, r.partition, r.key) for r in records] == [("t.events", 0, None), ("t.events", 1, None)]
    read = [read_notice(r.headers, r.value) for r in records]
    assert read == [BulkNotice(0, 7, ("ld_b",)), BulkNotice(1, 42, ("ld_a", "ld_c"))]
    assert dict(records[1].headers)["ce_type"] == NOTICE_TYPE.encode()
    # Any other record is no notice.
    assert read_notice([("ce_type", b"lockstep.sales.touched.v1")], b'{"partition": 1}') is None
    assert read_notice(None, None) is None


def test_keys_named_by_a_notice_wait_until_the_bulk_lane_passes_its_offset():
    barrier = _barrier(bulk_done=10)
    barrier.noticed(EVENTS, 5, BulkNotice(1, 20, ("ld_a", "ld_b")))

    assert barrier.waiting("ld_a") and barrier.waiting("ld_b")
    assert not barrier.waiting("ld_other") and not barrier.waiting(None)
    barrier.bulk_processed(BULK, 20)  # offset 20 itself is not processed yet
    assert barrier.waiting("ld_a")
    barrier.bulk_processed(BULK, 21)
    assert not barrier.waiting("ld_a") and not barrier.waiting("ld_b")
    assert barrier.waiting_keys == 0


def test_a_notice_of_records_already_processed_holds_nothing_back():
    barrier = _barrier(bulk_done=30)
    barrier.noticed(EVENTS, 5, BulkNotice(1, 20, ("ld_a",)))

    assert not barrier.waiting("ld_a")
    assert barrier.commit_offset(EVENTS, 9) == 9


def test_while_the_bulk_lanes_progress_is_unknown_every_noticed_key_waits():
    barrier = LaneBarrier("t.events.bulk")  # no bulk_processed yet: a partition just assigned
    barrier.noticed(EVENTS, 0, BulkNotice(1, 0, ("ld_a",)))

    assert barrier.waiting("ld_a")
    assert barrier.commit_offset(EVENTS, 3) == 0


def test_a_handed_over_record_makes_its_key_wait_for_its_copy_and_a_lower_notice_does_not_shorten_it():
    barrier = _barrier(bulk_done=10)
    barrier.noticed(EVENTS, 2, BulkNotice(1, 12, ("ld_a",)))
    barrier.handed_over(EVENTS, 3, "ld_a", Delivered(1, 50))
    barrier.noticed(EVENTS, 4, BulkNotice(1, 30, ("ld_a",)))  # sent earlier, read later

    barrier.bulk_processed(BULK, 31)
    assert barrier.waiting("ld_a")  # its copy at 50 is not applied yet: what follows goes behind it
    barrier.bulk_processed(BULK, 51)
    assert not barrier.waiting("ld_a")


def test_the_interactive_partition_is_committed_up_to_its_first_record_whose_bulk_work_is_not_done():
    barrier = _barrier(bulk_done=10)
    barrier.noticed(EVENTS, 5, BulkNotice(1, 20, ("ld_a",)))
    barrier.handed_over(EVENTS, 8, "ld_a", Delivered(1, 25))
    other = TopicPartition("t.events", 0)

    assert barrier.commit_offset(EVENTS, 12) == 5  # read again from the notice by a next owner
    assert barrier.commit_offset(other, 7) == 7  # another partition is not held
    barrier.bulk_processed(BULK, 21)
    assert barrier.commit_offset(EVENTS, 12) == 8  # the handed-over record's copy is still to apply
    barrier.bulk_processed(BULK, 26)
    assert barrier.commit_offset(EVENTS, 12) == 12


def test_forgetting_starts_over_with_nothing_known():
    barrier = _barrier(bulk_done=10)
    barrier.noticed(EVENTS, 5, BulkNotice(1, 20, ("ld_a",)))
    barrier.forget()

    assert not barrier.waiting("ld_a")
    assert barrier.commit_offset(EVENTS, 12) == 12
    barrier.noticed(EVENTS, 5, BulkNotice(1, 20, ("ld_a",)))
    assert barrier.waiting("ld_a")  # the bulk lane's progress must be learnt again
