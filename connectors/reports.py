"""A dropped file's report: what became of it, written beside it in done/ or failed/."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

Status = Literal["done", "failed"]
REPORT_SUFFIX = ".report.json"


@dataclass(frozen=True)
class FileReport:
    """One taken file: accepted + rejected = received. Its rejections are in the report file."""

    feed: str
    file: str  # the name it arrived under
    received_at: dt.datetime
    status: Status
    path: Path  # where the file is now, in done/ or failed/
    accepted: int = 0
    rejected: int = 0
    error: str | None = None  # why the whole file failed

    @property
    def received(self) -> int:
        return self.accepted + self.rejected

    @property
    def report_path(self) -> Path:
        return report_path(self.path)


def report_path(archived: Path) -> Path:
    return archived.with_name(archived.name + REPORT_SUFFIX)


def archive_name(name: str, received_at: dt.datetime, taken: Callable[[str], bool]) -> str:
    """`20261128T141530Z-psb_deaths.csv`: a file sent again never replaces the earlier one.

    `taken` says whether a name is already used in the target folder (by a file or a report).
    """
    stamp = received_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = f"{stamp}-{name}"
    n = 1
    while taken(candidate) or taken(candidate + REPORT_SUFFIX):
        n += 1
        candidate = f"{stamp}-{n}-{name}"
    return candidate


class RejectionLog:
    """Each rejection's line and reason, spooled to disk: a file of any size in constant memory.

    Only the line number and the reason are kept, never the record's values.
    """

    def __init__(self) -> None:
        self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (__exit__)

    def add(self, line: int | None, reason: str) -> None:
        self._spool.write(json.dumps([line, reason], ensure_ascii=False) + "\n")

    def __iter__(self) -> Iterator[tuple[int | None, str]]:
        self._spool.flush()
        self._spool.seek(0)
        for text in self._spool:
            line, reason = json.loads(text)
            yield line, reason
        self._spool.seek(0, os.SEEK_END)

    def __enter__(self) -> RejectionLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._spool.close()


def write_report(report: FileReport, rejections: Iterable[tuple[int | None, str]] = ()) -> Path:
    """Write `report` beside its file, streaming the rejections; replaced into place whole."""
    target = report.report_path
    partial = target.with_name(target.name + ".partial")
    head = {
        "feed": report.feed,
        "file": report.file,
        "received_at": report.received_at.isoformat(),
        "status": report.status,
        "received": report.received,
        "accepted": report.accepted,
        "rejected": report.rejected,
    }
    with partial.open("w", encoding="utf-8") as out:
        out.write("{\n")
        for key, value in head.items():
            out.write(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
        out.write('  "rejections": [')
        separator = "\n    "
        for line, reason in rejections:
            out.write(separator + json.dumps({"line": line, "reason": reason}, ensure_ascii=False))
            separator = ",\n    "
        out.write("\n  ],\n" if separator != "\n    " else "],\n")
        out.write(f'  "error": {json.dumps(report.error, ensure_ascii=False)}\n}}\n')
    os.replace(partial, target)
    return target
