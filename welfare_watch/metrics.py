"""Prometheus metrics (prefix welfare_watch_, base units). Never a person in a label.

These are counted where things happen, in whichever process does them; what is read instead
(open alerts, feed freshness, consumer lag) is in store_metrics.py and lag_metrics.py. Under
`welfare-watch run` every process writes its metrics to PROMETHEUS_MULTIPROC_DIR and the web
app serves them as one (exposition.py); so every Gauge says how its processes combine.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

# Detection latency: the spec's promise is "within seconds"; the p99 alert fires above 5 s.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)


class SampledGauge(Gauge):
    """A Gauge whose value a function gives. In multiprocess mode prometheus_client cannot
    call the function at scrape time (the scrape happens in another process), so it is
    sampled into the shared file once a second instead."""

    def set_function(self, f: Callable[[], float]) -> None:
        if not _multiprocess():
            super().set_function(f)
            return

        def sample() -> None:
            while True:
                self.set(f())
                time.sleep(1.0)

        threading.Thread(target=sample, name="metrics-sampler", daemon=True).start()


def _multiprocess() -> bool:
    """The test prometheus_client itself uses (values.get_value_class)."""
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ


class Metrics:
    """All metrics on one registry; tests pass a fresh CollectorRegistry."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        # Every way in (command line, file drop, HTTP, dept.FEED.raw) meets at two places: the
        # worker consuming a record's fact, and dept.rejected. Both count here, so `received`
        # is accepted + rejected whichever way the record came.
        self.records_received = Counter(
            "welfare_watch_records_received",
            "Department records received, per feed: accepted ones as the worker consumes "
            "them, rejected ones as they reach dept.rejected",
            ["feed"],
            registry=registry,
        )
        self.facts_processed = self.records_received  # the worker's count (streams/batch.py)
        self.records_rejected = Counter(
            "welfare_watch_records_rejected",
            "Department records rejected to dept.rejected, per feed (read from the topic)",
            ["feed"],
            registry=registry,
        )
        self.http_records = Counter(
            "welfare_watch_http_ingest_records",
            "Records departments pushed to POST /api/ingest/FEED, per feed and outcome "
            "(accepted, rejected): one way in of several, already part of records_received",
            ["feed", "outcome"],
            registry=registry,
        )
        self.last_record = Gauge(
            "welfare_watch_worker_last_fact_timestamp_seconds",
            "When a worker last consumed a fact of each feed, since it started (the feed's "
            "last delivery, kept in the store: welfare_watch_feed_last_record_timestamp_seconds)",
            ["feed"],
            multiprocess_mode="max",
            registry=registry,
        )
        self.worker_rejected = Counter(
            "welfare_watch_worker_rejected",
            "Worker input messages it could not read (sent to dept.rejected), per topic",
            ["topic"],
            registry=registry,
        )
        self.alerts = Counter(
            "welfare_watch_alerts",
            "Alerts opened, per type and severity",
            ["type", "severity"],
            registry=registry,
        )
        self.alert_changes = Counter(
            "welfare_watch_alert_changes",
            "Changes to existing alerts, per kind of change",
            ["action"],
            registry=registry,
        )
        self.detection_latency = Histogram(
            "welfare_watch_detection_latency_seconds",
            "From a connector receiving the newest evidence to the alert being written",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.false_matches = Counter(
            "welfare_watch_false_matches",
            "Alerts resolved as false matches, per department feed whose records made them",
            ["feed"],
            registry=registry,
        )
        self.scan_skipped = Counter(
            "welfare_watch_scan_skipped_people",
            "People a scan could not judge for a rule that concludes from a missing record, "
            "because the feed that would carry it is not current (the log line says why)",
            ["rule"],
            registry=registry,
        )
        self.scan_seconds = Histogram(
            "welfare_watch_scan_duration_seconds",
            "Time the daily scan takes to queue a re-check of everyone on the roster",
            buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "welfare_watch_worker_batch_seconds",
            "Time the worker spends on one batch of events",
            registry=registry,
        )
        # --- poison and dead letters (streams.retry, streams.deadletter) ---
        self.oldest_batch_age = SampledGauge(
            "welfare_watch_worker_oldest_unprocessed_batch_age_seconds",
            "Now minus when the batch in flight was taken from Kafka; 0 when idle. Grows while "
            "the worker waits out a Redis or Kafka outage or isolates a poison message",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.transient_retries = Counter(
            "welfare_watch_worker_transient_retries",
            "Batches retried after a Redis or Kafka error that passes (connection, timeout, "
            "loading, read-only), per kind of error",
            ["error"],
            registry=registry,
        )
        self.read_again = Counter(
            "welfare_watch_worker_read_again_messages",
            "Input messages read back from Kafka because the store lacked them: Kafka's commit "
            "was ahead of what Redis kept, or Redis came back without its last writes",
            registry=registry,
        )
        self.dead_letters = Counter(
            "welfare_watch_worker_dead_letters",
            "Messages sent to ww.deadletter, per topic they came from and why: `poison` (the "
            "message fails every time) or `evaluation` (a rule raised for the person)",
            ["topic", "kind"],
            registry=registry,
        )
        self.evaluation_failures = Counter(
            "welfare_watch_worker_evaluation_failures",
            "People whose evaluation raised (their facts saved, a recheck dead-lettered), per "
            "kind of error",
            ["error"],
            registry=registry,
        )
