"""Who is in the store, read in chunks (for the roster load's `remove`s and the daily scan),
and one field of many people's state, or all their facts (for the command line and tests).

The one place outside the store that knows how it lists its people (names.people_key):
callers iterate, never load a whole keyspace at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast

import redis

from streams.store import decode_facts
from welfare_watch import names
from welfare_watch.models import Fact
from welfare_watch.packing import unpack

_CHUNK = 1000  # people per round trip


def everyone(client: redis.Redis) -> Iterator[str]:
    """Everyone the store has saved with enrollments or alerts, now or before."""
    for shard in range(names.PEOPLE_SHARDS):
        for pid in cast(Iterator[bytes], client.sscan_iter(names.people_key(shard), count=_CHUNK)):
            yield pid.decode()


def roster_people(client: redis.Redis) -> Iterator[str]:
    """Everyone the store holds enrollments for (any status), in no particular order."""
    chunk: list[str] = []
    for pid in everyone(client):
        chunk.append(pid)
        if len(chunk) >= _CHUNK:
            yield from _enrolled(client, chunk)
            chunk = []
    yield from _enrolled(client, chunk)


def fields(client: redis.Redis, person_ids: Sequence[str], field: str) -> list[bytes | None]:
    """One field (names.PERSON_*) of each person's state, its JSON (unpacked), None where there
    is none."""
    found: list[bytes | None] = []
    for start in range(0, len(person_ids), _CHUNK):
        pipe = client.pipeline(transaction=False)
        for pid in person_ids[start : start + _CHUNK]:
            pipe.hget(names.person_key(pid), field)
        found.extend(unpack(r) if r else r for r in cast(list[bytes | None], pipe.execute()))
    return found


def facts(client: redis.Redis, person_ids: Sequence[str]) -> list[dict[str, Fact]]:
    """Every fact of each person, their payments too (streams.ledger), by identity."""
    found: list[dict[str, Fact]] = []
    wanted = [names.PERSON_FACTS, names.PERSON_PAYMENTS, names.PERSON_PAYMENTS_REST]
    for start in range(0, len(person_ids), _CHUNK):
        chunk = person_ids[start : start + _CHUNK]
        pipe = client.pipeline(transaction=False)
        for pid in chunk:
            pipe.hmget(names.person_key(pid), wanted)
        for pid, (stored, payments, rest) in zip(chunk, pipe.execute(), strict=True):
            others, ledger, _ = decode_facts(stored, payments, rest)
            found.append({**others, **{p.identity: p.fact(pid) for p in ledger}})
    return found


def _enrolled(client: redis.Redis, chunk: list[str]) -> list[str]:
    pipe = client.pipeline(transaction=False)
    for pid in chunk:
        pipe.hexists(names.person_key(pid), names.PERSON_ENROLLMENTS)
    return [pid for pid, yes in zip(chunk, pipe.execute(), strict=True) if yes]
