"""A roster snapshot through roster.changes (issue 10, item 4), as the worker applies it, on
the real Redis: `replace` and `remove` messages change enrollments at once and evaluate their
people at the snapshot's end marker in their partition, with the trigger `enrollment`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from connectors.delivery import SNAPSHOT_FEED, marker
from connectors.parse import parse_feed
from streams.batch import BatchProcessor, Message
from streams.outbox import outbox_partition
from streams.snapshots import waiting_delivery
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
OVER_TWO = (
    "per-capita monthly income 1200.00 (2400.00 over 2 people) exceeds the 城市最低生活保障 "
    "standard 1000.00"
)


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


@pytest.mark.parametrize(
    ("amount", "expected", "income_ends"),
    [
        ("1200.00", [], "before the snapshot is whole"),
        ("2400.00", [OVER_TWO], "before the snapshot is whole"),
        ("2400.00", [OVER_TWO], "with the end of the waiting"),
    ],
)
def test_a_household_is_not_judged_before_the_snapshot_reaches_all_its_members(
    ww: Cli, tmp_path: Path, amount: str, expected: list[str], income_ends: str
) -> None:
    """Found by the scale-out test on a cluster (an INCOME_OVER_THRESHOLD "over 1 people"):
    partitions run at their own pace, so one partition can end a department's delivery while
    another has not yet applied the snapshot's `replace` of a household member. Here the head's
    partition takes its share of the snapshot and an income file first; the member's partition
    takes its share after. The household waits for the whole snapshot (streams.snapshots) and
    is judged on both: 1,200 yuan over two people is under the 1,000 standard, 2,400 is not;
    the income file's `event` stays the alert's trigger, also when its end marker comes in the
    batch that ends the head's wait for the snapshot."""
    settings = settings_of(ww)
    partitions = settings.policy.worker.partitions
    case = len(expected) + (2 if income_ends.startswith("with") else 0)
    head, member = _two_partitions(partitions, 900 + 200 * case)
    household = f"HH-210105-{900 + case:06d}"
    snapshot = f"S2-{case}"
    taken = dt.datetime.now(dt.UTC).isoformat()

    def row(pid: str, role: str, amount: str) -> dict[str, str]:
        values = dict(zip(citygen.ROSTER_HEADER, citygen.tekun_row(pid), strict=True))
        return values | {"program": "dibao_urban", "household_id": household, "role": role,
                         "monthly_amount": amount}  # fmt: skip

    def replace(pid: str, rows: list[dict[str, str]]) -> Message:
        body = {"op": "replace", "person_id": pid, "snapshot": snapshot, "snapshot_at": taken,
                "enrollments": rows}  # fmt: skip
        return Message(names.ROSTER_CHANGES, json.dumps(body).encode(),
                       outbox_partition(pid, partitions), 10, pid.encode())  # fmt: skip

    def ended(delivery: str, topic: str, partition: int, offset: int) -> Message:
        feed = SNAPSHOT_FEED if topic == names.ROSTER_CHANGES else "income"
        return Message(topic, marker(delivery, False, feed), partition, offset)

    def snapshot_ended(partition: int) -> Message:
        return ended(snapshot, names.ROSTER_CHANGES, partition, 11)

    income = citygen.write_csv(
        tmp_path / "income.csv", ["身份证号", "姓名", "所属期", "缴费单位", "月收入"],
        [[head, "测试人", "2026-10", "某公司", amount]],
    )  # fmt: skip
    (fact,) = [f for f in parse_feed(settings.feeds["income"], income, NOW, "file:income")
               if isinstance(f, Fact)]  # fmt: skip
    fact = fact.model_copy(update={"delivery": f"I1-{case}"})
    p_head, p_member = (outbox_partition(p, partitions) for p in (head, member))

    async def main() -> list[str]:
        client = aioredis.Redis.from_url(settings.env.redis_url)
        try:
            store = PersonStore(client, partitions)
            published = Collected()
            processor = BatchProcessor(
                store, published, settings, Metrics(CollectorRegistry()), lambda: NOW
            )
            # the head's partition: its share of the snapshot, then an income file
            await processor.process(
                [replace(head, [row(head, "head", "1000.00")]), snapshot_ended(p_head)]
            )
            income = Message(names.FACTS, fact.model_dump_json().encode(), p_head, 5, head.encode())
            income_end = ended(fact.delivery, names.FACTS, p_head, 6)
            with_waiting = income_ends.startswith("with")
            await processor.process([income] if with_waiting else [income, income_end])
            # the member's partition catches up, then the others end the snapshot
            await processor.process(
                [replace(member, [row(member, "member", "0.00")]), snapshot_ended(p_member)]
            )
            assert await _conditions(store, [head, member]) == []  # both wait
            others = [p for p in range(partitions) if p not in (p_head, p_member)]
            await processor.process([snapshot_ended(p) for p in others])
            assert await _conditions(store, [head, member]) == []
            # the snapshot is whole: the sets that waited for it are ended on every partition,
            # here the head's first: the member waits too, so is not sent a re-check
            whole = dict(published.roster_markers_sent)
            assert sorted(whole) == list(range(partitions))
            first = Message(names.ROSTER_CHANGES, whole.pop(p_head), p_head, 20)
            await processor.process([first, income_end] if with_waiting else [first])
            assert member not in {r.person_id for r in published.rechecks}
            await processor.process(
                [Message(names.ROSTER_CHANGES, value, p, 21) for p, value in whole.items()]
            )
            loaded = await store.load([head, member])
            alerts = [a for pid in (head, member) for a in loaded.alerts[pid].values()]
            assert {a.trigger for a in alerts} <= {"event"}
            assert await store.pending_sizes(_waiting(snapshot, partitions)) == [0] * 4 * partitions
            return [a.reason for a in alerts if a.type == "INCOME_OVER_THRESHOLD"]
        finally:
            await client.aclose()

    assert asyncio.run(main()) == expected


def _waiting(snapshot: str, partitions: int) -> list[tuple[str, int]]:
    return [
        (waiting_delivery(snapshot, trigger), p)
        for p in range(partitions)
        for trigger in ("event", "enrollment", "payment", "scan")
    ]


def _two_partitions(partitions: int, start: int = 900) -> tuple[str, str]:
    """Two people whose messages go to different partitions."""
    first = citygen.person_id(start + 1)
    other = next(
        pid
        for pid in (citygen.person_id(start + 2 + i) for i in range(100))
        if outbox_partition(pid, partitions) != outbox_partition(first, partitions)
    )
    return first, other
