"""Resident identity numbers: what is accepted, and what a clerk is told when not."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from connectors.errors import BadValue
from connectors.ids import birth_date, check_id, mask_id, normalise_id
from welfare_watch.errors import WelfareWatchError

VALID = "210105195203140118"
VALID_X = "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (VALID, VALID),
        (" 210105 19520314 0118 ", VALID),
        ("\u3000210105195203140118\u3000", VALID),  # full-width spaces
        ("210105\u00a0195203140118", VALID),  # no-break space from a spreadsheet
        ("\ufeff210105195203140118\u200b", VALID),  # BOM and zero-width space
        ("210105195203140118\t\r\n", VALID),
        ("11010519491231002x", VALID_X),  # lower-case check character
        ("１１０１０５１９４９１２３１００２ｘ", VALID_X),  # typed with full-width digits
    ],
)
def test_accepted_numbers_are_normalised(raw: str, expected: str) -> None:
    assert normalise_id(raw) == expected
    assert check_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("210105195203140113", "公民身份号码 check character is 3, expected 8"),
        ("21010519520314011X", "公民身份号码 check character is X, expected 8"),
        ("110105194912310028", "公民身份号码 check character is 8, expected X"),
        ("21010519520314011", "公民身份号码 has 17 characters, expected 18"),
        ("2101051952031401180", "公民身份号码 has 19 characters, expected 18"),
        (
            "210105520314011",
            "公民身份号码 has 15 characters, expected 18"
            " (a 15-digit number must be upgraded to 18)",
        ),
        ("2101O5195203140118", "公民身份号码 character 5 is 'O', expected a digit"),
        ("210105199902310014", "公民身份号码 birth date 19990231 is not a real date"),
        ("210105190013010010", "公民身份号码 birth date 19001301 is not a real date"),
        ("210105180001010014", "公民身份号码 birth date 18000101 is not a plausible date"),
        ("   ", "公民身份号码 is empty"),
    ],
)
def test_rejected_numbers_say_why(raw: str, reason: str) -> None:
    with pytest.raises(BadValue) as caught:
        check_id(raw)
    assert caught.value.reason == reason
    assert str(caught.value) == reason


def test_the_reason_names_the_column_the_number_came_from() -> None:
    with pytest.raises(BadValue, match=r"^身份证号 check character is 3, expected 8$"):
        check_id("210105195203140113", label="身份证号")


def test_a_birth_date_after_today_is_rejected_when_today_is_given() -> None:
    number = "210105202612010018"
    assert check_id(number) == number
    with pytest.raises(BadValue, match="birth date 20261201 is in the future"):
        check_id(number, today=dt.date(2026, 11, 28))


def test_bad_value_is_a_welfare_watch_error() -> None:
    assert issubclass(BadValue, WelfareWatchError)


@pytest.mark.parametrize(
    ("number", "born"),
    [(VALID, dt.date(1952, 3, 14)), (VALID_X, dt.date(1949, 12, 31))],
)
def test_birth_date(number: str, born: dt.date) -> None:
    assert birth_date(number) == born


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        (VALID, "210105********0118"),
        (VALID_X, "110105********002X"),
        ("12345", "*****"),
        ("", ""),
    ],
)
def test_mask_id_hides_birth_date_and_sequence(number: str, masked: str) -> None:
    assert mask_id(number) == masked


def test_redact_masks_id_numbers_inside_free_text() -> None:
    from connectors.ids import redact

    text = "KeyError: '210105195203140118' and 21010519520314011x; order 12345"
    assert redact(text) == "KeyError: '210105********0118' and 210105********011x; order 12345"


ID_LIKE = "0123456789Xx \u3000０１２３４５６７８９ｘ\u200b-"


@given(st.text(alphabet=ID_LIKE, min_size=16, max_size=20))
def test_a_number_taken_as_it_came_is_one_normalising_would_not_change(raw: str) -> None:
    """check_id skips normalise_id for 18 ASCII characters, 17 digits and a digit or X."""
    if len(raw) == 18 and raw.isascii() and raw[:-1].isdigit() and raw[-1] in "0123456789X":
        assert normalise_id(raw) == raw
    try:
        got: str | None = check_id(raw)
    except BadValue:
        got = None
    if got is not None:
        assert got == normalise_id(raw)


BODIES = st.text(alphabet="0123456789", min_size=17, max_size=17) | st.builds(
    lambda day, serial: f"210105{day:%Y%m%d}{serial:03d}",
    st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31)),
    st.integers(0, 999),
)


@given(BODIES)
def test_the_birth_date_is_read_as_the_library_reads_it(body: str) -> None:
    number = body + ric.calc_check_digit(body + "0")
    try:
        expected: dt.date | None = ric.get_birth_date(number)
    except (ValidationError, ValueError):
        expected = None
    if expected is not None and expected.year >= 1880:
        assert birth_date(number) == expected
    else:
        with pytest.raises(BadValue, match="birth date"):
            birth_date(number)
