"""A delivery — one file or request — is evaluated as a whole.

A department's file often holds a thing's whole history (a car registered, then deregistered).
Evaluated record by record, the first record alone would raise an alert that the next one ends.
So a connector tags every fact with its delivery id and, once all of them are on Kafka, puts an
end marker on every partition; the worker saves the facts as they come and evaluates the people
they touch when it reaches the marker in their partition (after all their records of it).

A delivery whose sender died before its marker is ended on its behalf by the worker
(streams.abandoned) once it has been quiet for a configured time; such a marker says so, and
does not count as the feed having completed a delivery.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

from welfare_watch import kafka, names

_MARKER = b'{"delivery_end"'
# The `feed` of a roster snapshot's end marker, on roster.changes: its people are evaluated
# with the trigger `enrollment`, and it is no department's delivery.
SNAPSHOT_FEED = "roster"


def new_delivery_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class DeliveryEnd:
    """Everything of `delivery` in this partition has been sent before this marker."""

    delivery: str
    partition: int
    payment: bool  # payments trigger as `payment`, other facts as `event`
    feed: str = ""  # the feed it completes ("" from an older connector)
    at: dt.datetime | None = None  # when the connector completed it
    abandoned: bool = False  # ended by the worker because its sender went quiet

    @staticmethod
    def is_marker(value: bytes) -> bool:
        return value.startswith(_MARKER)

    @classmethod
    def decode(cls, value: bytes, partition: int) -> DeliveryEnd:
        body = json.loads(value)
        at = dt.datetime.fromisoformat(body["at"]) if body.get("at") else None
        return cls(
            str(body["delivery_end"]),
            partition,
            bool(body.get("payment", False)),
            str(body.get("feed", "")),
            at,
            bool(body.get("abandoned", False)),
        )


_BEGIN = b'{"snapshot_begin"'


@dataclass(frozen=True)
class SnapshotBegin:
    """A roster snapshot taken at `taken` begins after this marker, in every partition of
    roster.changes: a change made before `taken` that comes after the marker is older than the
    snapshot, which says what the roster is (the loader sends a `remove` to everyone it may
    have applied a change to before the marker)."""

    snapshot: str
    partition: int
    taken: dt.datetime

    @staticmethod
    def is_marker(value: bytes) -> bool:
        return value.startswith(_BEGIN)

    @classmethod
    def decode(cls, value: bytes, partition: int) -> SnapshotBegin:
        body = json.loads(value)
        taken = dt.datetime.fromisoformat(body["snapshot_at"])
        if taken.tzinfo is None:
            raise ValueError("snapshot_at has no time zone")
        return cls(str(body["snapshot_begin"]), partition, taken)

    @staticmethod
    def marker(snapshot: str, taken: dt.datetime) -> bytes:
        return json.dumps({"snapshot_begin": snapshot, "snapshot_at": taken.isoformat()}).encode()


def begin_snapshot(producer: kafka.Producer, snapshot: str, taken: dt.datetime) -> None:
    """Mark the beginning of a roster snapshot on every partition of roster.changes, and wait
    until Kafka has them all."""
    value = SnapshotBegin.marker(snapshot, taken)
    for partition in producer.partitions(names.ROSTER_CHANGES):
        producer.send(names.ROSTER_CHANGES, value=value, partition=partition)
    producer.flush()


def marker(delivery: str, payment: bool, feed: str, *, abandoned: bool = False) -> bytes:
    body = {
        "delivery_end": delivery,
        "payment": payment,
        "feed": feed,
        "at": dt.datetime.now(dt.UTC).isoformat(),
        "abandoned": abandoned,
    }
    return json.dumps(body).encode()


def end_delivery(
    producer: kafka.Producer,
    bootstrap: str,
    delivery: str,
    payment: bool,
    feed: str,
    topic: str = names.FACTS,
) -> None:
    """Mark the end of a delivery on every partition of `topic` (a roster snapshot's is
    roster.changes), after everything before it is on Kafka (`bootstrap`, the producer's)."""
    producer.flush()
    value = marker(delivery, payment, feed)
    for partition in producer.partitions(topic):
        producer.send(topic, value=value, partition=partition)
    producer.flush()
