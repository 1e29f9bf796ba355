"""One writer per person (issue 10, item 2), on the real Redis.

A batch writes only people of its own partitions. A change to someone whose household has a
member in another partition re-checks that member there (a `ww.recheck` message keyed by them)
instead of writing them; household membership is a set that any worker only adds to.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from streams.batch import BatchProcessor, Message, Recheck
from streams.outbox import outbox_partition
from streams.store import PersonStore
from tests import citygen
from tests.factories import fact
from tests.integration.conftest import Cli
from tests.integration.redis_state import settings_of
from tests.integration.rosters import apply_roster
from tests.stores import Collected
from welfare_watch import names
from welfare_watch.metrics import Metrics
from welfare_watch.settings import Settings

HOUSEHOLD = "HH-210105-0900"


def _people(settings: Settings, same_partition: bool) -> tuple[str, str]:
    """A head and a member, in one partition or in two."""
    partitions = settings.policy.worker.partitions
    head = citygen.person_id(1)
    for i in range(2, 500):
        member = citygen.person_id(i)
        same = outbox_partition(member, partitions) == outbox_partition(head, partitions)
        if same == same_partition:
            return head, member
    raise AssertionError("no such pair")


def _roster(path: Path, head: str, member: str) -> Path:
    def row(pid: str, role: str, amount: str) -> list[str]:
        return [pid, "测试人", "dibao_urban", HOUSEHOLD, role, "210105", "华山社区",
                "cw-210105-01", amount, "2019-03-01", "active"]  # fmt: skip

    return citygen.write_csv(
        path, citygen.ROSTER_HEADER, [row(head, "head", "1560.00"), row(member, "member", "0")]
    )


def _income(member: str, partition: int) -> Message:
    """The member now earns 5,000 a month: 2,500 a head, over the 1,000 standard."""
    income = fact("income", "income", "TAX-1", "2026-10-01", employer="某公司", amount="5000.00")
    income = income.model_copy(update={"person_id": member})
    return Message(names.FACTS, income.model_dump_json().encode(), partition, 7, member.encode())


@pytest.mark.parametrize("same_partition", [True, False], ids=["same partition", "two partitions"])
def test_a_household_member_in_another_partition_is_rechecked_there_not_written(
    ww: Cli, tmp_path: Path, same_partition: bool
) -> None:
    settings = settings_of(ww)
    head, member = _people(settings, same_partition)
    apply_roster(ww, settings, _roster(tmp_path / "roster.csv", head, member))
    partitions = settings.policy.worker.partitions
    published = Collected()

    async def main() -> tuple[list[str], list[str], list[str]]:
        client = aioredis.Redis.from_url(settings.env.redis_url)
        try:
            store = PersonStore(client, partitions)
            processor = BatchProcessor(
                store, published, settings, Metrics(CollectorRegistry()),
                lambda: dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC),
            )  # fmt: skip
            await processor.process([_income(member, outbox_partition(member, partitions))])
            after_fact = [a.type for a in (await store.load([head])).alerts[head].values()]
            for recheck in published.rechecks[:1]:  # what the head's own worker then reads
                message = Message(
                    names.RECHECK, recheck.as_json(), outbox_partition(head, partitions), 3,
                    head.encode(),
                )  # fmt: skip
                await processor.process([message])
            loaded = await store.load([head])
            triggers: list[str] = [a.trigger for a in loaded.alerts[head].values()]
            members = await store.households([HOUSEHOLD])
            return after_fact, triggers, sorted(members[HOUSEHOLD])
        finally:
            await client.aclose()

    after_fact, triggers, members = asyncio.run(main())
    assert members == sorted([head, member])
    assert triggers == ["event"]  # INCOME_OVER_THRESHOLD on the head, raised by the change
    if same_partition:
        assert after_fact == ["INCOME_OVER_THRESHOLD"]
        assert published.rechecks == []
    else:
        assert after_fact == []  # the member's worker did not write the head
        # before the save (a crash right after it loses nothing) and after (the head's
        # worker then reads the member's new income)
        assert published.rechecks == [Recheck(head, "event")] * 2
