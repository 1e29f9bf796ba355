"""The batch runner reads again what the store lacks before going on (streams.retry with the
logic of streams.catchup). Kafka and the store are kept in memory here; the real ones are in
tests/integration/test_progress_offsets.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence

import redis.exceptions
from prometheus_client import CollectorRegistry

from streams.batch import Message
from streams.offsets import Gap, batch_high_water, behind, gaps
from streams.retry import BatchRunner, RetryPolicy
from tests.unit.test_retry import Clock, Sink
from welfare_watch import names
from welfare_watch.metrics import Metrics

TP = (names.FACTS, 2)
OTHER = (names.FACTS, 5)


class World:
    """A partition log as Kafka keeps it, and the progress a Redis store keeps of it."""

    def __init__(self, size: int = 10, poison: Iterable[int] = ()) -> None:
        self.log = {
            tp: [Message(tp[0], b"p" if i in poison else b"m%d" % i, tp[1], i) for i in range(size)]
            for tp in (TP, OTHER)
        }
        self.saved: dict[tuple[str, int], int] = {}
        self.processed: dict[tuple[str, int], int] = {}
        self.reads: list[Gap] = []

    def at(self, tp: tuple[str, int], *offsets: int) -> list[Message]:
        return [self.log[tp][o] for o in offsets]

    # --- the Progress protocol, on the pure logic of streams.offsets -----------------------

    async def missing(self, messages: Sequence[Message]) -> list[Gap]:
        return gaps(((m.topic, m.partition, m.offset or 0) for m in messages), self.saved)

    async def lost(self, assigned: Iterable[tuple[str, int]]) -> list[Gap]:
        wanted = set(assigned)
        return behind({tp: o for tp, o in self.processed.items() if tp in wanted}, self.saved)

    def done(self, messages: Sequence[Message]) -> None:
        for tp, last in high_water(messages).items():
            self.processed[tp] = max(last, self.processed.get(tp, last))

    async def settle(self, message: Message) -> None:
        tp = (message.topic, message.partition)
        self.saved[tp] = max(message.offset or 0, self.saved.get(tp, -1))
        self.done([message])

    async def read(self, gap: Gap) -> AsyncIterator[list[Message]]:
        self.reads.append(gap)
        messages = self.log[(gap.topic, gap.partition)][gap.start : gap.end]
        for start in range(0, len(messages), 2):  # in chunks, as from Kafka
            yield messages[start : start + 2]


class Saving:
    """A processor whose save moves the store's progress; it fails a batch holding poison,
    and the first `outages` calls as Redis going away, running `during_outage` meanwhile."""

    def __init__(self, world: World, outages: int = 0, during_outage: object = None) -> None:
        self.world = world
        self.outages = outages
        self.during_outage = during_outage
        self.done: list[tuple[int, int]] = []  # (partition, offset) in the order processed

    async def process(self, messages: Sequence[Message]) -> None:
        if self.outages:
            self.outages -= 1
            if callable(self.during_outage):
                self.during_outage()
            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:4379.")
        if any(m.value == b"p" for m in messages):
            raise AttributeError("'list' object has no attribute 'get'")
        for m in messages:
            self.done.append((m.partition, m.offset or 0))
        for tp, last in high_water(messages).items():
            self.world.saved[tp] = max(last, self.world.saved.get(tp, -1))


def high_water(messages: Sequence[Message]) -> dict[tuple[str, int], int]:
    return batch_high_water((m.topic, m.partition, m.offset or 0) for m in messages)


def runner(world: World, processor: Saving, sink: Sink, registry: CollectorRegistry) -> BatchRunner:
    clock = Clock()
    return BatchRunner(
        processor, sink, Metrics(registry), RetryPolicy(backoff=0.01),
        sleep=clock.sleep, monotonic=clock.monotonic, progress=world,
    )  # fmt: skip


def test_a_batch_that_starts_past_the_store_s_progress_has_the_gap_read_again_first() -> None:
    """Kafka's commit got ahead of what Redis kept: offsets 4 to 6 were committed, not saved."""
    world = World()
    world.saved[TP] = 3
    processor, registry = Saving(world), CollectorRegistry()
    asyncio.run(runner(world, processor, Sink(), registry).run(world.at(TP, 7, 8, 9)))
    assert processor.done == [(2, o) for o in range(4, 10)]
    assert world.reads == [Gap(names.FACTS, 2, 4, 7)]
    assert registry.get_sample_value("welfare_watch_worker_read_again_messages_total") == 3


def test_a_store_that_never_saw_the_partition_trusts_kafka_s_commit() -> None:
    world = World()
    processor = Saving(world)
    asyncio.run(runner(world, processor, Sink(), CollectorRegistry()).run(world.at(TP, 7, 8)))
    assert processor.done == [(2, 7), (2, 8)]
    assert world.reads == []


def test_a_poison_message_in_the_gap_is_dead_lettered_and_counted_done() -> None:
    world = World(poison=[5])
    world.saved[TP] = 3
    processor, sink = Saving(world), Sink()
    asyncio.run(runner(world, processor, sink, CollectorRegistry()).run(world.at(TP, 7, 8, 9)))
    assert processor.done == [(2, o) for o in (4, 6, 7, 8, 9)]
    assert [letter.offset for letter in sink.letters] == [5]
    assert world.saved[TP] == 9
    assert world.reads == [Gap(names.FACTS, 2, 4, 7)]  # the settle keeps it from being read again


def test_a_dead_lettered_message_of_the_batch_is_not_read_again_by_its_next_part() -> None:
    world = World(poison=[6])
    world.saved[TP] = 4
    processor, sink = Saving(world), Sink()
    asyncio.run(runner(world, processor, sink, CollectorRegistry()).run(world.at(TP, 5, 6, 7, 8)))
    assert processor.done == [(2, 5), (2, 7), (2, 8)]
    assert [letter.offset for letter in sink.letters] == [6]
    assert world.reads == []


def test_redis_coming_back_without_its_last_writes_while_a_batch_waits_is_noticed() -> None:
    """The batch waits out an outage; Redis comes back having lost the saves of 5 and 6."""
    world = World()
    world.saved[TP] = 6

    def lose_last_saves() -> None:
        world.saved[TP] = 4

    processor = Saving(world, outages=1, during_outage=lose_last_saves)
    asyncio.run(runner(world, processor, Sink(), CollectorRegistry()).run(world.at(TP, 7, 8)))
    assert processor.done == [(2, 5), (2, 6), (2, 7), (2, 8)]


def test_recover_reads_again_what_this_worker_saw_saved_and_the_store_lost() -> None:
    """No batch comes to notice it: the timer's `recover`, only for partitions still here."""
    world = World()
    processor = Saving(world)
    run = runner(world, processor, Sink(), CollectorRegistry())

    async def main() -> int:
        await run.run(world.at(TP, 0, 1, 2, 3, 4, 5) + world.at(OTHER, 0, 1, 2, 3))
        world.saved[TP] = 2  # Redis restarted without its last second
        world.saved[OTHER] = 1
        processor.done.clear()
        return await run.recover([TP])  # OTHER moved to another worker meanwhile

    assert asyncio.run(main()) == 3
    assert processor.done == [(2, 3), (2, 4), (2, 5)]
    assert world.saved[TP] == 5
