"""The Kafka way in: departments publish their records to `dept.{feed}.raw`.

Each poll's records of one feed become one delivery (see connectors.delivery), and a poll
gathers what arrives within GATHER. A delivery costs the worker an end marker on every
partition and a look at its pending set there, whatever its size: records that trickle in
are better delivered ten times a second than in whatever few a poll happens to find (at 1,000
records/s, 60 deliveries/s of 17 records; bench/RESULTS.md, session 8). Offsets are committed
only after the facts are on the worker's input, so a crash re-reads some records: harmless,
since the worker keeps one fact per department record (exactly once in effect).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError

from connectors.ids import redact
from connectors.parse import Rejection, parse_message
from connectors.sink import DeliveryResult, DeliverySink
from welfare_watch import kafka, names, security
from welfare_watch.errors import WelfareWatchError
from welfare_watch.settings import Settings

log = logging.getLogger("welfare_watch.connectors.raw")

GROUP = f"{names.WORKER_GROUP}-connectors"
RAW_PATTERN = r"^dept\..+\.raw$"
GATHER = 0.1  # seconds the broker holds a poll's fetch while less than GATHER_BYTES is there
GATHER_BYTES = 1_000_000


def feed_of(topic: str) -> str:
    """`dept.psb_deaths.raw` -> `psb_deaths`."""
    return topic.removeprefix("dept.").removesuffix(".raw")


def _unconfigured(feed: str, source: str, value: bytes, at: dt.datetime) -> Rejection:
    return Rejection(
        feed=feed,
        source=source,
        record={"message": value.decode("utf-8", errors="replace")},
        reason=f"no feed named {feed!r} is configured; add it to the configuration",
        received_at=at,
    )


class RawTopics:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        bootstrap = settings.env.kafka_bootstrap
        kafka.ensure_topics(bootstrap, [names.raw_topic(f) for f in settings.feeds], 1)
        try:
            self._consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=GROUP,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                metadata_max_age_ms=30_000,  # a new dept.*.raw topic is found within 30 s
                fetch_min_bytes=GATHER_BYTES,
                fetch_max_wait_ms=int(GATHER * 1000),
                **security.kafka_options(),
            )
        except KafkaError as exc:
            raise WelfareWatchError(f"cannot reach Kafka at {bootstrap} ({exc})") from None
        self._consumer.subscribe(pattern=RAW_PATTERN)
        self._producer = kafka.producer(bootstrap)

    def poll(self, timeout: float = 1.0) -> list[DeliveryResult]:
        """One poll: every record read becomes a fact or a rejection, then offsets commit."""
        batches = self._consumer.poll(timeout_ms=int(timeout * 1000), max_records=5000)
        by_topic: dict[str, list[Any]] = defaultdict(list)
        for records in batches.values():
            for record in records:
                by_topic[record.topic].append(record)
        try:
            results = [self._deliver(t, records) for t, records in sorted(by_topic.items())]
        except BaseException:  # nothing of this poll counts as read: the next poll reads it again
            for tp, records in batches.items():  # (what did get through is sent twice, and the
                self._consumer.seek(tp, records[0].offset)  # worker keeps a record once)
            raise
        if results:
            self._consumer.commit()
        return results

    def _deliver(self, topic: str, records: list[Any]) -> DeliveryResult:
        feed = feed_of(topic)
        spec = self._settings.feeds.get(feed)
        payments = spec is not None and spec.fact == "payment"
        with DeliverySink(
            self._settings, feed, f"kafka:{topic}", payments=payments, producer=self._producer
        ) as sink:
            for record in records:
                source = f"kafka:{topic}/{record.partition}/{record.offset}"
                value = record.value or b""
                if spec is None:  # a topic for a feed nobody configured: say so, lose nothing
                    sink.send(_unconfigured(feed, source, value, sink.received_at))
                else:
                    sink.send(parse_message(spec, value, sink.received_at, source))
        return sink.result

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                for result in self.poll():
                    log.info("%s: received %d, accepted %d, rejected %d", result.source,
                             result.received, result.accepted, result.rejected)  # fmt: skip
            except (KafkaError, WelfareWatchError) as exc:
                log.error("raw topics: %s; retrying", redact(str(exc)))
                stop.wait(2.0)

    def close(self) -> None:
        self._consumer.close()
        self._producer.close()
