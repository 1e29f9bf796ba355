"""A roster change made before a snapshot was taken loses to it, whenever the worker applies it
(issue 10, item 4: the snapshot replaces the roster atomically), on the real Kafka and Redis.

Two ways a change could outlive a snapshot taken after it: it is still on its way to the store
(on roster.changes, not yet applied) when the loader reads who the store holds, so its person
would get no `remove`; or it reaches Kafka after the snapshot's messages began (a department
sending late, with its own time on the record). The worker here is a BatchProcessor fed what
Kafka holds, in order, after the load: as a worker that fell behind would take it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

from kafka import KafkaProducer

from streams.store import PersonStore
from tests import citygen
from tests.integration.conftest import Cli
from tests.integration.redis_state import settings_of
from tests.integration.rosters import apply_roster, end_offsets, process, read_from
from welfare_watch import names, redis_client
from welfare_watch.settings import Settings


def _enroll(bootstrap: str, pid: str, made: dt.datetime) -> None:
    """An `enroll` on roster.changes that the roster system made at `made` (the record's time)."""
    row = dict(zip(citygen.ROSTER_HEADER, citygen.tekun_row(pid), strict=True))
    body = json.dumps({"op": "enroll", **row}).encode()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(
            names.ROSTER_CHANGES, key=pid.encode(), value=body,
            timestamp_ms=int(made.timestamp() * 1000),
        )  # fmt: skip
        producer.flush()
    finally:
        producer.close()


async def _active(settings: Settings, people: list[str]) -> list[bool]:
    client = redis_client.connect_async(settings.env.redis_url)
    try:
        states = (await PersonStore(client).load(people)).states
        return [any(e.status == "active" for e in states[p].enrollments) for p in people]
    finally:
        await client.aclose()


def test_a_change_made_before_a_snapshot_loses_to_it_whenever_it_is_applied(
    ww: Cli, tmp_path: Path
) -> None:
    settings = settings_of(ww)
    bootstrap = settings.env.kafka_bootstrap
    kept, on_its_way, late = (citygen.person_id(i) for i in (1, 2, 3))
    apply_roster(ww, settings, citygen.tekun_roster(tmp_path / "first.csv", [kept]))
    before = end_offsets(bootstrap, names.ROSTER_CHANGES)
    made = dt.datetime.now(dt.UTC)  # after the first snapshot was taken, before the second
    _enroll(bootstrap, on_its_way, made)  # not yet applied when the loader reads the store
    ww("roster", "load", str(citygen.tekun_roster(tmp_path / "second.csv", [kept])))
    _enroll(bootstrap, late, made)  # reaches Kafka after the snapshot's begin marker
    asyncio.run(process(settings, read_from(bootstrap, names.ROSTER_CHANGES, before)))
    assert asyncio.run(_active(settings, [kept, on_its_way, late])) == [True, False, False]
