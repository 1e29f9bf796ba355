"""The audit log (全过程留痕): hash-linked chains in Redis lists, each entry also on Kafka `audit`.

`AuditLog` (asyncio: the web app, the worker) and `SyncAuditLog` (the command line) append to a
chain with one compare-and-append Lua script: the entries are pushed only if the chain's last
entry is still the one they were linked to, else they are linked again to the new last entry
and retried, so several writers on one chain never fork it. Each appended entry is then
published to Kafka keyed by its chain, the copy of the chain's head that is kept outside Redis.
The pure half (entries, hashing, verification) is `alerts.audit_chain`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError as AIOKafkaError
from kafka.errors import KafkaError
from pydantic import ValidationError

from alerts.audit_chain import (
    CLI_CHAIN,
    WEB_CHAIN,
    WORKER_CHAIN_PREFIX,
    Break,
    Draft,
    Entry,
    KafkaCopy,
    Verdict,
    entry_hash,
    link,
    verify_all,
    verify_chain,
    worker_chain,
)
from welfare_watch import kafka, names, redis_client, security
from welfare_watch.errors import WelfareWatchError
from welfare_watch.settings import Settings

__all__ = [
    "CLI_CHAIN",
    "WEB_CHAIN",
    "WORKER_CHAIN_PREFIX",
    "AuditError",
    "AuditLog",
    "Break",
    "Draft",
    "Entry",
    "KafkaCopy",
    "SyncAuditLog",
    "Verdict",
    "entry_hash",
    "verify_all",
    "verify_chain",
    "worker_chain",
]

log = logging.getLogger(__name__)

_ATTEMPTS = 100  # compare-and-append rounds before giving up on a chain under contention
# KEYS[1]: the chain. ARGV[1]: its last entry as the caller saw it ("" for an empty chain);
# ARGV[2..]: the entries to push. Returns 1 when pushed, else the actual last entry.
_APPEND = """
local last = redis.call('LINDEX', KEYS[1], -1) or ''
if last ~= ARGV[1] then return last end
for i = 2, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
return 1
"""


class AuditError(WelfareWatchError):
    """An entry could not be appended or published: the audited step must not go ahead."""


DraftLike = Draft | Mapping[str, Any]


def _drafts(entries: Sequence[DraftLike]) -> list[Draft]:
    try:
        return [e if isinstance(e, Draft) else Draft.model_validate(e) for e in entries]
    except ValidationError as exc:
        raise ValueError(f"not an audit entry draft: {exc}") from None


def _head(chain: str, raw: bytes) -> Entry | None:
    """The entry a chain ends with (None: empty); AuditError if it is not one."""
    if not raw:
        return None
    try:
        return Entry.decode(raw)
    except ValidationError:
        raise AuditError(
            f"the audit chain {chain!r} ends with something that is not an entry: "
            "run 'welfare-watch audit verify'"
        ) from None


def _linked(chain: str, seen: bytes, drafts: Sequence[Draft]) -> tuple[list[Entry], list[bytes]]:
    entries = link(chain, _head(chain, seen), drafts, dt.datetime.now(dt.UTC))
    return entries, [e.encode() for e in entries]


def _raw(value: Any) -> bytes:
    """A Redis reply as bytes: b"" for none."""
    if value is None:
        return b""
    return value.encode() if isinstance(value, str) else bytes(value)


def _contended(chain: str) -> AuditError:
    return AuditError(f"could not append to the audit chain {chain!r}: too many writers at once")


class AuditLog:
    """Appends to audit chains from asyncio code. The Kafka producer starts on first use, so
    whoever holds one starts without Kafka; `close()` stops it (the Redis client is yours)."""

    def __init__(self, client: aioredis.Redis, bootstrap: str, partitions: int) -> None:
        self._redis = client
        self._script = client.register_script(_APPEND)
        self._bootstrap = bootstrap
        self._partitions = partitions  # of the audit topic, when this creates it
        self._producer: AIOKafkaProducer | None = None
        self._started = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}  # one writer per chain in this process
        self._seen: dict[str, bytes] = {}  # each chain's last entry as last seen here

    @classmethod
    def for_settings(cls, settings: Settings, client: aioredis.Redis) -> AuditLog:
        return cls(client, settings.env.kafka_bootstrap, settings.policy.worker.partitions)

    async def append(
        self,
        chain: str,
        *,
        actor: str,
        role: str = "",
        token_id: str = "",
        action: str,
        target: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> Entry:
        """Append one entry to `chain` and publish it; AuditError when either fails."""
        draft = Draft(
            actor=actor,
            role=role,
            token_id=token_id,
            action=action,
            target=target,
            detail=dict(detail or {}),
        )
        [entry] = await self.append_many(chain, [draft])
        return entry

    async def append_many(self, chain: str, entries: Sequence[DraftLike]) -> list[Entry]:
        """Append several entries to `chain` at once, in order (one Redis round trip)."""
        drafts = _drafts(entries)
        if not drafts:
            return []
        producer = await self._producer_started()
        lock = self._locks.setdefault(chain, asyncio.Lock())
        async with lock:
            linked = await self._push(chain, drafts)
            # Queued in the chain's order while the chain is held; acknowledged outside.
            try:
                sent = [
                    await producer.send(names.AUDIT, key=chain.encode(), value=e.encode())
                    for e in linked
                ]
            except AIOKafkaError as exc:
                raise self._unpublished(chain, linked, exc) from None
        try:
            await asyncio.gather(*sent)
        except AIOKafkaError as exc:
            raise self._unpublished(chain, linked, exc) from None
        return linked

    async def _push(self, chain: str, drafts: Sequence[Draft]) -> list[Entry]:
        key = names.audit_chain_key(chain)
        seen = self._seen.get(chain, b"")
        for attempt in range(_ATTEMPTS):
            entries, encoded = _linked(chain, seen, drafts)
            try:
                answer = await self._script(keys=[key], args=[seen, *encoded])
            except redis.RedisError as exc:
                raise AuditError(f"cannot write the audit chain {chain!r}: {exc}") from None
            if answer == 1:
                self._seen[chain] = encoded[-1]
                return entries
            seen = _raw(answer)  # another writer went first: link to its entry instead
            if attempt > 2:  # not just a stale head: real contention, so spread the retries
                await asyncio.sleep(random.uniform(0, 0.002 * attempt))
        raise _contended(chain)

    def _unpublished(self, chain: str, entries: Sequence[Entry], exc: Exception) -> AuditError:
        seqs = f"{entries[0].seq}..{entries[-1].seq}"
        log.error(
            "audit entries %s of chain %s are in Redis but could not be published to Kafka "
            "(%s): 'audit verify' will report them",
            seqs,
            chain,
            type(exc).__name__,
        )
        return AuditError(f"cannot publish to the Kafka topic {names.AUDIT!r}: {exc}")

    async def _producer_started(self) -> AIOKafkaProducer:
        async with self._started:
            if self._producer is None:
                try:
                    await asyncio.to_thread(
                        kafka.ensure_topics, self._bootstrap, [names.AUDIT], self._partitions
                    )
                    producer = AIOKafkaProducer(
                        bootstrap_servers=self._bootstrap,
                        acks="all",
                        enable_idempotence=True,
                        **security.aiokafka_options(),
                    )
                    await producer.start()
                except (WelfareWatchError, AIOKafkaError, OSError) as exc:
                    raise AuditError(f"cannot reach Kafka for the audit log: {exc}") from None
                self._producer = producer
            return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


class SyncAuditLog:
    """Appends to audit chains from plain code (the command line). Close it when done."""

    def __init__(self, client: redis.Redis, bootstrap: str, partitions: int) -> None:
        self._redis = client
        self._script = client.register_script(_APPEND)
        self._bootstrap = bootstrap
        self._partitions = partitions
        self._producer: Any = None

    @classmethod
    def for_settings(cls, settings: Settings) -> SyncAuditLog:
        client = redis_client.connect(settings.env.redis_url)
        return cls(client, settings.env.kafka_bootstrap, settings.policy.worker.partitions)

    def append(
        self,
        chain: str,
        *,
        actor: str,
        role: str = "",
        token_id: str = "",
        action: str,
        target: str = "",
        detail: Mapping[str, Any] | None = None,
    ) -> Entry:
        draft = Draft(
            actor=actor,
            role=role,
            token_id=token_id,
            action=action,
            target=target,
            detail=dict(detail or {}),
        )
        [entry] = self.append_many(chain, [draft])
        return entry

    def append_many(self, chain: str, entries: Sequence[DraftLike]) -> list[Entry]:
        drafts = _drafts(entries)
        if not drafts:
            return []
        producer = self._producer_started()
        linked = self._push(chain, drafts)
        try:
            sent = [
                producer.send(names.AUDIT, key=chain.encode(), value=e.encode()) for e in linked
            ]
            for future in sent:
                future.get(timeout=30)
        except (KafkaError, kafka.NotDelivered) as exc:
            log.error("audit entries of chain %s were not published to Kafka", chain)
            raise AuditError(
                f"cannot publish to the Kafka topic {names.AUDIT!r} at {self._bootstrap}: "
                f"{type(exc).__name__}"
            ) from None
        return linked

    def _push(self, chain: str, drafts: Sequence[Draft]) -> list[Entry]:
        key = names.audit_chain_key(chain)
        seen = _raw(self._redis.lindex(key, -1))
        for attempt in range(_ATTEMPTS):
            entries, encoded = _linked(chain, seen, drafts)
            answer = self._script(keys=[key], args=[seen, *encoded])
            if answer == 1:
                return entries
            seen = _raw(answer)
            if attempt > 2:
                time.sleep(random.uniform(0, 0.002 * attempt))
        raise _contended(chain)

    def _producer_started(self) -> Any:
        if self._producer is None:
            kafka.ensure_topics(self._bootstrap, [names.AUDIT], self._partitions)
            self._producer = kafka.producer(self._bootstrap)
        return self._producer

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None
        self._redis.close()
