"""Consumer lag per topic and group, looked up in the background, served at scrape time.

Asking Kafka takes a while, and all the time a broker is down: a scrape must not wait for it. A
thread refreshes the numbers every few seconds; the collector serves the last ones, and none
once they are older than `stale_after` (a gap in the graph, not a stale flat line).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from welfare_watch import kafka, names

log = logging.getLogger(__name__)

Topics = Iterable[str] | re.Pattern[str]
Lookup = Callable[[], Mapping[tuple[str, str], int]]


def watched_groups() -> dict[str, Topics]:
    """Every consumer group of the product and what it reads."""
    from connectors.raw import GROUP as CONNECTORS_GROUP
    from connectors.raw import RAW_PATTERN
    from welfare_watch.rejections import GROUP as REJECTIONS_GROUP

    return {
        names.WORKER_GROUP: names.WORKER_INPUTS,
        CONNECTORS_GROUP: re.compile(RAW_PATTERN),
        REJECTIONS_GROUP: [names.REJECTED],
    }


class LagCollector(Collector):
    def __init__(
        self,
        lookup: Lookup,
        every: float = 5.0,
        stale_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._every = every
        self._stale_after = stale_after
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[float, Mapping[tuple[str, str], int]] | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_kafka(cls, bootstrap: str) -> LagCollector:
        groups = watched_groups()
        return cls(lambda: kafka.lag_by_topic(bootstrap, groups))

    def refresh(self) -> None:
        """One lookup now (the thread calls it; tests may too)."""
        lags = self._lookup()
        with self._lock:
            self._last = (self._clock(), dict(lags))

    def describe(self) -> Iterable[Any]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        self._start()
        family = GaugeMetricFamily(
            "welfare_watch_consumer_lag",
            "Messages on a topic that a consumer group has not committed yet",
            labels=["topic", "group"],
        )
        with self._lock:
            last = self._last
        if last is not None and self._clock() - last[0] <= self._stale_after:
            for (group, topic), behind in sorted(last[1].items()):
                family.add_metric([topic, group], behind)
        yield family

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="consumer-lag", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception as exc:  # Kafka down or electing: the numbers go stale, then away
                log.warning("metrics: consumer lag not available (%s)", type(exc).__name__)
            time.sleep(self._every)
