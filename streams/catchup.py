"""Reading back from Kafka what the store does not have (issue 9, item 4; see streams/offsets).

Kafka's commit is a hint: Redis fsyncs its append-only file once a second while the worker's
offsets commit twice a second, so after a Redis crash the store can lack saves whose input
Kafka already counts as done. The store keeps, per input partition, the offset up to which
every message is saved (`PersonStore.progress`). Before a batch is processed, and on a timer
for partitions that are quiet, `CatchUp` finds what lies between that point and the batch (or
what this worker processed itself), and the batch runner processes it first, read from Kafka
with a plain consumer (no group, no commit). A person's offsets make a message they already
have a no-op, so reading too much is harmless; reading too little is what this prevents.

What it cannot bring back: messages Kafka no longer has (past the topic's retention); they
are logged, and the progress moves past them so the worker goes on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.batch import Message
from streams.offsets import Gap, batch_high_water, behind, gaps
from streams.store import PersonStore
from welfare_watch import security

log = logging.getLogger("welfare_watch.worker")

CHUNK = 2_000  # messages read back are processed in batches of at most this many


class GapReader(Protocol):
    def read(self, gap: Gap) -> AsyncIterator[list[Message]]:
        """The messages of `gap`, in offset order, a chunk at a time."""
        ...


class KafkaGapReader:
    """Reads an offset range of one input partition with a consumer of its own."""

    def __init__(self, bootstrap: str, chunk: int = CHUNK) -> None:
        self._bootstrap = bootstrap
        self._chunk = chunk

    async def read(self, gap: Gap) -> AsyncIterator[list[Message]]:
        tp = TopicPartition(gap.topic, gap.partition)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # the range begins before what Kafka still has
            max_poll_records=self._chunk,
            **security.aiokafka_options(),
        )
        await consumer.start()
        try:
            consumer.assign([tp])
            # never past what the partition holds (a store ahead of a topic made anew)
            end = min(gap.end, (await consumer.end_offsets([tp]))[tp])
            gap = Gap(gap.topic, gap.partition, gap.start, end)
            consumer.seek(tp, gap.start)
            chunk: list[Message] = []
            while True:
                if await consumer.position(tp) >= gap.end:
                    break
                fetched = await consumer.getmany(tp, timeout_ms=1000)
                for record in fetched.get(tp, []):
                    if record.offset >= gap.end:
                        break
                    chunk.append(
                        Message(
                            record.topic,
                            record.value or b"",
                            record.partition,
                            record.offset,
                            record.key,
                            tuple(record.headers or ()),
                            record.timestamp / 1000,  # milliseconds
                        )
                    )
                if len(chunk) >= self._chunk:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk
        finally:
            await consumer.stop()


class CatchUp:
    """What the store lacks of the worker's input, and the reading of it from Kafka."""

    def __init__(self, store: PersonStore, reader: GapReader) -> None:
        self._store = store
        self._reader = reader
        self._processed: dict[tuple[str, int], int] = {}  # last offset this worker saw saved

    async def missing(self, messages: Sequence[Message]) -> list[Gap]:
        """The ranges before this batch, per partition, that the store does not have."""
        batch = _offsets(messages)
        if not batch:
            return []
        saved = await self._store.progress((t, p) for t, p, _ in batch)
        return gaps(batch, saved)

    async def lost(self, assigned: Iterable[tuple[str, int]]) -> list[Gap]:
        """Of the partitions still assigned here, what this worker processed and saw saved
        but the store no longer has (Redis came back without its last writes)."""
        mine = {tp: last for tp, last in self._processed.items() if tp in set(assigned)}
        if not mine:
            return []
        return behind(mine, await self._store.progress(mine))

    def done(self, messages: Sequence[Message]) -> None:
        """`messages` are saved (or dead-lettered)."""
        for tp, last in batch_high_water(_offsets(messages)).items():
            self._processed[tp] = max(last, self._processed.get(tp, last))

    async def settle(self, message: Message) -> None:
        """A message no save covers (dead-lettered) counts as done."""
        if message.offset is not None:
            await self._store.settle(message.topic, message.partition, message.offset)
            self.done([message])

    async def read(self, gap: Gap) -> AsyncIterator[list[Message]]:
        """The gap's messages a chunk at a time; what Kafka no longer has is skipped (logged)."""
        log.warning(
            "the store lacks %s/%d offsets %d to %d (Kafka's commit was ahead of Redis, or "
            "Redis came back without its last writes): reading them again",
            gap.topic, gap.partition, gap.start, gap.end - 1,
        )  # fmt: skip
        expected = gap.start
        async for chunk in self._reader.read(gap):
            first, last = chunk[0].offset, chunk[-1].offset
            if first is not None and first > expected:
                await self._gone(gap, expected, first)
            yield chunk
            expected = (last if last is not None else expected) + 1
        if expected < gap.end:
            await self._gone(gap, expected, gap.end)

    async def _gone(self, gap: Gap, start: int, end: int) -> None:
        log.error(
            "%s/%d offsets %d to %d are gone from Kafka (past its retention): they cannot be "
            "read again",
            gap.topic, gap.partition, start, end - 1,
        )  # fmt: skip
        await self._store.settle(gap.topic, gap.partition, end - 1)


def _offsets(messages: Iterable[Message]) -> list[tuple[str, int, int]]:
    return [(m.topic, m.partition, m.offset) for m in messages if m.offset is not None]
