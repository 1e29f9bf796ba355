"""ww.deadletter: worker input that fails for a reason retrying cannot fix, kept whole.

A record on the topic is the message exactly as it was read — the same key, the same value, the
same headers in the same order — followed by headers of its own, all named `ww.dlq.*`:

    ww.dlq.headers    how many headers before it are the original's (so they are told apart)
    ww.dlq.topic      the topic it was read from (or would have been: see `evaluation`)
    ww.dlq.partition  the partition ("" when it was not read from Kafka)
    ww.dlq.offset     the offset ("" likewise)
    ww.dlq.kind       `poison`: the message failed every time, alone (streams.retry isolated it);
                      `evaluation`: a rule raised for one person, and this is a recheck of them
    ww.dlq.error      the error, ID numbers masked and no input values quoted
    ww.dlq.at         when (UTC, ISO 8601)

The topic has one partition and is kept forever (retention.ms=-1): a record's offset is its id.

`welfare-watch deadletter list` shows them (masked); `welfare-watch deadletter replay` puts them
back on the topic they came from, byte for byte, each at most once: the replay is recorded in
Redis (names.DEADLETTER_REPLAYS, by id) before it is sent and confirmed after the broker has it
(acks=all, idempotent producer).
Nothing replays by itself, so nothing can loop: a replayed message that fails again comes back as
a new record, which `list` marks as the repeat of the first and `replay --all` leaves alone (name
its id to try it once more).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import redis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError as AIOKafkaError
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from pydantic import ValidationError

from connectors.ids import mask_id, redact
from welfare_watch import kafka, names, security
from welfare_watch.errors import WelfareWatchError

log = logging.getLogger("welfare_watch.deadletter")

Kind = Literal["poison", "evaluation"]
Headers = tuple[tuple[str, bytes | None], ...]  # a Kafka header value may be null

PREFIX = "ww.dlq."
_COUNT, _TOPIC, _PARTITION, _OFFSET, _KIND, _ERROR, _AT = (
    PREFIX + name for name in ("headers", "topic", "partition", "offset", "kind", "error", "at")
)
_MAX_ERROR = 500  # characters of the error kept: enough to see what failed


def describe_error(exc: BaseException) -> str:
    """`Type: message`, safe for a log line and a dead letter: ID numbers masked, and for a
    validation error only where and what (pydantic would quote the input, a person's data)."""
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in exc.errors()
        ]
        text = "; ".join(parts[:5])
    else:
        text = str(exc)
    text = redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 1] + "…"


@dataclass(frozen=True)
class DeadLetter:
    """One message that cannot be processed, and where it came from."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers
    partition: int | None  # None: not read from Kafka (an evaluation's recheck)
    offset: int | None
    kind: Kind
    error: str  # already masked (describe_error)
    at: dt.datetime

    @property
    def source(self) -> str:
        """`ww.recheck/3/1207`, as a rejection names a position; the topic alone if none."""
        if self.partition is None or self.offset is None:
            return self.topic
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def identity(self) -> tuple[str, bytes | None, bytes | None, str]:
        return (self.topic, self.key, self.value, self.kind)

    def record_headers(self) -> list[tuple[str, bytes | None]]:
        """The original headers, unchanged, then ours."""

        def text(value: object) -> bytes:
            return b"" if value is None else str(value).encode()

        return [
            *self.headers,
            (_COUNT, text(len(self.headers))),
            (_TOPIC, text(self.topic)),
            (_PARTITION, text(self.partition)),
            (_OFFSET, text(self.offset)),
            (_KIND, text(self.kind)),
            (_ERROR, text(self.error)),
            (_AT, text(self.at.isoformat())),
        ]

    @classmethod
    def from_record(
        cls, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]]
    ) -> DeadLetter:
        """A record read back from ww.deadletter; ValueError if it is not one of ours."""
        ours = {name: (raw or b"").decode("utf-8", errors="replace") for name, raw in headers}
        try:
            count = int(ours[_COUNT])
            if not 0 <= count <= len(headers):
                raise ValueError(f"{_COUNT} {count} is out of range")
            kind = ours[_KIND]
            if kind not in ("poison", "evaluation"):
                raise ValueError(f"unknown kind {kind!r}")
            return cls(
                topic=ours[_TOPIC],
                key=key,
                value=value,
                headers=tuple(headers[:count]),
                partition=int(ours[_PARTITION]) if ours[_PARTITION] else None,
                offset=int(ours[_OFFSET]) if ours[_OFFSET] else None,
                kind=kind,  # type: ignore[arg-type]  # checked just above
                error=ours[_ERROR],
                at=dt.datetime.fromisoformat(ours[_AT]),
            )
        except KeyError as exc:
            raise ValueError(f"no header {exc.args[0]}") from None


class DeadLetterSink(Protocol):
    """Where the worker puts dead letters; `send` returns once the broker has every one."""

    async def send(self, letters: Sequence[DeadLetter]) -> None: ...


class FaustDeadLetters:
    """The worker's sink: the Faust app's producer (acks=all), on ww.deadletter.

    A batch retried after a Redis or Kafka outage evaluates its people again, and a person whose
    evaluation raises would be dead-lettered again on every retry: within one batch (`begin` is
    called as each starts) a letter already sent is not sent twice."""

    def __init__(self, topic: Any) -> None:
        self._topic = topic
        self._sent: set[tuple[str, bytes | None, bytes | None, str]] = set()

    def begin(self) -> None:
        self._sent.clear()

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        fresh = [letter for letter in letters if letter.identity not in self._sent]
        pending = [
            await self._topic.send(
                key=letter.key,
                value=letter.value,
                headers=letter.record_headers(),
                partition=0,
                force=True,  # now, not attached to the source offset
            )
            for letter in fresh
        ]
        if pending:
            await asyncio.gather(*pending)
        self._sent.update(letter.identity for letter in fresh)


# --- the command line: creating the topic, list, replay ----------------------------------------


def ensure_topic(bootstrap: str) -> None:
    """Create ww.deadletter if it is missing: one partition, nothing ever deleted by age."""
    with kafka.admin(bootstrap) as client:
        if names.DEADLETTER in set(client.list_topics()):
            return
        topic = NewTopic(
            name=names.DEADLETTER,
            num_partitions=1,
            replication_factor=1,
            topic_configs={"retention.ms": "-1", "retention.bytes": "-1"},
        )
        with suppress(TopicAlreadyExistsError):  # created by another worker just now
            client.create_topics([topic], timeout_ms=10_000)


@dataclass(frozen=True)
class Stored:
    """A dead letter as it is on the topic: its offset there is the id `replay` takes."""

    id: int
    letter: DeadLetter


def read_all(bootstrap: str, timeout: float = 30.0) -> list[Stored]:
    """Every record on ww.deadletter, oldest first ([] when the topic does not exist yet)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        request_timeout_ms=int(timeout * 1000),
        consumer_timeout_ms=int(timeout * 1000),
        **security.kafka_options(),
    )
    try:
        partitions = consumer.partitions_for_topic(names.DEADLETTER)
        if not partitions:
            return []
        tps = [TopicPartition(names.DEADLETTER, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        found: list[Stored] = []
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            batch = consumer.poll(timeout_ms=int(timeout * 1000))
            if not batch:
                raise WelfareWatchError(f"reading {names.DEADLETTER} timed out")
            for records in batch.values():
                for record in records:
                    found.append(_stored(record))
        return sorted(found, key=lambda s: s.id)
    finally:
        consumer.close()


def _stored(record: Any) -> Stored:
    try:
        letter = DeadLetter.from_record(record.key, record.value, list(record.headers or ()))
    except ValueError as exc:  # written by someone else: shown, never replayed
        letter = DeadLetter(
            topic="",
            key=record.key,
            value=record.value,
            headers=tuple(record.headers or ()),
            partition=None,
            offset=None,
            kind="poison",
            error=f"not a welfare-watch dead letter ({exc})",
            at=dt.datetime.fromtimestamp(record.timestamp / 1000, dt.UTC),
        )
    return Stored(record.offset, letter)


@dataclass(frozen=True)
class Replay:
    """What `replay` recorded for one dead letter."""

    state: Literal["sending", "sent"]
    at: str
    to: str = ""  # where it went: `ww.recheck/3/1290`

    def as_json(self) -> str:
        return json.dumps({"state": self.state, "at": self.at, "to": self.to})

    @classmethod
    def decode(cls, raw: bytes | str) -> Replay:
        body = json.loads(raw)
        return cls(body["state"], body["at"], body.get("to", ""))


def replays(client: redis.Redis) -> dict[int, Replay]:
    raw: dict[bytes, bytes] = client.hgetall(names.DEADLETTER_REPLAYS)  # type: ignore[assignment]
    return {int(k): Replay.decode(v) for k, v in raw.items()}


@dataclass(frozen=True)
class Row:
    """One dead letter as `list` shows it: nothing that identifies a person."""

    id: int
    at: str
    source: str
    key: str  # masked
    kind: str
    error: str
    status: str


def rows(stored: Sequence[Stored], done: dict[int, Replay]) -> list[Row]:
    again = _repeats(stored, done)
    shown = []
    for item in stored:
        letter = item.letter
        replay = done.get(item.id)
        if replay is None:
            status = "waiting"
        elif replay.state == "sent":
            status = f"replayed to {replay.to}"
        else:
            status = "replay not confirmed (name its id to send it again)"
        if item.id in again:
            status += f"; failed again after replaying #{again[item.id]}"
        shown.append(
            Row(
                id=item.id,
                at=letter.at.strftime("%Y-%m-%d %H:%M:%S"),
                source=letter.source or "?",
                key=_masked_key(letter.key),
                kind=letter.kind,
                error=redact(letter.error),
                status=status,
            )
        )
    return shown


def _masked_key(key: bytes | None) -> str:
    return "-" if key is None else mask_id(key.decode("utf-8", errors="replace"))


def _repeats(stored: Sequence[Stored], done: dict[int, Replay]) -> dict[int, int]:
    """Dead letters that are a replayed message failing again -> the id that was replayed."""
    replayed_to = {r.to: first for first, r in done.items() if r.to}
    return {s.id: replayed_to[s.letter.source] for s in stored if s.letter.source in replayed_to}


@dataclass(frozen=True)
class Replayed:
    id: int
    to: str


def replay(
    bootstrap: str,
    client: redis.Redis,
    ids: Iterable[int] = (),
    *,
    every: bool = False,
    topic: str | None = None,
    now: dt.datetime | None = None,
) -> list[Replayed]:
    """Put dead letters back on the topic they came from: the ones named by `ids`, or with
    `every` each one still waiting that is not a repeat of a replay (optionally of one topic).

    Each is claimed in Redis before it is sent (HSETNX: two replays at once never both send it)
    and marked sent once the broker has it; a claim whose sender died shows as not confirmed and
    is sent again only when named. Keyed messages go to the partition they were read from (the
    same one their key hashes to), so a person's messages stay in one partition."""
    stored = {s.id: s for s in read_all(bootstrap)}
    done = replays(client)
    wanted = sorted(set(ids))
    if unknown := [i for i in wanted if i not in stored]:
        raise WelfareWatchError(f"no dead letter with id {', '.join(map(str, unknown))}")
    if every:
        again = _repeats(list(stored.values()), done)
        waiting = [
            i
            for i, s in stored.items()
            if i not in done
            and i not in again
            and s.letter.topic in names.WORKER_INPUTS
            and (topic is None or s.letter.topic == topic)
        ]
        wanted = sorted({*wanted, *waiting})
    for i in wanted:
        letter = stored[i].letter
        if letter.topic not in names.WORKER_INPUTS:
            raise WelfareWatchError(f"dead letter {i} did not come from a worker input topic")
        if done.get(i) is not None and done[i].state == "sent":
            raise WelfareWatchError(f"dead letter {i} was replayed already, to {done[i].to}")
    at = (now or dt.datetime.now(dt.UTC)).isoformat()
    return asyncio.run(_send(bootstrap, client, [(i, stored[i].letter) for i in wanted], done, at))


async def _send(
    bootstrap: str,
    client: redis.Redis,
    letters: Sequence[tuple[int, DeadLetter]],
    done: dict[int, Replay],
    at: str,
) -> list[Replayed]:
    """aiokafka, not kafka-python: a Kafka header's value may be null, and kafka-python refuses
    to send one, so it could not put such a message back whole."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        **security.aiokafka_options(),
    )
    try:
        await producer.start()
    except AIOKafkaError as exc:
        await producer.stop()
        raise WelfareWatchError(
            f"cannot reach Kafka at {bootstrap} ({type(exc).__name__})"
        ) from None
    sent: list[Replayed] = []
    try:
        for i, letter in letters:
            claim = Replay("sending", at).as_json()
            if i not in done and not client.hsetnx(names.DEADLETTER_REPLAYS, str(i), claim):
                raise WelfareWatchError(f"dead letter {i} is being replayed by someone else")
            try:
                meta = await producer.send_and_wait(
                    letter.topic,
                    value=letter.value,
                    key=letter.key,
                    partition=letter.partition,  # None: by key, as it was first sent
                    headers=list(letter.headers),
                )
            except AIOKafkaError as exc:  # it may or may not have reached the broker
                raise WelfareWatchError(
                    f"dead letter {i} may not have been replayed ({type(exc).__name__}): "
                    f"`deadletter list` shows it as not confirmed; `deadletter replay {i}` "
                    "sends it again"
                ) from None
            to = f"{meta.topic}/{meta.partition}/{meta.offset}"
            client.hset(names.DEADLETTER_REPLAYS, str(i), Replay("sent", at, to).as_json())
            sent.append(Replayed(i, to))
            log.info("dead letter %d replayed to %s", i, to)
    finally:
        await producer.stop()
    return sent
