"""A roster loaded as a worker would take it, for tests that drive the worker's batches directly:
`roster load` publishes the snapshot on roster.changes, and with no worker running nothing
applies it; `apply_roster` runs the load, then feeds what it published, as read back from Kafka,
through a BatchProcessor on the real Redis."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

from kafka import TopicPartition
from prometheus_client import CollectorRegistry

from streams.batch import BatchProcessor, Message
from streams.store import PersonStore
from tests.integration.conftest import Cli
from tests.stores import Collected
from welfare_watch import kafka, names, redis_client
from welfare_watch.metrics import Metrics
from welfare_watch.settings import Settings

_BATCH = 2000  # messages per batch, as the worker takes them


def apply_roster(ww: Cli, settings: Settings, path: Path) -> list[Message]:
    """`welfare-watch roster load PATH`, then its messages through a BatchProcessor, partition
    by partition and in offset order (its end markers last in each); returns them."""
    bootstrap = settings.env.kafka_bootstrap
    kafka.ensure_topics(bootstrap, names.WORKER_INPUTS, settings.policy.worker.partitions)
    before = end_offsets(bootstrap, names.ROSTER_CHANGES)
    ww("roster", "load", str(path))
    messages = read_from(bootstrap, names.ROSTER_CHANGES, before)
    asyncio.run(process(settings, messages))
    return messages


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = kafka.consumer_for(bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: end for tp, end in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def read_from(bootstrap: str, topic: str, start: dict[int, int]) -> list[Message]:
    """Every message of `topic` from the offsets `start` (0 where missing) to its end now, with
    the partition, offset, key and timestamp Kafka gave it."""
    consumer = kafka.consumer_for(bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, start.get(tp.partition, 0))
        read: list[Any] = []
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for tp, records in consumer.poll(timeout_ms=1000).items():
                read.extend(r for r in records if r.offset < ends[tp])
    finally:
        consumer.close()
    read.sort(key=lambda r: (r.partition, r.offset))
    return [_message(r) for r in read]


def _message(record: Any) -> Message:
    return Message(
        record.topic,
        record.value,
        record.partition,
        record.offset,
        record.key,
        tuple(record.headers or ()),
        record.timestamp / 1000,  # ms
    )


async def process(settings: Settings, messages: list[Message]) -> None:
    """`messages` through a BatchProcessor on the real Redis, partition by partition, in the
    order given, in batches of the worker's size; then the end markers the worker puts on
    roster.changes once a snapshot is whole (streams.snapshots), as a worker would read them."""
    by_partition: dict[int, list[Message]] = defaultdict(list)
    for message in messages:
        by_partition[message.partition].append(message)
    client = redis_client.connect_async(settings.env.redis_url)  # one server or a cluster
    try:
        store = PersonStore(client, settings.policy.worker.partitions)
        published = Collected()
        processor = BatchProcessor(store, published, settings, Metrics(CollectorRegistry()))
        for partition in sorted(by_partition):
            batch = by_partition[partition]
            for start in range(0, len(batch), _BATCH):
                await processor.process(batch[start : start + _BATCH])
        while markers := published.roster_markers_sent:
            published.roster_markers_sent = []
            for partition, value in markers:
                await processor.process([Message(names.ROSTER_CHANGES, value, partition)])
    finally:
        await client.aclose()
