"""A fact as the worker reads it from ww.facts: the bytes of Fact.model_dump_json(), made
without a model per record.

A delivery's facts share their feed, kind, received_at, source and delivery id: those are
serialised once, and each record adds only its own fields. The bytes are the model's own,
field for field (pydantic-core serialises both), which tests/unit/test_wire.py checks against
Fact.model_dump_json() for every kind of value; should Fact gain or lose a field, this falls
back to the model itself.
"""

from __future__ import annotations

import datetime as dt

from pydantic_core import to_json

from connectors.records import Origin, Record
from welfare_watch.models import Fact

# Fact's fields in its order: the first two and the last three are the delivery's.
MATCHES_MODEL = tuple(Fact.model_fields) == (
    *("feed", "kind"),
    *("record_id", "person_id", "name", "event_date", "attrs"),
    *("received_at", "source", "delivery"),
)


class FactEncoder:
    """Encodes the facts of one delivery, each tagged with its delivery id."""

    def __init__(self, delivery: str) -> None:
        self.delivery = delivery
        self._origin: Origin | None = None
        self._offset: dt.timedelta | None = None
        self._head = b""
        self._tail = b""

    def record(self, record: Record) -> bytes:
        if not MATCHES_MODEL:
            return self.fact(record.fact())
        if record.origin is not self._origin:
            self._shared(record.origin)
        return self._own(record.record_id, record.person_id, record.name, record.event_date,
                         record.attrs)  # fmt: skip

    def fact(self, fact: Fact) -> bytes:
        if not MATCHES_MODEL:
            return fact.model_copy(update={"delivery": self.delivery}).model_dump_json().encode()
        origin = Origin(fact.feed, fact.kind, fact.received_at, fact.source)
        # Equal instants print alike only with the same offset: it is part of the comparison.
        if origin != self._origin or fact.received_at.utcoffset() != self._offset:
            self._shared(origin)
        return self._own(fact.record_id, fact.person_id, fact.name, fact.event_date, fact.attrs)

    def _own(
        self,
        record_id: str,
        person_id: str,
        name: str,
        event_date: dt.date | None,
        attrs: dict[str, str],
    ) -> bytes:
        own = to_json(
            {
                "record_id": record_id,
                "person_id": person_id,
                "name": name,
                "event_date": event_date,
                "attrs": attrs,
            }
        )
        return self._head + own[1:-1] + self._tail

    def _shared(self, origin: Origin) -> None:
        head = to_json({"feed": origin.feed, "kind": origin.kind})
        tail = to_json(
            {"received_at": origin.received_at, "source": origin.source, "delivery": self.delivery}
        )
        self._head = head[:-1] + b","  # `{"feed":…,"kind":…,`
        self._tail = b"," + tail[1:]  # `,"received_at":…,"source":…,"delivery":…}`
        self._origin = origin
        self._offset = origin.received_at.utcoffset()
