"""The Kafka way in: records published to dept.{feed}.raw become facts or reasoned rejections."""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from connectors.raw import RawTopics
from connectors.sink import DeliveryResult
from tests.integration.conftest import AS_OF, Cli, Worker, stored_alerts
from welfare_watch import names
from welfare_watch.settings import Settings

SAMPLES = Path(__file__).parent.parent / "data" / "samples"


def publish(ww: Cli, topic: str, records: list[dict[str, str]]) -> None:
    producer = KafkaProducer(bootstrap_servers=ww.env["WW_KAFKA_BOOTSTRAP"])
    for record in records:
        producer.send(topic, value=json.dumps(record, ensure_ascii=False).encode())
    producer.flush()
    producer.close()


def settings_for(ww: Cli, tmp_path: Path) -> Settings:
    return Settings.load(
        kafka_bootstrap=ww.env["WW_KAFKA_BOOTSTRAP"],
        redis_url=ww.env["WW_REDIS_URL"],
        data_dir=tmp_path,
        as_of=dt.date.fromisoformat(AS_OF),
    )


def drain(raw: RawTopics, expected: int, timeout: float = 60) -> list[DeliveryResult]:
    results: list[DeliveryResult] = []
    deadline = time.monotonic() + timeout
    while sum(r.received for r in results) < expected:
        assert time.monotonic() < deadline, f"only {results} of {expected} records arrived"
        results += raw.poll(timeout=0.5)
    return results


def test_raw_records_become_facts_and_alerts(ww: Cli, worker: Worker, tmp_path: Path) -> None:
    worker.start()
    ww("roster", "load", str(SAMPLES / "roster.csv"))
    with (SAMPLES / "psb_deaths.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    bad = {**rows[0], "公民身份号码": rows[0]["公民身份号码"][:-1] + "9", "业务流水号": "GA-bad"}
    raw = RawTopics(settings_for(ww, tmp_path))
    try:
        publish(ww, names.raw_topic("psb_deaths"), [*rows, bad])
        publish(ww, "dept.nobody_configured.raw", [{"x": "1"}])
        results = drain(raw, expected=len(rows) + 2)
    finally:
        raw.close()
    by_feed = {r.feed: r for r in results}
    assert (by_feed["psb_deaths"].accepted, by_feed["psb_deaths"].rejected) == (len(rows), 1)
    assert (by_feed["nobody_configured"].accepted, by_feed["nobody_configured"].rejected) == (0, 1)
    ww("wait")
    (alert,) = stored_alerts(ww.env)
    assert alert.type == "DECEASED_BENEFICIARY"
    assert alert.evidence[0].source.startswith("kafka:dept.psb_deaths.raw/")

    consumer = KafkaConsumer(
        names.REJECTED,
        bootstrap_servers=ww.env["WW_KAFKA_BOOTSTRAP"],
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    rejected = [json.loads(m.value) for m in consumer]
    consumer.close()
    reasons = sorted(r["reason"] for r in rejected)
    assert len(reasons) == 2
    rejected_by_feed = {r["feed"]: r for r in rejected}
    assert rejected_by_feed["psb_deaths"]["source"].startswith("kafka:dept.psb_deaths.raw/")
    assert rejected_by_feed["psb_deaths"]["record"] == bad
    assert rejected_by_feed["nobody_configured"]["source"].startswith(
        "kafka:dept.nobody_configured.raw/"
    )
    assert all(len(r["rejection_id"]) == 20 for r in rejected)
    assert "check character" in reasons[1] or "check character" in reasons[0]
    assert any("no feed named 'nobody_configured'" in r for r in reasons)
