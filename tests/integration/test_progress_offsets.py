"""Progress kept in the store, per person (issue 9, item 4), on the real Kafka and Redis.

A message read again that a person's saved state already has changes nothing, and saves that
Redis lost although Kafka had their input committed are read back from Kafka: by the next
batch of the partition, or by `recover` when no batch comes. Redis losing its last writes is
played by putting back every key as it was (tests/integration/redis_state.py); the worker's
own run with a real Redis crash is in test_faults_outbox.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import redis.asyncio as aioredis
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from connectors.parse import parse_feed
from streams.batch import BatchProcessor, Message
from streams.catchup import CatchUp, KafkaGapReader
from streams.retry import BatchRunner, RetryPolicy
from streams.store import PersonStore
from tests import citygen
from tests.integration.conftest import Cli
from tests.integration.redis_state import restore, settings_of, snapshot
from tests.integration.rosters import apply_roster
from tests.stores import Collected
from tests.unit.test_retry import Sink
from welfare_watch import kafka, names
from welfare_watch.metrics import Metrics
from welfare_watch.models import Fact
from welfare_watch.settings import Settings

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
PEOPLE = 30
PARTITION = 1


class Rig:
    """A worker's batch path as streams.app builds it, minus Faust: the runner, with the
    catch-up reading from the real Kafka, the processor saving to the real Redis."""

    def __init__(self, settings: Settings, client: aioredis.Redis) -> None:
        partitions = settings.policy.worker.partitions
        self.store = PersonStore(client, partitions)
        self.registry = CollectorRegistry()
        metrics = Metrics(self.registry)
        processor = BatchProcessor(self.store, Collected(), settings, metrics)
        catch_up = CatchUp(self.store, KafkaGapReader(settings.env.kafka_bootstrap, chunk=4))
        self.runner = BatchRunner(
            processor, Sink(), metrics, RetryPolicy(backoff=0.05), progress=catch_up
        )

    def read_again(self) -> float:
        value = self.registry.get_sample_value("welfare_watch_worker_read_again_messages_total")
        return value or 0.0

    async def facts(self, people: list[str]) -> int:
        loaded = await self.store.load(people)
        return sum(len(s.facts) for s in loaded.states.values())


def _deaths_on_kafka(ww: Cli, tmp_path: Path) -> tuple[Settings, list[str], list[Message]]:
    """A roster of PEOPLE, and a death record of each on ww.facts, as the worker reads them."""
    people = [citygen.person_id(i) for i in range(PEOPLE)]
    settings = settings_of(ww)
    apply_roster(ww, settings, citygen.tekun_roster(tmp_path / "roster.csv", people))
    bootstrap = settings.env.kafka_bootstrap
    kafka.ensure_topics(bootstrap, names.WORKER_INPUTS, settings.policy.worker.partitions)
    path = citygen.psb_deaths(tmp_path / "psb.csv", people)
    parsed = parse_feed(settings.feeds["psb_deaths"], path, NOW, "file:psb")
    facts = [f for f in parsed if isinstance(f, Fact)]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        sent = [
            producer.send(
                names.FACTS,
                key=f.person_id.encode(),
                value=f.model_dump_json().encode(),
                partition=PARTITION,  # one partition: its offsets are the order of the file
            )
            for f in facts
        ]
        producer.flush()
        offsets = [future.get(timeout=30).offset for future in sent]
    finally:
        producer.close()
    messages = [
        Message(names.FACTS, f.model_dump_json().encode(), PARTITION, o, f.person_id.encode())
        for f, o in zip(facts, offsets, strict=True)
    ]
    return settings, people, messages


def test_a_roster_change_read_again_after_a_later_one_changes_nothing(
    ww: Cli, tmp_path: Path
) -> None:
    """Without per-person offsets a redelivered `suspend` undid the `resume` saved after it."""
    pid = citygen.person_id(7)
    settings = settings_of(ww)
    loaded = apply_roster(ww, settings, citygen.tekun_roster(tmp_path / "roster.csv", [pid]))
    after = sum(m.partition == 0 for m in loaded)  # the next offset of partition 0

    def change(op: str) -> bytes:
        return json.dumps({"op": op, "person_id": pid, "program": "tekun"}).encode()

    suspend = Message(names.ROSTER_CHANGES, change("suspend"), 0, after, pid.encode())
    resume = Message(names.ROSTER_CHANGES, change("resume"), 0, after + 1, pid.encode())

    async def main() -> str:
        client = aioredis.Redis.from_url(settings.env.redis_url)
        try:
            rig = Rig(settings, client)
            for batch in ([suspend], [resume], [suspend]):  # the last: read again after a crash
                await rig.runner.run(batch)
            (enrollment,) = (await rig.store.load([pid])).states[pid].enrollments
            return enrollment.status
        finally:
            await client.aclose()

    assert asyncio.run(main()) == "active"


def test_saves_redis_lost_are_read_again_from_kafka_before_the_next_batch(
    ww: Cli, tmp_path: Path
) -> None:
    settings, people, messages = _deaths_on_kafka(ww, tmp_path)

    async def main() -> tuple[int, float]:
        client = aioredis.Redis.from_url(settings.env.redis_url)
        try:
            rig = Rig(settings, client)
            await rig.runner.run(messages[:10])
            before = await snapshot(client)
            await rig.runner.run(messages[10:20])  # Kafka commits these ...
            await restore(client, before)  # ... and Redis comes back without their saves
            await rig.runner.run(messages[20:])
            return await rig.facts(people), rig.read_again()
        finally:
            await client.aclose()

    stored, read_again = asyncio.run(main())
    assert stored == PEOPLE
    assert read_again == 10


def test_saves_redis_lost_are_read_again_when_no_batch_comes(ww: Cli, tmp_path: Path) -> None:
    settings, people, messages = _deaths_on_kafka(ww, tmp_path)

    async def main() -> tuple[int, int, int, int]:
        client = aioredis.Redis.from_url(settings.env.redis_url)
        try:
            rig = Rig(settings, client)
            await rig.runner.run(messages[:20])
            before = await snapshot(client)
            await rig.runner.run(messages[20:])
            await restore(client, before)
            lost = await rig.facts(people)
            elsewhere = await rig.runner.recover([(names.FACTS, PARTITION + 1)])
            read = await rig.runner.recover([(names.FACTS, PARTITION)])
            return lost, elsewhere, read, await rig.facts(people)
        finally:
            await client.aclose()

    lost, elsewhere, read, stored = asyncio.run(main())
    assert lost == 20
    assert elsewhere == 0  # a partition this worker does not have is not its to read
    assert (read, stored) == (10, PEOPLE)
