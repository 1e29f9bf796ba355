"""Resident identity numbers (公民身份号码, GB 11643-1999): normalise, check, mask."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata

from stdnum.cn import ric

from connectors.errors import BadValue

LABEL = "公民身份号码"
LENGTH = 18
_DIGITS = frozenset("0123456789")
_LAST = frozenset("0123456789X")
# Invisible characters that survive copy-paste from spreadsheets and web forms.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def normalise_id(raw: str) -> str:
    """Strip every kind of whitespace and upper-case a trailing x.

    NFKC turns full-width digits and Ｘ (typed with a Chinese input method) into ASCII
    and the full-width space U+3000 into an ordinary one.
    """
    text = unicodedata.normalize("NFKC", raw).translate(_INVISIBLE)
    number = "".join(text.split())
    if number.endswith("x"):
        number = number[:-1] + "X"
    return number


def check_id(raw: str, *, label: str = LABEL, today: dt.date | None = None) -> str:
    """The normalised number, or BadValue saying what is wrong with it.

    `label` is the column the number came from, so the reason names what the clerk sees.
    The address code is not checked against a table of regions: a number keeps the code
    of the place that issued it, and districts are renamed and merged over the years.
    """
    # Most numbers arrive clean: 18 ASCII characters, 17 digits and a digit or X, which
    # normalise_id would return unchanged (isdigit() of ASCII text is 0-9 only).
    clean = len(raw) == LENGTH and raw.isascii() and raw[:-1].isdigit() and raw[-1] in _LAST
    number = raw if clean else _checked_form(raw, label)
    expected = ric.calc_check_digit(number)
    if number[-1] != expected:
        raise BadValue(f"{label} check character is {number[-1]}, expected {expected}")
    born = _birth_date(number, label)
    if today is not None and born > today:
        raise BadValue(f"{label} birth date {number[6:14]} is in the future")
    return number


def _checked_form(raw: str, label: str) -> str:
    """The normalised number when it is 18 characters, 17 of them digits; else BadValue."""
    number = normalise_id(raw)
    if not number:
        raise BadValue(f"{label} is empty")
    if len(number) != LENGTH:
        hint = " (a 15-digit number must be upgraded to 18)" if len(number) == 15 else ""
        raise BadValue(f"{label} has {len(number)} characters, expected {LENGTH}{hint}")
    for position, char in enumerate(number[:-1], start=1):
        if char not in _DIGITS:
            raise BadValue(f"{label} character {position} is {char!r}, expected a digit")
    return number


def birth_date(person_id: str) -> dt.date:
    """The birth date encoded in a number that passed `check_id`."""
    return _birth_date(normalise_id(person_id), LABEL)


@functools.lru_cache(maxsize=1 << 16)  # a person's number recurs in month after month of records
def _birth_date(number: str, label: str) -> dt.date:
    # Characters 7-14, as ric.get_birth_date reads them (without cleaning the number again:
    # it is clean, and a roster of a million people misses this cache a million times).
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise BadValue(f"{label} birth date {number[6:14]} is not a real date") from None
    if born.year < 1880:
        raise BadValue(f"{label} birth date {number[6:14]} is not a plausible date")
    return born


def mask_id(person_id: str) -> str:
    """`210105********1234`: enough to tell records apart in a log, not enough to identify."""
    if len(person_id) <= 10:
        return "*" * len(person_id)
    return person_id[:6] + "*" * (len(person_id) - 10) + person_id[-4:]


_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def redact(text: str) -> str:
    """Any ID number inside free text (an exception's message) masked, for a log line."""
    return _ID_LIKE.sub(lambda m: mask_id(m.group(0)), text)
