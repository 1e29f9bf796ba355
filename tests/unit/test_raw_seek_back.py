"""connectors.raw: a poll whose records could not all be delivered is read again, whole, by the
next poll; a later poll's commit cannot pass over records that never reached the worker; a
poll gathers a tenth of a second of records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from kafka import TopicPartition

from connectors import raw as raw_module
from connectors.raw import RawTopics
from welfare_watch import kafka
from welfare_watch.errors import WelfareWatchError
from welfare_watch.settings import Environment, Settings, load_policy


@dataclass(frozen=True)
class _Record:
    topic: str
    partition: int
    offset: int
    value: bytes = b"{}"


class _Consumer:
    """Hands out each partition's records from its position, as kafka-python's does."""

    def __init__(self, records: dict[TopicPartition, list[_Record]]) -> None:
        self.records = records
        self.position = {tp: 0 for tp in records}
        self.committed: dict[TopicPartition, int] = {}

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[_Record]]:
        batch = {tp: rs[self.position[tp] :] for tp, rs in self.records.items()}
        batch = {tp: rs for tp, rs in batch.items() if rs}
        for tp, rs in batch.items():
            self.position[tp] = rs[-1].offset + 1
        return batch

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position[tp] = offset

    def commit(self) -> None:
        self.committed = dict(self.position)


def _connector(consumer: _Consumer, fail: set[str]) -> tuple[RawTopics, list[str]]:
    delivered: list[str] = []
    raw = RawTopics.__new__(RawTopics)  # no Kafka: the consumer and the delivery are stand-ins

    def deliver(topic: str, records: list[Any]) -> str:
        if topic in fail:
            raise WelfareWatchError("Kafka did not take the delivery")
        delivered.extend(f"{topic}/{r.offset}" for r in records)
        return topic

    raw._consumer = consumer
    raw._deliver = deliver  # type: ignore[method-assign,assignment]
    return raw, delivered


def test_a_failed_poll_is_read_again_whole_and_nothing_is_committed_past_it() -> None:
    deaths, moves = TopicPartition("dept.psb_deaths.raw", 0), TopicPartition("dept.moves.raw", 0)
    consumer = _Consumer({
        deaths: [_Record(deaths.topic, 0, o) for o in range(3)],
        moves: [_Record(moves.topic, 0, o) for o in range(2)],
    })  # fmt: skip
    fail = {"dept.psb_deaths.raw"}
    raw, delivered = _connector(consumer, fail)
    with pytest.raises(WelfareWatchError):
        raw.poll()
    assert consumer.committed == {}
    fail.clear()  # Kafka is back
    raw.poll()
    assert sorted(delivered) == sorted(
        ["dept.moves.raw/0", "dept.moves.raw/1"] * 2  # sent before the failure, and again
        + [f"dept.psb_deaths.raw/{o}" for o in range(3)]
    )
    assert consumer.committed == {deaths: 3, moves: 2}


def test_a_poll_gathers_what_arrives_within_a_tenth_of_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Records that trickle in make deliveries of a tenth of a second, not of a few records:
    the broker holds each fetch until GATHER_BYTES are there or GATHER has passed."""
    made: list[dict[str, Any]] = []

    class Consumer:
        def __init__(self, **configs: Any) -> None:
            made.append(configs)

        def subscribe(self, pattern: str) -> None:
            pass

    monkeypatch.setattr(kafka, "ensure_topics", lambda *args: None)
    monkeypatch.setattr(kafka, "producer", lambda bootstrap: None)
    monkeypatch.setattr(raw_module, "KafkaConsumer", Consumer)
    RawTopics(Settings(Environment(), load_policy()))
    assert made[0]["fetch_max_wait_ms"] == int(raw_module.GATHER * 1000) == 100
    assert made[0]["fetch_min_bytes"] == raw_module.GATHER_BYTES
