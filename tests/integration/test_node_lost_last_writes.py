"""One Redis Cluster master comes back without its last writes while the others keep theirs
(issue 10): nothing is lost, on the real Kafka and Redis.

A master that loses its last second (appendfsync everysec) loses it alone. What a batch wrote on
it can be gone while the people it saved on the other masters are not: the input's progress,
a delivery's pending set, household sets, the people index, the alert index. The progress is
kept on every master, after the saves there, so the lowest one goes back with the master that
went back, and the worker reads that range again from Kafka; people whose saved state already
has a message read again still get what was written beside them.

The loss is played by putting back, on one master, every key as it was (DUMP and RESTORE,
tests/integration/redis_state.py does the same for a whole Redis). On one Redis server (the
first pass of `make test`) the master is that server, and the test is a whole-Redis loss.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
from kafka import KafkaProducer

from connectors.delivery import marker
from connectors.parse import parse_feed
from streams.batch import Message
from tests import citygen
from tests.integration.conftest import Cli
from tests.integration.redis_state import settings_of
from tests.integration.rosters import apply_roster
from tests.integration.test_progress_offsets import Rig
from welfare_watch import kafka, names, redis_client
from welfare_watch.models import Fact
from welfare_watch.settings import Settings

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
PEOPLE = 30
PARTITION = 2
DELIVERY = "deaths-node-lost"
FEED = "psb_deaths"
LOST = slice(10, 20)  # the messages whose writes the master loses


def _delivery_on_kafka(ww: Cli, tmp_path: Path) -> tuple[Settings, list[str], list[Message]]:
    """A roster of PEOPLE, then a death of each as one delivery with its end marker, all on one
    partition of ww.facts, as the worker reads them."""
    people = [citygen.person_id(500 + i) for i in range(PEOPLE)]
    settings = settings_of(ww)
    apply_roster(ww, settings, citygen.tekun_roster(tmp_path / "roster.csv", people))
    bootstrap = settings.env.kafka_bootstrap
    kafka.ensure_topics(bootstrap, names.WORKER_INPUTS, settings.policy.worker.partitions)
    path = citygen.psb_deaths(tmp_path / "psb.csv", people)
    parsed = parse_feed(settings.feeds[FEED], path, NOW, "file:psb")
    facts = [f.model_copy(update={"delivery": DELIVERY}) for f in parsed if isinstance(f, Fact)]
    values: list[tuple[bytes | None, bytes]] = [
        (f.person_id.encode(), f.model_dump_json().encode()) for f in facts
    ]
    values.append((None, marker(DELIVERY, False, FEED)))
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        sent = [producer.send(names.FACTS, key=k, value=v, partition=PARTITION) for k, v in values]
        producer.flush()
        offsets = [future.get(timeout=30).offset for future in sent]
    finally:
        producer.close()
    messages = [
        Message(names.FACTS, v, PARTITION, o, k) for (k, v), o in zip(values, offsets, strict=True)
    ]
    return settings, people, messages


def _master(client: aioredis.Redis, key: str) -> aioredis.Redis:
    """A connection to the master serving `key` (the server itself when not a cluster)."""
    if not isinstance(client, aiocluster.RedisCluster):
        return client
    node = client.get_node_from_key(key)
    assert node is not None
    return aioredis.Redis(host=node.host, port=node.port)


async def _taken(master: aioredis.Redis) -> dict[bytes, bytes]:
    dumped = {k: await master.dump(k) async for k in master.scan_iter(names.PREFIX + "*")}
    return {k: v for k, v in dumped.items() if v is not None}


async def _put_back(master: aioredis.Redis, taken: dict[bytes, bytes]) -> int:
    """Every key of welfare-watch on `master` as it was when `taken`; the keys changed."""
    changed = 0
    async for key in master.scan_iter(names.PREFIX + "*"):
        if await master.dump(key) != taken.get(key):
            changed += 1
        await master.delete(key)  # one at a time: a cluster node refuses keys of two slots
    for key, value in taken.items():
        await master.restore(key, 0, value, replace=True)
    return changed


def _busiest_master_without_progress(client: aioredis.Redis, people: list[str]) -> str:
    """A key of the master holding most of the lost messages' people, other than the one that
    holds the partition's first progress key (where a single progress key would be)."""
    if not isinstance(client, aiocluster.RedisCluster):
        return names.person_key(people[LOST][0])

    def name(key: str) -> str:
        node = client.get_node_from_key(key)
        assert node is not None
        return str(node.name)

    progress_node = name(names.progress_key(PARTITION))
    counts = Counter(name(names.person_key(p)) for p in people[LOST])
    busiest = max((n for n in counts if n != progress_node), key=lambda n: counts[n])
    return next(names.person_key(p) for p in people[LOST] if name(names.person_key(p)) == busiest)


@pytest.mark.parametrize("lost", ["people", "pending set"])
def test_a_master_back_without_its_last_writes_loses_nothing(
    ww: Cli, tmp_path: Path, lost: str
) -> None:
    """`people`: a master holding several of the people saved, but not the partition's first
    progress key; `pending set`: the master holding the delivery's pending set of the partition.
    Every death is stored and raises its alert at the end marker, and the range is read again."""
    settings, people, messages = _delivery_on_kafka(ww, tmp_path)

    async def main() -> tuple[int, int, int, float]:
        client = redis_client.connect_async(settings.env.redis_url)
        try:
            rig = Rig(settings, client)
            await rig.runner.run(messages[: LOST.start])
            await client.ping()  # a cluster client knows its nodes from here on
            if lost == "people":
                key = _busiest_master_without_progress(client, people)
            else:
                key = names.pending_key(DELIVERY, PARTITION)
            master = _master(client, key)
            before = await _taken(master)
            await rig.runner.run(messages[LOST])  # Kafka commits these ...
            changed = await _put_back(master, before)  # ... and one master goes back
            await rig.runner.run(messages[LOST.stop :])
            loaded = await rig.store.load(people)
            facts = sum(len(s.facts) for s in loaded.states.values())
            alerted = sum(bool(a) for a in loaded.alerts.values())
            if master is not client:
                await master.aclose()
            return changed, facts, alerted, rig.read_again()
        finally:
            await client.aclose()

    changed, facts, alerted, read_again = asyncio.run(main())
    assert changed > 0  # the master did lose writes
    assert facts == PEOPLE
    assert alerted == PEOPLE
    assert read_again == LOST.stop - LOST.start
