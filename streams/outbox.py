"""The alert outbox: an alert version reaches the `alerts` topic from Redis, after it is saved.

A batch's save (`PersonStore.save`) writes each changed alert's exact JSON to the person's own
outbox stream, `ww:outbox:{person}`, in the same script as the state that holds it (one hash
slot: it works the same on Redis Cluster), and marks the person in their partition's index,
`ww:outbox-index:{p<n>}`, before and after that script. The relay, a task in the worker,
reads the index of each partition this worker owns, publishes the people's entries to
`alerts`, keyed by alert id, waits until the broker has them (acks=all, an idempotent
producer), and only then deletes them and unmarks the person (unless a save marked them
again meanwhile). What it publishes is the stored text, never a re-rendering, so every
republish — after a Kafka error, a crash before the delete, a hand-over of the partition — is
byte-identical. A consumer of `alerts` dedupes on (alert_id, version) and keeps, per
alert_id, the highest version it has seen. One person's versions are published in order;
there is no order between people. An outbox found empty keeps its mark for MARK_GRACE (a save
may be between its first mark and its script), and a batch retried after an attempt that
saved some people marks those people again (their messages are then left out of the retry).

Who relays a partition: the worker that the Kafka group assigns it to, the same one that
writes the state and the outbox of that partition's people. A Redis consumer group would hand
entries of one stream to several workers at once, and two versions of one alert could then
reach Kafka out of order; following the assignment keeps one publisher per stream, in stream
order. When a rebalance revokes partitions, the relay stops taking rounds and waits (bounded
by `HANDOVER_GRACE`) for the round in flight before faust lets the group move on, so the next
owner starts after it. Only a worker that stalls past the session timeout (a zombie) can
publish alongside the next owner: a duplicate, byte-identical, that consumers drop.

What Redis may still lose: with `appendfsync everysec` a change is on disk about a second
after Redis answered, a few when a fsync is slow (Redis then holds its writes back for up to
2 s, so even a SIGKILL loses them), and a crash takes back such saves. The relay therefore
publishes an entry only once it is `settle` seconds old by Redis's own clock (stream ids are
its milliseconds): an alert on Kafka is then not one that Redis forgot and a replay could
render again with new timestamps. A bound by time, not a proof: a disk that stalls longer
still opens the gap; `appendfsync always` makes the settle 0 and the guarantee exact (and
Redis 7.2's WAITAOF would give the exact point without it). Saves lost in that window whose
input offsets Kafka had already committed are the lost facts that per-person progress offsets
(issue 9, item 4) recover.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import redis
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from kafka.partitioner.default import murmur2

from connectors.ids import redact
from welfare_watch import names, security

if TYPE_CHECKING:  # faust is the worker's alone: the store (and so the CLI) loads without it
    import faust
    from faust.types import TP
    from mode.types.signals import BaseSignalT

log = logging.getLogger("welfare_watch.outbox")

ID_FIELD = b"id"
ALERT_FIELD = b"alert"
# Seconds after which a change Redis acknowledged is on disk with `appendfsync everysec`: while
# a slow fsync still runs Redis holds its writes back by up to 2 s (flushAppendOnlyFile in its
# aof.c), then the next background fsync, started once a second, must finish. 1 + 2 s, and 2 s
# for that fsync on a loaded disk (the test stack's stalled writes for 1.5 s under load).
EVERYSEC_SETTLE = 5.0
HANDOVER_GRACE = 5.0  # seconds a revocation waits for the round in flight
MARK_GRACE = 10.0  # seconds a person's mark stays while their outbox is found empty
CHUNK = 1000  # entries read per partition in one round
POLL = 0.1  # seconds between rounds when there is nothing to publish
_MAX_BACKOFF = 10.0


def outbox_partition(person_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives `person_id` as the key of the worker's
    input topics: the partition, and so the worker, that owns the person."""
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    return int(murmur2(person_id.encode()) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class Entry:
    """One outbox entry as read back: its stream id, and the record to publish."""

    entry_id: bytes
    key: bytes  # the alert id
    value: bytes  # the alert's JSON exactly as saved

    @property
    def millis(self) -> int:
        """When Redis added it, by Redis's clock (the first half of a stream id)."""
        return int(self.entry_id.split(b"-", 1)[0])


def decode(raw: Sequence[tuple[bytes, Mapping[bytes, bytes]]]) -> list[Entry]:
    return [Entry(entry_id, fields[ID_FIELD], fields[ALERT_FIELD]) for entry_id, fields in raw]


def settled(entries: Sequence[Entry], now_millis: int, settle: float) -> list[Entry]:
    """The entries, in stream order, up to the first one younger than `settle` seconds."""
    limit = now_millis - int(settle * 1000)
    ready = []
    for entry in entries:
        if entry.millis > limit:
            break
        ready.append(entry)
    return ready


def ready_at(entries: Sequence[Entry], ready: int, settle: float) -> int | None:
    """When (Redis's milliseconds) the first of `entries` not `ready` will be settled: no
    round before then can publish more of this outbox, since a later entry is younger still.
    None when every entry was ready."""
    if ready >= len(entries):
        return None
    return entries[ready].millis + int(settle * 1000)


def settle_for(appendonly: str, appendfsync: str) -> tuple[float, str | None]:
    """How old an entry must be to be on Redis's disk, and a warning when nothing makes sure."""
    if appendonly == "yes" and appendfsync == "always":
        return 0.0, None
    if appendonly == "yes" and appendfsync == "everysec":
        return EVERYSEC_SETTLE, None
    return EVERYSEC_SETTLE, (
        f"Redis runs with appendonly {appendonly or '?'}, appendfsync {appendfsync or '?'}: "
        "a crash can lose saved alerts that are already on the alerts topic"
    )


async def settle_of(client: aioredis.Redis) -> float:
    try:
        config = await client.config_get("append*")
    except redis.ResponseError:  # CONFIG is often renamed away on a managed Redis
        config = {}
    settle, warning = settle_for(
        str(config.get("appendonly") or ""), str(config.get("appendfsync") or "")
    )
    if warning:
        log.warning("outbox: %s", warning)
    return settle


# KEYS: the partition's outbox index. Drop a person from it if their mark is still the one
# the relay read (their outbox is on another slot: the caller deleted everything it read from
# it, and an entry a save added since comes with a later mark, so the mark no longer matches).
_UNMARK = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""


class Send(Protocol):
    """Publishes (key, value) records to `alerts`; returns once the broker has every one."""

    async def __call__(self, records: Sequence[tuple[bytes, bytes]]) -> None: ...


class KafkaSend:
    """The relay's own producer: acks=all and idempotent, so a retry inside the producer
    neither loses nor duplicates a record. After any failure it is replaced by a new one."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None

    async def __call__(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        if not records:
            return
        producer = await self._started()
        try:
            pending = [await producer.send(names.ALERTS, key=k, value=v) for k, v in records]
            results = await asyncio.gather(*pending, return_exceptions=True)
        except BaseException:
            await self.close()
            raise
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            await self.close()
            raise failed[0]

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id="welfare-watch-outbox",
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                **security.aiokafka_options(),
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


class Relay:
    """Publishes the outbox entries of the partitions this worker owns, in stream order."""

    def __init__(
        self,
        client: aioredis.Redis,
        send: Send,
        topics: Iterable[str] = names.WORKER_INPUTS,
        *,
        settle: float | None = None,  # None: from Redis's configuration
        chunk: int = CHUNK,
    ) -> None:
        self._redis = client
        self._send = send
        self._topics = frozenset(topics)
        self._settle = settle
        self._fixed_settle = settle is not None
        self._chunk = chunk
        self._owned: frozenset[int] = frozenset()
        # person -> when their outbox's oldest unsettled entry settles (Redis's milliseconds):
        # not read again before, so that a settle of seconds does not mean reading every
        # waiting outbox ten times a second
        self._ready_at: dict[str, int] = {}
        self._round = asyncio.Lock()
        self.published = 0  # records the broker acknowledged, republishes included

    @property
    def owned(self) -> frozenset[int]:
        return self._owned

    def assign(self, partitions: Iterable[int]) -> None:
        """The partitions of the worker's inputs this worker now owns (faust's assignment)."""
        self._owned = frozenset(partitions)

    def assign_tps(self, assigned: Iterable[TP]) -> None:
        self.assign(tp.partition for tp in assigned if tp.topic in self._topics)

    async def revoke(self) -> None:
        """A rebalance takes the partitions away: publish nothing more until the next
        assignment, and let the round in flight finish first, so that the next owner does
        not publish alongside (bounded: a round stuck on Kafka does not hold up the group)."""
        self._owned = frozenset()
        try:
            await asyncio.wait_for(self._round.acquire(), HANDOVER_GRACE)
        except TimeoutError:
            log.warning(
                "outbox: a publish was still in flight at a rebalance after %.0fs; the next "
                "owner may publish its alerts again (byte-identical)",
                HANDOVER_GRACE,
            )
        else:
            self._round.release()

    async def relay_once(self) -> tuple[int, bool]:
        """One round: what was published, and whether more is waiting (a full chunk)."""
        async with self._round:
            owned = sorted(self._owned)
            if not owned:
                return 0, False
            if self._settle is None:
                self._settle = await settle_of(self._redis)
            pipe = self._redis.pipeline(transaction=False)
            for partition in owned:
                pipe.zrange(names.outbox_index_key(partition), 0, self._chunk - 1, withscores=True)
            marked = {
                pid.decode(): (partition, int(score))
                for partition, rows in zip(owned, await pipe.execute(), strict=True)
                for pid, score in cast(list[tuple[bytes, float]], rows)
            }
            if not marked:
                self._ready_at.clear()
                return 0, False
            # Redis's clock (a stream id is its milliseconds); on a cluster, one node's, which
            # is as good: the nodes' clocks agree far better than the settle is long. Taken
            # before reading: an entry added meanwhile is younger than `now`, so it waits.
            seconds, micros = await self._redis.time()
            now = int(seconds) * 1000 + int(micros) // 1000
            later = {p: t for p, t in self._ready_at.items() if p in marked and t > now}
            people = sorted(marked.keys() - later.keys())
            if not people:
                self._ready_at = later
                return 0, False
            pipe = self._redis.pipeline(transaction=False)
            for pid in people:
                pipe.xrange(names.outbox_key(pid), count=self._chunk)
            ranges = await pipe.execute()
            read = {pid: decode(r) for pid, r in zip(people, ranges, strict=True)}
            ready = {pid: settled(entries, now, self._settle) for pid, entries in read.items()}
            for pid, entries in read.items():
                if (at := ready_at(entries, len(ready[pid]), self._settle)) is not None:
                    later[pid] = at
            self._ready_at = later
            records = [(e.key, e.value) for entries in ready.values() for e in entries]
            if records:
                await self._send(records)
                self.published += len(records)
            await self._clear(ready, read, marked)
            full = len(marked) == self._chunk or any(len(r) == self._chunk for r in ranges)
            return len(records), full

    async def _clear(
        self,
        ready: Mapping[str, Sequence[Entry]],
        read: Mapping[str, Sequence[Entry]],
        marked: Mapping[str, tuple[int, int]],
    ) -> None:
        """Delete what the broker has; unmark people whose outbox was found empty, unless a
        save marked them again meanwhile (its mark after the state is later than the one
        read: streams/store.py marks before and after it writes the outbox)."""
        young = time.time_ns() // 1_000_000 - int(MARK_GRACE * 1000)
        pipe = self._redis.pipeline(transaction=False)
        for pid, entries in ready.items():
            if entries:
                pipe.xdel(names.outbox_key(pid), *[e.entry_id for e in entries])
            partition, score = marked[pid]
            # An outbox found empty may belong to a save between its mark and its script: its
            # mark is left alone until it is MARK_GRACE old.
            if len(entries) == len(read[pid]) and (entries or score < young):
                pipe.eval(_UNMARK, 1, names.outbox_index_key(partition), pid, score)
        await pipe.execute()

    async def run(self) -> None:
        """Round after round, for the life of the worker: an error (Kafka or Redis away) is
        logged and retried with back-off; what was not deleted is published again."""
        backoff = POLL
        try:
            while True:
                try:
                    _, more = await self.relay_once()
                except Exception as exc:  # not CancelledError: the worker stopping ends it
                    log.warning(
                        "outbox: relaying failed (%s: %s); retrying in %.1fs",
                        type(exc).__name__,
                        redact(str(exc)),
                        backoff,
                    )
                    if not self._fixed_settle:
                        self._settle = None  # a Redis that came back may be configured anew
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF)
                    continue
                backoff = POLL
                if not more:
                    await asyncio.sleep(POLL)
        finally:
            if isinstance(self._send, KafkaSend):
                await self._send.close()


def start_relay(app: faust.App, client: aioredis.Redis, bootstrap: str) -> Relay:
    """Run a relay in `app` for the partitions the group assigns it."""
    relay = Relay(client, KafkaSend(bootstrap))

    async def assigned(app: Any, /, *args: Any, signal: BaseSignalT[Any], **kw: Any) -> None:
        relay.assign_tps(args[0])  # the whole new assignment

    async def revoked(app: Any, /, *args: Any, signal: BaseSignalT[Any], **kw: Any) -> None:
        await relay.revoke()

    app.on_partitions_assigned.connect(assigned)
    app.on_partitions_revoked.connect(revoked)
    app.task(relay.run)
    return relay
