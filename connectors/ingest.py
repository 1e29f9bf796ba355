"""`ingest FEED FILE`: one department file through its connector onto Kafka."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from connectors.delivery import end_delivery, new_delivery_id
from connectors.parse import Rejection, parse_feed
from welfare_watch import kafka, names
from welfare_watch.errors import WelfareWatchError
from welfare_watch.models import Fact
from welfare_watch.settings import Settings


@dataclass
class IngestResult:
    feed: str
    accepted: int = 0
    rejected: int = 0

    @property
    def received(self) -> int:
        return self.accepted + self.rejected


def rejection_message(rejection: Rejection, at: dt.datetime) -> bytes:
    body = rejection.model_dump(mode="json") | {"rejected_at": at.isoformat()}
    return json.dumps(body, ensure_ascii=False).encode()


def ingest_file(
    settings: Settings, feed: str, path: Path, progress: Callable[[int], None] = lambda n: None
) -> IngestResult:
    spec = settings.feeds.get(feed)
    if spec is None:
        known = ", ".join(sorted(settings.feeds))
        raise WelfareWatchError(f"unknown feed {feed!r}; configured feeds: {known}")
    if not path.is_file():
        raise WelfareWatchError(f"no such file: {path}")
    received_at = dt.datetime.now(dt.UTC)
    bootstrap = settings.env.kafka_bootstrap
    kafka.ensure_topics(bootstrap, names.WORKER_INPUTS, settings.policy.worker.partitions)
    kafka.ensure_topics(bootstrap, [names.REJECTED], 1)
    producer = kafka.producer(bootstrap)
    result = IngestResult(feed)
    delivery = new_delivery_id()
    try:
        for item in parse_feed(spec, path, received_at, f"file:{path.name}"):
            if isinstance(item, Fact):
                value = item.model_copy(update={"delivery": delivery}).model_dump_json().encode()
                producer.send(names.FACTS, key=item.person_id.encode(), value=value)
                result.accepted += 1
            else:
                producer.send(names.REJECTED, value=rejection_message(item, received_at))
                result.rejected += 1
            if result.received % 1000 == 0:
                progress(1000)
        progress(result.received % 1000)
    finally:
        # Even a file that failed half-way is evaluated for what it delivered.
        end_delivery(producer, bootstrap, delivery, payment=spec.fact == "payment")
        producer.close()
    return result
