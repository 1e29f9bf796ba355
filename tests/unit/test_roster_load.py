"""A roster snapshot's messages on roster.changes: the bytes the loader always sent, which the
worker reads back as the same people and rows."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from connectors.delivery import DeliveryEnd, SnapshotBegin
from connectors.roster_file import COLUMNS, parse_roster_change
from streams.roster import SnapshotMessages
from welfare_watch.models import SnapshotEntry
from welfare_watch.settings import load_policy

POLICY = load_policy()
TAKEN = dt.datetime(2026, 11, 28, 9, 30, 0, 120_000, tzinfo=dt.UTC)
PID = "210105195203140118"
ROWS = [
    '{"person_id":"210105195203140118","name":"杨德福","program":"dibao_urban",'
    '"household_id":"HH-1","role":"head","district_code":"210105","community":"华山\\"社区",'
    '"caseworker_id":"cw-1","monthly_amount":"1560.00","start_date":"2019-03-01",'
    '"status":"active"}',
    '{"person_id":"210105195203140118","name":"杨德福","program":"elderly_allowance",'
    '"household_id":"","role":"individual","district_code":"210105","community":"",'
    '"caseworker_id":"","monthly_amount":"100.00","start_date":"2021-06-01","status":"active"}',
]


def as_before(pid: str, lines: list[str] | None, stamp: dict[str, Any]) -> bytes:
    """The messages as the loader made them before they were made from a template."""
    if lines is None:
        return json.dumps({"op": "remove", "person_id": pid, **stamp}).encode()
    head = json.dumps({"op": "replace", "person_id": pid, **stamp})
    rows = ",".join(line.partition("\t")[2] for line in lines)
    return f'{head[:-1]}, "enrollments": [{rows}]}}'.encode()


def test_replace_and_remove_are_the_bytes_they_were() -> None:
    stamp = {"snapshot": "5f0c", "snapshot_at": TAKEN.isoformat()}
    messages = SnapshotMessages("5f0c", TAKEN)
    lines = [f"{PID}\t{row}" for row in ROWS]
    assert messages.of(PID, lines) == as_before(PID, lines, stamp)
    assert messages.of(PID, lines[:1]) == as_before(PID, lines[:1], stamp)
    assert messages.of("11010519491231002X", None) == as_before("11010519491231002X", None, stamp)


def test_the_worker_reads_a_replace_back_as_the_rows_sent() -> None:
    message = SnapshotMessages("5f0c", TAKEN).of(PID, [f"{PID}\t{row}" for row in ROWS])
    entry = parse_roster_change(message, POLICY.programs, POLICY.city.districts)
    assert isinstance(entry, SnapshotEntry)
    assert (entry.op, entry.person_id, entry.snapshot, entry.snapshot_at) == (
        "replace",
        PID,
        "5f0c",
        TAKEN,
    )
    sent = [json.loads(row) for row in ROWS]
    assert [e.model_dump(mode="json", include=set(COLUMNS)) for e in entry.enrollments] == sent


def test_the_worker_reads_a_begin_marker_back_and_refuses_one_without_a_time_zone() -> None:
    value = SnapshotBegin.marker("5f0c", TAKEN)
    assert SnapshotBegin.is_marker(value) and not DeliveryEnd.is_marker(value)
    assert SnapshotBegin.decode(value, 3) == SnapshotBegin("5f0c", 3, TAKEN)
    naive = json.dumps({"snapshot_begin": "5f0c", "snapshot_at": "2026-11-28T09:00:00"})
    with pytest.raises(ValueError, match="time zone"):
        SnapshotBegin.decode(naive.encode(), 3)
