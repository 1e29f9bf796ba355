"""Metrics computed from the store, and the counting of rejections, as pure functions."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from welfare_watch import rejections
from welfare_watch.metrics import Metrics, SampledGauge
from welfare_watch.store_metrics import FeedClock, OpenAlert, families, summarise

NOW = 1_800_000_000.0
DAY = 86400.0
DISTRICTS = ["210102", "210105", "210100"]
FEEDS = [FeedClock("psb_deaths"), FeedClock("survival_checks", expected_every_days=7)]


def _alert(severity: str, district: str, age: float, overdue: bool = False) -> OpenAlert:
    due = NOW - 1 if overdue else NOW + DAY
    return OpenAlert(severity, district, detected_at=NOW - age, due_by=due)


def test_open_alerts_are_counted_per_severity_and_district_with_their_oldest_age() -> None:
    alerts = [
        _alert("critical", "210105", 30),
        _alert("critical", "210105", 600, overdue=True),
        _alert("high", "210102", 90),
    ]
    snap = summarise(alerts, {}, FEEDS, DISTRICTS, NOW)
    assert snap.open[("critical", "210105")] == 2
    assert snap.open[("high", "210102")] == 1
    assert snap.open[("low", "210100")] == 0  # every combination is there, 0 when none
    assert len(snap.open) == 4 * len(DISTRICTS)
    assert snap.overdue[("critical", "210105")] == 1
    assert snap.oldest == {"critical": 600, "high": 90, "medium": 0, "low": 0}
    assert snap.oldest_in[("critical", "210105")] == 600


@pytest.mark.parametrize(
    ("last", "overdue"),
    [
        (None, 1),  # never delivered: a rule concluding from its absence holds back
        (NOW - 6 * DAY, 0),
        (NOW - 7 * DAY - 1, 1),
        (NOW + DAY, 0),  # a clock ahead (WW_AS_OF) is not overdue
    ],
)
def test_a_feed_with_an_interval_is_overdue_past_it(last: float | None, overdue: int) -> None:
    delivered = {"psb_deaths": NOW - 400 * DAY}
    if last is not None:
        delivered["survival_checks"] = last
    snap = summarise([], delivered, FEEDS, DISTRICTS, NOW)
    assert snap.feed_overdue == {"psb_deaths": 0, "survival_checks": overdue}
    assert snap.interval == {"survival_checks": 7 * DAY}
    assert snap.last_delivery.get("survival_checks") == last


def test_the_families_carry_the_spec_names_and_no_person() -> None:
    alerts = [_alert("medium", "210102", 5)]
    found = {f.name: f for f in families(summarise(alerts, {"psb_deaths": NOW}, FEEDS, [], NOW))}
    open_alerts = found["welfare_watch_open_alerts"].samples
    assert [(s.labels, s.value) for s in open_alerts] == [
        ({"severity": "medium", "district": "210102"}, 1)
    ]
    oldest = found["welfare_watch_oldest_open_alert_age_seconds"].samples
    assert {s.labels["severity"]: s.value for s in oldest}["medium"] == 5
    assert found["welfare_watch_feed_last_record_timestamp_seconds"].samples[0].value == NOW
    labels = {k for f in found.values() for s in f.samples for k in s.labels}
    assert labels <= {"severity", "district", "feed"}


def _message(feed: str | None) -> bytes:
    return json.dumps({"rejection_id": "x", "feed": feed, "reason": "bad"}).encode()


def test_a_rejection_counts_as_received_and_rejected_for_its_feed() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.facts_processed.labels("prison").inc()  # the worker, consuming an accepted record
    for value in (_message("prison"), _message(None), b"not json", None):
        rejections.count(metrics, value)
    received = registry.get_sample_value("welfare_watch_records_received_total", {"feed": "prison"})
    rejected = registry.get_sample_value("welfare_watch_records_rejected_total", {"feed": "prison"})
    assert (received, rejected) == (2, 1)


def test_a_sampled_gauge_reads_its_function_at_scrape_time() -> None:
    registry = CollectorRegistry()
    gauge = SampledGauge("welfare_watch_test_age_seconds", "test", registry=registry)
    ages = iter([3.0, 5.0])
    gauge.set_function(lambda: next(ages))
    assert registry.get_sample_value("welfare_watch_test_age_seconds") == 3.0
    assert registry.get_sample_value("welfare_watch_test_age_seconds") == 5.0
