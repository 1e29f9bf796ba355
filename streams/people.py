"""Who is in the store, read in chunks (for the roster load's `remove`s and the daily scan).

The one place that knows how the store lists its people: callers iterate, never load a
whole keyspace at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import redis

from welfare_watch import names

_COUNT = 1000  # keys per HSCAN round trip


def roster_people(client: redis.Redis) -> Iterator[str]:
    """Everyone the store holds enrollments for (any status), in no particular order."""
    rows = cast(Iterator[tuple[bytes, bytes]], client.hscan_iter(names.ROSTER, count=_COUNT))
    for key, _ in rows:  # (Redis 7.0 has no HSCAN NOVALUES)
        yield key.decode()
