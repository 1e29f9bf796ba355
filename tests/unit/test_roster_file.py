"""Roster snapshots and roster.changes messages: good rows become enrollments, bad ones say why."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import BadRecord, NotATable
from connectors.parse import Rejection
from connectors.roster_file import (
    COLUMNS,
    RosterRow,
    parse_roster,
    parse_roster_change,
    roster_rows,
)
from welfare_watch.models import Enrollment, RosterChange, SnapshotEntry
from welfare_watch.settings import load_policy

SAMPLES = Path(__file__).parents[1] / "data" / "samples"
POLICY = load_policy()
PROGRAMS = POLICY.programs
DISTRICTS = POLICY.city.districts
HEADER = ",".join(COLUMNS)
HEAD = (
    "210105195203140118,杨德福,dibao_urban,HH-1,head,210105,华山社区,cw-1,1560.00,2019-03-01,active"
)


def load(path: Path) -> tuple[list[Enrollment], list[Rejection]]:
    rows = list(parse_roster(path, PROGRAMS, districts=DISTRICTS))
    enrollments = [r for r in rows if isinstance(r, Enrollment)]
    rejections = [r for r in rows if isinstance(r, Rejection)]
    assert len(enrollments) + len(rejections) == len(rows)
    return enrollments, rejections


def test_the_sample_roster_loads_whole() -> None:
    enrollments, rejections = load(SAMPLES / "roster.csv")
    assert rejections == []
    assert len(enrollments) == 7
    head, member = enrollments[:2]
    assert head.key == ("210105195203140118", "dibao_urban", "HH-210105-0001")
    assert (head.role, head.monthly_amount, head.start_date) == (
        "head",
        Decimal("1560.00"),
        dt.date(2019, 3, 1),
    )
    assert (member.role, member.monthly_amount, member.active) == ("member", Decimal("0.00"), True)
    assert {e.program for e in enrollments} >= {"tekun", "orphan", "elderly_allowance"}


def test_json_lines_roster_loads_like_csv(tmp_path: Path) -> None:
    header, *rows = (SAMPLES / "roster.csv").read_text("utf-8").splitlines()
    lines = [json.dumps(dict(zip(header.split(","), r.split(","), strict=True))) for r in rows]
    path = tmp_path / "roster.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    assert load(path) == load(SAMPLES / "roster.csv")


def test_a_gb18030_roster_with_an_ascii_header_loads_like_utf8(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes((SAMPLES / "roster.csv").read_text("utf-8").encode("gb18030"))
    assert load(path) == load(SAMPLES / "roster.csv")


BAD_ROWS = [
    ("person_id", "210105195203140113", "person_id check character is 3, expected 8"),
    (
        "program",
        "dibao",
        "program 'dibao' is not one of dibao_urban, dibao_rural, tekun, orphan, "
        "unsupported_child, disability_living, disability_care, elderly_allowance",
    ),
    ("district_code", "2101", "district_code '2101' is not a 6-digit region code"),
    (
        "district_code",
        "211202",
        "district_code '211202' is not a district of the configured city",
    ),
    ("status", "closed", "status 'closed' is not one of active, suspended, exited"),
    ("role", "boss", "role 'boss' is not one of head, member, individual"),
    ("role", "individual", "role is individual, but dibao_urban is a household program"),
    ("household_id", "", "household_id is empty, but dibao_urban is a household program"),
    ("start_date", "2019-02-30", "start_date '2019-02-30' is not a real date"),
    ("start_date", "", "start_date is empty"),
    ("monthly_amount", "lots", "monthly_amount 'lots' is not a number"),
    ("name", " ", "name is empty"),
]


@pytest.mark.parametrize(("column", "value", "reason"), BAD_ROWS)
def test_a_bad_row_is_rejected_with_a_reason(
    tmp_path: Path, column: str, value: str, reason: str
) -> None:
    values = dict(zip(COLUMNS, HEAD.split(","), strict=True)) | {column: value}
    bad = ",".join(values[c] for c in COLUMNS)
    path = tmp_path / "roster.csv"
    path.write_text(f"{HEADER}\n{HEAD}\n{bad}\n{HEAD}\n", "utf-8")
    enrollments, rejections = load(path)
    assert len(enrollments) == 2
    (rejection,) = rejections
    assert (rejection.feed, rejection.line, rejection.reason) == ("roster", 3, reason)
    assert rejection.record[column] == value


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            "210111198809050337,刘小军,tekun,HH-9,individual,210111,社区,cw,1200,2021-07-01,active",
            "household_id must be empty for the individual program tekun",
        ),
        (
            "210111198809050337,刘小军,tekun,,head,210111,社区,cw,1200,2021-07-01,active",
            "role is head, but tekun is an individual program",
        ),
        (
            "210105195506200229,王秀兰,dibao_urban,HH-1,member,210105,社区,cw,600,2019-03-01,active",
            "monthly_amount must be 0 for a member (the head's row holds it)",
        ),
    ],
)
def test_rows_that_contradict_their_program_are_rejected(
    tmp_path: Path, row: str, reason: str
) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(f"{HEADER}\n{row}\n", "utf-8")
    assert [r.reason for r in load(path)[1]] == [reason]


def test_a_roster_without_its_columns_is_not_a_roster(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("身份证号,姓名\n210105195203140118,杨德福\n", "utf-8")
    with pytest.raises(NotATable, match=r"r\.csv is not a roster table: missing columns person_id"):
        load(path)


def change(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def roster_change(message: bytes, districts: Collection[str] = ()) -> RosterChange:
    parsed = parse_roster_change(message, PROGRAMS, districts)
    assert isinstance(parsed, RosterChange)
    return parsed


def test_an_exit_needs_only_the_identifying_columns() -> None:
    message = change(
        op="exit", person_id="210105195203140118", program="dibao_urban", household_id="HH-1"
    )
    parsed = roster_change(message)
    assert (parsed.op, parsed.key, parsed.status) == (
        "exit",
        ("210105195203140118", "dibao_urban", "HH-1"),
        "exited",
    )


def test_an_enrollment_message_carries_every_roster_column() -> None:
    row = dict(zip(COLUMNS, HEAD.split(","), strict=True))
    parsed = roster_change(change(op="enroll", **row), DISTRICTS)
    assert parsed.model_dump(exclude={"op"}) == Enrollment(**row).model_dump()
    numeric = roster_change(change(op="update", **row | {"monthly_amount": 1560}))
    assert numeric.monthly_amount == Decimal("1560.00")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"exit", "the message is not valid JSON"),
        (b"[1]", "the message is not a JSON object"),
        (
            change(op="delete"),
            "op 'delete' is not one of enroll, update, suspend, resume, exit, replace, remove",
        ),
        (
            change(op="suspend", person_id="210105195203140118", program="dibao_urban"),
            "household_id is empty, but dibao_urban is a household program",
        ),
        (
            change(op="resume", person_id="210105195203140113", program="tekun"),
            "person_id check character is 3, expected 8",
        ),
        (
            change(op="enroll", person_id="210105195203140118", program="tekun"),
            "name is empty; role is empty; district_code is empty; start_date is empty",
        ),
    ],
)
def test_a_bad_change_message_says_why(message: bytes, reason: str) -> None:
    with pytest.raises(BadRecord) as caught:
        parse_roster_change(message, PROGRAMS)
    assert caught.value.reason == reason


def test_a_snapshot_message_carries_the_person_s_rows_and_the_snapshot() -> None:
    row = dict(zip(COLUMNS, HEAD.split(","), strict=True))
    at = "2026-11-29T08:00:00+08:00"
    parsed = parse_roster_change(
        change(op="replace", person_id=row["person_id"], snapshot="S1", snapshot_at=at,
               enrollments=[row]),
        PROGRAMS, DISTRICTS,
    )  # fmt: skip
    assert isinstance(parsed, SnapshotEntry)
    assert (parsed.op, parsed.snapshot, parsed.snapshot_at.isoformat()) == ("replace", "S1", at)
    assert parsed.enrollments == (Enrollment(**row),)
    removed = parse_roster_change(
        change(op="remove", person_id=row["person_id"], snapshot="S1", snapshot_at=at), PROGRAMS
    )
    assert isinstance(removed, SnapshotEntry) and removed.enrollments == ()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"snapshot": ""}, "a replace message names no snapshot"),
        ({"snapshot_at": "2026-11-29T08:00:00"}, "snapshot_at has no time zone"),
        ({"snapshot_at": "yesterday"}, "snapshot_at is not an ISO date and time"),
        ({"enrollments": [{"person_id": "x"}]}, "enrollment 1: "),
        ({"person_id": "11010519491231002X"}, "enrollment 1 is another person's"),
        ({"op": "remove"}, "enrollments must be a list of roster rows (none for remove)"),
    ],
)
def test_a_bad_snapshot_message_says_why(fields: dict[str, object], reason: str) -> None:
    row = dict(zip(COLUMNS, HEAD.split(","), strict=True))
    at = "2026-11-29T08:00:00+00:00"
    message = {"op": "replace", "person_id": row["person_id"], "snapshot": "S1",
               "snapshot_at": at, "enrollments": [row]} | fields  # fmt: skip
    with pytest.raises(BadRecord) as caught:
        parse_roster_change(change(**message), PROGRAMS)
    assert caught.value.reason.startswith(reason)


def _as_before(enrollment: Enrollment) -> str:
    """A row's JSON as the roster load made it from the model before it made it directly."""
    row = enrollment.model_dump(mode="json", exclude={"changed_at"})
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def _rows_both_ways(body: bytes) -> tuple[list[object], list[object]]:
    direct: list[object] = list(
        roster_rows(io.BytesIO(body), PROGRAMS, districts=DISTRICTS, fmt="jsonl")
    )
    modelled = list(parse_roster(io.BytesIO(body), PROGRAMS, districts=DISTRICTS, fmt="jsonl"))
    return direct, [
        RosterRow(r.person_id, _as_before(r)) if isinstance(r, Enrollment) else r for r in modelled
    ]


def test_the_sample_rows_are_the_json_the_model_gives() -> None:
    direct = list(roster_rows(SAMPLES / "roster.csv", PROGRAMS, districts=DISTRICTS))
    modelled = load(SAMPLES / "roster.csv")[0]
    assert direct == [RosterRow(e.person_id, _as_before(e)) for e in modelled]


ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=8)
AMOUNTS = st.sampled_from(["", "0", "1560", "1,560.5", "１２.３", "0.125", "1E+3", "-1", "x"])


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "name": ANY_TEXT,
                "community": ANY_TEXT,
                "caseworker_id": ANY_TEXT,
                "household_id": st.sampled_from(["", "HH-1", 'H"\\\t1']),
                "role": st.sampled_from(["head", "member", "individual", "boss"]),
                "program": st.sampled_from(["dibao_urban", "tekun", "dibao_x"]),
                "monthly_amount": AMOUNTS,
                "start_date": st.sampled_from(["2019-03-01", "2019/3/1", "20190301", "2019-02-30"]),
            }
        ),
        min_size=1,
        max_size=5,
    )
)
def test_rows_are_checked_and_written_as_the_model_would(changes: list[dict[str, str]]) -> None:
    base = dict(zip(COLUMNS, HEAD.split(","), strict=True))
    body = "".join(json.dumps(base | change) + "\n" for change in changes).encode()
    direct, modelled = _rows_both_ways(body)
    assert direct == modelled
