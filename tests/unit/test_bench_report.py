"""The benchmark's pure parts: percentiles, its last line, and the latency phase's bookkeeping."""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import pytest

from bench.city import Enrolled
from bench.events import ALERT_TYPE, CHECKS, DEATHS, Mix, split_people
from bench.latency import Load, Tracker, summarize
from bench.report import Summary, percentile, summary_line

LINE = re.compile(
    r"^bench: throughput \d+ events/s \(raw limit \d+ events/s, ratio \d+\.\d{3}\), "
    r"detection latency p50 \d+\.\d{2} s p99 \d+\.\d{2} s at \d+ events/s, "
    r"roster load \d+ enrollments/s, scan \d+ people/s, ingest \d+ records/s, "
    r"redis \d+ bytes/enrollment$"
)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 99, 5.0),
        ([1.0, 2.0], 50, 1.0),
        ([2.0, 1.0], 99, 2.0),
        ([float(v) for v in range(1, 101)], 50, 50.0),
        ([float(v) for v in range(1, 101)], 99, 99.0),
        ([float(v) for v in range(1, 101)], 100, 100.0),
        ([float(v) for v in range(1, 1001)], 99, 990.0),
        ([3.0, 1.0, 2.0], 0, 1.0),
    ],
)
def test_percentile_is_a_measured_value(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == expected


def test_percentile_of_nothing_is_nan_and_q_is_checked() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def _summary(**changes: float) -> Summary:
    figures = dict(
        throughput=1834.4,
        raw_limit=61234.9,
        latency_p50=5.314,
        latency_p99=7.826,
        latency_rate=2000.0,
        roster_load=7012.2,
        scan=2301.7,
        ingest=11022.0,
        redis_bytes=1520.4,
    )
    return Summary(**(figures | changes))


def test_the_last_line_reads_as_issue_11_wrote_it() -> None:
    line = summary_line(_summary())
    assert line == (
        "bench: throughput 1834 events/s (raw limit 61235 events/s, ratio 0.030), detection "
        "latency p50 5.31 s p99 7.83 s at 2000 events/s, roster load 7012 enrollments/s, "
        "scan 2302 people/s, ingest 11022 records/s, redis 1520 bytes/enrollment"
    )
    assert LINE.match(line)


def test_no_latency_measured_says_so_and_no_limit_gives_no_ratio() -> None:
    line = summary_line(_summary(latency_p50=math.nan, latency_p99=math.nan, raw_limit=0.0))
    assert "ratio 0.000" in line
    assert "p50 n/a s p99 n/a s" in line


PEOPLE = [Enrolled(f"P{i:03d}", "某") for i in range(10)]


def test_deaths_are_every_nth_event_until_nobody_is_left_to_die() -> None:
    dying, checked = split_people(PEOPLE, events=40, alert_share=0.25, seed=1)
    assert len(dying) == 5  # 10 wanted, at most half of those eligible
    assert not {p.person_id for p in dying} & {p.person_id for p in checked}
    mix = Mix(dying, checked, 0.25, dt.date(2026, 11, 28), "T")
    events = [event for event, _ in zip(mix.events(), range(40), strict=False)]
    deaths = [i for i, e in enumerate(events) if e.feed == DEATHS]
    assert deaths == [0, 4, 8, 12, 16]
    assert all(e.feed == CHECKS and e.planted is None for e in events[17:])
    assert {e.planted for e in events if e.planted} == {p.person_id for p in dying}
    serials = [e.row["业务流水号"] for e in events if e.feed == DEATHS]
    assert len(set(serials)) == 5 and all(s.startswith("T") for s in serials)


def _alert(person: str, type_: str = ALERT_TYPE, version: int = 1) -> bytes:
    detected = dt.datetime.fromtimestamp(101.5, dt.UTC).isoformat()
    body = {"person_id": person, "type": type_, "version": version, "detected_at": detected}
    return json.dumps(body).encode()


def test_latency_counts_from_when_the_event_was_due_and_flags_other_alerts() -> None:
    mix = Mix(PEOPLE[:2], PEOPLE[2:], 1.0, dt.date(2026, 11, 28), "T")
    tracker = Tracker()
    tracker.planted(mix.next(True), "http", due=100.0)
    tracker.planted(mix.next(True), "raw", due=100.0)
    tracker.planted(mix.next(False), "raw", due=100.0)
    tracker.alert(_alert("P000"), now=102.0)
    tracker.alert(_alert("P000", version=2), now=103.0)  # an update: not a second alert
    tracker.alert(_alert("P005", "VEHICLE_OWNER"), now=103.0)
    assert tracker.missing == 1
    result = summarize(tracker, Load(rate=2.0, seconds=1.5, http_records=1, alert_share=1.0), 1.5)
    assert (result.events, result.planted, result.found, result.missing) == (3, 2, 1, 1)
    assert result.unexpected == {"VEHICLE_OWNER": 1}
    assert (result.p50, result.p99, result.store_p50) == (2.0, 2.0, 1.5)
    http, raw = result.ways
    assert (http.way, http.found, http.p50) == ("http", 1, 2.0)
    assert (raw.way, raw.events, raw.found, math.isnan(raw.p50)) == ("raw", 2, 0, True)
