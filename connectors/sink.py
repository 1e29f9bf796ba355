"""Where every way in (command line, file drop, HTTP) sends one delivery's records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import TracebackType

from connectors.delivery import end_delivery, new_delivery_id
from connectors.feedspec import FeedSpec
from connectors.parse import Record, Rejection
from connectors.wire import FactEncoder
from welfare_watch import kafka, names
from welfare_watch.models import Fact
from welfare_watch.settings import Settings


@dataclass
class DeliveryResult:
    """What a file report or an HTTP reply says: accepted + rejected = received."""

    feed: str
    source: str
    accepted: int = 0
    rejected: int = 0

    @property
    def received(self) -> int:
        return self.accepted + self.rejected


def sink_for(
    settings: Settings, spec: FeedSpec, source: str, producer: kafka.Producer | None = None
) -> DeliverySink:
    """The sink for one delivery of a configured feed."""
    return DeliverySink(
        settings, spec.name, source, payments=spec.fact == "payment", producer=producer
    )


class DeliverySink:
    """Facts to the worker (tagged with one delivery id), rejections to dept.rejected.

    Use as a context manager: on leaving, even after an error, the delivery's end marker is
    sent, so everything that was delivered gets evaluated.
    """

    def __init__(
        self,
        settings: Settings,
        feed: str,
        source: str,
        *,
        payments: bool = False,
        producer: kafka.Producer | None = None,
    ) -> None:
        self.received_at = dt.datetime.now(dt.UTC)
        self.result = DeliveryResult(feed, source)
        self._payments = payments
        self._bootstrap = settings.env.kafka_bootstrap
        self._delivery = new_delivery_id()
        self._facts = FactEncoder(self._delivery)
        self._own_producer = producer is None
        if producer is None:
            partitions = settings.policy.worker.partitions
            kafka.ensure_topics(self._bootstrap, names.WORKER_INPUTS, partitions)
            kafka.ensure_topics(self._bootstrap, [names.REJECTED], 1)
            producer = kafka.producer(self._bootstrap)
        self._producer = producer

    def send(self, item: Record | Fact | Rejection) -> None:
        if isinstance(item, Record):  # the fact, tagged with this delivery
            self._producer.send(names.FACTS, self._facts.record(item), item.person_id.encode())
            self.result.accepted += 1
        elif isinstance(item, Fact):
            self._producer.send(names.FACTS, self._facts.fact(item), item.person_id.encode())
            self.result.accepted += 1
        else:
            self._producer.send(names.REJECTED, value=item.as_json(self.received_at))
            self.result.rejected += 1

    def __enter__(self) -> DeliverySink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # A delivery cut short by an error does not count as the feed having delivered.
            feed = self.result.feed if exc_type is None else ""
            end_delivery(self._producer, self._bootstrap, self._delivery, self._payments, feed)
        finally:
            if self._own_producer:
                self._producer.close()
