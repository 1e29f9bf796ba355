"""One column value read by its configured type: checked, then in canonical form."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from connectors.dates import parse_date, parse_datetime, parse_month
from connectors.errors import BadValue
from connectors.feedspec import FieldSpec
from connectors.ids import check_id

_CENTS = Decimal("0.01")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def cell(value: object) -> str | None:
    """A raw value as text: None stays None (no such column), JSON numbers become text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_empty(spec: FieldSpec, text: str) -> bool:
    return not text or text in spec.empty_words


def read_date(spec: FieldSpec, column: str, text: str) -> dt.date:
    """The value of a date, datetime or month column as a date (for Fact.event_date)."""
    return date_reader(spec, column)(text)


def read_text(spec: FieldSpec, column: str, text: str, today: dt.date) -> str:
    """The value in canonical text form, as stored in Fact.attrs."""
    return text_reader(spec, column)(text, today)


DateReader = Callable[[str], dt.date]
TextReader = Callable[[str, dt.date], str]


def date_reader(spec: FieldSpec, column: str) -> DateReader:
    """`read_date` for one column, chosen once: a feed's reader applies it to every record."""
    if spec.type == "datetime":
        return lambda text: parse_datetime(text, column).date()
    if spec.type == "month":
        return lambda text: parse_month(text, column)
    return lambda text: parse_date(text, column)


def text_reader(spec: FieldSpec, column: str) -> TextReader:
    """`read_text` for one column, chosen once: a feed's reader applies it to every record
    (`today` is the delivery's: an ID number's birth date may not be after it)."""
    match spec.type:
        case "id":
            return lambda text, today: check_id(text, label=column, today=today)
        case "name":
            return lambda text, today: clean_name(text)
        case "date":
            return lambda text, today: parse_date(text, column).isoformat()
        case "datetime":
            return lambda text, today: parse_datetime(text, column).isoformat()
        case "month":
            return lambda text, today: parse_month(text, column).strftime("%Y-%m")
        case "decimal":
            return lambda text, today: decimal_text(parse_decimal(text, column))
        case "region":
            return lambda text, today: parse_region(text, column)
        case "word":
            return lambda text, today: read_word(spec, column, text)
        case "program":
            return lambda text, today: read_program(spec, column, text)
        case _:
            return lambda text, today: text


def clean_name(text: str) -> str:
    """Names are compared and stored without any whitespace (王 建国 is 王建国)."""
    return "".join(text.translate(_INVISIBLE).split())


def parse_decimal(raw: str, column: str) -> Decimal:
    text = unicodedata.normalize("NFKC", raw).strip().replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadValue(f"{column} {raw.strip()!r} is not a number") from None
    if not value.is_finite() or value.adjusted() > 12:
        raise BadValue(f"{column} {raw.strip()!r} is not a plausible amount")
    if value < 0:
        raise BadValue(f"{column} {raw.strip()!r} is negative")
    return value


def decimal_text(value: Decimal) -> str:
    """At least two decimal places, more only when given: 1560 -> "1560.00"."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return str(value)
    return str(value.quantize(_CENTS))


def parse_region(raw: str, column: str) -> str:
    text = unicodedata.normalize("NFKC", raw).strip()
    if len(text) != 6 or not text.isdigit() or not text.isascii():
        raise BadValue(f"{column} {raw.strip()!r} is not a 6-digit region code")
    return text


def read_word(spec: FieldSpec, column: str, text: str) -> str:
    word = spec.words.get(text)
    if word is not None:
        return word
    if spec.otherwise is not None:
        return spec.otherwise
    raise BadValue(f"{column} {text!r} is not one of {', '.join(spec.words)}")


def read_program(spec: FieldSpec, column: str, text: str) -> str:
    """A program code, one of the policy's: an unknown code would match no enrollment."""
    code = unicodedata.normalize("NFKC", text)
    if code in spec.codes:
        return code
    raise BadValue(f'{column} "{text}" is not a program; known: {", ".join(spec.codes)}')
