"""A feed's records read by its configured columns: the readers chosen once per feed, each
record's own fields, and the id of a record that has no serial number."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from pydantic_core import to_json

from connectors.errors import BadRecord, BadValue
from connectors.feedspec import EVENT_DATE, NAME, PERSON_ID, RECORD_ID, FeedSpec, FieldSpec
from connectors.fields import DateReader, TextReader, cell, date_reader, text_reader
from welfare_watch.models import Fact, FactKind

RECORD_HASH_CHARS = 20


@dataclass(frozen=True, slots=True)
class Origin:
    """What the records of one delivery share: feed, kind, when and how they came."""

    feed: str
    kind: FactKind
    received_at: dt.datetime
    source: str  # the file or request


class Record(NamedTuple):
    """One accepted record: a Fact's own fields, and its delivery's in `origin`. A connector
    sends it without building the Fact (connectors.wire); `fact()` builds it."""

    origin: Origin
    record_id: str
    person_id: str
    name: str
    event_date: dt.date | None
    attrs: dict[str, str]

    def fact(self) -> Fact:
        origin = self.origin
        return Fact(
            feed=origin.feed,
            kind=origin.kind,
            record_id=self.record_id,
            person_id=self.person_id,
            name=self.name,
            event_date=self.event_date,
            attrs=self.attrs,
            received_at=origin.received_at,
            source=origin.source,
        )


class _Field(NamedTuple):
    name: str  # a Fact field or a key of its attrs
    required: bool
    empty: frozenset[str]  # values that mean "no value" besides ""
    read: TextReader | None  # to text, for attrs and the other fields; None: as it came
    date: DateReader | None  # to a date, for event_date


class FeedReader:
    """A feed's records as Records: each column's readers chosen once (FeedSpec.reader),
    then applied to every record of every delivery."""

    def __init__(self, spec: FeedSpec) -> None:
        self.spec = spec
        self._required = frozenset(spec.required_columns)
        self._constants = spec.attrs  # added to every record's attrs
        self._columns = tuple(
            (column, tuple(_field(field, column) for field in fields))
            for column, fields in spec.columns.items()
        )

    def origin(self, received_at: dt.datetime, source: str) -> Origin:
        return Origin(self.spec.name, self.spec.fact, received_at, source)

    def record(self, row: Mapping[str, object], origin: Origin) -> Record:
        """One record; BadRecord lists every problem, each naming its column: the missing
        ones first, then each column's first bad value, in the feed's column order."""
        missing: list[str] = []
        problems: list[str] = []
        values: dict[str, str] = {}
        event_date: dt.date | None = None
        today = origin.received_at.date()  # a birth date may not be after it
        for column, fields in self._columns:
            raw = row.get(column)
            if raw is None:
                if column in self._required:
                    missing.append(column)
                continue
            text = (raw if isinstance(raw, str) else str(cell(raw))).strip()
            try:
                for name, required, empty, read, date in fields:
                    if not text or text in empty:
                        if required:
                            raise BadValue(f"{column} is empty")
                    elif read is not None:
                        values[name] = read(text, today)
                    elif date is not None:
                        event_date = date(text)
                    else:  # text as it came
                        values[name] = text
            except BadValue as exc:
                problems.append(exc.reason)
        if missing:
            s = "s" if len(missing) > 1 else ""
            problems.insert(0, f"missing column{s} {', '.join(missing)}")
        if problems:
            raise BadRecord("; ".join(problems))
        person_id = values.pop(PERSON_ID)
        name = values.pop(NAME, "")
        record_id = values.pop(RECORD_ID, "")
        attrs = {**self._constants, **values} if self._constants else values
        record_id = record_id or record_hash(person_id, name, event_date, attrs)
        return Record(origin, record_id, person_id, name, event_date, attrs)


def _field(spec: FieldSpec, column: str) -> _Field:
    empty = frozenset(spec.empty_words)
    if spec.field == EVENT_DATE:
        return _Field(spec.field, spec.required, empty, None, date_reader(spec, column))
    if spec.type == "text":
        return _Field(spec.field, spec.required, empty, None, None)
    return _Field(spec.field, spec.required, empty, text_reader(spec, column), None)


def record_hash(
    person_id: str, name: str, event_date: dt.date | None, attrs: Mapping[str, str]
) -> str:
    """A stable id for a record without a serial number: the same record, the same id."""
    # The UTF-8 of json.dumps(canonical, ensure_ascii=False, sort_keys=True,
    # separators=(",", ":")), the form this id has always hashed: the same bytes
    # (tests/unit/test_wire.py), made by pydantic-core in a fraction of the time. So the
    # keys go in sorted order, the attrs' too; every value is text or null.
    canonical = {
        "attrs": dict(sorted(attrs.items())),
        "event_date": event_date.isoformat() if event_date else None,
        "name": name,
        "person_id": person_id,
    }
    return hashlib.sha256(to_json(canonical)).digest()[: RECORD_HASH_CHARS // 2].hex()
