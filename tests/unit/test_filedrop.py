"""The file drop without Kafka: when a file is complete, report names and contents, failures."""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from pathlib import Path

import pytest

from connectors.filedrop import FileDrop, inbox_folder, is_complete, is_temporary, observe
from connectors.reports import FileReport, RejectionLog, archive_name, write_report
from welfare_watch.settings import Settings

STABLE = 2.0
AT = dt.datetime(2026, 11, 28, 14, 15, 30, 123456, tzinfo=dt.UTC)
PSB_HEADER = "公民身份号码,姓名,死亡日期,注销日期,业务流水号,状态\n"


def taken(name: str, looks: list[tuple[float, int, int]], now: float) -> bool:
    """Whether a file is taken at `now`, after being looked at as (clock, size, mtime)."""
    if is_temporary(name):
        return False
    seen = None
    for at, size, mtime in looks:
        seen = observe(seen, size, mtime, at)
    assert seen is not None
    return is_complete(seen, now, STABLE)


@pytest.mark.parametrize(
    ("name", "looks", "now", "expected"),
    [
        ("psb_deaths.csv", [(0.0, 100, 1)], 0.0, False),  # just appeared
        ("psb_deaths.csv", [(0.0, 100, 1)], 1.9, False),
        ("psb_deaths.csv", [(0.0, 100, 1)], 2.0, True),  # unchanged for stable_seconds
        ("psb_deaths.csv", [(0.0, 100, 1), (1.0, 100, 1), (2.0, 100, 1)], 2.0, True),
        ("psb_deaths.csv", [(0.0, 100, 1), (1.0, 200, 2)], 2.5, False),  # still growing
        ("psb_deaths.csv", [(0.0, 100, 1), (1.0, 200, 2)], 3.0, True),
        ("psb_deaths.csv", [(0.0, 100, 1), (1.5, 100, 2)], 3.0, False),  # rewritten, same size
        ("psb_deaths.csv", [(0.0, 100, 1), (1.5, 90, 1)], 3.0, False),  # truncated
        ("psb_deaths.csv", [(0.0, 0, 1)], 5.0, True),  # empty and left so: taken, then failed
        ("deaths", [(0.0, 100, 1)], 9.0, True),  # no suffix needed
        (".psb_deaths.csv", [(0.0, 100, 1)], 99.0, False),  # being written under a hidden name
        ("psb_deaths.csv.tmp", [(0.0, 100, 1)], 99.0, False),
        ("psb_deaths.csv.part", [(0.0, 100, 1)], 99.0, False),
        ("psb_deaths.CSV.PARTIAL", [(0.0, 100, 1)], 99.0, False),
        (".psb_deaths.csv.swp", [(0.0, 100, 1)], 99.0, False),  # an editor's swap file
    ],
)
def test_a_file_is_taken_only_when_complete(
    name: str, looks: list[tuple[float, int, int]], now: float, expected: bool
) -> None:
    assert taken(name, looks, now) is expected


def test_archive_names_start_with_the_time_and_never_reuse_a_name() -> None:
    assert archive_name("psb_deaths.csv", AT, lambda n: False) == "20261128T141530Z-psb_deaths.csv"
    local = AT.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert archive_name("a.csv", local, lambda n: False) == "20261128T141530Z-a.csv"
    used = {"20261128T141530Z-a.csv", "20261128T141530Z-2-a.csv.report.json"}
    assert archive_name("a.csv", AT, used.__contains__) == "20261128T141530Z-3-a.csv"


def report(tmp_path: Path, **fields: object) -> FileReport:
    values: dict[str, object] = {
        "feed": "psb_deaths",
        "file": "psb_deaths.csv",
        "received_at": AT,
        "status": "done",
        "path": tmp_path / "20261128T141530Z-psb_deaths.csv",
    }
    return FileReport(**(values | fields))  # type: ignore[arg-type]


def test_a_report_holds_the_counts_and_every_rejections_line_and_reason(tmp_path: Path) -> None:
    done = report(tmp_path, accepted=3, rejected=2)
    reasons = [
        (4, "公民身份号码 check character is 3, expected 7"),
        (None, "the line is not valid"),
    ]
    path = write_report(done, reasons)
    assert path.name == "20261128T141530Z-psb_deaths.csv.report.json"
    text = path.read_text(encoding="utf-8")
    assert "check character is 3" in text  # readable as written, not \\u-escaped
    assert json.loads(text) == {
        "feed": "psb_deaths",
        "file": "psb_deaths.csv",
        "received_at": "2026-11-28T14:15:30.123456+00:00",
        "status": "done",
        "received": 5,
        "accepted": 3,
        "rejected": 2,
        "rejections": [
            {"line": 4, "reason": "公民身份号码 check character is 3, expected 7"},
            {"line": None, "reason": "the line is not valid"},
        ],
        "error": None,
    }
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial report left behind


def test_a_failed_files_report_says_why(tmp_path: Path) -> None:
    failed = report(tmp_path, status="failed", error="x.csv is binary (it contains NUL bytes)")
    body = json.loads(write_report(failed).read_text(encoding="utf-8"))
    assert (body["status"], body["received"], body["rejections"]) == ("failed", 0, [])
    assert body["error"] == "x.csv is binary (it contains NUL bytes)"


def test_a_report_of_many_rejections_is_written_in_constant_memory(tmp_path: Path) -> None:
    count = 50_000
    tracemalloc.start()
    try:
        with RejectionLog() as rejections:
            for line in range(2, count + 2):
                rejections.add(line, f"死亡日期 {line} is not a date (YYYY-MM-DD, YYYY/MM/DD)")
            write_report(report(tmp_path, rejected=count), rejections)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # kept in a list, they would take over 10 MB
    body = json.loads(report(tmp_path).report_path.read_text(encoding="utf-8"))
    assert len(body["rejections"]) == body["rejected"] == count
    assert body["rejections"][-1]["line"] == count + 1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    # Kafka at a port nobody listens on: none of these files may need it.
    return Settings.load(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1")


def test_every_feed_gets_an_inbox_with_done_and_failed(settings: Settings) -> None:
    FileDrop(settings)
    for feed in settings.feeds:
        assert (inbox_folder(settings, feed) / "done").is_dir()
        assert (inbox_folder(settings, feed) / "failed").is_dir()
    assert inbox_folder(settings, "psb_deaths") == settings.env.data_dir / "inbox" / "psb_deaths"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (bytes(range(256)) * 10, "x.csv is binary"),
        (b"PK\x03\x04" + bytes(100), "x.csv is a zip or Excel (.xlsx) file"),
        ("身份证号,姓名\n210105195203140118,杨德福\n".encode(), "missing columns 公民身份号码"),
        (b"", "x.csv is empty"),
    ],
)
def test_a_file_that_is_not_a_table_fails_whole_once_stable(
    settings: Settings, content: bytes, problem: str
) -> None:
    clock = Clock()
    drop = FileDrop(settings, clock=clock)
    inbox = inbox_folder(settings, "psb_deaths")
    (inbox / "x.csv").write_bytes(content)
    assert drop.poll() == []  # seen for the first time: maybe still being written
    clock.now += STABLE - 0.1
    assert drop.poll() == []
    assert drop.waiting() == [inbox / "x.csv"]
    clock.now += 0.1
    (failed,) = drop.poll()
    assert (failed.status, failed.received, failed.file) == ("failed", 0, "x.csv")
    assert failed.error is not None and problem in failed.error
    assert failed.path.parent == inbox / "failed"
    assert failed.path.read_bytes() == content
    body = json.loads(failed.report_path.read_text(encoding="utf-8"))
    assert body["error"] == failed.error
    assert drop.waiting() == []


def test_a_file_being_written_waits_until_it_stops_changing(settings: Settings) -> None:
    clock = Clock()
    drop = FileDrop(settings, clock=clock)
    path = inbox_folder(settings, "psb_deaths") / "d.csv"
    path.write_text(PSB_HEADER, encoding="utf-8")
    assert drop.poll() == []
    clock.now += 1.5
    with path.open("a", encoding="utf-8") as out:  # the writer appends, size changes
        out.write("\n")
    assert drop.poll() == []
    clock.now += 1.5
    assert drop.poll() == []  # only 1.5 s since the last change
    clock.now += 0.5
    (done,) = drop.poll()  # a header alone: no records, so nothing to send
    assert (done.status, done.received, done.accepted, done.rejected) == ("done", 0, 0, 0)


def test_temporary_names_are_left_alone(settings: Settings) -> None:
    clock = Clock()
    drop = FileDrop(settings, clock=clock)
    inbox = inbox_folder(settings, "psb_deaths")
    for name in (".d.csv", "d.csv.tmp", "d.csv.part", "d.csv.partial"):
        (inbox / name).write_bytes(bytes(range(256)))
    drop.poll()
    clock.now += 60
    assert drop.poll() == []
    assert drop.waiting() == []
    assert sorted(p.name for p in inbox.iterdir()) == [
        ".d.csv", "d.csv.part", "d.csv.partial", "d.csv.tmp", "done", "failed",
    ]  # fmt: skip


def test_a_file_sent_again_keeps_the_earlier_one(settings: Settings) -> None:
    clock = Clock()
    drop = FileDrop(settings, clock=clock)
    inbox = inbox_folder(settings, "psb_deaths")
    paths = []
    for _ in range(2):
        (inbox / "x.csv").write_bytes(bytes(range(256)))
        drop.poll()
        clock.now += STABLE
        (failed,) = drop.poll()
        paths.append(failed.path)
    assert paths[0] != paths[1]
    assert all(p.exists() and p.with_name(p.name + ".report.json").exists() for p in paths)
