"""Reading alerts back from Redis for the command line (and later the inbox)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import redis

from alerts.model import Alert
from streams import people
from streams.store import decode_alerts
from welfare_watch import names

_SCAN_COUNT = 1000


def iter_alerts(client: redis.Redis) -> Iterator[Alert]:
    """Every stored alert, in no particular order, without loading them all at once."""
    chunk: list[str] = []
    for pid in people.everyone(client):
        chunk.append(pid)
        if len(chunk) >= _SCAN_COUNT:
            yield from _alerts_of(client, chunk)
            chunk = []
    yield from _alerts_of(client, chunk)


def _alerts_of(client: redis.Redis, person_ids: list[str]) -> Iterator[Alert]:
    for raw in people.fields(client, person_ids, names.PERSON_ALERTS):
        yield from decode_alerts(raw).values()


def all_alerts(client: redis.Redis) -> list[Alert]:
    """Every stored alert, oldest detection first."""
    return sorted(iter_alerts(client), key=lambda a: (a.detected_at, a.alert_id))


def get_alert(client: redis.Redis, alert_id: str) -> Alert | None:
    index = names.alert_index_key(names.alert_shard(alert_id))
    person_id = cast(bytes | None, client.hget(index, alert_id))
    if person_id is None:
        return None
    (raw,) = people.fields(client, [person_id.decode()], names.PERSON_ALERTS)
    return decode_alerts(raw).get(alert_id)


def queue_ids(client: redis.Redis, queue: str) -> list[str]:
    return [i.decode() for i in cast(list[bytes], client.zrange(names.queue_key(queue), 0, -1))]
