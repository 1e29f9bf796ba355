"""The daily scan is recorded as done only when the broker has every re-check."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from streams.scan import ScanClaimLost, send_rechecks
from welfare_watch import names

AS_OF = dt.date(2026, 11, 28)


class Sent:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> None:
        if self.error is not None:
            raise self.error


class FakeProducer:
    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.flushes = 0

    def send(self, topic: str, *, key: bytes, value: bytes) -> Any:
        self.sent.append((topic, key, value))
        failed = self.fail_at is not None and len(self.sent) == self.fail_at
        return Sent(TimeoutError("the broker did not answer") if failed else None)

    def flush(self) -> None:
        self.flushes += 1


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
    with pytest.raises(TimeoutError):
        send_rechecks(FakeProducer(fail_at=2500), people(4500), AS_OF)


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
