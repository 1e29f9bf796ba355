"""Department records to canonical facts: one record at a time, or a whole file streamed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict, computed_field

from connectors.errors import BadRecord
from connectors.feedspec import FeedSpec
from connectors.fields import cell
from connectors.records import RECORD_HASH_CHARS, FeedReader, Origin, Record, record_hash
from connectors.tables import Format, RawRecord, read_records
from welfare_watch.models import Fact

__all__ = [
    "FeedReader",
    "Format",
    "RawRecord",
    "Record",
    "Rejection",
    "normalise",
    "parse_feed",
    "parse_message",
    "read_feed",
    "read_records",
    "record_hash",
    "rejection_id",
]


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


def read_feed(
    spec: FeedSpec,
    data: Path | BinaryIO,
    received_at: dt.datetime,
    source: str = "",
    *,
    fmt: Format | None = None,
) -> Iterator[Record | Rejection]:
    """Every record of a file or body as a Record or a Rejection, in order, streamed: what a
    connector sends (connectors.sink), with no Fact built per record.

    Raises NotATable before yielding anything when the content is not a table of this feed.
    `source` defaults to the file name.
    """
    name = data.name if isinstance(data, Path) else source
    reader = spec.reader
    origin = reader.origin(received_at, source or name)
    records = read_records(
        data,
        required=spec.required_columns,
        table=spec.name,
        fmt=fmt,
        encoding=spec.encoding,
        delimiter=spec.delimiter,
        name=name,
    )
    for raw in records:
        reason = raw.problem
        if not reason:
            try:
                record = reader.record(raw.row, origin)
            except BadRecord as exc:
                reason = exc.reason
            else:
                yield record
                continue
        yield _rejection(spec, raw, reason, origin)


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
    for item in read_feed(spec, data, received_at, source, fmt=fmt):
        yield item.fact() if isinstance(item, Record) else item


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
    origin = spec.reader.origin(received_at, source)
    try:
        return spec.reader.record(row, origin).fact()
    except BadRecord as exc:
        return _rejection(spec, RawRecord(0, row), exc.reason, origin)


def _rejection(spec: FeedSpec, raw: RawRecord, reason: str, origin: Origin) -> Rejection:
    return Rejection(
        feed=spec.name,
        source=origin.source,
        line=raw.line or None,
        record=raw.row,
        reason=reason,
        received_at=origin.received_at,
    )


def normalise(
    spec: FeedSpec, row: Mapping[str, object], received_at: dt.datetime, source: str = ""
) -> Fact:
    """One record as a Fact; BadRecord lists every problem, each naming its column."""
    return spec.reader.record(row, spec.reader.origin(received_at, source)).fact()
