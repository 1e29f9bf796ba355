"""The web app's one Kafka producer, lent to one ingest request at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from welfare_watch import kafka, names
from welfare_watch.settings import Settings


class SharedProducer:
    """The app's one Kafka producer for every ingest request: made (and the topics checked)
    at the first request, not at each, and lent to one delivery at a time, so that a flush
    that fails belongs to exactly the request that sent it (`welfare_watch.kafka.Producer`
    counts failures since its last flush). A request costs its records and two flushes; a
    very large body makes the requests after it wait until it is sent."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._producer: kafka.Producer | None = None

    @contextmanager
    def lend(self) -> Iterator[kafka.Producer]:
        """The producer, to one caller at a time (blocking: call it in a thread)."""
        with self._lock:
            if self._producer is None:
                bootstrap = self._settings.env.kafka_bootstrap
                partitions = self._settings.policy.worker.partitions
                kafka.ensure_topics(bootstrap, names.WORKER_INPUTS, partitions)
                kafka.ensure_topics(bootstrap, [names.REJECTED], 1)
                self._producer = kafka.producer(bootstrap)
            yield self._producer

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None
