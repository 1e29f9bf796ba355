"""Dates, times and months in every form departments send, and the impossible ones."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.dates import _DATE_RE, _date, parse_date, parse_datetime, parse_month
from connectors.errors import BadValue

NOV_2 = dt.date(2025, 11, 2)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-11-02", NOV_2),
        ("2025/11/02", NOV_2),
        ("20251102", NOV_2),
        ("2025-11-2", NOV_2),
        ("2025/1/5", dt.date(2025, 1, 5)),
        ("  2025-11-02\u3000", NOV_2),
        ("2025.11.02", NOV_2),
        ("2025年11月2日", NOV_2),
        ("2024-02-29", dt.date(2024, 2, 29)),
    ],
)
def test_date_forms(raw: str, expected: dt.date) -> None:
    assert parse_date(raw, "死亡日期") == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2025-02-30", "死亡日期 '2025-02-30' is not a real date"),
        ("2025-13-01", "死亡日期 '2025-13-01' is not a real date"),
        ("20250230", "死亡日期 '20250230' is not a real date"),
        ("2023-02-29", "死亡日期 '2023-02-29' is not a real date"),
        ("0025-11-02", "死亡日期 '0025-11-02' is not a plausible date"),
        (
            "02/11/2025",
            "死亡日期 '02/11/2025' is not a date (expected YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)",
        ),
        ("yesterday", "死亡日期 'yesterday' is not a date (expected"),
        ("2025-11-02 06:40", "死亡日期 '2025-11-02 06:40' is not a date"),
    ],
)
def test_impossible_dates_name_the_column(raw: str, reason: str) -> None:
    with pytest.raises(BadValue) as caught:
        parse_date(raw, "死亡日期")
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-11-02 06:40", dt.datetime(2025, 11, 2, 6, 40)),
        ("2025-11-02 06:40:15", dt.datetime(2025, 11, 2, 6, 40, 15)),
        ("2025/11/2 6:40", dt.datetime(2025, 11, 2, 6, 40)),
        ("20251102 06:40", dt.datetime(2025, 11, 2, 6, 40)),
        ("2025-11-02T06:40:15", dt.datetime(2025, 11, 2, 6, 40, 15)),
        ("20251102064015", dt.datetime(2025, 11, 2, 6, 40, 15)),
        (" 2025-11-02  23:59 ", dt.datetime(2025, 11, 2, 23, 59)),
        ("2025-11-02", dt.datetime(2025, 11, 2)),  # a date alone: midnight
    ],
)
def test_datetime_forms(raw: str, expected: dt.datetime) -> None:
    assert parse_datetime(raw, "死亡时间") == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2025-11-02 24:00", "死亡时间 '2025-11-02 24:00' is not a real time of day"),
        ("2025-11-02 06:60", "死亡时间 '2025-11-02 06:60' is not a real time of day"),
        ("2025-11-31 06:40", "死亡时间 '2025-11-31 06:40' is not a real date"),
        ("2025-11-02 morning", "死亡时间 '2025-11-02 morning' is not a date and time"),
    ],
)
def test_impossible_datetimes(raw: str, reason: str) -> None:
    with pytest.raises(BadValue) as caught:
        parse_datetime(raw, "死亡时间")
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    "raw", ["2026-09", "2026/09", "202609", "2026-9", "2026/9", " 2026-09 ", "2026年9月"]
)
def test_month_forms_give_the_first_day(raw: str) -> None:
    assert parse_month(raw, "所属期") == dt.date(2026, 9, 1)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2026-13", "所属期 '2026-13' is not a real month"),
        ("202600", "所属期 '202600' is not a real month"),
        ("2026-09-01", "所属期 '2026-09-01' is not a month (expected YYYY-MM, YYYY/MM or YYYYMM)"),
        ("Sept", "所属期 'Sept' is not a month"),
    ],
)
def test_impossible_months(raw: str, reason: str) -> None:
    with pytest.raises(BadValue) as caught:
        parse_month(raw, "所属期")
    assert caught.value.reason.startswith(reason)


@given(st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99))
def test_the_usual_form_is_read_as_the_pattern_reads_it(year: int, month: int, day: int) -> None:
    """parse_date reads YYYY-MM-DD without its pattern: the same date, or the same refusal."""
    text = f"{year:04d}-{month:02d}-{day:02d}"
    match = _DATE_RE.fullmatch(text)
    assert match is not None
    try:
        expected: dt.date | str = _date(match, text, "c")
    except BadValue as exc:
        expected = exc.reason
    try:
        got: dt.date | str = parse_date(text, "c")
    except BadValue as exc:
        got = exc.reason
    assert got == expected
