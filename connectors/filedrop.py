"""The file-drop way in: files put in `$WW_DATA_DIR/inbox/{feed}/`, taken once complete.

A file is taken only once it is complete. Writers should write under a temporary name
(`.x.csv`, `x.csv.tmp`, `.part`, `.partial`, `.swp` are never touched) and rename the file into
place; any other file is taken once its size and modification time have stayed the same for
`connectors.stable_seconds`. Each taken file is one delivery: streamed through `read_feed`
into one DeliverySink, then moved to `done/` — or to `failed/` when it is not a table of its
feed (binary, wrong header), and then nothing of it is sent — with a `.report.json` beside it.

When Kafka cannot be reached the file stays in the inbox and is tried again at the next poll.
A crash after sending and before the move sends the file again on restart. That is harmless:
the worker keeps facts by identity (feed and record id), so a record sent twice has the effect
of one (exactly once in effect); nothing here tries to prevent it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from kafka.errors import KafkaError

from connectors.errors import NotATable
from connectors.feedspec import FeedSpec
from connectors.parse import Record, Rejection, read_feed
from connectors.reports import FileReport, RejectionLog, Status, archive_name, write_report
from connectors.sink import DeliveryResult, sink_for
from welfare_watch.errors import WelfareWatchError
from welfare_watch.settings import Settings

log = logging.getLogger("welfare_watch.connectors.filedrop")

INBOX = "inbox"
DONE: Status = "done"
FAILED: Status = "failed"
TEMPORARY_SUFFIXES = frozenset({".tmp", ".part", ".partial", ".swp"})
_DRAIN_TICK = 0.1  # seconds between looks while draining


# --- When a file is complete (pure) ----------------------------------------------------------


def is_temporary(name: str) -> bool:
    """A name a writer uses while the file is still being written."""
    return name.startswith(".") or Path(name).suffix.lower() in TEMPORARY_SUFFIXES


@dataclass(frozen=True)
class Sighting:
    """A file's size and modification time, and the clock reading when they were first seen."""

    size: int
    mtime_ns: int
    since: float


def observe(previous: Sighting | None, size: int, mtime_ns: int, now: float) -> Sighting:
    """The sighting after looking at a file at `now`: unchanged keeps its `since`."""
    if previous is not None and (previous.size, previous.mtime_ns) == (size, mtime_ns):
        return previous
    return Sighting(size, mtime_ns, now)


def is_complete(seen: Sighting, now: float, stable_seconds: float) -> bool:
    """Unchanged for `stable_seconds`: the writer is done with it."""
    return now - seen.since >= stable_seconds


# --- Folders -----------------------------------------------------------------------------------


def inbox_folder(settings: Settings, feed: str) -> Path:
    return settings.env.data_dir / INBOX / feed


def _dropped(folder: Path) -> Iterator[Path]:
    """Files in an inbox folder that may be taken once complete (not done/, failed/, temps)."""
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return
    for path in entries:
        if not is_temporary(path.name) and path.is_file():
            yield path


def waiting_files(settings: Settings) -> dict[str, int]:
    """How many files each configured feed's inbox holds that the connector will take."""
    counts = {
        feed: sum(1 for _ in _dropped(inbox_folder(settings, feed))) for feed in settings.feeds
    }
    return {feed: n for feed, n in sorted(counts.items()) if n}


# --- The connector -----------------------------------------------------------------------------


class FileDrop:
    """Watches every configured feed's inbox folder; `poll` takes what is complete now."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._config = settings.policy.connectors
        self._seen: dict[Path, Sighting] = {}
        self.inboxes = {feed: inbox_folder(settings, feed) for feed in sorted(settings.feeds)}
        for folder in self.inboxes.values():
            for status in (DONE, FAILED):
                (folder / status).mkdir(parents=True, exist_ok=True)

    def waiting(self) -> list[Path]:
        """Every file in an inbox not yet taken (temporary names aside)."""
        return [path for folder in self.inboxes.values() for path in _dropped(folder)]

    def poll(self, stop: threading.Event | None = None) -> list[FileReport]:
        """One pass: every file complete now is sent and moved, oldest first; their reports.

        If Kafka cannot be reached the pass ends there: the file stays for the next poll.
        """
        reports: list[FileReport] = []
        for feed, folder in self.inboxes.items():
            for path in self._complete(folder):
                if stop is not None and stop.is_set():
                    return reports
                try:
                    reports.append(self._take(self._settings.feeds[feed], path))
                    self._seen.pop(path, None)  # a new file of this name is watched afresh
                except (WelfareWatchError, KafkaError) as exc:
                    log.warning("%s: %s stays in the inbox: %s", feed, path.name, _why(exc))
                    return reports
                except OSError as exc:  # read, moved or reported: it is tried again if still here
                    log.error("%s: %s: %s", feed, path.name, exc.strerror or type(exc).__name__)
        return reports

    def run(self, stop: threading.Event) -> None:
        """Poll every `connectors.poll_seconds` until `stop` is set."""
        while not stop.is_set():
            self.poll(stop)
            stop.wait(self._config.poll_seconds)

    def _complete(self, folder: Path) -> list[Path]:
        now = self._clock()
        ready: list[tuple[int, str, Path]] = []
        present: set[Path] = set()
        for path in _dropped(folder):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            present.add(path)
            seen = self._seen[path] = observe(
                self._seen.get(path), stat.st_size, stat.st_mtime_ns, now
            )
            if is_complete(seen, now, self._config.stable_seconds):
                ready.append((stat.st_mtime_ns, path.name, path))
        for gone in [p for p in self._seen if p.parent == folder and p not in present]:
            del self._seen[gone]
        return [path for *_, path in sorted(ready)]

    def _take(self, spec: FeedSpec, path: Path) -> FileReport:
        received_at = dt.datetime.now(dt.UTC)
        with RejectionLog() as rejections:
            result, error = self._send(spec, path, received_at, rejections)
            report = _archive(spec.name, path, received_at, result, error)
            write_report(report, rejections)
        if error:
            log.warning("%s: %s failed: %s", spec.name, path.name, error)
        else:
            log.info(
                "%s: %s done: received %d, accepted %d, rejected %d",
                spec.name, path.name, report.received, report.accepted, report.rejected,
            )  # fmt: skip
        return report

    def _send(
        self, spec: FeedSpec, path: Path, received_at: dt.datetime, rejections: RejectionLog
    ) -> tuple[DeliveryResult, str | None]:
        """Every record of the file to Kafka; the error when the file is not a table."""
        source = f"file:{path.name}"
        result = DeliveryResult(spec.name, source)
        with closing(_records(spec, path, received_at, source)) as items:
            try:
                first = next(items, None)  # a file that is not a table fails here: nothing sent
                if first is None:
                    return result, None
                with sink_for(self._settings, spec, source) as sink:
                    result = sink.result
                    for item in chain((first,), items):
                        sink.send(item)
                        if isinstance(item, Rejection):
                            rejections.add(item.line, item.reason)
            except NotATable as exc:  # also a line too long to read, found halfway
                return result, str(exc)
        return result, None


def _records(
    spec: FeedSpec, path: Path, received_at: dt.datetime, source: str
) -> Generator[Record | Rejection, None, None]:
    """read_feed as a generator that can be closed: the file is closed on any error."""
    yield from read_feed(spec, path, received_at, source)


def _archive(
    feed: str, path: Path, received_at: dt.datetime, result: DeliveryResult, error: str | None
) -> FileReport:
    """Move the file out of the inbox, under a name no other file has there."""
    status = FAILED if error else DONE
    folder = path.parent / status
    folder.mkdir(exist_ok=True)
    name = archive_name(path.name, received_at, lambda n: (folder / n).exists())
    archived = path.replace(folder / name)
    return FileReport(
        feed=feed,
        file=path.name,
        received_at=received_at,
        status=status,
        path=archived,
        accepted=result.accepted,
        rejected=result.rejected,
        error=error,
    )


def _why(exc: BaseException) -> str:
    # Our own errors are sentences without personal data; a client library's could quote
    # anything, so only its kind is logged.
    if isinstance(exc, WelfareWatchError):
        return f"{exc}; trying again at the next poll"
    return f"Kafka error {type(exc).__name__}; trying again at the next poll"


def drain(settings: Settings, timeout: float) -> list[FileReport]:
    """Poll until no inbox holds a file (temporary names aside) or `timeout` seconds pass."""
    drop = FileDrop(settings)
    deadline = time.monotonic() + timeout
    reports: list[FileReport] = []
    while True:
        reports += drop.poll()
        if not drop.waiting() or time.monotonic() >= deadline:
            return reports
        time.sleep(_DRAIN_TICK)
