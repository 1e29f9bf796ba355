"""Detection latency: a steady load of small deliveries, half as HTTP requests to the web app's
ingest API, half as records on dept.FEED.raw (read by `welfare-watch connectors`), while a
plain consumer of the `alerts` topic notes when each planted death's alert appears.

Open loop: each delivery is due at a fixed time, and its latency counts from then, whether or
not the server was ready to take it (a slow server shows as latency, not as a lower rate).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.events import ALERT_TYPE, Event, Mix
from bench.report import percentile
from welfare_watch import kafka, names, security

TICK = 0.01  # seconds between two sends of raw records


@dataclass(frozen=True)
class Load:
    rate: float  # events/s, both ways together
    seconds: float  # how long the load is offered
    http_records: int  # records per HTTP request (one delivery)
    alert_share: float  # of the events, deaths that must each raise one alert


@dataclass
class Tracker:
    """Planted events as sent, their alerts as seen; anything else on `alerts` is unexpected."""

    sent: dict[str, tuple[str, float]] = field(default_factory=dict)  # person -> (way, due)
    seen: dict[str, float] = field(default_factory=dict)  # person -> on the topic (epoch s)
    detected: dict[str, float] = field(default_factory=dict)  # person -> alert's detected_at
    unexpected: Counter[str] = field(default_factory=Counter)  # alert type -> new alerts
    events: Counter[str] = field(default_factory=Counter)  # way -> events sent
    failed: Counter[str] = field(default_factory=Counter)  # way -> events refused
    last_sent: float = 0.0  # when the last event was handed to its way (epoch s)

    def planted(self, event: Event, way: str, due: float) -> None:
        self.events[way] += 1
        self.last_sent = time.time()
        if event.planted is not None:
            self.sent[event.planted] = (way, due)

    def refused(self, events: list[Event], way: str) -> None:
        self.failed[way] += len(events)
        for event in events:
            if event.planted is not None:
                self.sent.pop(event.planted, None)

    def alert(self, value: bytes, now: float) -> None:
        alert = json.loads(value)
        person, type_ = alert["person_id"], alert["type"]
        if type_ == ALERT_TYPE and person in self.sent:
            if person not in self.seen and alert.get("version", 1) == 1:  # new, not an update
                self.seen[person] = now
                self.detected[person] = dt.datetime.fromisoformat(alert["detected_at"]).timestamp()
        elif alert.get("version", 1) == 1:
            self.unexpected[type_] += 1

    @property
    def missing(self) -> int:
        return len(self.sent) - len(self.seen)


class AlertWatch:
    """Reads `alerts` from its end as it was when started, as any consumer of it would."""

    def __init__(self, bootstrap: str, tracker: Tracker) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            **security.aiokafka_options(),
        )
        self._bootstrap = bootstrap
        self._tracker = tracker
        self._stop = asyncio.Event()

    async def start(self) -> None:
        await self._consumer.start()
        parts = await asyncio.to_thread(kafka.partitions, self._bootstrap, names.ALERTS)
        if not parts:
            raise RuntimeError(f"no topic {names.ALERTS} on Kafka: is the worker running?")
        assigned = [TopicPartition(names.ALERTS, p) for p in sorted(parts)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        for tp in assigned:  # resolve the end now: what comes later is the load's
            await self._consumer.position(tp)

    async def run(self) -> None:
        while not self._stop.is_set():
            batches = await self._consumer.getmany(timeout_ms=50, max_records=5000)
            now = time.time()
            for records in batches.values():
                for record in records:
                    if record.value is not None:
                        self._tracker.alert(record.value, now)

    async def stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        await self._consumer.stop()


def _body(events: list[Event]) -> bytes:
    return "".join(json.dumps(e.row, ensure_ascii=False) + "\n" for e in events).encode()


async def http_way(
    url: str, tokens: dict[str, str], mix: Mix, load: Load, tracker: Tracker, start: float
) -> None:
    """Requests of `http_records` records each, one feed per request, at half the rate."""
    interval = load.http_records / (load.rate / 2)
    pending: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        index = 0
        while index * interval < load.seconds:
            due = start + index * interval
            await asyncio.sleep(max(0.0, due - time.time()))
            events = [mix.next(mix.is_death(index)) for _ in range(load.http_records)]
            by_feed: dict[str, list[Event]] = defaultdict(list)
            for event in events:
                by_feed[event.feed].append(event)
                tracker.planted(event, "http", due)
            for feed, batch in by_feed.items():
                task = asyncio.create_task(_post(session, url, feed, tokens[feed], batch, tracker))
                pending.add(task)
                task.add_done_callback(pending.discard)
            index += 1
        if pending:
            await asyncio.gather(*pending)


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    feed: str,
    token: str,
    events: list[Event],
    tracker: Tracker,
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    try:
        async with session.post(
            f"{url}/api/ingest/{feed}", data=_body(events), headers=headers
        ) as r:
            reply: dict[str, Any] = await r.json() if r.status == 200 else {}
            if r.status != 200 or reply.get("accepted") != len(events):
                tracker.refused(events, "http")
    except (aiohttp.ClientError, TimeoutError):
        tracker.refused(events, "http")


async def raw_way(bootstrap: str, mix: Mix, load: Load, tracker: Tracker, start: float) -> None:
    """Records on dept.FEED.raw, a few every TICK, at half the rate."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=0, **security.aiokafka_options()
    )
    await producer.start()
    try:
        per_tick = load.rate / 2 * TICK
        sent, tick = 0, 0
        while tick * TICK < load.seconds:
            due = start + tick * TICK
            await asyncio.sleep(max(0.0, due - time.time()))
            while sent < per_tick * (tick + 1):
                event = mix.next(mix.is_death(sent))
                tracker.planted(event, "raw", due)
                value = json.dumps(event.row, ensure_ascii=False).encode()
                await producer.send(names.raw_topic(event.feed), value=value)
                sent += 1
            tick += 1
        await producer.flush()
    finally:
        await producer.stop()


@dataclass(frozen=True)
class WayLatency:
    way: str
    events: int
    refused: int
    planted: int
    found: int
    p50: float
    p99: float
    max: float


@dataclass(frozen=True)
class LatencyResult:
    rate_offered: float
    rate_sent: float  # events handed to their way / seconds from the first to the last
    seconds: float
    http_records: int
    events: int
    planted: int
    found: int
    missing: int
    unexpected: dict[str, int]
    p50: float  # sent -> on the alerts topic, both ways
    p99: float
    max: float
    store_p50: float  # sent -> the alert's detected_at (saved by the worker)
    store_p99: float
    ways: list[WayLatency]


def summarize(tracker: Tracker, load: Load, ran: float) -> LatencyResult:
    topic = {p: tracker.seen[p] - due for p, (_, due) in tracker.sent.items() if p in tracker.seen}
    stored = [tracker.detected[p] - tracker.sent[p][1] for p in tracker.detected]
    ways = []
    for way in ("http", "raw"):
        values = [v for p, v in topic.items() if tracker.sent[p][0] == way]
        planted = sum(1 for w, _ in tracker.sent.values() if w == way)
        ways.append(WayLatency(
            way, tracker.events[way], tracker.failed[way], planted, len(values),
            percentile(values, 50), percentile(values, 99), max(values, default=float("nan")),
        ))  # fmt: skip
    values = list(topic.values())
    return LatencyResult(
        rate_offered=load.rate,
        rate_sent=sum(tracker.events.values()) / ran if ran > 0 else 0.0,
        seconds=load.seconds,
        http_records=load.http_records,
        events=sum(tracker.events.values()),
        planted=len(tracker.sent),
        found=len(topic),
        missing=tracker.missing,
        unexpected=dict(tracker.unexpected),
        p50=percentile(values, 50),
        p99=percentile(values, 99),
        max=max(values, default=float("nan")),
        store_p50=percentile(stored, 50),
        store_p99=percentile(stored, 99),
        ways=ways,
    )


async def measure(
    bootstrap: str,
    web_url: str,
    tokens: dict[str, str],
    mixes: tuple[Mix, Mix],
    load: Load,
    drained: Callable[[], bool],
    drain_timeout: float,
) -> LatencyResult:
    """Offer the load, then wait until every planted alert is seen, or until nothing is left
    outstanding (`drained`, a blocking check) and a few seconds more, or `drain_timeout`."""
    tracker = Tracker()
    watch = AlertWatch(bootstrap, tracker)
    try:
        await watch.start()
    except BaseException:
        await watch.close()
        raise
    watching = asyncio.create_task(watch.run())
    try:
        start = time.time() + 0.5
        await asyncio.gather(
            http_way(web_url, tokens, mixes[0], load, tracker, start),
            raw_way(bootstrap, mixes[1], load, tracker, start),
        )
        ran = tracker.last_sent - start  # the generators' pace, not the server's replies
        deadline = time.monotonic() + drain_timeout
        quiet_since: float | None = None
        while tracker.missing and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            if await asyncio.to_thread(drained):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 10:
                    break  # nothing is on its way: what is missing is lost
            else:
                quiet_since = None
    finally:
        await watch.stop()
        await watching
        await watch.close()
    return summarize(tracker, load, ran)


async def warm_up(bootstrap: str, web_url: str, tokens: dict[str, str], event: Event) -> None:
    """One record each way, so that the load starts on connections and groups already made."""
    tracker = Tracker()
    async with aiohttp.ClientSession() as session:
        await _post(session, web_url, event.feed, tokens[event.feed], [event], tracker)
    if tracker.failed:
        raise RuntimeError(f"the web app refused a {event.feed} record; see its log")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **security.aiokafka_options())
    await producer.start()
    try:
        value = json.dumps(event.row, ensure_ascii=False).encode()
        await producer.send_and_wait(names.raw_topic(event.feed), value=value)
    finally:
        await producer.stop()
