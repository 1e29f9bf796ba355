"""The roster (在保对象名册): snapshot files and roster.changes messages, checked row by row."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, get_args

from pydantic_core import to_json

from connectors.dates import parse_date
from connectors.errors import BadRecord, BadValue
from connectors.fields import cell, clean_name, decimal_text, parse_decimal, parse_region
from connectors.ids import check_id
from connectors.parse import Rejection
from connectors.tables import Format, read_records
from welfare_watch.models import (
    Enrollment,
    EnrollmentStatus,
    Role,
    RosterChange,
    RosterOp,
    SnapshotEntry,
    SnapshotOp,
)
from welfare_watch.settings import Program

FEED = "roster"
COLUMNS = (
    "person_id",
    "name",
    "program",
    "household_id",
    "role",
    "district_code",
    "community",
    "caseworker_id",
    "monthly_amount",
    "start_date",
    "status",
)
# A snapshot must have these in its header; community and caseworker_id may be left out.
REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c not in ("community", "caseworker_id"))
# suspend, resume and exit may carry only the identifying columns.
_IDENTIFYING = ("person_id", "program", "household_id")
_ROLES: tuple[str, ...] = get_args(Role)
_STATUSES: tuple[str, ...] = get_args(EnrollmentStatus)
_OPS: tuple[str, ...] = get_args(RosterOp)
_SNAPSHOT_OPS: tuple[str, ...] = get_args(SnapshotOp)
_STATUS_BY_OP = {"suspend": "suspended", "resume": "active", "exit": "exited"}


def parse_roster(
    data: Path | BinaryIO,
    programs: Mapping[str, Program],
    *,
    districts: Collection[str] = (),
    source: str = "",
    fmt: Format | None = None,
) -> Iterator[Enrollment | Rejection]:
    """Every row of a roster snapshot (CSV or JSON lines) as an Enrollment or a Rejection.

    `programs` is the configured program table; `districts`, when given, the district codes
    a case may be managed in. Raises NotATable before yielding when the header is wrong.
    """
    source = source or (data.name if isinstance(data, Path) else "")
    records = read_records(data, required=REQUIRED_COLUMNS, table=FEED, fmt=fmt, name=source)
    for record in records:
        reason = record.problem
        if not reason:
            try:
                yield enrollment_from_row(record.row, programs, districts)
                continue
            except BadRecord as exc:
                reason = exc.reason
        yield Rejection(
            feed=FEED, source=source, line=record.line, record=record.row, reason=reason
        )


def enrollment_from_row(
    row: Mapping[str, object], programs: Mapping[str, Program], districts: Collection[str] = ()
) -> Enrollment:
    """One roster row as an Enrollment; BadRecord lists every problem, naming the column."""
    return Enrollment(**_checked(row, programs, districts, COLUMNS))


class RosterRow(NamedTuple):
    """A good roster row without its model: whose it is, and its columns as JSON."""

    person_id: str
    columns: str  # Enrollment(...) as a roster.changes message's `enrollments` carry it


CHANGED_AT = {"changed_at"}  # not a column: a roster.changes message's time, or a snapshot's
# The columns are Enrollment's fields in its order, so a row's JSON is made from the checked
# values alone (the same bytes: tests/unit/test_roster_file.py); otherwise by the model.
_AS_THE_MODEL = tuple(f for f in Enrollment.model_fields if f not in CHANGED_AT) == COLUMNS


def _roster_row(values: dict[str, Any]) -> RosterRow:
    if _AS_THE_MODEL:  # pydantic-core serialises these values as the model does
        return RosterRow(values["person_id"], to_json(values).decode())
    row = Enrollment(**values).model_dump(mode="json", exclude=CHANGED_AT)
    return RosterRow(row["person_id"], json.dumps(row, ensure_ascii=False, separators=(",", ":")))


def roster_rows(
    data: Path | BinaryIO,
    programs: Mapping[str, Program],
    *,
    districts: Collection[str] = (),
    source: str = "",
    fmt: Format | None = None,
) -> Iterator[RosterRow | Rejection]:
    """`parse_roster`, each good row as its JSON (what a `replace` message carries), checked
    the same way: the roster load's way in, which needs no Enrollment per row."""
    source = source or (data.name if isinstance(data, Path) else "")
    records = read_records(data, required=REQUIRED_COLUMNS, table=FEED, fmt=fmt, name=source)
    for record in records:
        reason = record.problem
        if not reason:
            try:
                row = _roster_row(_checked(record.row, programs, districts, COLUMNS))
            except BadRecord as exc:
                reason = exc.reason
            else:
                yield row
                continue
        yield Rejection(
            feed=FEED, source=source, line=record.line, record=record.row, reason=reason
        )


def parse_roster_change(
    payload: bytes, programs: Mapping[str, Program], districts: Collection[str] = ()
) -> RosterChange | SnapshotEntry:
    """One roster.changes message: the roster columns plus `op`, or one person of a
    snapshot (`replace` with their rows under `enrollments`, or `remove`)."""
    try:
        message = json.loads(payload)
    except ValueError:
        raise BadRecord("the message is not valid JSON") from None
    if not isinstance(message, dict):
        raise BadRecord("the message is not a JSON object")
    op = cell(message.get("op")) or ""
    if op in _SNAPSHOT_OPS:
        return _snapshot_entry(op, message, programs, districts)
    if op not in _OPS:
        raise BadRecord(f"op {op!r} is not one of {', '.join(_OPS + _SNAPSHOT_OPS)}")
    if op in _STATUS_BY_OP:
        present = [c for c in COLUMNS if c in _IDENTIFYING or cell(message.get(c))]
        fields = _checked(message, programs, districts, present)
        fields["status"] = _STATUS_BY_OP[op]
    else:
        fields = _checked({"status": "active", **message}, programs, districts, COLUMNS)
    return RosterChange(op=op, **fields)


def _checked(
    row: Mapping[str, object],
    programs: Mapping[str, Program],
    districts: Collection[str],
    columns: Collection[str],
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    problems: list[str] = []
    for column in columns:
        text = (cell(row.get(column)) or "").strip()
        try:
            values[column] = _READERS[column](text, column)
        except BadValue as exc:
            problems.append(exc.reason)
    problems.extend(_consistency(values, programs, districts))
    if problems:
        raise BadRecord("; ".join(problems))
    return values


def _required(read: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
    def reader(text: str, column: str) -> Any:
        if not text:
            raise BadValue(f"{column} is empty")
        return read(text, column)

    return reader


def _one_of(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def reader(text: str, column: str) -> str:
        if text not in choices:
            raise BadValue(f"{column} {text!r} is not one of {', '.join(choices)}")
        return text

    return reader


@functools.lru_cache(maxsize=4096)  # a roster has few distinct amounts; errors are not kept
def _amount(text: str, column: str) -> Decimal:
    return Decimal(decimal_text(parse_decimal(text or "0", column)))


def _as_is(text: str, column: str) -> str:
    return text


_READERS: dict[str, Callable[[str, str], Any]] = {
    "person_id": lambda text, column: check_id(text, label=column),
    "name": _required(lambda text, column: clean_name(text)),
    "program": _required(_as_is),
    "household_id": _as_is,
    "role": _required(_one_of(_ROLES)),
    "district_code": _required(parse_region),
    "community": _as_is,
    "caseworker_id": _as_is,
    "monthly_amount": _amount,
    "start_date": _required(parse_date),
    "status": _required(_one_of(_STATUSES)),
}


def _consistency(
    values: Mapping[str, Any], programs: Mapping[str, Program], districts: Collection[str]
) -> list[str]:
    """What a row's columns say together: program kind, role, household, district, amount."""
    problems: list[str] = []
    code = values.get("program")
    district = values.get("district_code")
    if district and districts and district not in districts:
        problems.append(f"district_code {district!r} is not a district of the configured city")
    if not code:
        return problems
    program = programs.get(code)
    if program is None:
        return [*problems, f"program {code!r} is not one of {', '.join(programs)}"]
    role = values.get("role")
    household = values.get("household_id")
    if program.kind == "household":
        if household == "":
            problems.append(f"household_id is empty, but {code} is a household program")
        if role == "individual":
            problems.append(f"role is individual, but {code} is a household program")
    else:
        if household:
            problems.append(f"household_id must be empty for the individual program {code}")
        if role in ("head", "member"):
            problems.append(f"role is {role}, but {code} is an individual program")
    amount = values.get("monthly_amount")
    if role == "member" and amount:
        problems.append("monthly_amount must be 0 for a member (the head's row holds it)")
    return problems


def _snapshot_entry(
    op: str,
    message: Mapping[str, Any],
    programs: Mapping[str, Program],
    districts: Collection[str],
) -> SnapshotEntry:
    person = _checked(message, programs, districts, ["person_id"])["person_id"]
    snapshot = cell(message.get("snapshot"))
    if not snapshot:
        raise BadRecord(f"a {op} message names no snapshot")
    try:
        taken = dt.datetime.fromisoformat(cell(message.get("snapshot_at")) or "")
    except ValueError:
        raise BadRecord("snapshot_at is not an ISO date and time") from None
    if taken.tzinfo is None:
        raise BadRecord("snapshot_at has no time zone")
    rows = message.get("enrollments") or []
    if not isinstance(rows, list) or (op == "remove" and rows):
        raise BadRecord("enrollments must be a list of roster rows (none for remove)")
    enrollments = []
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise BadRecord(f"enrollment {number} is not a JSON object")
        try:
            enrollment = enrollment_from_row(row, programs, districts)
        except BadRecord as exc:
            raise BadRecord(f"enrollment {number}: {exc.reason}") from None
        if enrollment.person_id != person:
            raise BadRecord(f"enrollment {number} is another person's")
        enrollments.append(enrollment)
    return SnapshotEntry(
        op=op, person_id=person, snapshot=snapshot, snapshot_at=taken,
        enrollments=tuple(enrollments),
    )  # fmt: skip
