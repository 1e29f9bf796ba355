"""Plain Kafka clients for commands and connectors: topics, producing, consumer lag, reset."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    CoordinatorNotAvailableError,
    KafkaError,
    NotCoordinatorError,
    TopicAlreadyExistsError,
)

from welfare_watch import names, security
from welfare_watch.errors import WelfareWatchError

_TIMEOUT_MS = 10_000


def consumer_for(bootstrap: str, *topics: str, **configs: Any) -> Any:
    """A kafka-python KafkaConsumer with the cluster's TLS/SASL settings (security.py)."""
    configs.setdefault("request_timeout_ms", _TIMEOUT_MS)
    return KafkaConsumer(
        *topics, bootstrap_servers=bootstrap, **security.kafka_options(), **configs
    )


def _unreachable(bootstrap: str, exc: Exception) -> WelfareWatchError:
    return WelfareWatchError(
        f"cannot reach Kafka at {bootstrap} ({type(exc).__name__}); "
        "start it with 'welfare-watch stack up' or set WW_KAFKA_BOOTSTRAP"
    )


@contextmanager
def admin(bootstrap: str) -> Iterator[Any]:
    try:
        client = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="welfare-watch-admin",
            **security.kafka_options(),
            request_timeout_ms=_TIMEOUT_MS,
            bootstrap_timeout_ms=_TIMEOUT_MS,
        )
    except KafkaError as exc:
        raise _unreachable(bootstrap, exc) from None
    try:
        yield client
    finally:
        client.close()


def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int) -> None:
    """Create the topics that do not exist yet (keyed topics share one partition count)."""
    with admin(bootstrap) as client:
        missing = set(topics) - set(client.list_topics())
        if not missing:
            return
        new = [
            NewTopic(name=t, num_partitions=partitions, replication_factor=1)
            for t in sorted(missing)
        ]
        with suppress(TopicAlreadyExistsError):
            client.create_topics(new, timeout_ms=_TIMEOUT_MS)


class NotDelivered(WelfareWatchError):
    """Kafka did not acknowledge records that were sent: whatever they belong to (a delivery,
    a scan) did not go through and must be sent again (the worker ignores a fact it has)."""


class _Producer(KafkaProducer):  # type: ignore[misc]
    """A KafkaProducer whose flush() raises NotDelivered when a record sent before it failed.

    KafkaProducer.flush() returns once every record has succeeded *or failed* (a broker down
    longer than delivery_timeout_ms): a file report or an HTTP reply given after it must not
    count records that were lost. Each record's failure is collected as it happens (before the
    flush that waits on it returns) and reported by the next flush."""

    def __init__(self, **configs: Any) -> None:
        super().__init__(**configs)
        self._lock = threading.Lock()
        self._failures: list[BaseException] = []

    def send(self, *args: Any, **kwargs: Any) -> Any:
        future = super().send(*args, **kwargs)
        future.add_errback(self._failed)
        return future

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._failures.append(exc)

    def flush(self, timeout: float | None = None) -> None:
        super().flush(timeout)
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            raise NotDelivered(
                f"Kafka did not acknowledge {len(failures)} record(s) "
                f"({type(failures[0]).__name__}); nothing of this was accepted: send it again"
            )


def producer(bootstrap: str) -> Any:
    """Every record acknowledged by all in-sync replicas (acks=all); idempotent, so the
    producer's own retries (a broker restart) neither duplicate nor reorder a partition; it
    retries until delivery_timeout_ms (120 s), and flush() raises NotDelivered for a record
    that still failed."""
    try:
        return _Producer(
            bootstrap_servers=bootstrap,
            client_id="welfare-watch",
            **security.kafka_options(),
            acks="all",
            linger_ms=20,
            batch_size=256 * 1024,
            compression_type=None,
            enable_idempotence=True,
        )
    except KafkaError as exc:
        raise _unreachable(bootstrap, exc) from None


def partition_counts(bootstrap: str, topics: Iterable[str]) -> dict[str, int]:
    """How many partitions each existing topic of `topics` has."""
    consumer = consumer_for(bootstrap)
    try:
        return {t: len(consumer.partitions_for_topic(t) or ()) for t in topics}
    finally:
        consumer.close()


def co_partitioning_error(counts: Mapping[str, int], configured: int) -> str | None:
    """Why the worker's inputs cannot be joined, in one line; None when they can.

    A person's facts, roster changes, re-checks and commands meet in one worker only if every
    input topic has the same number of partitions (Kafka puts a key in partition
    hash(key) % count), and the worker computes a person's partition from `[worker]
    partitions`, so that must be the count too."""
    differing = sorted(f"{t}={n}" for t, n in counts.items() if n != configured)
    if not differing:
        return None
    return (
        f"the worker's input topics must all have [worker] partitions = {configured} "
        f"partitions, but {', '.join(differing)}: add partitions to the topics "
        "(kafka-topics.sh --alter) or set [worker] partitions to match"
    )


def partitions(bootstrap: str, topic: str) -> list[int]:
    consumer = consumer_for(bootstrap)
    try:
        return sorted(consumer.partitions_for_topic(topic) or ())
    finally:
        consumer.close()


def lag(
    bootstrap: str,
    group: str,
    topics: Iterable[str] | re.Pattern[str],
    saved: Mapping[tuple[str, int], int] | None = None,
) -> int:
    """Messages in `topics` that consumer group `group` has not yet committed.

    `topics` is either names (those that do not exist are skipped) or a pattern that picks
    every existing topic whose name it matches, as a consumer subscribed to it would.
    `saved`, when given, is how far the group's own store says each partition is done (the
    worker's, streams/offsets.py): a partition counts as done only as far as both say.
    """
    with admin(bootstrap) as client:
        wanted = _existing(client.list_topics(), topics)
        if not wanted:
            return 0
        try:
            committed = client.list_group_offsets(group).get(group, {})
        except (CoordinatorNotAvailableError, NotCoordinatorError):
            # No group has committed anything yet, or a fresh broker is still electing the
            # coordinator: count everything as not yet done, and the caller asks again.
            committed = {}
    consumer = consumer_for(bootstrap)
    try:
        partitions = [
            TopicPartition(t, p) for t in wanted for p in (consumer.partitions_for_topic(t) or ())
        ]
        starts = consumer.beginning_offsets(partitions)
        ends = consumer.end_offsets(partitions)
    finally:
        consumer.close()
    total = 0
    for tp, end in ends.items():
        meta = committed.get(tp)
        # What retention deleted before anyone read it will never be read: not waited for.
        done = meta.offset if meta is not None else 0
        if saved is not None and (tp.topic, tp.partition) in saved:
            done = min(done, saved[(tp.topic, tp.partition)] + 1)
        done = max(done, starts.get(tp, 0))
        total += max(0, end - done)
    return total


def _existing(existing: Iterable[str], topics: Iterable[str] | re.Pattern[str]) -> list[str]:
    present = set(existing)
    if isinstance(topics, re.Pattern):
        return sorted(t for t in present if topics.match(t))
    return [t for t in topics if t in present]


def owned_topics(all_topics: Iterable[str]) -> list[str]:
    """Every topic this project created: contract topics, internal ones, Faust's own."""
    fixed = {
        names.ROSTER_CHANGES, names.ALERTS, names.REJECTED, names.AUDIT, names.DEADLETTER,
        *names.WORKER_INPUTS,
    }  # fmt: skip
    return sorted(
        t
        for t in all_topics
        if t in fixed
        or t.startswith(f"{names.WORKER_GROUP}-")
        or (t.startswith("dept.") and t.endswith(".raw"))
    )


def delete_everything(bootstrap: str, timeout: float = 60) -> list[str]:
    """Delete every owned topic and consumer group (worker, connectors); wait until gone."""
    with admin(bootstrap) as client:
        topics = owned_topics(client.list_topics())
        if topics:
            client.delete_topics(topics, timeout_ms=_TIMEOUT_MS)
        groups = [
            g["group_id"]
            for g in client.list_groups()
            if g["group_id"] == names.WORKER_GROUP
            or g["group_id"].startswith(names.WORKER_GROUP + "-")
        ]
        if groups:
            client.delete_groups(groups)
        deadline = time.monotonic() + timeout
        while set(topics) & set(client.list_topics()):
            if time.monotonic() > deadline:
                raise WelfareWatchError("Kafka did not finish deleting the topics in time")
            time.sleep(0.2)
    return topics


def lag_by_topic(
    bootstrap: str, groups: Mapping[str, Iterable[str] | re.Pattern[str]]
) -> dict[tuple[str, str], int]:
    """(group, topic) -> messages the group has not committed yet, for every existing topic
    each group reads (names, or a pattern as in `lag`): the welfare_watch_consumer_lag metric.
    What retention deleted before anyone read it is not counted."""
    with admin(bootstrap) as client:
        existing = client.list_topics()
        wanted = {group: _existing(existing, topics) for group, topics in groups.items()}
        committed: dict[str, dict[Any, Any]] = {}
        for group in groups:
            try:
                committed[group] = client.list_group_offsets(group).get(group, {})
            except (CoordinatorNotAvailableError, NotCoordinatorError):
                committed[group] = {}
    consumer = consumer_for(bootstrap)
    try:
        topics = sorted({t for names_ in wanted.values() for t in names_})
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        starts = consumer.beginning_offsets(partitions)
        ends = consumer.end_offsets(partitions)
    finally:
        consumer.close()
    lags: dict[tuple[str, str], int] = {}
    for group, names_ in wanted.items():
        for topic in names_:
            behind = 0
            for tp, end in ends.items():
                if tp.topic == topic:
                    meta = committed[group].get(tp)
                    done = max(meta.offset if meta is not None else 0, starts.get(tp, 0))
                    behind += max(0, end - done)
            lags[(group, topic)] = behind
    return lags
