"""A roster snapshot through roster.changes (issue 10, item 4), as the worker applies it, on
the real Redis: `replace` and `remove` messages change enrollments at once and evaluate their
people at the snapshot's end marker in their partition, with the trigger `enrollment`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from connectors.delivery import SNAPSHOT_FEED, marker
from connectors.parse import parse_feed
from streams.batch import BatchProcessor, Message
from streams.outbox import outbox_partition
from streams.store import PersonStore
from tests import citygen
from tests.integration.conftest import Cli
from tests.integration.redis_state import settings_of
from tests.integration.rosters import apply_roster
from tests.stores import Collected
from welfare_watch import names
from welfare_watch.metrics import Metrics
from welfare_watch.models import Fact
from welfare_watch.settings import Settings

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def test_a_snapshot_s_people_are_evaluated_at_its_end_marker(ww: Cli, tmp_path: Path) -> None:
    settings = settings_of(ww)
    partitions = settings.policy.worker.partitions
    stays, leaves = citygen.person_id(1), citygen.person_id(2)
    apply_roster(ww, settings, citygen.tekun_roster(tmp_path / "roster.csv", [stays, leaves]))
    row = dict(zip(citygen.ROSTER_HEADER, citygen.tekun_row(stays), strict=True))
    taken = dt.datetime.now(dt.UTC).isoformat()  # a snapshot taken after the one just loaded

    def message(pid: str, body: dict[str, object], offset: int) -> Message:
        return Message(
            names.ROSTER_CHANGES, json.dumps(body).encode(), outbox_partition(pid, partitions),
            offset, pid.encode(),
        )  # fmt: skip

    replace = message(
        stays,
        {"op": "replace", "person_id": stays, "snapshot": "S1", "snapshot_at": taken,
         "enrollments": [row | {"caseworker_id": "cw-210105-02"}]},
        10,
    )  # fmt: skip
    remove = message(
        leaves, {"op": "remove", "person_id": leaves, "snapshot": "S1", "snapshot_at": taken}, 11
    )
    end = marker("S1", False, SNAPSHOT_FEED)
    ends = [Message(names.ROSTER_CHANGES, end, p, 20 + p) for p in range(partitions)]

    async def main() -> tuple[list[str], list[str], list[str]]:
        client = aioredis.Redis.from_url(settings.env.redis_url)
        try:
            store = PersonStore(client, partitions)
            processor = BatchProcessor(
                store, Collected(), settings, Metrics(CollectorRegistry()), lambda: NOW
            )
            await processor.process(_deaths(settings, tmp_path, [stays, leaves]))
            opened = await _conditions(store, [stays, leaves])
            await processor.process([replace, remove])
            before_end = await _conditions(store, [stays, leaves])
            await processor.process(ends)
            return opened, before_end, await _conditions(store, [stays, leaves])
        finally:
            await client.aclose()

    opened, before_end, after = asyncio.run(main())
    assert opened == ["holds", "holds"]  # a DECEASED_BENEFICIARY alert each
    assert before_end == ["holds", "holds"]  # nothing evaluated before the end marker
    assert after == ["holds", "ended"]  # the one no longer on the roster: its alert ended


def _deaths(settings: Settings, tmp_path: Path, people: list[str]) -> list[Message]:
    spec = settings.feeds["psb_deaths"]
    parsed = parse_feed(spec, citygen.psb_deaths(tmp_path / "psb.csv", people), NOW, "file:psb")
    partitions = settings.policy.worker.partitions
    return [
        Message(
            names.FACTS,
            f.model_dump_json().encode(),
            outbox_partition(f.person_id, partitions),
            i,
            f.person_id.encode(),
        )
        for i, f in enumerate(parsed)
        if isinstance(f, Fact)
    ]


async def _conditions(store: PersonStore, people: list[str]) -> list[str]:
    loaded = await store.load(people)
    return [a.condition for pid in people for a in loaded.alerts[pid].values()]
