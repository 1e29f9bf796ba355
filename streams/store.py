"""Per-person state and alerts in Redis: a batch is loaded and saved in a few round trips."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
import redis.exceptions
from pydantic import TypeAdapter
from redis.typing import EncodableT, FieldT

from alerts.lifecycle import Outcome
from alerts.model import Alert
from streams import outbox
from streams.ledger import Ledger, decode_ledger, encode_rows
from streams.snapshots import SnapshotProgress, waited_for
from streams.state import PersonState
from welfare_watch import names, redis_client
from welfare_watch.models import Enrollment, Fact
from welfare_watch.packing import pack, unpack

_ENROLLMENTS = TypeAdapter(list[Enrollment])
_FACTS = TypeAdapter(dict[str, Fact])
_ALERTS = TypeAdapter(dict[str, Alert])
_OFFSETS = TypeAdapter(dict[str, int])
# Alert events kept for the inbox's push and the webhooks: a client that reconnects within
# this many changes misses nothing (Last-Event-ID); beyond it, it reloads its list.
ALERT_EVENTS_KEPT = 100_000


def encode_enrollments(enrollments: Iterable[Enrollment]) -> bytes:
    return pack(_ENROLLMENTS.dump_json(list(enrollments)))


def decode_alerts(raw: bytes | None) -> dict[str, Alert]:
    """A person's alerts field, as stored (welfare_watch.packing), or {} when absent."""
    return _ALERTS.validate_json(unpack(raw)) if raw else {}


def encode_alerts(alerts: Mapping[str, Alert]) -> bytes:
    return pack(_ALERTS.dump_json(dict(alerts)))


def decode_facts(
    facts: bytes | None, payments: bytes | None, rest: bytes | None
) -> tuple[dict[str, Fact], Ledger, bool]:
    """A person's facts and payments from their fields as stored (the facts, the ledger's two
    parts): the facts but payments, the payments' ledger, and whether the two were apart. A
    state saved before payments had their own fields (streams.ledger) has them among its
    facts: they are moved to the ledger (and every field written at the next save)."""
    decoded = _FACTS.validate_json(unpack(facts)) if facts else {}
    ledger = decode_ledger(payments, rest)
    mixed = [f for f in decoded.values() if f.kind == "payment"]
    for payment in mixed:
        ledger = ledger.adding(payment)
        del decoded[payment.identity]
    return decoded, ledger, not mixed


def encode_facts(facts: Mapping[str, Fact]) -> bytes:
    return pack(_FACTS.dump_json(dict(facts)))


@dataclass
class Loaded:
    states: dict[str, PersonState] = field(default_factory=dict)
    alerts: dict[str, dict[str, Alert]] = field(default_factory=dict)
    # per person, the last offset of each input partition ("topic/partition") their state has
    offsets: dict[str, dict[str, int]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)  # saves each has had (fencing)
    # each person's facts and payments as stored: a save writes back only the one that
    # changed (absent: write both, as for a state stored before payments had their ledger)
    stored: dict[str, tuple[Mapping[str, Fact], Ledger]] = field(default_factory=dict)

    def add(self, other: Loaded) -> None:
        self.states.update(other.states)
        self.alerts.update(other.alerts)
        self.offsets.update(other.offsets)
        self.versions.update(other.versions)
        self.stored.update(other.stored)


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
    # people whose messages an earlier save already has: an attempt that saved them may have
    # died before marking their outbox again (see save), so they are marked again
    remark: set[str] = field(default_factory=set)
    # roster snapshots begun, per roster.changes partition: begin marker's offset -> taken
    snapshots_begun: dict[int, dict[int, dt.datetime]] = field(default_factory=dict)
    # pending sets' people evaluated ahead of their end marker (a large delivery, a chunk at a
    # time): taken off their set once saved
    evaluated: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    # roster snapshots this batch applied any of (streams.snapshots: open until whole), and
    # the partitions it ended each in
    snapshots_seen: set[str] = field(default_factory=set)
    snapshots_ended: dict[str, set[int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.roster or self.facts or self.households or self.alerts or self.pending
            or self.delivered or self.feeds_delivered or self.outcomes or self.offsets
            or self.progress or self.remark or self.evaluated or self.snapshots_begun
            or self.snapshots_seen or self.snapshots_ended
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

    @staticmethod
    def decode_field(name: bytes | str) -> tuple[str, int]:
        """(delivery, partition) from a field of PENDING_DELIVERIES (pending_field)."""
        text = name.decode() if isinstance(name, bytes) else name
        delivery, _, partition = text.rpartition(":")
        return delivery, int(partition)

    @classmethod
    def decode(cls, name: str, raw: bytes | str) -> PendingDelivery:
        delivery, partition = cls.decode_field(name)
        body = json.loads(raw)
        return cls(delivery, partition, body["feed"], body["payment"], body["seen"])


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
        pipe = self._redis.pipeline(transaction=False)  # one small read per person (slot)
        for pid in ids:
            pipe.hmget(names.person_key(pid), list(names.PERSON_FIELDS))
        rows = cast(list[list[bytes | None]], await pipe.execute())
        loaded = Loaded()
        for pid, row in zip(ids, rows, strict=True):
            enrollments, raw_facts, payments, rest, alerts, offsets, version = row
            facts, ledger, apart = decode_facts(raw_facts, payments, rest)
            loaded.states[pid] = PersonState(
                pid,
                tuple(_ENROLLMENTS.validate_json(unpack(enrollments))) if enrollments else (),
                facts,
                payments=ledger,
            )
            if apart:
                loaded.stored[pid] = (facts, ledger)
            loaded.alerts[pid] = decode_alerts(alerts)
            if offsets:
                loaded.offsets[pid] = _OFFSETS.validate_json(offsets)
            loaded.versions[pid] = int(version or 0)
        return loaded

    async def progress(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Of each input partition, the offset up to which every message is saved (or
        dead-lettered): the lowest that the masters of a Redis Cluster hold (one may have come
        back without its last second); absent when the store has not seen that partition."""
        wanted = sorted(set(partitions))
        if not wanted:
            return {}
        keys = await self._progress_keys({p for _, p in wanted})
        pipe = self._redis.pipeline(transaction=False)  # one read per master's key (slot)
        asked = []
        for topic, partition in wanted:
            for key in keys[partition]:
                pipe.hget(key, names.input_label(topic, partition))
                asked.append((topic, partition))
        saved: dict[tuple[str, int], int] = {}
        for tp, value in zip(asked, cast(list[bytes | None], await pipe.execute()), strict=True):
            if value is not None:
                saved[tp] = min(int(value), saved.get(tp, int(value)))
        return saved

    async def settle(self, topic: str, partition: int, offset: int) -> None:
        """Count a message as done that no save covers (it went to ww.deadletter)."""
        label = names.input_label(topic, partition)
        pipe = self._redis.pipeline(transaction=False)
        for key in (await self._progress_keys({partition}))[partition]:
            pipe.eval(_RAISE, 1, key, label, offset)
        await pipe.execute()

    async def _progress_keys(self, partitions: Collection[int]) -> dict[int, list[str]]:
        """Where each partition's progress is kept: one key, or one per master of a cluster
        (names.progress_key_candidates)."""
        if isinstance(self._redis, aiocluster.RedisCluster):
            await self._redis.initialize()  # so that the client knows the cluster's masters
        return {
            p: redis_client.per_primary(self._redis, names.progress_key_candidates(p))
            for p in partitions
        }

    async def snapshots_begun(
        self, partitions: Collection[int]
    ) -> dict[int, list[tuple[int, dt.datetime]]]:
        """Of each roster.changes partition, the snapshots begun in it: (the begin marker's
        offset, the snapshot's time)."""
        wanted = sorted(partitions)
        pipe = self._redis.pipeline(transaction=False)
        for partition in wanted:
            pipe.hgetall(names.snapshots_begun_key(partition))
        begun: dict[int, list[tuple[int, dt.datetime]]] = {}
        replies = cast(list[dict[bytes, bytes]], await pipe.execute())
        for partition, raw in zip(wanted, replies, strict=True):
            begun[partition] = sorted(
                (int(o), dt.datetime.fromisoformat(t.decode())) for o, t in raw.items()
            )
        return begun

    async def snapshots(self) -> list[SnapshotProgress]:
        """Every roster snapshot the store knows of: the open ones, and those whole for less
        than SNAPSHOTS_KEPT seconds (streams.snapshots)."""
        raw = await self._redis.hgetall(names.SNAPSHOTS)
        return [SnapshotProgress.decode(name, body) for name, body in raw.items()]

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

    async def pending_sizes(self, keys: Sequence[tuple[str, int]]) -> list[int]:
        """How many people wait in each (delivery, partition)'s pending set, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for delivery, partition in keys:
            pipe.scard(names.pending_key(delivery, partition))
        return cast(list[int], await pipe.execute())

    async def pending(self, delivery: str, partition: int) -> set[str]:
        (members,) = await self.pending_many([(delivery, partition)])
        return members

    async def pending_many(self, keys: Sequence[tuple[str, int]]) -> list[set[str]]:
        """The people in each (delivery, partition)'s pending set, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for delivery, partition in keys:
            pipe.smembers(names.pending_key(delivery, partition))
        found = cast(list[set[bytes | str]], await pipe.execute())
        return [{m.decode() if isinstance(m, bytes) else m for m in members} for members in found]

    async def mid_delivery(
        self, people: Mapping[int, Collection[str]], ending: Collection[tuple[str, int]]
    ) -> set[str]:
        """Who of `people` (by partition) waits in the pending set of a delivery that is still
        open in their partition, other than those `ending` (two round trips, the second only
        when a delivery is open where someone is). The sets that wait for a roster snapshot do
        not count: their people's state is whole, only their household may not be, and while
        it may not, no one with a household is evaluated (streams.snapshots)."""
        fields = [
            PendingDelivery.decode_field(f)
            for f in await self._redis.hkeys(names.PENDING_DELIVERIES)
        ]
        open_sets = {(d, p) for d, p in fields if waited_for(d) is None} - set(ending)
        return await self.in_pending({key: people.get(key[1], ()) for key in open_sets})

    async def in_pending(self, wanted: Mapping[tuple[str, int], Collection[str]]) -> set[str]:
        """Who of the people asked about each (delivery, partition) is in its pending set (one
        round trip, none when no one is asked about)."""
        pipe = self._redis.pipeline(transaction=False)
        asked: list[list[str]] = []
        for key, people in sorted(wanted.items()):
            if whom := sorted(people):
                pipe.smismember(names.pending_key(*key), whom)
                asked.append(whom)
        if not asked:
            return set()
        found = cast(list[list[int]], await pipe.execute())
        return {
            p
            for whom, flags in zip(asked, found, strict=True)
            for p, f in zip(whom, flags, strict=True)
            if f
        }

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

    async def save(self, changes: Changes, loaded: Loaded) -> list[str]:
        """Write a batch back, one person at a time, so that it works the same on one Redis
        and on Redis Cluster (where one transaction cannot span people):

        1. what only ever grows, and what readers check against the person (household and
           people sets, pending sets, the alert indexes, the outbox index), first: a crash
           after it leaves an over-approximation that a replay makes true;
        2. each person's state with their alerts' outbox entries, atomically (one script on
           the person's slot), only if no one saved them since they were loaded;
        3. then what must not run ahead of the state: the alert events, the deliveries done,
           the input's progress, the commands' answers, the roster snapshots' ends.

        Returns the roster snapshots this save made whole (streams.snapshots).

        Raises Fenced when someone else saved a person since the load (the batch is then
        loaded and processed again)."""
        persons = _person_fields(changes, loaded)
        written = _alert_fields(changes.alerts, loaded.alerts, persons)
        marked = time.time_ns() // 1_000_000
        before = self._redis.pipeline(transaction=False)
        self._grow(before, changes, persons)
        _regrow(before, changes.remark, loaded)
        latest = {a.alert_id: a for alerts in loaded.alerts.values() for a in alerts.values()}
        for alert, _ in written:
            _index(before, alert, latest.get(alert.alert_id))
            latest[alert.alert_id] = alert
        outboxes = sorted({a.person_id for a, _ in written})
        self._mark_outboxes(before, outboxes, marked)
        if changes.snapshots_seen:  # open before any of their people is saved
            before.eval(_SNAPSHOT_SEEN, 1, names.SNAPSHOTS, marked / 1000,
                        *sorted(changes.snapshots_seen))  # fmt: skip
        await before.execute()

        people = self._redis.pipeline(transaction=False)  # one script per person (slot)
        saved = []
        for pid, fields in persons.items():
            entries = [(a.alert_id, text) for a, text in written if a.person_id == pid]
            gone = pid in changes.roster and not changes.roster[pid].enrollments
            args = _save_args(loaded.versions.get(pid, 0), fields, gone, entries)
            people.eval(_SAVE_PERSON, 2, names.person_key(pid), names.outbox_key(pid), *args)
            saved.append(pid)
        results = cast(list[int], await people.execute()) if saved else []
        fenced = {pid for pid, ok in zip(saved, results, strict=True) if not ok}

        progress_keys = await self._progress_keys({p for _, p in changes.progress})
        after = self._redis.pipeline(transaction=False)
        # the people saved are marked again and their events written even when others were
        # fenced: the batch's retry leaves them out (their offsets cover it), so it is now
        again = sorted({p for p in outboxes if p not in fenced} | changes.remark)
        self._mark_outboxes(after, again, marked + 1)
        for alert, text in written:
            if alert.person_id not in fenced:
                after.xadd(
                    names.ALERT_EVENTS, {"alert": text}, maxlen=ALERT_EVENTS_KEPT, approximate=True
                )
        if fenced:
            await after.execute()
            raise Fenced(len(fenced))
        _follow(after, changes, progress_keys)
        ended = sorted(changes.snapshots_ended.items())
        for snapshot, partitions in ended:  # last: once everything of the batch is saved
            after.eval(_SNAPSHOT_ENDED, 1, names.SNAPSHOTS, marked / 1000, self._partitions,
                       SNAPSHOTS_KEPT, snapshot, *sorted(partitions))  # fmt: skip
        results = await after.execute()
        made = results[len(results) - len(ended) :] if ended else []
        return [snapshot for (snapshot, _), whole in zip(ended, made, strict=True) if whole]

    def _grow(
        self,
        pipe: aioredis.client.Pipeline,
        changes: Changes,
        persons: Mapping[str, Mapping[FieldT, EncodableT]],
    ) -> None:
        for (delivery, partition), people in changes.pending.items():
            pipe.sadd(names.pending_key(delivery, partition), *people)
            feed, payment = changes.pending_of[(delivery, partition)]
            entry = PendingDelivery(delivery, partition, feed, payment, changes.seen_at)
            pipe.hset(names.PENDING_DELIVERIES, entry.field, entry.as_json())
        for household, members in changes.households.items():
            pipe.sadd(names.household_key(household), *sorted(members))
        for partition, begun in changes.snapshots_begun.items():
            for offset, taken in sorted(begun.items()):
                pipe.hset(names.snapshots_begun_key(partition), str(offset), taken.isoformat())
        for pid, fields in persons.items():
            if names.PERSON_ENROLLMENTS in fields or names.PERSON_ALERTS in fields:
                pipe.sadd(names.people_key(names.people_shard(pid)), pid)

    def _mark_outboxes(
        self, pipe: aioredis.client.Pipeline, people: Sequence[str], marked: int
    ) -> None:
        for pid in people:
            partition = outbox.outbox_partition(pid, self._partitions)
            pipe.zadd(names.outbox_index_key(partition), {pid: marked})


def _follow(
    pipe: aioredis.client.Pipeline, changes: Changes, progress_keys: Mapping[int, Sequence[str]]
) -> None:
    """What must not run ahead of the people's saves: the deliveries done, the input's
    progress (on each master, after the saves there), the commands' answers."""
    for (delivery, partition), evaluated in changes.evaluated.items():
        pipe.srem(names.pending_key(delivery, partition), *sorted(evaluated))
    for delivery, partition in changes.delivered:
        pipe.delete(names.pending_key(delivery, partition))
        pipe.hdel(names.PENDING_DELIVERIES, pending_field(delivery, partition))
    if changes.feeds_delivered:
        pipe.zadd(names.FEED_DELIVERED, changes.feeds_delivered, gt=True)
    for (topic, partition), offset in changes.progress.items():
        label = names.input_label(topic, partition)
        for key in progress_keys[partition]:
            pipe.eval(_RAISE, 1, key, label, offset)
    for outcome in changes.outcomes:  # readable once the change itself is saved
        pipe.set(names.command_result_key(outcome.command_id), outcome.as_json(), ex=600)


class Fenced(redis.exceptions.ConnectionError):
    """Someone saved people of this batch since it loaded them: a worker the group has moved
    on from, or this one before a restart. The batch is loaded and processed again (a
    connection error to the retry: it passes), and what the other saved is then seen."""

    def __init__(self, people: int) -> None:
        super().__init__(f"{people} people were saved by someone else since they were loaded")


# One person's save (KEYS: the person's hash, their outbox stream; same slot): only if the
# version is the one loaded, set the fields, drop the enrollments of one on no program, bump
# the version, and append the outbox entries. ARGV: version, the enrollments' fate ("gone" or
# "kept"), the number of fields, field/value pairs, then alert id/JSON pairs.
_SAVE_PERSON = """
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then return 0 end
local n = tonumber(ARGV[3])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 4, 3 + 2 * n)) end
if ARGV[2] == 'gone' then redis.call('HDEL', KEYS[1], 'enrollments') end
redis.call('HSET', KEYS[1], 'version', version + 1)
for i = 4 + 2 * n, #ARGV, 2 do
  redis.call('XADD', KEYS[2], '*', 'id', ARGV[i], 'alert', ARGV[i + 1])
end
return 1
"""


# How long a whole snapshot stays in names.SNAPSHOTS: a message of it read again within that
# time (after a crash) does not open it again.
SNAPSHOTS_KEPT = 86_400

# A roster snapshot a batch applied some of (KEYS: names.SNAPSHOTS; ARGV: now, the snapshots):
# known from now on, open until whole; when a worker last applied any of it.
_SNAPSHOT_SEEN = """
local now = tonumber(ARGV[1])
for i = 2, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  local s = raw and cjson.decode(raw) or {ended = {}}
  if not s.whole then
    s.seen = now
    redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(s))
  end
end
"""

# A roster snapshot a batch ended in some partitions (KEYS: names.SNAPSHOTS; ARGV: now, the
# partition count, SNAPSHOTS_KEPT, the snapshot, the partitions): returns 1 when this made it
# whole, in one step, so that exactly one worker learns it; snapshots whole for longer than
# SNAPSHOTS_KEPT are forgotten then.
_SNAPSHOT_ENDED = """
local now, total, kept = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local raw = redis.call('HGET', KEYS[1], ARGV[4])
local s = raw and cjson.decode(raw) or {ended = {}}
if s.whole then return 0 end
local have = {}
for _, p in ipairs(s.ended) do have[p] = true end
for i = 5, #ARGV do
  local p = tonumber(ARGV[i])
  if not have[p] then
    have[p] = true
    table.insert(s.ended, p)
  end
end
s.seen = now
if #s.ended < total then
  redis.call('HSET', KEYS[1], ARGV[4], cjson.encode(s))
  return 0
end
s.whole = now
redis.call('HSET', KEYS[1], ARGV[4], cjson.encode(s))
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local other = cjson.decode(all[i + 1])
  if other.whole and now - other.whole > kept then redis.call('HDEL', KEYS[1], all[i]) end
end
return 1
"""


def _save_args(
    version: int,
    fields: Mapping[FieldT, EncodableT],
    gone: bool,
    entries: Sequence[tuple[str, str]],
) -> list[EncodableT]:
    """The arguments of EVAL for _SAVE_PERSON."""
    args: list[EncodableT] = [version, "gone" if gone else "kept", len(fields)]
    for name, value in fields.items():
        args += [name, value]
    for alert_id, text in entries:
        args += [alert_id, text]
    return args


def _person_fields(changes: Changes, loaded: Loaded) -> dict[str, dict[FieldT, EncodableT]]:
    """The fields of each person's hash that this save writes (alerts are added after): of
    their facts and payments, the one that changed since the load, or both."""
    fields: dict[str, dict[FieldT, EncodableT]] = {}
    for pid, state in changes.roster.items():
        fields.setdefault(pid, {})
        if state.enrollments:
            fields[pid][names.PERSON_ENROLLMENTS] = encode_enrollments(state.enrollments)
    for pid, state in changes.facts.items():
        mine = fields.setdefault(pid, {})
        facts, payments = loaded.stored.get(pid, (None, None))
        if state.facts is not facts:
            mine[names.PERSON_FACTS] = encode_facts(state.facts)
        was = payments if payments is not None else Ledger()  # (`or` would decode it)
        parts = (
            (names.PERSON_PAYMENTS, state.payments.regular, was.regular),
            (names.PERSON_PAYMENTS_REST, state.payments.rest, was.rest),
        )
        for name, rows, stored in parts:
            if rows is not stored and rows:  # a part is not decoded unless it changed
                mine[name] = encode_rows(rows)
    for pid, offsets in changes.offsets.items():  # with the state they cover
        fields.setdefault(pid, {})[names.PERSON_OFFSETS] = _OFFSETS.dump_json(offsets)
    return fields


def _alert_fields(
    changed: Mapping[str, list[Alert]],
    stored: Mapping[str, Mapping[str, Alert]],
    persons: dict[str, dict[FieldT, EncodableT]],
) -> list[tuple[Alert, str]]:
    """Each person's alerts whole, as a field of `persons`; each change with its JSON as
    written, which the outbox and the events then get byte for byte."""
    written: list[tuple[Alert, str]] = []
    for pid, alerts in changed.items():
        merged = dict(stored.get(pid, {}))
        for alert in alerts:
            merged[alert.alert_id] = alert
            written.append((alert, alert.model_dump_json()))
        persons.setdefault(pid, {})[names.PERSON_ALERTS] = encode_alerts(merged)
    return written


def _regrow(pipe: aioredis.client.Pipeline, people: Collection[str], loaded: Loaded) -> None:
    """For people whose messages an earlier save already has (read again after a crash): what
    that save wrote beside their own hash, again. On Redis Cluster the master holding it may
    have come back without its last second while theirs kept it; elsewhere it is a no-op."""
    for pid in sorted(people):
        state, alerts = loaded.states.get(pid), loaded.alerts.get(pid, {})
        if state is None:
            continue
        for household in sorted({e.household_id for e in state.enrollments}):
            pipe.sadd(names.household_key(household), pid)
        if state.enrollments or alerts:
            pipe.sadd(names.people_key(names.people_shard(pid)), pid)
        for alert in alerts.values():
            _index(pipe, alert, alert)


def _index(pipe: aioredis.client.Pipeline, alert: Alert, before: Alert | None) -> None:
    """Open alerts in their queue; every alert in its queue's and district's list."""
    score = {alert.alert_id: alert.detected_at.timestamp()}
    if before is not None and before.queue != alert.queue:  # reassigned
        pipe.zrem(names.queue_key(before.queue), alert.alert_id)
        pipe.zrem(names.queue_alerts_key(before.queue), alert.alert_id)
    shard = names.alert_shard(alert.alert_id)
    pipe.hset(names.alert_index_key(shard), alert.alert_id, alert.person_id)
    pipe.zadd(names.alert_order_key(shard), score, nx=True)
    pipe.zadd(names.queue_alerts_key(alert.queue), score)
    pipe.zadd(names.district_alerts_key(alert.district_code), score)
    if alert.is_open:
        pipe.zadd(names.queue_key(alert.queue), score)
    else:
        pipe.zrem(names.queue_key(alert.queue), alert.alert_id)
