"""Plain Kafka clients for commands and connectors: topics, producing, consumer lag, reset."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import confluent_kafka
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    InvalidReplicationFactorError,
    KafkaError,
    NotCoordinatorError,
    TopicAlreadyExistsError,
)

from welfare_watch import names, security
from welfare_watch.errors import ConfigError, WelfareWatchError

_TIMEOUT_MS = 10_000
_RETRY_EVERY = 1.0  # seconds between two attempts to reach a broker that is not answering
_PROBE_TIMEOUT = 2.0  # seconds one TCP connection attempt may take
# Seconds a broker that has just started may answer that it is not ready yet: a KRaft broker
# answers before its controller has unfenced it ("All brokers are currently fenced", when
# asked to create a topic), and before it has loaded its group coordinator (listing groups).
_STARTING_FOR = 30.0
_STARTING = (InvalidReplicationFactorError, CoordinatorLoadInProgressError)
_T = TypeVar("_T")


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


def _refused(bootstrap: str) -> Exception | None:
    """Why no bootstrap address takes a TCP connection (the last address's failure: refused,
    a timeout, a name that does not resolve), or None when one does. A broker that is down or
    restarting refuses at once, where Kafka's own clients would wait their full timeout."""
    failure: Exception = ValueError(f"no host:port in {bootstrap!r}")
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=_PROBE_TIMEOUT):
                return None
        except (OSError, ValueError) as exc:
            failure = exc
    return failure


def reachable(bootstrap: str, wait: float, waiting: Callable[[], None] = lambda: None) -> None:
    """Return once Kafka answers. While no broker takes a connection (one restarting), try
    again for `wait` seconds, calling `waiting` once; then the one-line "cannot reach" error,
    naming how the last try failed."""
    deadline = time.monotonic() + wait
    told = False
    while (failure := _refused(bootstrap)) is not None:
        if time.monotonic() >= deadline:
            raise _unreachable(bootstrap, failure)
        if not told:
            waiting()
            told = True
        time.sleep(min(_RETRY_EVERY, max(deadline - time.monotonic(), 0)))
    with admin(bootstrap):  # taking connections is not answering: ask for the metadata
        return


def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int) -> None:
    """Create the topics that do not exist yet (keyed topics share one partition count)."""
    with admin(bootstrap) as client:
        create_missing(client, set(topics), partitions)


def create_missing(
    client: Any, topics: set[str], partitions: int, within: float = _STARTING_FOR
) -> None:
    """Create those of `topics` that `client` (an admin client) does not list, asking again
    while the broker is still starting, for up to `within` seconds. (Replication 1: only a
    broker not yet unfenced refuses it.)"""

    def attempt() -> None:
        if missing := topics - set(client.list_topics()):
            new = [
                NewTopic(name=t, num_partitions=partitions, replication_factor=1)
                for t in sorted(missing)
            ]
            with suppress(TopicAlreadyExistsError):
                client.create_topics(new, timeout_ms=_TIMEOUT_MS)

    while_starting(attempt, within)


def while_starting(call: Callable[[], _T], within: float = _STARTING_FOR) -> _T:
    """`call()`, made again while the broker says it is still starting, for up to `within`
    seconds; then its error."""
    deadline = time.monotonic() + within
    while True:
        try:
            return call()
        except _STARTING:
            if time.monotonic() >= deadline:
                raise
            time.sleep(_RETRY_EVERY)


class NotDelivered(WelfareWatchError):
    """Kafka did not acknowledge records that were sent: whatever they belong to (a delivery,
    a scan) did not go through and must be sent again (the worker ignores a fact it has)."""


# librdkafka's names for what security.kafka_options() says in kafka-python's.
_RDKAFKA_SECURITY = {
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "ssl_cafile": "ssl.ca.location",
}
_POLL_EVERY = 10_000  # sends between two looks at delivery reports (only failures make one)
_QUEUE_FULL_WAIT = 0.05  # seconds to let the broker take records when the local queue is full
# librdkafka logs through this logger (connection attempts, broker restarts), under the
# client libraries' own name: the command line keeps them quiet, and so never a record.
_LIBRDKAFKA_LOG = logging.getLogger("kafka.librdkafka")


def rdkafka_security(options: Mapping[str, Any]) -> dict[str, Any]:
    """The cluster's TLS/SASL settings (security.kafka_options) in librdkafka's words. TLS
    without a CA file verifies the brokers against the system's CAs, as the other clients do."""
    unknown = sorted(set(options) - set(_RDKAFKA_SECURITY))
    if unknown:  # a setting added to security.py must not be dropped silently here
        raise ConfigError(f"no librdkafka setting for {', '.join(unknown)}")
    config = {_RDKAFKA_SECURITY[key]: value for key, value in options.items()}
    if config.get("security.protocol") in ("SSL", "SASL_SSL"):
        config.setdefault("ssl.ca.location", "probe")
    return config


def producer_config(bootstrap: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Every record acknowledged by all in-sync replicas (acks=all); idempotent, so the
    producer's own retries (a broker restart) neither duplicate nor reorder a partition; it
    retries for delivery.timeout.ms (120 s), then the record counts as failed. Keys go to the
    partition the Java client (and kafka-python, and the worker's own arithmetic in
    streams/outbox.py) gives them: murmur2, not librdkafka's default CRC32."""
    return {
        "bootstrap.servers": bootstrap,
        "client.id": "welfare-watch",
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
        "linger.ms": 20,
        "delivery.timeout.ms": 120_000,
        "compression.type": "none",
        "queue.buffering.max.kbytes": 16 * 1024,  # then send() waits: flat memory at any size
        **rdkafka_security(options),
    }


class Sent:
    """What `Producer.send` returns, for callers that wait on a record as they would on a
    kafka-python future: get() waits for everything sent before it and raises NotDelivered
    when a record failed (any of them: a caller treats what it sent as one whole)."""

    def __init__(self, producer: Producer) -> None:
        self._producer = producer

    def get(self, timeout: float | None = None) -> None:
        self._producer.flush(timeout)


class Producer:
    """The plain producer of the command line, the connectors and the web app's ingest
    (confluent-kafka, i.e. librdkafka: sending costs the caller a microsecond or two, the
    batching, checksums and network are librdkafka's own threads).

    send() only queues a record. flush() returns once the broker has acknowledged everything
    sent before it, and raises NotDelivered when any of it failed (a broker down longer than
    the delivery timeout), so that a file report or an HTTP reply given after it never counts
    records that were lost. Only failures make a delivery report."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._lock = threading.Lock()
        self._failed = 0  # records that failed since the last flush
        self._first_failure = ""  # librdkafka's name of the first one's error
        self._unpolled = 0
        self._sent = Sent(self)
        self._client = confluent_kafka.Producer(
            {
                **config,
                "delivery.report.only.error": True,
                "on_delivery": self._delivered,
                "logger": _LIBRDKAFKA_LOG,
            }
        )

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
    ) -> Sent:
        """Queue one record (on `partition`, else the key's); waits only while librdkafka's
        local queue is full. Raises NotDelivered at once for a record Kafka cannot take."""
        where = -1 if partition is None else partition
        while True:
            try:
                self._client.produce(topic, value, key, where)
                break
            except BufferError:  # the broker is behind: give it time, the records wait here
                self._client.poll(_QUEUE_FULL_WAIT)
            except confluent_kafka.KafkaException as exc:
                refused = _error_name(exc)
                raise NotDelivered(f"Kafka refused a record for {topic}: {refused}") from None
        self._unpolled += 1
        if self._unpolled >= _POLL_EVERY:
            self._unpolled = 0
            self._client.poll(0)
        return self._sent

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the broker has every record sent so far; NotDelivered if one failed (each
        failure is reported once: the next delivery starts clean) or `timeout` ran out."""
        left = self._client.flush(-1 if timeout is None else timeout)
        with self._lock:
            failed, first = self._failed, self._first_failure
            self._failed, self._first_failure = 0, ""
        if failed:
            raise NotDelivered(
                f"Kafka did not acknowledge {failed} record(s) ({first}); "
                "nothing of this was accepted: send it again"
            )
        if left:
            raise NotDelivered(
                f"Kafka did not acknowledge {left} record(s) within {timeout} s: send it again"
            )

    def partitions(self, topic: str, timeout: float = _TIMEOUT_MS / 1000) -> list[int]:
        """The partitions of an existing topic, from this producer's own connection."""
        try:
            metadata = self._client.list_topics(topic, timeout=timeout).topics.get(topic)
        except confluent_kafka.KafkaException as exc:
            raise NotDelivered(f"Kafka did not describe {topic}: {_error_name(exc)}") from None
        if metadata is None or metadata.error is not None:
            raise NotDelivered(f"Kafka did not describe {topic}: send it again")
        return sorted(metadata.partitions)

    def close(self, timeout: float | None = None) -> None:
        """Send what is still queued (for `timeout` seconds; None: until the delivery timeout),
        drop what is left, and let go. Failures are reported by flush(), which every sender
        calls before this: a record still queued here belongs to something that failed."""
        if self._client.flush(-1 if timeout is None else timeout):
            self._client.purge()
        self._client.close()

    def _delivered(self, error: Any, message: Any) -> None:
        """librdkafka's report of a record that failed (only failures make one)."""
        if error is not None:
            with self._lock:
                self._failed += 1
                self._first_failure = self._first_failure or str(error.name())


def _error_name(exc: confluent_kafka.KafkaException) -> str:
    """librdkafka's name of the error (MSG_SIZE_TOO_LARGE…): no record's content."""
    error = exc.args[0] if exc.args else None
    if isinstance(error, confluent_kafka.KafkaError):
        return str(error.name())
    return type(exc).__name__


def producer(bootstrap: str) -> Producer:
    """The one factory of plain producers: acks=all, idempotent, murmur2, and the cluster's
    TLS/SASL settings (security.py). Connects on first use: callers check the cluster with
    ensure_topics() first, which names the address when it cannot be reached."""
    try:
        return Producer(producer_config(bootstrap, security.kafka_options()))
    except confluent_kafka.KafkaException as exc:  # a setting librdkafka refuses
        raise ConfigError(f"Kafka producer settings refused: {_error_name(exc)}") from None


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
    total = 0
    for tp, offsets in partition_offsets(bootstrap, group, topics).items():
        done = offsets.committed if offsets.committed is not None else 0
        if saved is not None and (tp.topic, tp.partition) in saved:
            done = min(done, saved[(tp.topic, tp.partition)] + 1)
        # What retention deleted before anyone read it will never be read: not waited for.
        done = max(done, offsets.first)
        total += max(0, offsets.end - done)
    return total


@dataclass(frozen=True)
class PartitionOffsets:
    first: int  # the oldest message retention kept
    committed: int | None  # the next the group will read; None: it never committed here
    end: int  # the next to be written


def partition_offsets(
    bootstrap: str, group: str, topics: Iterable[str] | re.Pattern[str]
) -> dict[TopicPartition, PartitionOffsets]:
    """Of each partition of `topics` (names, or a pattern: as in `lag`), where it begins and
    ends, and where consumer group `group` is."""
    with admin(bootstrap) as client:
        wanted = _existing(client.list_topics(), topics)
        if not wanted:
            return {}
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
    found = {}
    for tp, end in ends.items():
        meta = committed.get(tp)
        found[tp] = PartitionOffsets(starts.get(tp, 0), meta.offset if meta else None, end)
    return found


def keys_in(bootstrap: str, ranges: Mapping[TopicPartition, tuple[int, int]]) -> Iterator[bytes]:
    """The key of every message in the offset ranges [start, end) given, partition by
    partition (messages without a key are passed over)."""
    wanted = {tp: (start, end) for tp, (start, end) in ranges.items() if start < end}
    if not wanted:
        return
    consumer = consumer_for(bootstrap, enable_auto_commit=False, group_id=None)
    try:
        consumer.assign(list(wanted))
        for tp, (start, _) in wanted.items():
            consumer.seek(tp, start)
        while wanted:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                end = wanted.get(tp, (0, 0))[1]
                yield from (r.key for r in records if r.offset < end and r.key is not None)
            for tp in [tp for tp, (_, end) in wanted.items() if consumer.position(tp) >= end]:
                del wanted[tp]
                consumer.pause(tp)
    finally:
        consumer.close()


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
            for g in while_starting(client.list_groups)
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
