"""Files dropped in the inbox folders, through the real Kafka and Redis: done/, failed/, reports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer

from connectors.filedrop import drain, inbox_folder
from connectors.reports import FileReport
from tests import citygen
from tests.integration.conftest import AS_OF, Cli, Worker, stored_alerts
from welfare_watch import names
from welfare_watch.settings import Settings

SAMPLES = Path(__file__).parent.parent / "data" / "samples"
DEAD = "210105195203140118"  # 杨德福 in the sample roster, reported dead in psb_deaths.csv
PSB_HEADER = ["公民身份号码", "姓名", "死亡日期", "注销日期", "业务流水号", "状态"]
ARCHIVED = re.compile(r"^\d{8}T\d{6}Z-(\d+-)?")


def settings_for(tmp_path: Path, env: dict[str, str], kafka: str | None = None) -> Settings:
    config = tmp_path / "filedrop.toml"
    config.write_text("[connectors]\nstable_seconds = 0.3\npoll_seconds = 0.1\n")
    return Settings.load(
        data_dir=tmp_path / "data",
        kafka_bootstrap=kafka or env["WW_KAFKA_BOOTSTRAP"],
        redis_url=env["WW_REDIS_URL"],
        as_of=AS_OF,
        config=config,
    )


@pytest.fixture()
def settings(ww: Cli, tmp_path: Path) -> Settings:
    return settings_for(tmp_path, ww.env)


def drop(settings: Settings, feed: str, name: str, content: bytes) -> Path:
    """As a department's transfer job should: write under a temporary name, rename into place."""
    inbox = inbox_folder(settings, feed)
    inbox.mkdir(parents=True, exist_ok=True)
    partial = inbox / f".{name}.part"
    partial.write_bytes(content)
    return partial.rename(inbox / name)


def report_of(report: FileReport) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(report.report_path.read_text(encoding="utf-8"))
    return body


def messages(ww: Cli, topic: str) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=ww.env["WW_KAFKA_BOOTSTRAP"],
        auto_offset_reset="earliest",
        consumer_timeout_ms=4000,
    )
    values = [json.loads(m.value) for m in consumer]
    consumer.close()
    return values


def test_a_dropped_death_file_is_sent_moved_to_done_and_raises_the_alert(
    ww: Cli, worker: Worker, settings: Settings
) -> None:
    worker.start()
    ww("roster", "load", str(SAMPLES / "roster.csv"))
    drop(settings, "psb_deaths", "psb_deaths.csv", (SAMPLES / "psb_deaths.csv").read_bytes())

    (report,) = drain(settings, timeout=60)
    inbox = inbox_folder(settings, "psb_deaths")
    assert (report.status, report.received, report.accepted, report.rejected) == ("done", 1, 1, 0)
    assert report.path.parent == inbox / "done"
    assert ARCHIVED.sub("", report.path.name) == "psb_deaths.csv"
    assert report.path.read_bytes() == (SAMPLES / "psb_deaths.csv").read_bytes()
    body = report_of(report)
    assert {k: body[k] for k in ("feed", "file", "status", "received", "accepted", "rejected")} == {
        "feed": "psb_deaths",
        "file": "psb_deaths.csv",
        "status": "done",
        "received": 1,
        "accepted": 1,
        "rejected": 0,
    }
    assert (body["rejections"], body["error"]) == ([], None)
    assert sorted(p.name for p in inbox.iterdir()) == ["done", "failed"]

    ww("wait")
    deceased = [a for a in stored_alerts(ww.env) if a.type == "DECEASED_BENEFICIARY"]
    assert [(a.person_id, a.status) for a in deceased] == [(DEAD, "open")]
    assert [e.source for e in deceased[0].evidence] == ["file:psb_deaths.csv"]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_gb18030_and_bom_files_are_accepted_whole(
    ww: Cli, settings: Settings, encoding: str
) -> None:
    feeds = ["psb_deaths", "hukou_moves", "vehicles", "income", "payments"]
    rows = {}
    for feed in feeds:
        text = (SAMPLES / f"{feed}.csv").read_text(encoding="utf-8")
        rows[feed] = len(text.strip().splitlines()) - 1
        drop(settings, feed, f"{feed}.csv", text.encode(encoding))

    reports = drain(settings, timeout=60)
    counts = {r.feed: (r.status, r.received, r.accepted, r.rejected) for r in reports}
    assert counts == {feed: ("done", n, n, 0) for feed, n in rows.items()}
    facts = [m for m in messages(ww, names.FACTS) if m.get("source") == "file:psb_deaths.csv"]
    assert [(f["person_id"], f["name"]) for f in facts] == [(DEAD, "杨德福")]  # decoded right


def test_a_binary_file_fails_whole_and_nothing_is_sent(ww: Cli, settings: Settings) -> None:
    content = bytes(range(256)) * 10
    drop(settings, "psb_deaths", "x.csv", content)

    (report,) = drain(settings, timeout=60)
    assert (report.status, report.received) == ("failed", 0)
    assert report.path.parent == inbox_folder(settings, "psb_deaths") / "failed"
    assert report.path.read_bytes() == content
    body = report_of(report)
    assert body["status"] == "failed"
    assert body["error"] == "x.csv is binary (it contains NUL bytes), not a table"
    assert (body["received"], body["accepted"], body["rejected"]) == (0, 0, 0)
    sent = messages(ww, names.FACTS) + messages(ww, names.REJECTED)
    assert [m for m in sent if m.get("source") == "file:x.csv"] == []


def test_bad_rows_are_rejected_with_their_reasons_and_the_rest_accepted(
    ww: Cli, settings: Settings
) -> None:
    good, other = citygen.person_id(11), citygen.person_id(12)
    bad_check = other[:-1] + ("0" if other[-1] != "0" else "1")
    rows = [
        [good, "测试人", "2026-10-01", "2026-10-05", "GA-11", "正常"],
        [bad_check, "测试人", "2026-10-01", "2026-10-05", "GA-12", "正常"],
        [good, "测试人", "2026-13-45", "2026-10-05", "GA-13", "正常"],
        [good, "测试人", "2026-10-01", "2026-10-05", "GA-14", "作废"],
    ]
    path = citygen.write_csv(settings.env.data_dir.parent / "bad.csv", PSB_HEADER, rows)
    drop(settings, "psb_deaths", "bad.csv", path.read_bytes())

    (report,) = drain(settings, timeout=60)
    assert (report.status, report.received, report.accepted, report.rejected) == ("done", 4, 1, 3)
    body = report_of(report)
    assert (body["received"], body["accepted"], body["rejected"]) == (4, 1, 3)
    assert [r["line"] for r in body["rejections"]] == [3, 4, 5]
    check, date, word = (r["reason"] for r in body["rejections"])
    assert "公民身份号码" in check and "check character" in check
    assert "死亡日期" in date
    assert "状态" in word and "作废" in word
    assert all(set(r) == {"line", "reason"} for r in body["rejections"])
    assert bad_check not in report.report_path.read_text(encoding="utf-8")

    rejected = [m for m in messages(ww, names.REJECTED) if m["source"] == "file:bad.csv"]
    assert sorted(m["line"] for m in rejected) == [3, 4, 5]


def test_a_file_under_a_temporary_name_waits_until_renamed(ww: Cli, settings: Settings) -> None:
    inbox = inbox_folder(settings, "psb_deaths")
    inbox.mkdir(parents=True)
    temporary = inbox / ".x.csv.tmp"
    temporary.write_bytes((SAMPLES / "psb_deaths.csv").read_bytes())

    assert drain(settings, timeout=2) == []
    assert temporary.exists()

    temporary.rename(inbox / "x.csv")
    (report,) = drain(settings, timeout=60)
    assert (report.file, report.status, report.accepted) == ("x.csv", "done", 1)


# In a process of its own, as `welfare-watch connectors` runs: kafka-python leaves the sockets
# of refused connections unclosed, which would fail this test run with a ResourceWarning.
TWO_POLLS = """
import logging, sys
from pathlib import Path
from connectors.filedrop import FileDrop
from welfare_watch.settings import Settings

logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
logging.getLogger("kafka").setLevel(logging.CRITICAL)
settings = Settings.load(
    data_dir=Path(sys.argv[1]), kafka_bootstrap="127.0.0.1:1", config=Path(sys.argv[2])
)
clock = [0.0]
connector = FileDrop(settings, clock=lambda: clock[0])
taken = connector.poll()  # first seen
clock[0] = 10.0
taken += connector.poll()  # complete, but Kafka cannot be reached
print(len(taken))
"""


def test_a_file_stays_in_the_inbox_while_kafka_is_unreachable(ww: Cli, settings: Settings) -> None:
    dropped = drop(settings, "psb_deaths", "d.csv", (SAMPLES / "psb_deaths.csv").read_bytes())
    config = settings.env.config
    assert config is not None
    args = [sys.executable, "-c", TWO_POLLS, str(settings.env.data_dir), str(config)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)

    assert done.stdout.strip() == "0"
    assert dropped.exists()
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(
        "welfare_watch.connectors.filedrop: psb_deaths: d.csv stays in the inbox"
    )
    assert "cannot reach Kafka at 127.0.0.1:1" in line
    assert DEAD not in line and "杨德福" not in line

    (report,) = drain(settings, timeout=60)  # Kafka is back: the next poll takes it
    assert (report.file, report.status, report.accepted) == ("d.csv", "done", 1)
