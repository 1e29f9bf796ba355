"""A person is judged on a whole file, never on half of one (found by `welfare-watch bench`).

A file (delivery) is evaluated as a whole at its end marker. Before the fix, a change elsewhere
in the household evaluated a co-member at once when the batch held a message of that member's
partition, even while their own file had reached only part of it: here a car's registration
without its deregistration, which opened a VEHICLE_OWNER that the rest of the file then only
annotated. A re-check of the person themselves (the scan's, a household's) did the same.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from connectors.delivery import marker
from connectors.parse import parse_feed
from streams.batch import BatchProcessor, Message
from streams.outbox import outbox_partition
from streams.store import PersonStore
from tests import citygen
from tests.integration.conftest import Cli
from tests.integration.rosters import apply_roster
from tests.stores import Collected
from welfare_watch import names, redis_client
from welfare_watch.metrics import Metrics
from welfare_watch.models import Fact
from welfare_watch.settings import Settings

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
HEADER = ["person_id", "name", "program", "household_id", "role", "district_code", "community",
          "caseworker_id", "monthly_amount", "start_date", "status"]  # fmt: skip


def row(pid: str, role: str, amount: str = "500.00") -> list[str]:
    return [pid, "测试人", "dibao_urban", "HH-T-1", role, "210105", "社区", "cw-210105-01", amount,
            "2024-01-01", "active"]  # fmt: skip


@pytest.mark.parametrize(
    "meanwhile",
    ["a household change, with a message of their partition", "a re-check of them"],
)
def test_a_person_is_not_judged_on_half_a_file(ww: Cli, tmp_path: Path, meanwhile: str) -> None:
    """Y's vehicles file has sent the registration but not yet the deregistration and end
    marker when, meanwhile, X (another partition, Y's household) changes in a batch that also
    holds a message of Y's partition, or Y gets a re-check."""
    settings = Settings.load(
        kafka_bootstrap=ww.env["WW_KAFKA_BOOTSTRAP"], redis_url=ww.env["WW_REDIS_URL"]
    )
    n = settings.policy.worker.partitions
    ids = [citygen.person_id(i) for i in range(200)]
    x = ids[0]
    px = outbox_partition(x, n)
    y = next(p for p in ids if outbox_partition(p, n) != px)
    py = outbox_partition(y, n)
    w = next(p for p in ids if outbox_partition(p, n) == py and p != y)
    roster = citygen.write_csv(
        tmp_path / "r.csv", HEADER, [row(x, "head"), row(y, "member", "0.00")]
    )
    apply_roster(ww, settings, roster)
    vehicles = citygen.write_csv(
        tmp_path / "v.csv",
        ["所有人证件号码", "所有人姓名", "号牌号码", "车辆类型", "登记日期", "状态"],
        [[y, "测试人", "辽A12345", "小型汽车", "2015-02-24", "注册"],
         [y, "测试人", "辽A12345", "小型汽车", "2017-07-18", "注销"],
         [y, "测试人", "辽B54321", "小型汽车", "2018-03-01", "注册"]],
    )  # fmt: skip
    facts = [
        f for f in parse_feed(settings.feeds["vehicles"], vehicles, NOW, "f") if isinstance(f, Fact)
    ]
    facts = [f.model_copy(update={"delivery": "D2"}) for f in facts]
    change = dict(zip(HEADER, row(x, "head", "600.00"), strict=True)) | {"op": "update"}

    def m(topic: str, value: bytes, part: int, off: int, key: str | None) -> Message:
        """A message as the worker reads it."""
        return Message(topic, value, part, off, key.encode() if key else None)

    async def main() -> list[tuple[str, str, list[str]]]:
        client = redis_client.connect_async(settings.env.redis_url)
        try:
            store = PersonStore(client, n)
            proc = BatchProcessor(store, Collected(), settings, Metrics(CollectorRegistry()),
                                  clock=lambda: NOW)  # fmt: skip
            await proc.process([m(names.FACTS, facts[0].model_dump_json().encode(), py, 0, y)])
            if meanwhile.startswith("a household change"):
                recheck = json.dumps({"person_id": w, "trigger": "enrollment"}).encode()
                await proc.process([
                    m(names.ROSTER_CHANGES, json.dumps(change).encode(), px, 100, x),
                    m(names.RECHECK, recheck, py, 0, w),
                ])  # fmt: skip
            else:
                recheck = json.dumps({"person_id": y, "trigger": "scan"}).encode()
                await proc.process([m(names.RECHECK, recheck, py, 0, y)])
            await proc.process([
                m(names.FACTS, facts[1].model_dump_json().encode(), py, 1, y),
                m(names.FACTS, facts[2].model_dump_json().encode(), py, 2, y),
                m(names.FACTS, marker("D2", False, "vehicles"), py, 3, None),
            ])  # fmt: skip
            loaded = await store.load([x, y])
            return [(a.type, a.status, [h.action for h in a.history])
                    for d in loaded.alerts.values() for a in d.values()]  # fmt: skip
        finally:
            await client.aclose()

    alerts = asyncio.run(main())
    # Opened once, at the end of the file, on the car still registered; never annotated.
    assert [a for a in alerts if a[0] == "VEHICLE_OWNER"] == [("VEHICLE_OWNER", "open", ["opened"])]
