"""`roster load`: replace the roster atomically with a snapshot, then re-check everyone."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from redis.typing import EncodableT, FieldT

from alerts.model import Trigger
from connectors.roster_file import parse_roster
from streams.batch import Recheck
from streams.store import encode_enrollments
from welfare_watch import kafka, names, redis_client
from welfare_watch.errors import WelfareWatchError
from welfare_watch.models import Enrollment
from welfare_watch.settings import Settings

_CHUNK = 5000

# Swap staged snapshots in as one atomic step (KEYS: live, staging, old; repeated per hash);
# an empty snapshot empties the live hash.
_SWAP = """
for i = 1, #KEYS, 3 do
  redis.call('DEL', KEYS[i + 2])
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('RENAME', KEYS[i], KEYS[i + 2]) end
  if redis.call('EXISTS', KEYS[i + 1]) == 1 then redis.call('RENAME', KEYS[i + 1], KEYS[i]) end
end
return 1
"""
_SWAPPED = ((names.ROSTER, names.ROSTER_STAGING, names.ROSTER_OLD),)

Progress = Callable[[int], None]


@dataclass
class RosterLoad:
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    people: int = 0
    rechecked: int = 0


def _group(rows: Iterable[object], result: RosterLoad) -> dict[str, list[Enrollment]]:
    people: dict[str, list[Enrollment]] = defaultdict(list)
    for row in rows:
        if isinstance(row, Enrollment):
            people[row.person_id].append(row)
            result.accepted += 1
        else:
            result.rejected.append((row.line, row.reason))  # type: ignore[attr-defined]
    return people


def load_roster(
    settings: Settings, path: Path, *, partial: bool = False, progress: Progress = lambda n: None
) -> RosterLoad:
    result = RosterLoad()
    people = _group(
        parse_roster(path, settings.policy.programs, districts=settings.policy.city.districts),
        result,
    )
    if result.rejected and not partial:
        raise WelfareWatchError(
            f"roster load refused: {len(result.rejected)} of "
            f"{result.accepted + len(result.rejected)} rows are bad (first: line "
            f"{result.rejected[0][0]}: {result.rejected[0][1]}); nothing was replaced. "
            "Fix them, or pass --partial to load only the good rows"
        )
    client = redis_client.connect(settings.env.redis_url)
    client.delete(names.ROSTER_STAGING)
    items = list(people.items())
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        mapping: dict[FieldT, EncodableT] = {p: encode_enrollments(e) for p, e in chunk}
        client.hset(names.ROSTER_STAGING, mapping=mapping)
        progress(sum(len(e) for _, e in chunk))
    # Memberships before the swap: a household set only grows, and a member counts only
    # while their enrollments name the household, so sets ahead of the roster change nothing.
    households = _households(people)
    for start in range(0, len(households), _CHUNK):
        pipe = client.pipeline(transaction=False)
        for household, members in households[start : start + _CHUNK]:
            pipe.sadd(names.household_key(household), *members)
        pipe.execute()
    keys = [key for triple in _SWAPPED for key in triple]
    client.eval(_SWAP, len(keys), *keys)
    previous = {p.decode() for p in cast(list[bytes], client.hkeys(names.ROSTER_OLD))}
    client.unlink(names.ROSTER_OLD)
    result.people = len(people)
    result.rechecked = request_recheck(settings, previous | people.keys())
    return result


def _households(people: dict[str, list[Enrollment]]) -> list[tuple[str, list[str]]]:
    members: dict[str, list[str]] = defaultdict(list)
    for pid, enrollments in people.items():
        for household in {e.household_id for e in enrollments if e.household_id}:
            members[household].append(pid)
    return list(members.items())


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
