"""Dates, times and months in the forms departments send them."""

from __future__ import annotations

import datetime as dt
import re

from connectors.errors import BadValue

# 2025-11-02, 2025/11/2, 2025.11.02, 2025年11月2日, and the compact 20251102.
_DATE = r"(?P<y>\d{4})(?:[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?|(?P<cm>\d{2})(?P<cd>\d{2}))"
_TIME = r"(?P<H>\d{1,2}):?(?P<M>\d{2})(?::?(?P<S>\d{2})(?:\.\d{1,6})?)?"
_DATE_RE = re.compile(_DATE)
_DATETIME_RE = re.compile(_DATE + r"(?:(?:[ T]+|(?<=\d{8}))" + _TIME + r")?")
_MONTH_RE = re.compile(r"(?P<y>\d{4})(?:[-/.年](?P<m>\d{1,2})月?|(?P<cm>\d{2}))")

DATE_FORMS = "YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD"
DATETIME_FORMS = "YYYY-MM-DD HH:MM[:SS]"
MONTH_FORMS = "YYYY-MM, YYYY/MM or YYYYMM"
# Years before this are typing errors (0025 for 2025), not records.
EARLIEST_YEAR = 1880


def parse_date(raw: str, column: str = "date") -> dt.date:
    """A calendar date; BadValue names the column and the value when it is not one."""
    text = raw.strip()
    if _is_iso(text):  # the usual form, read without the pattern (the same date if real)
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            pass  # not a real date: the pattern's way says so
        else:
            if value.year >= EARLIEST_YEAR:
                return value
    match = _DATE_RE.fullmatch(text)
    if match is None:
        raise BadValue(f"{column} {text!r} is not a date (expected {DATE_FORMS})")
    return _date(match, text, column)


def parse_datetime(raw: str, column: str = "datetime") -> dt.datetime:
    """A local date and time; a date alone means midnight."""
    text = raw.strip()
    match = _DATETIME_RE.fullmatch(text)
    if match is None:
        raise BadValue(f"{column} {text!r} is not a date and time (expected {DATETIME_FORMS})")
    day = _date(match, text, column)
    hour, minute, second = (int(match[part] or 0) for part in ("H", "M", "S"))
    try:
        return dt.datetime.combine(day, dt.time(hour, minute, second))
    except ValueError:
        raise BadValue(f"{column} {text!r} is not a real time of day") from None


def parse_month(raw: str, column: str = "month") -> dt.date:
    """A calendar month, as the date of its first day."""
    text = raw.strip()
    match = _MONTH_RE.fullmatch(text)
    if match is None:
        raise BadValue(f"{column} {text!r} is not a month (expected {MONTH_FORMS})")
    year, month = int(match["y"]), int(match["m"] or match["cm"])
    if not 1 <= month <= 12:
        raise BadValue(f"{column} {text!r} is not a real month")
    if year < EARLIEST_YEAR:
        raise BadValue(f"{column} {text!r} is not a plausible month")
    return dt.date(year, month, 1)


def _is_iso(text: str) -> bool:
    """YYYY-MM-DD in ASCII digits, which _DATE_RE reads as the same year, month and day."""
    return (
        len(text) == 10
        and text[4] == text[7] == "-"
        and text.isascii()
        and text[:4].isdigit()
        and text[5:7].isdigit()
        and text[8:].isdigit()
    )


def _date(match: re.Match[str], text: str, column: str) -> dt.date:
    year = int(match["y"])
    month = int(match["m"] or match["cm"])
    day = int(match["d"] or match["cd"])
    try:
        value = dt.date(year, month, day)
    except ValueError:
        raise BadValue(f"{column} {text!r} is not a real date") from None
    if year < EARLIEST_YEAR:
        raise BadValue(f"{column} {text!r} is not a plausible date")
    return value
