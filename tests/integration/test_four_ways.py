"""The same department file by all four ways in — command line, file drop, HTTP, Kafka — is
one piece of evidence: exactly once in effect."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from kafka import KafkaProducer

from tests.integration.conftest import WW, Cli, Worker, stored_alerts
from tests.ports import free_port
from welfare_watch import names

SAMPLES = Path(__file__).parent.parent / "data" / "samples"


def post(url: str, token: str, body: bytes) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        answer: dict[str, object] = json.loads(reply.read())
        return answer


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


def test_one_file_four_ways_one_piece_of_evidence(ww: Cli, worker: Worker, tmp_path: Path) -> None:
    sample = SAMPLES / "psb_deaths.csv"
    env = {**ww.env, "WW_DATA_DIR": str(tmp_path), "WW_SECRET_KEY": "four-ways-" + "x" * 32}
    worker.start()
    ww("roster", "load", str(SAMPLES / "roster.csv"))

    # 1. the command line
    assert "accepted 1" in ww("ingest", "psb_deaths", str(sample))
    # 2. Kafka: the department publishes its records to dept.psb_deaths.raw
    producer = KafkaProducer(bootstrap_servers=ww.env["WW_KAFKA_BOOTSTRAP"])
    with sample.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            producer.send(
                names.raw_topic("psb_deaths"), json.dumps(row, ensure_ascii=False).encode()
            )
    producer.flush()
    producer.close()
    # 3. the file drop, renamed into place
    inbox = tmp_path / "inbox" / "psb_deaths"
    inbox.mkdir(parents=True)
    shutil.copy(sample, inbox / ".psb.csv.tmp")
    (inbox / ".psb.csv.tmp").rename(inbox / "psb.csv")
    drained = subprocess.run(
        [WW, "connectors", "--drain"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert drained.returncode == 0, drained.stderr
    assert list((inbox / "done").glob("*psb.csv"))
    # 4. HTTP, as the psb_deaths department
    token = subprocess.run(
        [WW, "token", "issue", "--role", "department", "--scope", "psb_deaths"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    port = free_port()
    web = subprocess.Popen([WW, "web", "--port", str(port)], env=env)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        reply = post(f"http://127.0.0.1:{port}/api/ingest/psb_deaths", token, sample.read_bytes())
    finally:
        web.terminate()
        web.wait(timeout=30)
    assert (reply["received"], reply["accepted"]) == (1, 1)

    ww("wait")
    (alert,) = stored_alerts(ww.env)
    assert alert.type == "DECEASED_BENEFICIARY"
    assert [(e.feed, e.record_id) for e in alert.evidence] == [("psb_deaths", "GA2025112000317")]
    assert [h.action for h in alert.history] == ["opened"]  # the three repeats changed nothing


FEEDS = sorted(p.stem for p in SAMPLES.glob("*.csv") if p.stem != "roster")


def rows_of(feed: str) -> list[dict[str, str]]:
    with (SAMPLES / f"{feed}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_feed_sample_arrives_every_way(ww: Cli, tmp_path: Path) -> None:
    from connectors.filedrop import drain
    from connectors.raw import RawTopics
    from tests.integration.test_raw_topics import drain as drain_raw
    from tests.integration.test_raw_topics import settings_for

    assert len(FEEDS) == 12
    settings = settings_for(ww, tmp_path)
    expected = {feed: len(rows_of(feed)) for feed in FEEDS}
    # the file drop
    for feed in FEEDS:
        (tmp_path / "inbox" / feed).mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / f"{feed}.csv", tmp_path / "inbox" / feed / f"{feed}.csv")
    reports = drain(settings, timeout=60)
    assert {r.feed: (r.status, r.accepted, r.rejected) for r in reports} == {
        f: ("done", n, 0) for f, n in expected.items()
    }
    # Kafka
    producer = KafkaProducer(bootstrap_servers=ww.env["WW_KAFKA_BOOTSTRAP"])
    for feed in FEEDS:
        for row in rows_of(feed):
            producer.send(names.raw_topic(feed), json.dumps(row, ensure_ascii=False).encode())
    producer.flush()
    producer.close()
    raw = RawTopics(settings)
    try:
        results = drain_raw(raw, expected=sum(expected.values()))
    finally:
        raw.close()
    by_feed: dict[str, tuple[int, int]] = {}
    for result in results:
        accepted, rejected = by_feed.get(result.feed, (0, 0))
        by_feed[result.feed] = (accepted + result.accepted, rejected + result.rejected)
    assert by_feed == {f: (n, 0) for f, n in expected.items()}
    # HTTP, each as its own department
    env = {**ww.env, "WW_DATA_DIR": str(tmp_path), "WW_SECRET_KEY": "every-feed-" + "x" * 32}
    port = free_port()
    web = subprocess.Popen([WW, "web", "--port", str(port)], env=env)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        for feed in FEEDS:
            token = subprocess.run(
                [WW, "token", "issue", "--role", "department", "--scope", feed],
                env=env, capture_output=True, text=True, timeout=60, check=True,
            ).stdout.strip()  # fmt: skip
            body = (SAMPLES / f"{feed}.csv").read_bytes()
            reply = post(f"http://127.0.0.1:{port}/api/ingest/{feed}", token, body)
            assert (reply["accepted"], reply["rejected"]) == (expected[feed], 0), feed
    finally:
        web.terminate()
        web.wait(timeout=30)
