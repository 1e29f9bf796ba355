"""Per-person state and alerts in Redis: a batch is loaded and saved in a few round trips."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import redis.asyncio as aioredis
from pydantic import TypeAdapter
from redis.typing import EncodableT, FieldT

from alerts.lifecycle import Outcome
from alerts.model import Alert
from streams import outbox
from streams.state import PersonState
from welfare_watch import names
from welfare_watch.models import Enrollment, Fact

_ENROLLMENTS = TypeAdapter(list[Enrollment])
_FACTS = TypeAdapter(dict[str, Fact])
_ALERTS = TypeAdapter(dict[str, Alert])
_OFFSETS = TypeAdapter(dict[str, int])
# Alert events kept for the inbox's push and the webhooks: a client that reconnects within
# this many changes misses nothing (Last-Event-ID); beyond it, it reloads its list.
ALERT_EVENTS_KEPT = 100_000


def encode_enrollments(enrollments: Iterable[Enrollment]) -> bytes:
    return _ENROLLMENTS.dump_json(list(enrollments))


def decode_alerts(raw: bytes | None) -> dict[str, Alert]:
    return _ALERTS.validate_json(raw) if raw else {}


def encode_alerts(alerts: Mapping[str, Alert]) -> bytes:
    return _ALERTS.dump_json(dict(alerts))


@dataclass
class Loaded:
    states: dict[str, PersonState] = field(default_factory=dict)
    alerts: dict[str, dict[str, Alert]] = field(default_factory=dict)
    # per person, the last offset of each input partition ("topic/partition") their state has
    offsets: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, other: Loaded) -> None:
        self.states.update(other.states)
        self.alerts.update(other.alerts)
        self.offsets.update(other.offsets)


@dataclass
class Changes:
    """What one batch writes back."""

    roster: dict[str, PersonState] = field(default_factory=dict)
    facts: dict[str, PersonState] = field(default_factory=dict)
    households: dict[str, set[str]] = field(default_factory=dict)  # members to add (SADD)
    alerts: dict[str, list[Alert]] = field(default_factory=dict)  # person_id -> changed alerts
    pending: dict[tuple[str, int], set[str]] = field(default_factory=dict)  # to evaluate later
    # each pending set's delivery: (feed, payments?) and when the worker last saw its facts
    pending_of: dict[tuple[str, int], tuple[str, bool]] = field(default_factory=dict)
    seen_at: float = 0.0
    delivered: list[tuple[str, int]] = field(default_factory=list)  # pending sets now done
    feeds_delivered: dict[str, float] = field(default_factory=dict)  # feed -> completed at
    outcomes: list[Outcome] = field(default_factory=list)  # answers to people's commands
    offsets: dict[str, dict[str, int]] = field(default_factory=dict)  # person -> what they have
    progress: dict[tuple[str, int], int] = field(default_factory=dict)  # input partition -> last

    def __bool__(self) -> bool:
        return bool(
            self.roster or self.facts or self.households or self.alerts or self.pending
            or self.delivered or self.feeds_delivered or self.outcomes or self.offsets
            or self.progress
        )  # fmt: skip


@dataclass(frozen=True)
class PendingDelivery:
    """One partition's share of a delivery whose people wait for its end marker."""

    delivery: str
    partition: int
    feed: str
    payment: bool
    seen: float  # epoch seconds the worker last saw one of its facts

    @property
    def field(self) -> str:
        return pending_field(self.delivery, self.partition)

    def as_json(self) -> str:
        return json.dumps({"feed": self.feed, "payment": self.payment, "seen": self.seen})

    @classmethod
    def decode(cls, name: str, raw: bytes | str) -> PendingDelivery:
        delivery, _, partition = name.rpartition(":")
        body = json.loads(raw)
        return cls(delivery, int(partition), body["feed"], body["payment"], body["seen"])


# HSET that only raises a field: progress never goes back, whatever order writes arrive in
_RAISE = """
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if current == nil or current < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
"""


def pending_field(delivery: str, partition: int) -> str:
    return f"{delivery}:{partition}"


class PersonStore:
    def __init__(self, redis: aioredis.Redis, partitions: int = 1) -> None:
        self._redis = redis
        # of the worker's input topics: each changed alert goes to its person's partition's
        # outbox (a store that only loads, or one test partition, may leave it at 1)
        self._partitions = partitions

    async def load(self, person_ids: Sequence[str]) -> Loaded:
        if not person_ids:
            return Loaded()
        ids = list(person_ids)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hmget(names.ROSTER, ids)
        pipe.hmget(names.FACTS_BY_PERSON, ids)
        pipe.hmget(names.ALERTS_BY_PERSON, ids)
        pipe.hmget(names.PERSON_OFFSETS, ids)
        roster, facts, alerts, offsets = await pipe.execute()
        states = {
            pid: PersonState(
                pid,
                tuple(_ENROLLMENTS.validate_json(r)) if r else (),
                _FACTS.validate_json(f) if f else {},
            )
            for pid, r, f in zip(ids, roster, facts, strict=True)
        }
        return Loaded(
            states,
            {pid: decode_alerts(a) for pid, a in zip(ids, alerts, strict=True)},
            {pid: _OFFSETS.validate_json(o) for pid, o in zip(ids, offsets, strict=True) if o},
        )

    async def progress(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Of each input partition, the offset up to which every message is saved (or
        dead-lettered); absent when the store has not seen that partition."""
        wanted = sorted(set(partitions))
        if not wanted:
            return {}
        labels = [names.input_label(t, p) for t, p in wanted]
        raw = await self._redis.hmget(names.PROGRESS, labels)
        return {tp: int(v) for tp, v in zip(wanted, raw, strict=True) if v is not None}

    async def settle(self, topic: str, partition: int, offset: int) -> None:
        """Count a message as done that no save covers (it went to ww.deadletter)."""
        label = names.input_label(topic, partition)
        await self._redis.eval(_RAISE, 1, names.PROGRESS, label, offset)

    async def households(self, household_ids: Sequence[str]) -> dict[str, set[str]]:
        """Everyone ever enrolled in each household (names.household_key)."""
        if not household_ids:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for household in household_ids:
            pipe.smembers(names.household_key(household))
        found = cast(list[set[bytes]], await pipe.execute())
        return {
            h: {m.decode() for m in members}
            for h, members in zip(household_ids, found, strict=True)
        }

    async def pending(self, delivery: str, partition: int) -> set[str]:
        members = await self._redis.smembers(names.pending_key(delivery, partition))
        return {m.decode() if isinstance(m, bytes) else m for m in members}

    async def feed_deliveries(self) -> dict[str, dt.datetime]:
        """When each feed last completed a delivery."""
        rows = cast(
            list[tuple[bytes, float]],
            await self._redis.zrange(names.FEED_DELIVERED, 0, -1, withscores=True),
        )
        return {f.decode(): dt.datetime.fromtimestamp(t, dt.UTC) for f, t in rows}

    async def pending_deliveries(self) -> list[PendingDelivery]:
        raw = await self._redis.hgetall(names.PENDING_DELIVERIES)
        return [
            PendingDelivery.decode(k.decode() if isinstance(k, bytes) else k, v)
            for k, v in raw.items()
        ]

    async def save(self, changes: Changes, loaded: Loaded) -> None:
        pipe = self._redis.pipeline(transaction=True)
        for (delivery, partition), people in changes.pending.items():
            pipe.sadd(names.pending_key(delivery, partition), *people)
            feed, payment = changes.pending_of[(delivery, partition)]
            entry = PendingDelivery(delivery, partition, feed, payment, changes.seen_at)
            pipe.hset(names.PENDING_DELIVERIES, entry.field, entry.as_json())
        for delivery, partition in changes.delivered:
            pipe.delete(names.pending_key(delivery, partition))
            pipe.hdel(names.PENDING_DELIVERIES, pending_field(delivery, partition))
        if changes.feeds_delivered:
            pipe.zadd(names.FEED_DELIVERED, changes.feeds_delivered, gt=True)
        if changes.roster:
            present: dict[FieldT, EncodableT] = {
                p: encode_enrollments(s.enrollments)
                for p, s in changes.roster.items()
                if s.enrollments
            }
            if present:
                pipe.hset(names.ROSTER, mapping=present)
            if gone := [p for p, s in changes.roster.items() if not s.enrollments]:
                pipe.hdel(names.ROSTER, *gone)
        if changes.facts:
            facts: dict[FieldT, EncodableT] = {
                p: _FACTS.dump_json(dict(s.facts)) for p, s in changes.facts.items()
            }
            pipe.hset(names.FACTS_BY_PERSON, mapping=facts)
        for household, members in changes.households.items():
            pipe.sadd(names.household_key(household), *sorted(members))
        if changes.alerts:
            written = _write_alerts(pipe, changes.alerts, loaded.alerts)
            outbox.append(pipe, written, self._partitions)  # relayed to `alerts` once saved
        _write_progress(pipe, changes)
        for outcome in changes.outcomes:  # readable once the change itself is saved
            pipe.set(names.command_result_key(outcome.command_id), outcome.as_json(), ex=600)
            pipe.publish(names.COMMAND_DONE, outcome.command_id)
        await pipe.execute()


def _write_progress(pipe: aioredis.client.Pipeline, changes: Changes) -> None:
    """Each person's offsets, and each input partition's progress, with the state they cover."""
    if changes.offsets:
        offsets: dict[FieldT, EncodableT] = {
            p: _OFFSETS.dump_json(o) for p, o in changes.offsets.items()
        }
        pipe.hset(names.PERSON_OFFSETS, mapping=offsets)
    for (topic, partition), offset in changes.progress.items():
        pipe.eval(_RAISE, 1, names.PROGRESS, names.input_label(topic, partition), offset)


def _write_alerts(
    pipe: aioredis.client.Pipeline,
    changed: Mapping[str, list[Alert]],
    stored: Mapping[str, Mapping[str, Alert]],
) -> list[tuple[Alert, str]]:
    """Each person's alerts whole, the queue and district indexes, and one event per change;
    each change with its JSON as written, which the outbox then gets byte for byte."""
    by_person: dict[FieldT, EncodableT] = {}
    written: list[tuple[Alert, str]] = []
    for pid, alerts in changed.items():
        merged = dict(stored.get(pid, {}))
        for alert in alerts:
            before = merged.get(alert.alert_id)
            merged[alert.alert_id] = alert
            _index(pipe, alert, before)
            text = alert.model_dump_json()
            written.append((alert, text))
            pipe.xadd(
                names.ALERT_EVENTS,
                {"alert": text},
                maxlen=ALERT_EVENTS_KEPT,
                approximate=True,
            )
        by_person[pid] = encode_alerts(merged)
    pipe.hset(names.ALERTS_BY_PERSON, mapping=by_person)
    index: dict[FieldT, EncodableT] = {a.alert_id: pid for pid, al in changed.items() for a in al}
    pipe.hset(names.ALERT_INDEX, mapping=index)
    return written


def _index(pipe: aioredis.client.Pipeline, alert: Alert, before: Alert | None) -> None:
    """Open alerts in their queue; every alert in its queue's and district's list."""
    score = {alert.alert_id: alert.detected_at.timestamp()}
    if before is not None and before.queue != alert.queue:  # reassigned
        pipe.zrem(names.queue_key(before.queue), alert.alert_id)
        pipe.zrem(names.queue_alerts_key(before.queue), alert.alert_id)
    pipe.zadd(names.ALERT_ORDER, score, nx=True)
    pipe.zadd(names.queue_alerts_key(alert.queue), score)
    pipe.zadd(names.district_alerts_key(alert.district_code), score)
    if alert.is_open:
        pipe.zadd(names.queue_key(alert.queue), score)
    else:
        pipe.zrem(names.queue_key(alert.queue), alert.alert_id)
