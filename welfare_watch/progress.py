"""What is still on its way to an alert: files, raw records, worker messages, pending people.

`welfare-watch wait` loops on `outstanding` until its total is zero. The stages are looked at
upstream first — inbox, dept.*.raw, the worker's input, pending sets — because every hand-off
writes downstream before it lets go upstream: the file drop sends a file's facts before it moves
the file, the raw connector sends facts before it commits, the worker saves a pending set before
it commits the fact. So work that leaves a stage after it was counted is found in a later one.

A requested scan is one `ww.recheck` message per person, a worker input: it is in
`worker_messages` until the worker has evaluated everyone in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import redis

from connectors.filedrop import INBOX, waiting_files
from connectors.raw import GROUP as CONNECTORS_GROUP
from connectors.raw import RAW_PATTERN
from welfare_watch import kafka, names, redis_client
from welfare_watch.settings import Settings


@dataclass(frozen=True)
class Outstanding:
    """Counts only: nothing here names a person or a file."""

    inbox_files: Mapping[str, int] = field(default_factory=dict)  # feed -> files in its inbox
    raw_records: int = 0  # on dept.*.raw, not yet taken by the connectors
    worker_messages: int = 0  # facts, roster changes, re-checks and scans not yet processed
    pending_people: int = 0  # a delivery's people saved but not yet evaluated
    outbox_alerts: int = 0  # people with alert versions saved, not yet on the `alerts` topic

    @property
    def total(self) -> int:
        return (
            sum(self.inbox_files.values())
            + self.raw_records
            + self.worker_messages
            + self.pending_people
            + self.outbox_alerts
        )

    def describe(self) -> str:
        """One line, e.g. `1 file in inbox/prison, 12 worker messages`."""
        parts = [
            f"{_count(n, 'file')} in {INBOX}/{feed}" for feed, n in sorted(self.inbox_files.items())
        ]
        if self.raw_records:
            parts.append(f"{_count(self.raw_records, 'record')} on dept.*.raw not yet taken")
        if self.worker_messages:
            parts.append(f"{_count(self.worker_messages, 'worker message')}")
        if self.pending_people:
            people = "person" if self.pending_people == 1 else "people"
            parts.append(f"{self.pending_people} {people} pending evaluation")
        if self.outbox_alerts:
            people = "person" if self.outbox_alerts == 1 else "people"
            parts.append(f"alerts of {self.outbox_alerts} {people} not yet on the alerts topic")
        return ", ".join(parts) or "nothing outstanding"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def outstanding(settings: Settings) -> Outstanding:
    """Everything sent so far that has not yet become alerts, stage by stage, upstream first."""
    bootstrap = settings.env.kafka_bootstrap
    inbox = waiting_files(settings)
    partitions = settings.policy.worker.partitions
    raw = kafka.lag(bootstrap, CONNECTORS_GROUP, re.compile(RAW_PATTERN))
    client = redis_client.connect(settings.env.redis_url)
    try:
        # the worker's input is done as far as its commit *and* its store say (streams/catchup)
        done = saved(client, partitions)
        worker = kafka.lag(bootstrap, names.WORKER_GROUP, names.WORKER_INPUTS, done)
        pending = pending_people(client)
        unpublished = outbox_alerts(client, partitions)
    finally:
        client.close()
    return Outstanding(inbox, raw, worker, pending, unpublished)


def saved(client: redis.Redis, partitions: int) -> dict[tuple[str, int], int]:
    """Of each worker input partition, the offset up to which the store has every message:
    on Redis Cluster the lowest of its masters' (streams.store.PersonStore.progress)."""
    asked = [
        (topic, p, key)
        for p in range(partitions)
        for key in redis_client.per_primary(client, names.progress_key_candidates(p))
        for topic in names.WORKER_INPUTS
    ]
    pipe = client.pipeline(transaction=False)
    for topic, p, key in asked:
        pipe.hget(key, names.input_label(topic, p))
    done: dict[tuple[str, int], int] = {}
    for (topic, p, _), raw in zip(asked, cast(list[bytes | None], pipe.execute()), strict=True):
        if raw is not None:
            done[(topic, p)] = min(int(raw), done.get((topic, p), int(raw)))
    return done


def pending_people(client: redis.Redis) -> int:
    """People in every pending set: SCAN (never KEYS), then SCARD in one round trip."""
    keys = list(client.scan_iter(match=names.PENDING_PATTERN, count=1000, _type="set"))
    if not keys:
        return 0
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.scard(key)
    return sum(cast(list[int], pipe.execute()))


def outbox_alerts(client: redis.Redis, partitions: int) -> int:
    """People with alert versions saved and not yet relayed (streams/outbox.py), in the outbox
    index of every partition."""
    pipe = client.pipeline(transaction=False)
    for partition in range(partitions):
        pipe.zcard(names.outbox_index_key(partition))
    return sum(cast(list[int], pipe.execute()))
