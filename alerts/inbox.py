"""Reading alerts for the inbox: the ids a caller may see, filtered, counted and paged."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import redis.asyncio as aioredis

from alerts import index as alert_index
from alerts.model import Alert
from streams.store import decode_alerts
from welfare_watch import names

SEVERITIES = ("critical", "high", "medium", "low")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_CHUNK = 2000  # alert ids resolved per round trip


@dataclass(frozen=True)
class Filters:
    """What the caller asked to see; empty fields match everything."""

    status: str = ""
    type: str = ""
    severity: str = ""
    program: str = ""
    district: str = ""
    q: str = ""  # free text: alert id, type, reason, community, name, queue

    def matches(self, alert: Alert) -> bool:
        wanted = (
            (self.status, alert.status),
            (self.type, alert.type),
            (self.severity, alert.severity),
            (self.program, alert.program),
            (self.district, alert.district_code),
        )
        if any(value and value != actual for value, actual in wanted):
            return False
        if not self.q:
            return True
        text = " ".join(
            (alert.alert_id, alert.type, alert.reason, alert.community, alert.person_name,
             alert.queue)
        )  # fmt: skip
        return self.q.strip().lower() in text.lower()


@dataclass(frozen=True)
class Page:
    total: int  # alerts matching the filters
    page: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)  # open alerts by severity (unfiltered)
    alerts: list[Alert] = field(default_factory=list)


def inbox_order(alert: Alert) -> tuple[int, int, float, str]:
    """Open work first, the most severe first, then the newest."""
    return (
        0 if alert.is_open else 1,
        _RANK.get(alert.severity, len(SEVERITIES)),
        -alert.detected_at.timestamp(),
        alert.alert_id,
    )


async def alert_ids(client: aioredis.Redis, index_keys: Sequence[str]) -> list[str]:
    """Every alert id in the given indexes (sorted sets), without repeats."""
    seen: dict[str, None] = {}
    for key in index_keys:
        for raw in cast(list[bytes], await client.zrange(key, 0, -1)):
            seen.setdefault(raw.decode(), None)
    return list(seen)


async def load_alerts(client: aioredis.Redis, ids: Sequence[str]) -> list[Alert]:
    """The stored alerts with these ids (unknown ids are left out)."""
    found: list[Alert] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        asked = alert_index.groups(chunk)
        pipe = client.pipeline(transaction=False)  # one read per index shard (slot)
        for key, ids_there in asked:
            pipe.hmget(key, ids_there)
        owners = alert_index.owners(asked, await pipe.execute())
        people = sorted(set(owners.values()))
        if not people:
            continue
        pipe = client.pipeline(transaction=False)  # one read per person (slot)
        for pid in people:
            pipe.hget(names.person_key(pid), names.PERSON_ALERTS)
        raw = cast(list[bytes | None], await pipe.execute())
        by_person = {p: decode_alerts(r) for p, r in zip(people, raw, strict=True)}
        for alert_id in chunk:
            if (owner := owners.get(alert_id)) and (a := by_person[owner].get(alert_id)):
                found.append(a)
    return found


async def get_alert(client: aioredis.Redis, alert_id: str) -> Alert | None:
    found = await load_alerts(client, [alert_id])
    return found[0] if found else None


async def list_alerts(
    client: aioredis.Redis,
    index_keys: Sequence[str],
    filters: Filters,
    page: int,
    per_page: int,
    visible: Callable[[Alert], bool],
) -> Page:
    """One page of the alerts the caller may see, with open counts by severity."""
    ids = await alert_ids(client, index_keys)
    alerts = [a for a in await load_alerts(client, ids) if visible(a)]
    counts = Counter(a.severity for a in alerts if a.is_open)
    matching = sorted((a for a in alerts if filters.matches(a)), key=inbox_order)
    start = (page - 1) * per_page
    return Page(
        total=len(matching),
        page=page,
        per_page=per_page,
        counts={s: counts.get(s, 0) for s in SEVERITIES},
        alerts=matching[start : start + per_page],
    )


def overdue_now(alert: Alert, now: dt.datetime) -> bool:
    """Still open past its due time (the inbox marks it)."""
    return alert.is_open and alert.due_by < now
