"""The plain producer on the real Kafka: a person's records land in the partition the worker
computes for them (the Java client's murmur2), every record arrives once and in order."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from streams.outbox import outbox_partition
from tests import citygen
from tests.integration.conftest import Cli
from welfare_watch import kafka, names

TOPIC = f"{names.WORKER_GROUP}-test-partitioning"  # one the reset before each test deletes
PARTITIONS = 12


def read_all(bootstrap: str, expected: int) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of every record on TOPIC, in each partition's order."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=10_000)
    try:
        assigned = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        records: list[tuple[int, bytes, bytes]] = []
        for record in consumer:
            records.append((record.partition, record.key, record.value))
            if len(records) == expected:
                break
        return records
    finally:
        consumer.close()


def test_each_key_lands_where_the_worker_looks_for_it_once_and_in_order(ww: Cli) -> None:
    bootstrap = ww.env["WW_KAFKA_BOOTSTRAP"]
    kafka.ensure_topics(bootstrap, [TOPIC], PARTITIONS)
    people = [citygen.person_id(i) for i in range(2000)]
    producer = kafka.producer(bootstrap)
    try:
        for round_ in range(3):
            for pid in people:
                producer.send(TOPIC, f"{round_}".encode(), pid.encode())
        producer.flush()
    finally:
        producer.close()
    records = read_all(bootstrap, 3 * len(people))
    assert len(records) == 3 * len(people)
    seen: dict[str, list[bytes]] = {}
    for partition, key, value in records:
        pid = key.decode()
        assert partition == outbox_partition(pid, PARTITIONS), pid
        seen.setdefault(pid, []).append(value)
    assert seen == {pid: [b"0", b"1", b"2"] for pid in people}
