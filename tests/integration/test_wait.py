"""`welfare-watch wait` waits for everything: inbox files, raw records, worker messages, pending
people — and on timeout names what is still outstanding."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer

from tests.integration.conftest import WW, Cli, Worker, stored_alerts
from tests.integration.redis_state import settings_of
from welfare_watch import names, redis_client

SAMPLES = Path(__file__).parent.parent / "data" / "samples"
PRISONER = "210104197502020776"  # 孙立强 in the sample roster, admitted in prison.csv
PRISONER_NAME = "孙立强"


@pytest.fixture()
def env(ww: Cli, tmp_path: Path) -> dict[str, str]:
    """The test stack, with inbox folders of this test's own (nothing is left for the next)."""
    return {**ww.env, "WW_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture()
def connectors(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with (tmp_path / "connectors.log").open("ab") as log:
        process = subprocess.Popen(
            [WW, "connectors"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def drop(env: dict[str, str], feed: str, sample: Path) -> Path:
    """As a department's transfer job should: write under a temporary name, rename into place."""
    inbox = Path(env["WW_DATA_DIR"]) / "inbox" / feed
    inbox.mkdir(parents=True, exist_ok=True)
    partial = inbox / f".{sample.name}.part"
    partial.write_bytes(sample.read_bytes())
    return partial.rename(inbox / sample.name)


def wait(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WW, "wait", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_wait_returns_only_once_a_dropped_file_has_become_its_alert(
    ww: Cli, worker: Worker, connectors: subprocess.Popen[bytes], env: dict[str, str]
) -> None:
    worker.start()
    ww("roster", "load", str(SAMPLES / "roster.csv"))
    assert wait(env).returncode == 0  # the roster's snapshot is applied: no lag left
    assert [a for a in stored_alerts(ww.env) if a.type == "INCARCERATED_BENEFICIARY"] == []

    dropped = drop(env, "prison", SAMPLES / "prison.csv")
    done = wait(env)  # at once: the file is still in the inbox, nothing is on Kafka yet

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "caught up: nothing outstanding"
    assert not dropped.exists()
    assert list((dropped.parent / "done").glob("*prison.csv"))
    jailed = [a for a in stored_alerts(ww.env) if a.type == "INCARCERATED_BENEFICIARY"]
    assert [(a.person_id, a.status) for a in jailed] == [(PRISONER, "open")]
    assert [e.source for e in jailed[0].evidence] == ["file:prison.csv"]


def file_in_inbox(env: dict[str, str]) -> str:
    drop(env, "prison", SAMPLES / "prison.csv")
    return "1 file in inbox/prison"


def record_on_a_raw_topic(env: dict[str, str]) -> str:
    producer = KafkaProducer(bootstrap_servers=env["WW_KAFKA_BOOTSTRAP"])
    header, row = (SAMPLES / "prison.csv").read_text(encoding="utf-8").splitlines()
    record = dict(zip(header.split(","), row.split(","), strict=True))
    producer.send(names.raw_topic("prison"), json.dumps(record, ensure_ascii=False).encode())
    producer.flush()
    producer.close()
    return "1 record on dept.*.raw not yet taken"


def a_delivery_without_its_end(env: dict[str, str]) -> str:
    """A connector that died halfway through a delivery: its people stay pending."""
    client = redis_client.connect(env["WW_REDIS_URL"])
    client.sadd(names.pending_key("d0", 0), "p1", "p2")
    client.sadd(names.pending_key("d0", 3), "p3")
    client.close()
    return "3 people pending evaluation"


@pytest.mark.parametrize(
    "stuck",
    [file_in_inbox, record_on_a_raw_topic, a_delivery_without_its_end],
    ids=lambda f: f.__name__,
)
def test_wait_times_out_naming_what_is_outstanding(
    ww: Cli, env: dict[str, str], stuck: Callable[[dict[str, str]], str]
) -> None:
    expected = stuck(env)  # and no connector, no worker runs

    timed_out = wait(env, "--timeout", "2")

    assert timed_out.returncode == 1
    assert timed_out.stdout == ""
    (line,) = timed_out.stderr.strip().splitlines()
    assert line == f"welfare-watch: timed out after 2s; still outstanding: {expected}"
    assert PRISONER not in line and PRISONER_NAME not in line and "prison.csv" not in line


def test_a_requested_scan_is_worker_input_that_wait_waits_for(
    ww: Cli, worker: Worker, env: dict[str, str]
) -> None:
    loaded = ww("roster", "load", str(SAMPLES / "roster.csv"))  # no worker yet: it stays queued
    people = re.search(r"of (\d+) people", loaded)
    assert people is not None
    timed_out = wait(env, "--timeout", "2")
    assert timed_out.returncode == 1
    # a message per person, and a begin and an end marker in each partition
    queued = int(people[1]) + 2 * settings_of(ww).policy.worker.partitions
    assert timed_out.stderr.strip().endswith(f"still outstanding: {queued} worker messages")
    worker.start()
    assert wait(env).returncode == 0  # the worker has the roster: the scan has people to judge
    worker.stop()

    scanned = ww("scan")  # no worker now: the scan stays queued
    scan = re.search(r"scan queued for (\d+) people", scanned)
    assert scan is not None
    timed_out = wait(env, "--timeout", "2")
    assert timed_out.returncode == 1
    assert timed_out.stderr.strip().endswith(f"still outstanding: {scan[1]} worker messages")

    worker.start()
    done = wait(env)
    assert done.returncode == 0, done.stderr
    assert "ORPHAN_AGE_OUT" in {a.type for a in stored_alerts(ww.env)}  # only a scan opens it
