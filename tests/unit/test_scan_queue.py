"""The daily scan is recorded as done only when the broker has every re-check."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from streams.batch import Recheck
from streams.scan import ScanClaimLost, ScanMessage, send_rechecks
from welfare_watch import kafka, names

AS_OF = dt.date(2026, 11, 28)


class FakeProducer:
    """Records what is sent; flush() fails as welfare_watch.kafka.Producer's does when the
    broker did not take a record sent since the last one."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.flushes = 0

    def send(self, topic: str, value: bytes, key: bytes) -> None:
        self.sent.append((topic, key, value))

    def flush(self) -> None:
        self.flushes += 1
        if self.fail_at is not None and len(self.sent) >= self.fail_at:
            self.fail_at = None
            raise kafka.NotDelivered("Kafka did not acknowledge 1 record(s)")


def people(n: int) -> list[str]:
    return [f"P{i:06d}" for i in range(n)]


def test_every_person_once_in_chunks_each_flushed() -> None:
    producer = FakeProducer()
    looks = 0

    def before() -> None:
        nonlocal looks
        looks += 1

    assert send_rechecks(producer, people(4500), AS_OF, before) == 4500
    assert (looks, producer.flushes) == (3, 3)  # chunks of 2,000
    assert {key for _, key, _ in producer.sent} == {p.encode() for p in people(4500)}
    topic, key, value = producer.sent[0]
    assert topic == names.RECHECK
    assert json.loads(value) == {
        "person_id": key.decode(),
        "trigger": "scan",
        "as_of": AS_OF.isoformat(),
    }


def test_a_send_the_broker_did_not_take_fails_the_scan() -> None:
    producer = FakeProducer(fail_at=2500)
    with pytest.raises(kafka.NotDelivered):
        send_rechecks(producer, people(4500), AS_OF)
    assert len(producer.sent) == 4000  # the chunk that failed was the last one sent


@pytest.mark.parametrize("pid", ["210105195203140118", "11010519491231002X", 'odd"one', ""])
def test_a_scan_recheck_is_what_the_worker_reads(pid: str) -> None:
    assert ScanMessage(AS_OF).of(pid) == Recheck(pid, "scan", AS_OF).as_json()


def test_a_lost_claim_stops_before_the_next_chunk() -> None:
    producer = FakeProducer()
    chunks = 0

    def before() -> None:
        nonlocal chunks
        chunks += 1
        if chunks == 2:
            raise ScanClaimLost("another worker holds it now")

    with pytest.raises(ScanClaimLost):
        send_rechecks(producer, people(4500), AS_OF, before)
    assert len(producer.sent) == 2000


def test_a_rate_spreads_the_chunks_over_time() -> None:
    """At 1,000 a second, chunks of 2,000 are two seconds apart (the first goes at once)."""
    producer = FakeProducer()
    waits: list[float] = []
    assert send_rechecks(producer, people(6000), AS_OF, per_second=1000, sleep=waits.append) == 6000
    assert len(waits) == 2
    assert waits[0] == pytest.approx(2.0, abs=0.2) and waits[1] == pytest.approx(4.0, abs=0.2)
    assert producer.flushes == 3


def test_no_rate_never_waits() -> None:
    waits: list[float] = []
    send_rechecks(FakeProducer(), people(6000), AS_OF, sleep=waits.append)
    assert waits == []
