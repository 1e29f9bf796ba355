"""Reading the audit log: every chain and the whole `audit` topic for `audit verify`, and pages of
entries, newest first, for `GET /api/audit`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2
from pydantic import ValidationError

from alerts.audit_chain import Entry, KafkaCopy, Verdict, newest_first, verify_all
from welfare_watch import kafka, names
from welfare_watch.errors import WelfareWatchError

_PAGE = 5000  # list entries read per round trip
_KAFKA_PATIENCE = 60.0  # seconds the audit topic may take to deliver up to its end
_PUBLISH_GRACE = 2.0  # seconds an entry just appended to Redis gets to reach Kafka
_PREFIX = names.audit_chain_key("")


def chain_of(key: bytes | str) -> str:
    return (key.decode() if isinstance(key, bytes) else key).removeprefix(_PREFIX)


# --- audit verify ----------------------------------------------------------------------------


def read_chains(client: redis.Redis) -> dict[str, list[bytes] | None]:
    """Every chain in Redis, whole (None: its key holds something other than a list)."""
    chains: dict[str, list[bytes] | None] = {}
    for key in client.scan_iter(match=names.audit_chain_key("*"), count=1000):
        if client.type(key) != b"list":
            chains[chain_of(key)] = None
            continue
        entries: list[bytes] = []
        while True:
            page = client.lrange(key, len(entries), len(entries) + _PAGE - 1)
            entries.extend(_raw(item) for item in page)
            if len(page) < _PAGE:
                break
        chains[chain_of(key)] = entries
    return chains


def topic_ends(bootstrap: str) -> dict[int, int]:
    """The `audit` topic's end offset per partition now (nothing when it does not exist)."""
    with kafka.admin(bootstrap) as client:
        if names.AUDIT not in client.list_topics():
            return {}
    consumer = kafka.consumer_for(bootstrap, request_timeout_ms=30_000)
    try:
        tps = [
            TopicPartition(names.AUDIT, p) for p in consumer.partitions_for_topic(names.AUDIT) or ()
        ]
        return {tp.partition: end for tp, end in consumer.end_offsets(tps).items()}
    except KafkaError as exc:
        raise WelfareWatchError(
            f"cannot read the Kafka topic {names.AUDIT!r} at {bootstrap}: {exc}"
        ) from None
    finally:
        consumer.close()


def read_topic(
    bootstrap: str, chains: Iterable[str] = (), settled: Mapping[int, int] | None = None
) -> dict[str, KafkaCopy]:
    """The `audit` topic from its beginning to its end offsets, by chain; a copy for each of
    `chains` too, empty when nothing of it is on the topic (complete unless retention
    removed messages from the partition its key goes to). A message below `settled` (end
    offsets taken before Redis was read; default: all) was in Redis when it was read."""
    with kafka.admin(bootstrap) as client:
        exists = names.AUDIT in client.list_topics()
    copies: dict[str, KafkaCopy] = {}
    trimmed: set[int] = set()
    partitions = 0
    if exists:
        try:
            partitions, trimmed = _consume(bootstrap, copies, settled)
        except KafkaError as exc:
            raise WelfareWatchError(
                f"cannot read the Kafka topic {names.AUDIT!r} at {bootstrap}: {exc}"
            ) from None
    for chain in {*copies, *chains}:  # keyed by chain: its partition is the key's
        partition = (murmur2(chain.encode()) & 0x7FFFFFFF) % partitions if partitions else -1
        copies.setdefault(chain, KafkaCopy()).complete = partition not in trimmed
    return copies


def _consume(
    bootstrap: str, copies: dict[str, KafkaCopy], settled: Mapping[int, int] | None
) -> tuple[int, set[int]]:
    consumer = kafka.consumer_for(
        bootstrap, enable_auto_commit=False, group_id=None, request_timeout_ms=30_000
    )
    try:
        tps = [
            TopicPartition(names.AUDIT, p) for p in consumer.partitions_for_topic(names.AUDIT) or ()
        ]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        starts = consumer.beginning_offsets(tps)
        ends = consumer.end_offsets(tps)
        trimmed = {tp.partition for tp in tps if starts[tp] > 0}
        deadline = time.monotonic() + _KAFKA_PATIENCE
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise WelfareWatchError(
                    f"the Kafka topic {names.AUDIT!r} did not deliver up to its end in "
                    f"{_KAFKA_PATIENCE:.0f}s"
                )
            for tp, records in consumer.poll(timeout_ms=500, max_records=10_000).items():
                for record in records:
                    if record.offset < ends[tp]:
                        known = settled is None or record.offset < settled.get(tp.partition, 0)
                        _add(copies, record.key, record.value, known)
        return len(tps), trimmed
    finally:
        consumer.close()


def _add(
    copies: dict[str, KafkaCopy], key: bytes | None, value: bytes | None, settled: bool
) -> None:
    chain = (key or b"").decode(errors="replace")
    copy = copies.setdefault(chain, KafkaCopy())
    try:
        copy.add(Entry.decode(value or b""), settled=settled)
    except ValidationError:
        copy.unreadable += 1


def verify_stored(
    client: redis.Redis, bootstrap: str, sleep: Callable[[float], None] = time.sleep
) -> Verdict:
    """`audit verify`, safe while writers append: an entry is written to Redis, then published.
    So what Kafka held before Redis is read must all be in Redis (an entry removed from the
    end is caught); an entry in Redis that is not yet on Kafka gets a short grace."""
    before = topic_ends(bootstrap)
    stored = read_chains(client)
    verdict = verify_all(stored, read_topic(bootstrap, stored, before))
    if verdict.broken is not None and verdict.broken.unpublished:
        sleep(_PUBLISH_GRACE)
        verdict = verify_all(stored, read_topic(bootstrap, stored, before))
    return verdict


# --- GET /api/audit ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    total: int
    entries: list[Entry]


async def read_page(
    client: aioredis.Redis,
    *,
    chain: str = "",
    target: str = "",
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Entries newest first, of one chain or all, of one target or all: one page of them."""
    keys = (
        [names.audit_chain_key(chain)]
        if chain
        else [k async for k in client.scan_iter(match=names.audit_chain_key("*"), count=1000)]
    )
    wanted = page * per_page
    total = 0
    found: list[Entry] = []
    for key in keys:
        if target:
            matches = await _matching(client, key, target)
            total += len(matches)
            found.extend(matches[:wanted])
        else:
            total += await client.llen(key)
            found.extend(_decoded(map(_raw, await client.lrange(key, -wanted, -1))))
    start = (page - 1) * per_page
    return Page(total, newest_first(found)[start:wanted])


async def _matching(client: aioredis.Redis, key: bytes | str, target: str) -> list[Entry]:
    """The entries of one chain about `target`, newest first."""
    needle = json.dumps(target, ensure_ascii=False).encode()  # as it appears in an entry
    matches: list[Entry] = []
    end = await client.llen(key)  # what is appended meanwhile is for the next request
    while end > 0:
        start = max(0, end - _PAGE)
        raw = await client.lrange(key, start, end - 1)
        candidates = _decoded(r for r in map(_raw, reversed(raw)) if needle in r)
        matches.extend(e for e in candidates if e.target == target)
        end = start
    return matches


def _raw(item: bytes | str) -> bytes:
    return item.encode() if isinstance(item, str) else item


def _decoded(raw: Iterable[bytes]) -> list[Entry]:
    """The entries among `raw` (anything else is `audit verify`'s to report, not a page's)."""
    entries = []
    for item in raw:
        try:
            entries.append(Entry.decode(item))
        except ValidationError:
            continue
    return entries
