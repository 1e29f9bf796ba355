"""Department records to canonical facts: one record at a time, or a whole file streamed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict, computed_field

from connectors.errors import BadRecord, BadValue
from connectors.feedspec import EVENT_DATE, NAME, PERSON_ID, RECORD_ID, FeedSpec, FieldSpec
from connectors.fields import cell, is_empty, read_date, read_text
from connectors.tables import Format, RawRecord, read_records
from welfare_watch.models import Fact

__all__ = [
    "Format",
    "RawRecord",
    "Rejection",
    "normalise",
    "parse_feed",
    "parse_message",
    "read_records",
    "record_hash",
    "rejection_id",
]

RECORD_HASH_CHARS = 20


class Rejection(BaseModel):
    """A record that could not be understood, for dept.rejected: what arrived, from where, and
    why not. Connectors and the worker both send this one shape."""

    model_config = ConfigDict(frozen=True)

    feed: str | None  # None when nothing names one (a worker input that cannot be read)
    source: str  # the topic, file or request it came in: kafka:…, file:…, http:…, roster.changes/…
    line: int | None = None
    record: dict[str, str]  # as it arrived; a message that is no table row as {"message": text}
    reason: str
    received_at: dt.datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rejection_id(self) -> str:
        return rejection_id(self.feed, self.record)

    def as_json(self, at: dt.datetime) -> bytes:
        """The dept.rejected message, `at` being when it was rejected."""
        body = self.model_dump(mode="json", exclude={"rejection_id"})
        message = {"rejection_id": self.rejection_id, **body, "rejected_at": at.isoformat()}
        return json.dumps(message, ensure_ascii=False).encode()


def rejection_id(feed: str | None, record: Mapping[str, str]) -> str:
    """The same bad record of a feed, the same id, whichever way and whenever it came in: so
    neither source, line nor time is part of it."""
    text = json.dumps(
        [feed, dict(record)], ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:RECORD_HASH_CHARS]


def parse_feed(
    spec: FeedSpec,
    data: Path | BinaryIO,
    received_at: dt.datetime,
    source: str = "",
    *,
    fmt: Format | None = None,
) -> Iterator[Fact | Rejection]:
    """Every record of a file or body as a Fact or a Rejection, in order, streamed.

    Raises NotATable before yielding anything when the content is not a table of this feed.
    `source` defaults to the file name.
    """
    name = data.name if isinstance(data, Path) else source
    source = source or name
    records = read_records(
        data,
        required=spec.required_columns,
        table=spec.name,
        fmt=fmt,
        encoding=spec.encoding,
        delimiter=spec.delimiter,
        name=name,
    )
    for record in records:
        yield _fact_or_rejection(spec, record, received_at, source)


def parse_message(
    spec: FeedSpec, payload: bytes, received_at: dt.datetime, source: str = ""
) -> Fact | Rejection:
    """One message of `dept.{feed}.raw`: a JSON object keyed by the feed's column names."""
    source = source or f"dept.{spec.name}.raw"
    try:
        value = json.loads(payload)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        text = payload.decode("utf-8", errors="replace")
        return Rejection(
            feed=spec.name,
            source=source,
            record={"message": text},
            reason="the message is not a JSON object",
            received_at=received_at,
        )
    row = {str(key): cell(val) or "" for key, val in value.items()}
    return _fact_or_rejection(spec, RawRecord(0, row), received_at, source)


def _fact_or_rejection(
    spec: FeedSpec, record: RawRecord, received_at: dt.datetime, source: str
) -> Fact | Rejection:
    reason = record.problem
    if not reason:
        try:
            return normalise(spec, record.row, received_at, source)
        except BadRecord as exc:
            reason = exc.reason
    return Rejection(
        feed=spec.name,
        source=source,
        line=record.line or None,
        record=record.row,
        reason=reason,
        received_at=received_at,
    )


def normalise(
    spec: FeedSpec, row: Mapping[str, object], received_at: dt.datetime, source: str = ""
) -> Fact:
    """One record as a Fact; BadRecord lists every problem, each naming its column."""
    today = received_at.date()
    values: dict[str, str] = {}
    event_date: dt.date | None = None
    problems: list[str] = []
    missing = [c for c in spec.required_columns if cell(row.get(c)) is None]
    if missing:
        problems.append(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    for column, fields in spec.columns.items():
        raw = cell(row.get(column))
        if raw is None:
            continue
        try:
            for field in fields:
                if field.field == EVENT_DATE:
                    event_date = _event_date(field, column, raw)
                else:
                    _read_into(values, field, column, raw, today)
        except BadValue as exc:
            problems.append(exc.reason)
    if problems:
        raise BadRecord("; ".join(problems))
    person_id = values.pop(PERSON_ID)
    name = values.pop(NAME, "")
    record_id = values.pop(RECORD_ID, "")
    attrs = {**spec.attrs, **values}
    return Fact(
        feed=spec.name,
        kind=spec.fact,
        record_id=record_id or record_hash(person_id, name, event_date, attrs),
        person_id=person_id,
        name=name,
        event_date=event_date,
        attrs=attrs,
        received_at=received_at,
        source=source,
    )


def _event_date(field: FieldSpec, column: str, raw: str) -> dt.date | None:
    text = raw.strip()
    if is_empty(field, text):
        if field.required:
            raise BadValue(f"{column} is empty")
        return None
    return read_date(field, column, text)


def _read_into(
    values: dict[str, str], field: FieldSpec, column: str, raw: str, today: dt.date
) -> None:
    text = raw.strip()
    if is_empty(field, text):
        if field.required:
            raise BadValue(f"{column} is empty")
        return
    values[field.field] = read_text(field, column, text, today)


def record_hash(
    person_id: str, name: str, event_date: dt.date | None, attrs: Mapping[str, str]
) -> str:
    """A stable id for a record without a serial number: the same record, the same id."""
    canonical = {
        "person_id": person_id,
        "name": name,
        "event_date": event_date.isoformat() if event_date else None,
        "attrs": dict(sorted(attrs.items())),
    }
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:RECORD_HASH_CHARS]
