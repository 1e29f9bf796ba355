"""`roster load`: a snapshot published on roster.changes, so the worker is the roster's only writer.

A begin marker on every partition; then one `replace` per person on the snapshot (all their
rows), one `remove` per person the store holds, or a roster change not yet applied names, who is
not on it, all stamped with the snapshot's id and the time the load began, keyed by the person;
then an end marker on every partition, at which the worker evaluates them. A change the roster
system made after the snapshot was taken wins over it, whichever arrives first; one made before
it loses, whichever arrives first: before the begin marker, it is applied and its person gets
a `remove` (or their `replace`); after it, the worker leaves it out (state.superseded).

Flat memory for any size: the whole file is checked first, its rows spilled to sorted runs on
disk, so a snapshot with a bad row sends nothing; the runs are merged back grouped per person,
and diffed against the store's people, sorted the same way.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_text  # what json.dumps(str) returns
from pathlib import Path
from typing import Protocol

import redis
from kafka.errors import KafkaError

from alerts.model import Trigger
from connectors.delivery import SNAPSHOT_FEED, begin_snapshot, end_delivery
from connectors.roster_file import RosterRow, roster_rows
from streams.batch import Recheck
from streams.external_sort import grouped, merge_diff, merged, spill
from streams.people import roster_people
from welfare_watch import kafka, names, redis_client
from welfare_watch import progress as worker_progress
from welfare_watch.errors import WelfareWatchError
from welfare_watch.settings import Settings

_EXAMPLES = 20  # rejected rows whose line and reason the report keeps; the rest are counted
_TICK = 1000  # rows between progress reports


class LoadProgress(Protocol):
    """What a terminal shows of a load: its phases, and rows done in the current one."""

    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, rows: int) -> None: ...


class _Silent:
    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass


@dataclass
class RosterLoad:
    snapshot: str = ""  # its id on roster.changes
    accepted: int = 0  # rows
    rejected: int = 0  # rows
    examples: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), the first
    people: int = 0  # replaced
    removed: int = 0  # in the store, not on the snapshot


def load_roster(
    settings: Settings,
    path: Path,
    *,
    partial: bool = False,
    progress: LoadProgress | None = None,
    workdir: Path | None = None,
) -> RosterLoad:
    """Publish the snapshot in `path` on roster.changes; refuse it whole if a row is bad and
    not `partial`. The sorted runs live in a temporary folder under `workdir` (default: the
    system's, TMPDIR) until the load returns: about the file's size again on disk."""
    shown = progress or _Silent()
    taken = dt.datetime.now(dt.UTC)
    result = RosterLoad(snapshot=uuid.uuid4().hex)
    with tempfile.TemporaryDirectory(prefix="ww-roster-", dir=workdir) as tmp:
        folder = Path(tmp)
        shown.phase("checking", None)
        rows = spill(_checked(settings, path, result, shown), folder / "rows", key=_person)
        if result.rejected and not partial:
            line, reason = result.examples[0]
            raise WelfareWatchError(
                f"roster load refused: {result.rejected} of {result.accepted + result.rejected} "
                f"rows are bad (first: line {line}: {reason}); nothing was replaced. "
                "Fix them, or pass --partial to load only the good rows"
            )
        bootstrap = settings.env.kafka_bootstrap
        kafka.ensure_topics(bootstrap, names.WORKER_INPUTS, settings.policy.worker.partitions)
        producer = kafka.producer(bootstrap)
        try:
            # Begun before the store is read: a change that comes after the marker is the
            # worker's to judge against the snapshot (state.superseded); one before it reaches
            # the store, or is still on its way to it: its person is read here either way.
            begin_snapshot(producer, result.snapshot, taken)
            client = redis_client.connect(settings.env.redis_url)
            try:
                known = itertools.chain(roster_people(client), _on_their_way(settings, client))
                stored = spill(known, folder / "store")
            finally:
                client.close()
            shown.phase("sending", result.accepted)
            people = grouped(merged(rows, key=_person), _person)
            _publish(producer, bootstrap, merge_diff(people, merged(stored)), taken, result, shown)
        except (KafkaError, kafka.NotDelivered) as exc:
            raise WelfareWatchError(
                f"roster load of snapshot {result.snapshot} did not complete ({exc}): load the "
                "file again (a newer snapshot replaces whatever of this one got through)"
            ) from None
        finally:
            producer.close()
    return result


def _on_their_way(settings: Settings, client: redis.Redis) -> Iterator[str]:
    """The people of the roster.changes messages the worker may not have applied yet: each
    partition from where its store says it is (else its consumer group's commit, else the
    oldest message kept) to the end."""
    bootstrap = settings.env.kafka_bootstrap
    saved = worker_progress.saved(client, settings.policy.worker.partitions)
    ranges = {}
    offsets = kafka.partition_offsets(bootstrap, names.WORKER_GROUP, [names.ROSTER_CHANGES])
    for tp, at in offsets.items():
        done = saved.get((tp.topic, tp.partition))
        start = done + 1 if done is not None else at.committed
        ranges[tp] = (max(start if start is not None else 0, at.first), at.end)
    return (key.decode() for key in kafka.keys_in(bootstrap, ranges))


def _person(line: str) -> str:
    return line.partition("\t")[0]


def _checked(
    settings: Settings, path: Path, result: RosterLoad, progress: LoadProgress
) -> Iterator[str]:
    """Each good row as `person_id<TAB>its roster columns as JSON`; bad ones counted."""
    policy = settings.policy
    for row in roster_rows(path, policy.programs, districts=policy.city.districts):
        if isinstance(row, RosterRow):
            result.accepted += 1
            yield f"{row.person_id}\t{row.columns}"
        else:
            result.rejected += 1
            if len(result.examples) < _EXAMPLES:
                result.examples.append((row.line or 0, row.reason))
        if (result.accepted + result.rejected) % _TICK == 0:
            progress.advance(_TICK)
    progress.advance((result.accepted + result.rejected) % _TICK)


def _publish(
    producer: kafka.Producer,
    bootstrap: str,
    people: Iterable[tuple[str, list[str] | None]],
    taken: dt.datetime,
    result: RosterLoad,
    progress: LoadProgress,
) -> None:
    messages = SnapshotMessages(result.snapshot, taken)
    unreported = 0
    for pid, lines in people:
        producer.send(names.ROSTER_CHANGES, messages.of(pid, lines), pid.encode())
        if lines is None:
            result.removed += 1
            continue
        result.people += 1
        unreported += len(lines)
        if unreported >= _TICK:
            progress.advance(unreported)
            unreported = 0
    progress.advance(unreported)
    end_delivery(producer, bootstrap, result.snapshot, False, SNAPSHOT_FEED, names.ROSTER_CHANGES)


class SnapshotMessages:
    """A snapshot's `replace` and `remove` messages: `{"op": …, "person_id": …, "snapshot":
    …, "snapshot_at": …[, "enrollments": [its rows]]}` as json.dumps writes that object, the
    shared part written once. The rows are JSON already (spilled as such): spliced in rather
    than parsed again."""

    def __init__(self, snapshot: str, taken: dt.datetime) -> None:
        stamp = json.dumps({"snapshot": snapshot, "snapshot_at": taken.isoformat()})
        self._stamp = stamp[1:-1]

    def of(self, pid: str, lines: list[str] | None) -> bytes:
        """`lines` are the person's spilled rows (`person_id<TAB>JSON`); None: a remove."""
        person = _json_text(pid)
        if lines is None:
            return f'{{"op": "remove", "person_id": {person}, {self._stamp}}}'.encode()
        rows = ",".join(line.partition("\t")[2] for line in lines)
        return (
            f'{{"op": "replace", "person_id": {person}, {self._stamp}, "enrollments": [{rows}]}}'
        ).encode()


def request_recheck(
    settings: Settings,
    person_ids: Iterable[str],
    trigger: Trigger = "enrollment",
    as_of: dt.date | None = None,
) -> int:
    """Ask the worker to re-evaluate these people against every stored fact."""
    kafka.ensure_topics(
        settings.env.kafka_bootstrap, names.WORKER_INPUTS, settings.policy.worker.partitions
    )
    producer = kafka.producer(settings.env.kafka_bootstrap)
    count = 0
    try:
        for pid in sorted(person_ids):
            message = Recheck(pid, trigger, as_of).as_json()
            producer.send(names.RECHECK, key=pid.encode(), value=message)
            count += 1
        producer.flush()
    finally:
        producer.close()
    return count
