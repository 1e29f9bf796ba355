"""Rows out of a CSV or JSON-lines file or body, streamed, whatever its encoding."""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple

from connectors.errors import NotATable

Format = Literal["csv", "jsonl"]

_HEAD = 64 * 1024  # bytes looked at before the first row: binary content, format
_CHUNK = 256 * 1024
_MAX_LINE = 4 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_JSON_SUFFIXES = frozenset({".jsonl", ".json", ".ndjson"})
_CSV_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
# Spreadsheets and archives are sent as often as their CSV exports.
_SIGNATURES = {
    b"PK\x03\x04": "a zip or Excel (.xlsx) file",
    b"\xd0\xcf\x11\xe0": "an Excel (.xls) or Word file",
    b"%PDF": "a PDF file",
    b"\x1f\x8b": "a gzip file",
    b"\xff\xfe": 'UTF-16 text (Excel\'s "Unicode text")',
    b"\xfe\xff": "UTF-16 text",
}


class RawRecord(NamedTuple):
    """One row as sent: its line number, its values by column name, and any reading problem."""

    line: int
    row: dict[str, str]
    problem: str = ""  # set when the line itself could not be read: the record is rejected


def read_records(
    data: Path | BinaryIO,
    *,
    required: Collection[str] = (),
    table: str = "",
    fmt: Format | None = None,
    encoding: str = "auto",
    delimiter: str = ",",
    name: str = "",
) -> Iterator[RawRecord]:
    """Every row of a file or stream, in constant memory.

    Raises NotATable before the first row when the content is binary, undecodable, or its
    header lacks a `required` column. `name` (default: the file name) and `table` (the
    feed) make that message say which file is not which table.
    """
    if isinstance(data, Path):
        name = name or data.name
        try:
            stream = data.open("rb")
        except OSError as exc:
            raise NotATable(f"cannot read {data}: {exc.strerror}") from None
        with stream:
            yield from _records(stream, required, table, fmt, encoding, delimiter, name)
    else:
        yield from _records(data, required, table, fmt, encoding, delimiter, name or "the data")


def _records(
    stream: BinaryIO,
    required: Collection[str],
    table: str,
    fmt: Format | None,
    encoding: str,
    delimiter: str,
    name: str,
) -> Iterator[RawRecord]:
    head = stream.read(_HEAD)
    _check_not_binary(head, name)
    decoder = _Decoder(encoding)
    lines = (decoder.decode(line) for line in _byte_lines(head, stream, name))
    if (fmt or _detect(name, head)) == "jsonl":
        yield from _json_records(lines, decoder, required, table, name)
    else:
        yield from _csv_records(lines, decoder, required, table, delimiter, name)


def _check_not_binary(head: bytes, name: str) -> None:
    for signature, what in _SIGNATURES.items():
        if head.startswith(signature):
            raise NotATable(f"{name} is {what}, not a table: save it as CSV in UTF-8 or GB18030")
    if b"\x00" in head:
        raise NotATable(f"{name} is binary (it contains NUL bytes), not a table")


def _detect(name: str, head: bytes) -> Format:
    suffix = Path(name).suffix.lower()
    if suffix in _JSON_SUFFIXES:
        return "jsonl"
    if suffix in _CSV_SUFFIXES:
        return "csv"
    return "jsonl" if head.removeprefix(_BOM).lstrip().startswith(b"{") else "csv"


def _byte_lines(head: bytes, stream: BinaryIO, name: str) -> Iterator[bytes]:
    pending = head.removeprefix(_BOM)
    while True:
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line + b"\n"
        if len(pending) > _MAX_LINE:
            raise NotATable(f"{name} has a line longer than {_MAX_LINE} bytes: not a table")
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        pending += chunk
    if pending:
        yield pending


class _Decoder:
    """Decodes line by line; "auto" settles on UTF-8 or GB18030 at the first non-ASCII line."""

    def __init__(self, encoding: str) -> None:
        self.encoding = None if encoding == "auto" else encoding
        self.failed = False  # some line had bytes the encoding cannot read

    def decode(self, line: bytes) -> str:
        if self.encoding is None:
            if line.isascii():
                return line.decode("ascii")
            self.encoding = _guess(line)
        text = line.decode(self.encoding, errors="surrogateescape")
        if not self.failed and not text.isascii():
            self.failed = not _readable(text)
        return text

    @property
    def label(self) -> str:
        return (self.encoding or "UTF-8").upper()


def _guess(line: bytes) -> str:
    for encoding in ("utf-8", "gb18030"):
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "utf-8"


def _readable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _repaired(value: str) -> str:
    """Undecodable bytes shown as U+FFFD, so a rejected record can still be sent on."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _unreadable(row: dict[str, str], decoder: _Decoder) -> str:
    if not decoder.failed or all(_readable(value) for value in row.values()):
        return ""
    for key, value in row.items():
        row[key] = _repaired(value)
    return f"the line is not valid {decoder.label} text: save the file as UTF-8 or GB18030"


def _missing(required: Collection[str], present: Collection[str], table: str, name: str) -> str:
    missing = [column for column in required if column not in present]
    if not missing:
        return ""
    what = f"a {table} table" if table else "the expected table"
    return f"{name} is not {what}: missing columns {', '.join(missing)}"


def _csv_records(
    lines: Iterator[str],
    decoder: _Decoder,
    required: Collection[str],
    table: str,
    delimiter: str,
    name: str,
) -> Iterator[RawRecord]:
    reader = csv.reader(lines, delimiter=delimiter)
    header = _header(reader, decoder, required, table, name)
    width = len(header)
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRecord(start, {}, f"the line is not valid CSV: {exc}")
            continue
        if not values or (len(values) == 1 and not values[0].strip()):
            continue  # blank lines are not records
        row = dict(zip(header, values, strict=False))
        row.pop("", None)
        problem = _unreadable(row, decoder)
        if not problem and (len(values) < width or any(v.strip() for v in values[width:])):
            count = f"{len(values)} value" + ("" if len(values) == 1 else "s")
            problem = f"the line has {count}, the header has {width} columns"
        yield RawRecord(start, row, problem)


def _header(
    reader: Iterator[list[str]],
    decoder: _Decoder,
    required: Collection[str],
    table: str,
    name: str,
) -> list[str]:
    for values in reader:
        header = [value.strip().lstrip("\ufeff").strip() for value in values]
        if not any(header):
            continue
        if decoder.failed:
            raise NotATable(f"{name} is not UTF-8 or GB18030 text (its header cannot be read)")
        named = [column for column in header if column]
        repeated = sorted({column for column in named if named.count(column) > 1})
        if repeated:
            raise NotATable(f"{name} has the column {', '.join(repeated)} more than once")
        problem = _missing(required, header, table, name)
        if problem:
            raise NotATable(problem)
        return header
    raise NotATable(f"{name} is empty: it has no header line")


def _json_records(
    lines: Iterator[str],
    decoder: _Decoder,
    required: Collection[str],
    table: str,
    name: str,
) -> Iterator[RawRecord]:
    first = True
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        row, problem = _json_row(text)
        if first:
            first = False
            if problem:
                raise NotATable(f"{name} is not JSON lines: line {number} is not a JSON object")
            if required and not any(column in row for column in required):
                raise NotATable(_missing(required, row, table, name))
        problem = problem or _unreadable(row, decoder)
        yield RawRecord(number, row, problem)


def _json_row(text: str) -> tuple[dict[str, str], str]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"line": _repaired(text.strip())}, "the line is not valid JSON"
    if not isinstance(value, dict):
        return {"line": _repaired(text.strip())}, "the line is not a JSON object"
    return {str(k): _json_text(v) for k, v in value.items()}, ""


def _json_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
