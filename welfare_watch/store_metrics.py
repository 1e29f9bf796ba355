"""Open alerts, their age, and each feed's freshness, read from Redis at scrape time.

A count kept by incrementing would drift (a restart, a replay, a resolve in another process):
these are read from the store by one process, the web app, whenever Prometheus scrapes it.

The keys read (welfare_watch/names.py), all read-only:
- `queue_key("*")`, by SCAN: each queue's sorted set of open alert ids;
- the alert index (names.alert_index_key): alert id -> person id;
- each person's `names.PERSON_ALERTS` field (streams/people.py): JSON {alert id: alert}, of
  which only `severity`, `district_code`, `status`, `detected_at` and `due_by` are used;
- FEED_DELIVERED: sorted set feed -> when its latest delivery was completed (epoch seconds).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from alerts import index as alert_index
from alerts.model import OPEN_STATUSES
from streams.people import fields as person_fields
from welfare_watch import names

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "high", "medium", "low")
_CHUNK = 500  # ids or people per HMGET


@dataclass(frozen=True)
class OpenAlert:
    """What the metrics need of an open alert: nothing about the person."""

    severity: str
    district: str
    detected_at: float  # epoch seconds
    due_by: float


@dataclass(frozen=True)
class FeedClock:
    """A configured feed: how often it should deliver (None: no expectation)."""

    name: str
    expected_every_days: int | None = None


@dataclass
class Snapshot:
    """Everything the collector reports, computed from the store at one instant."""

    open: dict[tuple[str, str], int] = field(default_factory=dict)  # (severity, district)
    overdue: dict[tuple[str, str], int] = field(default_factory=dict)
    oldest: dict[str, float] = field(default_factory=dict)  # severity -> age (s)
    oldest_in: dict[tuple[str, str], float] = field(default_factory=dict)
    last_delivery: dict[str, float] = field(default_factory=dict)  # feed -> epoch seconds
    interval: dict[str, float] = field(default_factory=dict)  # feed -> expected interval (s)
    feed_overdue: dict[str, int] = field(default_factory=dict)


def summarise(
    alerts: Iterable[OpenAlert],
    delivered: Mapping[str, float],
    feeds: Sequence[FeedClock],
    districts: Sequence[str],
    now: float,
) -> Snapshot:
    """The pure part: every (severity, configured district) and configured feed is present,
    with 0 when nothing is open or overdue, so that a panel or a rule never sees a gap."""
    snap = Snapshot()
    for severity in SEVERITIES:
        snap.oldest[severity] = 0.0
        for district in districts:
            snap.open[(severity, district)] = 0
            snap.overdue[(severity, district)] = 0
            snap.oldest_in[(severity, district)] = 0.0
    for alert in alerts:
        key = (alert.severity, alert.district)
        age = max(0.0, now - alert.detected_at)
        snap.open[key] = snap.open.get(key, 0) + 1
        snap.overdue[key] = snap.overdue.get(key, 0) + (1 if alert.due_by < now else 0)
        snap.oldest[alert.severity] = max(snap.oldest.get(alert.severity, 0.0), age)
        snap.oldest_in[key] = max(snap.oldest_in.get(key, 0.0), age)
    for feed in feeds:
        last = delivered.get(feed.name)
        if last is not None:
            snap.last_delivery[feed.name] = last
        if feed.expected_every_days is None:
            snap.feed_overdue[feed.name] = 0
            continue
        interval = feed.expected_every_days * 86400.0
        snap.interval[feed.name] = interval
        snap.feed_overdue[feed.name] = int(last is None or now - last > interval)
    return snap


def read_open_alerts(
    client: redis.Redis, district_of: Callable[[str], str] = lambda code: code
) -> list[OpenAlert]:
    """Every open alert in a queue, read in chunks (a round trip per chunk, not per alert)."""
    queues = list(client.scan_iter(match=names.queue_key("*"), count=1000))
    ids: list[str] = []
    if queues:
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.zrange(queue, 0, -1)
        for members in cast(list[list[bytes]], pipe.execute()):
            ids.extend(m.decode() for m in members)
    ids = sorted(set(ids))
    person_of: dict[str, str] = {}
    for chunk in _chunks(ids):
        asked = alert_index.groups(chunk)
        pipe = client.pipeline(transaction=False)
        for key, wanted_ids in asked:
            pipe.hmget(key, wanted_ids)
        person_of.update(alert_index.owners(asked, pipe.execute()))
    wanted = set(person_of)
    out: list[OpenAlert] = []
    for chunk in _chunks(sorted(set(person_of.values()))):
        for raw in person_fields(client, chunk, names.PERSON_ALERTS):
            for alert_id, alert in (json.loads(raw) if raw else {}).items():
                if alert_id in wanted and alert.get("status") in OPEN_STATUSES:
                    out.append(_open_alert(alert, district_of))
    return out


def read_deliveries(client: redis.Redis) -> dict[str, float]:
    pairs = cast(
        list[tuple[bytes, float]], client.zrange(names.FEED_DELIVERED, 0, -1, withscores=True)
    )
    return {feed.decode(): float(at) for feed, at in pairs}


class StoreCollector(Collector):
    """The prometheus_client collector: reads the store on every scrape (see the module).

    A store that cannot be read shows as welfare_watch_store_up 0 and no other sample of
    these, rather than a failed scrape that would hide the other processes' metrics too."""

    def __init__(
        self,
        client: redis.Redis,
        feeds: Sequence[FeedClock],
        districts: Sequence[str],
        district_of: Callable[[str], str] = lambda code: code,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._feeds = feeds
        self._districts = districts
        self._district_of = district_of
        self._clock = clock

    def describe(self) -> Iterable[Any]:
        return []  # nothing read when registering: the store is read at scrape time only

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "welfare_watch_store_up", "1 when the web app could read the store at this scrape"
        )
        try:
            alerts = read_open_alerts(self._client, self._district_of)
            delivered = read_deliveries(self._client)
        except (redis.RedisError, OSError, ValueError) as exc:
            log.warning("metrics: could not read the store (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        snap = summarise(alerts, delivered, self._feeds, self._districts, self._clock())
        yield from families(snap)


def families(snap: Snapshot) -> Iterator[GaugeMetricFamily]:
    by_district = ["severity", "district"]
    yield _family(
        "welfare_watch_open_alerts",
        "Open (or acknowledged) alerts, per severity and district",
        by_district,
        snap.open,
    )
    yield _family(
        "welfare_watch_overdue_open_alerts",
        "Open alerts past their due time (SLA), per severity and district",
        by_district,
        snap.overdue,
    )
    yield _family(
        "welfare_watch_oldest_open_alert_age_seconds",
        "Age of the oldest open alert, per severity (0: none open)",
        ["severity"],
        {(k,): v for k, v in snap.oldest.items()},
    )
    yield _family(
        "welfare_watch_oldest_open_alert_age_by_district_seconds",
        "Age of the oldest open alert, per severity and district (0: none open)",
        by_district,
        snap.oldest_in,
    )
    yield _family(
        "welfare_watch_feed_last_record_timestamp_seconds",
        "When each feed's latest complete delivery was received (absent: none yet)",
        ["feed"],
        {(k,): v for k, v in snap.last_delivery.items()},
    )
    yield _family(
        "welfare_watch_feed_expected_interval_seconds",
        "How often each feed is expected to deliver (config/feeds.toml expected_every_days)",
        ["feed"],
        {(k,): v for k, v in snap.interval.items()},
    )
    yield _family(
        "welfare_watch_feed_overdue",
        "1 when a feed with an expected interval has not delivered within it (or ever)",
        ["feed"],
        {(k,): v for k, v in snap.feed_overdue.items()},
    )


def _family(
    name: str, doc: str, labels: list[str], values: Mapping[Any, float]
) -> GaugeMetricFamily:
    """`values`: label values (a tuple in the order of `labels`) -> value."""
    family = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _open_alert(alert: Mapping[str, Any], district_of: Callable[[str], str]) -> OpenAlert:
    return OpenAlert(
        severity=str(alert["severity"]),
        district=district_of(str(alert["district_code"])),
        detected_at=_epoch(alert["detected_at"]),
        due_by=_epoch(alert["due_by"]),
    )


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])
