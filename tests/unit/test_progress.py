"""What `wait` waits for, without Kafka or Redis: inbox files, the description, raw topics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.filedrop import inbox_folder, waiting_files
from connectors.raw import RAW_PATTERN
from welfare_watch.kafka import _existing
from welfare_watch.progress import Outstanding
from welfare_watch.settings import Settings


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings.load(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1")


def put(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("x\n", encoding="utf-8")


def test_no_inbox_folders_means_no_files(settings: Settings) -> None:
    assert waiting_files(settings) == {}


def test_only_files_the_file_drop_will_take_are_counted(settings: Settings) -> None:
    prison = inbox_folder(settings, "prison")
    for name in ["prison.csv", "deaths", "second.CSV"]:  # taken once complete, whatever the name
        put(prison, name)
    for name in [".prison.csv", "x.csv.tmp", "x.csv.part", "x.PARTIAL", ".x.csv.swp"]:
        put(prison, name)  # still being written: never taken under these names
    put(prison / "done", "20261128T141530Z-prison.csv")
    put(prison / "failed", "20261128T141530Z-bad.csv")
    put(prison / "elsewhere", "x.csv")  # a folder of its own is not looked into
    put(inbox_folder(settings, "psb_deaths"), "psb.csv")
    put(settings.env.data_dir / "inbox" / "nobody_configured", "x.csv")  # no connector for it

    assert waiting_files(settings) == {"prison": 3, "psb_deaths": 1}


def test_a_file_renamed_into_place_is_counted_from_then_on(settings: Settings) -> None:
    inbox = inbox_folder(settings, "prison")
    put(inbox, ".prison.csv.part")
    assert waiting_files(settings) == {}
    (inbox / ".prison.csv.part").rename(inbox / "prison.csv")
    assert waiting_files(settings) == {"prison": 1}


@pytest.mark.parametrize(
    ("left", "total", "line"),
    [
        (Outstanding(), 0, "nothing outstanding"),
        (Outstanding(inbox_files={"prison": 1}), 1, "1 file in inbox/prison"),
        (
            Outstanding(inbox_files={"psb_deaths": 1, "prison": 2}),
            3,
            "2 files in inbox/prison, 1 file in inbox/psb_deaths",
        ),
        (Outstanding(raw_records=1), 1, "1 record on dept.*.raw not yet taken"),
        (Outstanding(worker_messages=12), 12, "12 worker messages"),
        (Outstanding(pending_people=1), 1, "1 person pending evaluation"),
        (
            Outstanding({"prison": 1}, raw_records=5, worker_messages=1, pending_people=3),
            10,
            "1 file in inbox/prison, 5 records on dept.*.raw not yet taken, 1 worker message, "
            "3 people pending evaluation",
        ),
    ],
)
def test_what_is_outstanding_is_one_line_of_named_counts(
    left: Outstanding, total: int, line: str
) -> None:
    assert left.total == total
    assert left.describe() == line


def test_raw_topics_are_every_existing_dept_feed_raw_topic() -> None:
    existing = [
        "dept.prison.raw",
        "dept.nobody_configured.raw",
        "dept.rejected",
        "dept.prison.raw.old",
        "ww.facts",
        "welfare-watch-__assignor-__leader",
    ]
    assert _existing(existing, re.compile(RAW_PATTERN)) == [
        "dept.nobody_configured.raw",
        "dept.prison.raw",
    ]
    assert _existing(existing, ["ww.facts", "roster.changes"]) == ["ww.facts"]
