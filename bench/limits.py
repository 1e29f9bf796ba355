"""The machine's own limits, measured on the data the worker just processed: what a perfect
worker could not beat on this machine.

- Kafka: the worker's input (`ww.facts`) read from the start by a plain aiokafka consumer, every
  value JSON-decoded.
- Redis: every person's state read (HMGET of the person hash's fields), decoded (JSON,
  unpacked first where the store compressed a field: welfare_watch.packing) and written back,
  in pipelines of CHUNK people; the bytes written are the bytes read, so the state is
  unchanged (run it while no worker writes). Encoding is left out: a perfect worker writes
  only what changed.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, cast

from aiokafka import AIOKafkaConsumer, TopicPartition

from welfare_watch import kafka, names, redis_client, security
from welfare_watch.packing import unpack

CHUNK = 500  # people per pipeline: the worker's own batch size
IDLE = 60.0  # seconds without a message before the end: the read failed


@dataclass(frozen=True)
class Limit:
    what: str
    count: int
    seconds: float
    unit: str

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


async def _consume(bootstrap: str, topic: str) -> tuple[int, float]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **security.aiokafka_options(),
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in kafka.partitions(bootstrap, topic)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        begins = await consumer.beginning_offsets(parts)
        await consumer.seek_to_beginning(*parts)
        left = {tp for tp in parts if ends[tp] > begins[tp]}
        count = 0
        started = last = time.monotonic()
        while left:
            if time.monotonic() - last > IDLE:
                raise RuntimeError(f"{topic}: nothing read for {IDLE:.0f} s before its end")
            batches = await consumer.getmany(*left, timeout_ms=1000, max_records=10_000)
            for tp, records in batches.items():
                for record in records:
                    if record.value is not None:
                        json.loads(record.value)
                    count += 1
                if records:
                    last = time.monotonic()
                    if records[-1].offset + 1 >= ends[tp]:
                        left.discard(tp)
        seconds = time.monotonic() - started
    finally:
        await consumer.stop()
    expected = sum(ends[tp] - begins[tp] for tp in parts)
    if count != expected:  # no transactions, no compaction: every offset is one record
        raise RuntimeError(f"{topic}: read {count} messages of the {expected} it holds")
    return count, seconds


def kafka_limit(bootstrap: str, topic: str = names.FACTS) -> Limit:
    count, seconds = asyncio.run(_consume(bootstrap, topic))
    return Limit(f"plain aiokafka consumer of {topic}, JSON-decoded", count, seconds, "messages")


def _decode(stored: bytes) -> Any:
    return json.loads(unpack(stored))


def person_keys(redis_url: str) -> list[str]:
    client = redis_client.connect(redis_url)
    try:
        pattern = names.person_key("*")
        return [k.decode() for k in client.scan_iter(match=pattern, count=10_000, _type="hash")]
    finally:
        client.close()


def redis_limit(redis_url: str, keys: list[str]) -> Limit:
    """Read, decode and write back every person in `keys`, CHUNK at a time."""
    fields = names.PERSON_FIELDS
    client = redis_client.connect(redis_url)
    try:
        started = time.monotonic()
        for first in range(0, len(keys), CHUNK):
            chunk = keys[first : first + CHUNK]
            read = client.pipeline(transaction=False)
            for key in chunk:
                read.hmget(key, fields)
            states = cast(list[list[bytes | None]], read.execute())
            write = client.pipeline(transaction=False)
            for key, values in zip(chunk, states, strict=True):
                # Any: redis-py's mapping type is keyed by a union that a dict[str, ...] is not
                present: dict[Any, bytes] = {
                    f: v for f, v in zip(fields, values, strict=True) if v is not None
                }
                for value in present.values():
                    _decode(value)
                if present:
                    write.hset(key, mapping=present)
            write.execute()
        seconds = time.monotonic() - started
    finally:
        client.close()
    return Limit("pipelined Redis read-decode-write of every person", len(keys), seconds, "people")
