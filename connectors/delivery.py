"""A delivery — one file or request — is evaluated as a whole.

A department's file often holds a thing's whole history (a car registered, then deregistered).
Evaluated record by record, the first record alone would raise an alert that the next one ends.
So a connector tags every fact with its delivery id and, once all of them are on Kafka, puts an
end marker on every partition; the worker saves the facts as they come and evaluates the people
they touch when it reaches the marker in their partition (after all their records of it).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from welfare_watch import kafka, names

_MARKER = b'{"delivery_end"'


def new_delivery_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class DeliveryEnd:
    """Everything of `delivery` in this partition has been sent before this marker."""

    delivery: str
    partition: int
    payment: bool  # payments trigger as `payment`, other facts as `event`

    @staticmethod
    def is_marker(value: bytes) -> bool:
        return value.startswith(_MARKER)

    @classmethod
    def decode(cls, value: bytes, partition: int) -> DeliveryEnd:
        body = json.loads(value)
        return cls(str(body["delivery_end"]), partition, bool(body.get("payment", False)))


def end_delivery(producer: Any, bootstrap: str, delivery: str, payment: bool) -> None:
    """Mark the end of a delivery on every partition, after everything before it is on Kafka."""
    producer.flush()
    marker = json.dumps({"delivery_end": delivery, "payment": payment}).encode()
    for partition in kafka.partitions(bootstrap, names.FACTS):
        producer.send(names.FACTS, value=marker, partition=partition)
    producer.flush()
