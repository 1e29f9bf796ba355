"""The sample city through the real Kafka and Redis: exactly the expected alerts, any order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from alerts.expected import compare, read_expected
from tests.integration.conftest import Cli, Worker, stored_alerts
from welfare_watch import names

SAMPLES = Path(__file__).parent.parent / "data" / "samples"
FEEDS = ["psb_deaths", "health_deaths", "cremations", "hukou_moves", "prison"]
TYPES = {
    "DECEASED_BENEFICIARY",
    "DECEASED_HOUSEHOLD_MEMBER",
    "INCARCERATED_BENEFICIARY",
    "HUKOU_MOVED_OUT",
    "HUKOU_MOVED_WITHIN_CITY",
}


def expected() -> list[dict[str, object]]:
    return [e for e in read_expected(SAMPLES / "expected_alerts.jsonl") if e["type"] in TYPES]


def ingest_feeds(ww: Cli, feeds: list[str]) -> None:
    for feed in feeds:
        out = ww("ingest", feed, str(SAMPLES / f"{feed}.csv"))
        assert "rejected 0" in out, out


@pytest.mark.parametrize(
    "order",
    ["roster first", "roster last", "roster first, feeds reversed"],
)
def test_samples_give_exactly_the_expected_alerts(ww: Cli, worker: Worker, order: str) -> None:
    worker.start()
    feeds = list(reversed(FEEDS)) if "reversed" in order else FEEDS
    if order.startswith("roster first"):
        ww("roster", "load", str(SAMPLES / "roster.csv"))
        ingest_feeds(ww, feeds)
    else:
        ingest_feeds(ww, feeds)
        ww("wait", "--timeout", "120")
        ww("roster", "load", str(SAMPLES / "roster.csv"))
    ww("wait", "--timeout", "120")
    result = compare(stored_alerts(ww.env), expected())
    assert result.missed == []
    assert [(a.type, a.person_id) for a in result.unexpected] == []
    assert result.wrong == []
    assert sum(result.found.values()) == len(expected())
    assert published_alert_ids(ww) == {a.alert_id for a in stored_alerts(ww.env)}


def published_alert_ids(ww: Cli) -> set[str]:
    """Every alert also went to the `alerts` topic, the record oversight subscribes to."""
    consumer = KafkaConsumer(
        names.ALERTS,
        bootstrap_servers=ww.env["WW_KAFKA_BOOTSTRAP"],
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    ids = {json.loads(m.value)["alert_id"] for m in consumer}
    consumer.close()
    return ids
