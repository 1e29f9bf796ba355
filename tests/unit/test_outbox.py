"""The outbox's pure parts, and the producers' settings: acks=all and idempotence everywhere
(the plain producer's: tests/unit/test_kafka_producer.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, ClassVar, cast

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from alerts import audit
from alerts.audit_chain import worker_chain
from streams import outbox
from streams.outbox import (
    EVERYSEC_SETTLE,
    Entry,
    decode,
    outbox_partition,
    settle_for,
    settled,
)
from streams.producer import IdempotentProducer
from tests import citygen
from web import commands as web_commands
from welfare_watch import kafka, names
from welfare_watch.progress import Outstanding
from welfare_watch.settings import Environment, Settings, load_policy


@given(st.integers(min_value=0, max_value=364_999), st.integers(min_value=1, max_value=64))
def test_a_persons_outbox_is_the_partition_kafka_gives_their_key(index: int, n: int) -> None:
    pid = citygen.person_id(index)
    partition = outbox_partition(pid, n)
    all_partitions = list(range(n))
    assert partition == DefaultPartitioner()(pid.encode(), all_partitions, all_partitions)
    assert worker_chain(pid, n) == f"worker-{partition}"  # the audit chain of the same worker


def test_a_person_s_outbox_is_in_their_hash_slot_and_indexed_per_partition() -> None:
    pid = "210105195203140118"
    assert names.outbox_key(pid) == "ww:outbox:{210105195203140118}"
    assert names.person_key(pid) == "ww:person:{210105195203140118}"  # the same slot
    assert names.outbox_index_key(3) == "ww:outbox-index:{p3}"
    with pytest.raises(ValueError):
        outbox_partition("210105194001010001", 0)


def entry(millis: int, seq: int = 0) -> Entry:
    return Entry(f"{millis}-{seq}".encode(), b"a-1", b'{"alert_id":"a-1"}')


def test_entries_decode_from_a_stream_range() -> None:
    raw = [(b"1700000000000-0", {b"id": b"a-1", b"alert": b"{}"})]
    assert decode(raw) == [Entry(b"1700000000000-0", b"a-1", b"{}")]
    assert decode(raw)[0].millis == 1_700_000_000_000


def test_only_entries_old_enough_to_be_on_disk_are_published_and_in_stream_order() -> None:
    now = 1_700_000_010_000
    entries = [entry(now - 5000), entry(now - 3000), entry(now - 2999), entry(now - 4000)]
    # the third is too young: it and everything after it wait, so order is kept
    assert settled(entries, now, 3.0) == entries[:2]
    assert settled(entries, now, 0.0) == entries
    assert settled([], now, 3.0) == []


@pytest.mark.parametrize(
    ("appendonly", "appendfsync", "settle", "warns"),
    [
        ("yes", "always", 0.0, False),
        ("yes", "everysec", EVERYSEC_SETTLE, False),
        ("yes", "no", EVERYSEC_SETTLE, True),
        ("no", "everysec", EVERYSEC_SETTLE, True),
        ("", "", EVERYSEC_SETTLE, True),  # CONFIG refused: assume everysec, and say so
    ],
)
def test_the_settle_follows_how_redis_writes_its_append_only_file(
    appendonly: str, appendfsync: str, settle: float, warns: bool
) -> None:
    got, warning = settle_for(appendonly, appendfsync)
    assert got == settle
    assert (warning is not None) == warns


def test_the_workers_faust_producer_asks_for_acks_all_and_idempotence() -> None:
    producer = object.__new__(IdempotentProducer)
    producer.app = SimpleNamespace(in_transaction=False)  # type: ignore[assignment]
    extra = producer._settings_extra()
    assert extra["acks"] == "all"
    assert extra["enable_idempotence"] is True


class FakeAIOKafkaProducer:
    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **configs: Any) -> None:
        self.made.append(configs)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class FakeRedis:
    def register_script(self, script: str) -> None:
        return None


def test_every_aiokafka_producer_is_idempotent_with_acks_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The web app's commands, the audit log's copy on Kafka, the outbox relay."""
    monkeypatch.setattr(kafka, "ensure_topics", lambda *args: None)
    for module in (web_commands, audit, outbox):
        monkeypatch.setattr(module, "AIOKafkaProducer", FakeAIOKafkaProducer)
    FakeAIOKafkaProducer.made.clear()
    settings = Settings(Environment(), load_policy())

    async def start_all() -> None:
        await web_commands.CommandSender(settings)._started()
        await audit.AuditLog(cast(Any, FakeRedis()), "127.0.0.1:1", 1)._producer_started()
        await outbox.KafkaSend("127.0.0.1:1")._started()

    asyncio.run(start_all())
    assert len(FakeAIOKafkaProducer.made) == 3
    for configs in FakeAIOKafkaProducer.made:
        assert configs["acks"] == "all"
        assert configs["enable_idempotence"] is True


def test_wait_counts_alerts_not_yet_on_the_alerts_topic() -> None:
    left = Outstanding(worker_messages=1, outbox_alerts=2)
    assert left.total == 3
    assert left.describe() == "1 worker message, alerts of 2 people not yet on the alerts topic"
    assert (
        Outstanding(outbox_alerts=1).describe() == "alerts of 1 person not yet on the alerts topic"
    )
