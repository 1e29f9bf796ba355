"""A delivery larger than the worker evaluates at once (streams.batch.EVALUATE_AT_ONCE), on the
real Redis: at its end marker its people are evaluated a chunk at a time, each chunk saved and
taken off the pending set, and the alerts are exactly those of evaluating everyone at once."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from connectors.delivery import marker
from connectors.parse import parse_feed
from streams import batch
from streams.batch import BatchProcessor, Message
from streams.outbox import outbox_partition
from streams.store import Changes, Loaded, PersonStore
from tests import citygen
from tests.integration.conftest import Cli
from tests.integration.rosters import apply_roster
from tests.stores import Collected
from welfare_watch import names, redis_client
from welfare_watch.metrics import Metrics
from welfare_watch.models import Fact
from welfare_watch.settings import Settings

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
PEOPLE = 30
PARTITION = 2
DELIVERY = "large-delivery"


class Recording(PersonStore):
    """The real store, noting how many people each save took off a pending set."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.chunks: list[int] = []

    async def save(self, changes: Changes, loaded: Loaded) -> list[str]:
        self.chunks.extend(len(people) for people in changes.evaluated.values())
        return await super().save(changes, loaded)


def _people(settings: Settings) -> list[str]:
    partitions = settings.policy.worker.partitions
    found = (citygen.person_id(i) for i in range(10_000))
    return [p for p in found if outbox_partition(p, partitions) == PARTITION][:PEOPLE]


def _run(ww: Cli, tmp_path: Path) -> tuple[list[tuple[str, str]], list[int], bool]:
    """Roster, a death file as one delivery, then its end marker with one more record of the
    file's first person before it: the alerts (type, person), the chunk sizes, and whether the
    pending set is gone."""
    settings = Settings.load(
        kafka_bootstrap=ww.env["WW_KAFKA_BOOTSTRAP"], redis_url=ww.env["WW_REDIS_URL"]
    )
    people = _people(settings)
    ww("reset", "--yes")
    tmp_path.mkdir()
    apply_roster(ww, settings, citygen.tekun_roster(tmp_path / "roster.csv", people))
    parsed = parse_feed(
        settings.feeds["psb_deaths"], citygen.psb_deaths(tmp_path / "psb.csv", people), NOW, "f"
    )
    facts = [f.model_copy(update={"delivery": DELIVERY}) for f in parsed if isinstance(f, Fact)]

    def message(offset: int, value: bytes, key: bytes | None) -> Message:
        return Message(names.FACTS, value, PARTITION, offset, key)

    first = [message(i, f.model_dump_json().encode(), f.person_id.encode()) for i, f in
             enumerate(facts[1:])]  # fmt: skip
    again = facts[0]
    last = [
        message(len(first), again.model_dump_json().encode(), again.person_id.encode()),
        message(len(first) + 1, marker(DELIVERY, False, "psb_deaths"), None),
    ]

    async def main() -> tuple[list[tuple[str, str]], list[int], bool]:
        client = redis_client.connect_async(settings.env.redis_url)
        try:
            store = Recording(client, settings.policy.worker.partitions)
            metrics = Metrics(CollectorRegistry())
            processor = BatchProcessor(store, Collected(), settings, metrics, clock=lambda: NOW)
            await processor.process(first)
            await processor.process(last)
            loaded = await store.load(people)
            alerts = sorted((a.type, a.person_id) for d in loaded.alerts.values() for a in
                            d.values())  # fmt: skip
            gone = not await client.exists(names.pending_key(DELIVERY, PARTITION))
            return alerts, store.chunks, gone
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_a_large_delivery_is_evaluated_in_chunks_with_the_same_alerts(
    ww: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_once, no_chunks, gone = _run(ww, tmp_path / "at-once")
    assert no_chunks == [] and gone
    assert at_once == sorted(("DECEASED_BENEFICIARY", p) for _, p in at_once)
    assert len(at_once) == PEOPLE

    monkeypatch.setattr(batch, "EVALUATE_AT_ONCE", 7)
    chunked, chunks, gone = _run(ww, tmp_path / "chunked")
    # 29 wait (the 30th has a record in the marker's batch): 22 ahead in chunks of 7, then
    # the batch evaluates the last 7 and the 30th as one delivery always was
    assert chunks == [7, 7, 7, 1]
    assert gone
    assert chunked == at_once
