"""Prometheus metrics (prefix welfare_watch_, base units). Never a person in a label."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """All metrics on one registry; tests pass a fresh CollectorRegistry."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.records_received = Counter(
            "welfare_watch_records_received",
            "Department records received, per feed",
            ["feed"],
            registry=registry,
        )
        self.last_record = Gauge(
            "welfare_watch_last_record_timestamp_seconds",
            "When the worker last received a record from each feed (a silent department shows)",
            ["feed"],
            registry=registry,
        )
        self.records_rejected = Counter(
            "welfare_watch_records_rejected",
            "Department records rejected to dept.rejected, per feed",
            ["feed"],
            registry=registry,
        )
        self.facts_processed = Counter(
            "welfare_watch_worker_facts_processed",
            "Department facts the worker has joined against the roster, per feed",
            ["feed"],
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
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
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
        self.batch_seconds = Histogram(
            "welfare_watch_worker_batch_seconds",
            "Time the worker spends on one batch of events",
            registry=registry,
        )
        # --- poison and dead letters (streams.retry, streams.deadletter) ---
        self.oldest_batch_age = Gauge(
            "welfare_watch_worker_oldest_unprocessed_batch_age_seconds",
            "Now minus when the batch in flight was taken from Kafka; 0 when idle. Grows while "
            "the worker waits out a Redis or Kafka outage or isolates a poison message",
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
