"""The audit chain as pure functions: entries, their canonical hash, linking, verification.

An entry carries the hash of the entry before it on its chain, and its own hash over every
other field; every entry is also published to the Kafka topic `audit`, so the copy there
keeps each chain's head outside Redis. `verify_chain` finds the first entry where the Redis
chain breaks: an edit, a removal (the last entry included, through the Kafka copy), a reorder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka.partitioner.default import murmur2
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.ids import redact

WEB_CHAIN = "web"  # the web app's chain: views, actions, exports, refusals
CLI_CHAIN = "cli"  # the command line's chain: `alerts list`, `alerts export`
WORKER_CHAIN_PREFIX = "worker-"  # + a partition of the worker's inputs: its state changes
MAX_DETAIL_BYTES = 4096  # a detail is counts, codes and filters, never a document


def worker_chain(person_id: str, partitions: int) -> str:
    """The chain of the worker that owns `person_id`: `worker-<partition>`, the partition
    Kafka's default partitioner gives the person's key on the worker's input topics."""
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    partition = (murmur2(person_id.encode()) & 0x7FFFFFFF) % partitions
    return f"{WORKER_CHAIN_PREFIX}{partition}"


def canonical(value: Any) -> bytes:
    """The one JSON text of a value: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def entry_hash(fields: Mapping[str, Any]) -> str:
    """sha256 (hex) over the canonical JSON of every field but `hash` itself, `prev` included."""
    return hashlib.sha256(canonical({k: v for k, v in fields.items() if k != "hash"})).hexdigest()


class Draft(BaseModel):
    """An entry before it is placed on a chain: who did what to what."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str = Field(min_length=1)  # a staff id (the token's subject), "system", an OS user
    role: str = ""  # the token's role; "system" for the worker, "cli" for the command line
    token_id: str = ""  # the token's id (jti), "" when none acted
    action: str = Field(min_length=1)  # viewed, listed, exported, acknowledged, refused…
    target: str = ""  # an alert id, or a path
    detail: dict[str, Any] = Field(default_factory=dict)  # counts, codes: no names, no IDs
    at: dt.datetime | None = None  # when; None: the time it is appended


class Entry(BaseModel):
    """One link of a chain, exactly as stored in Redis and published to Kafka."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    chain: str
    seq: int = Field(ge=0)
    at: str  # ISO 8601, UTC
    actor: str
    role: str
    token_id: str
    action: str
    target: str
    detail: dict[str, Any]
    prev: str  # the hash of the entry before; "" for the first
    hash: str

    def encode(self) -> bytes:
        return canonical(self.model_dump())

    @classmethod
    def decode(cls, raw: bytes | str) -> Entry:
        """The entry in `raw`; ValueError (a pydantic ValidationError) when it is not one."""
        return cls.model_validate_json(raw)


def scrub(value: Any) -> Any:
    """`value` as JSON would give it back, every ID number inside a string masked."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def link(chain: str, head: Entry | None, drafts: Sequence[Draft], now: dt.datetime) -> list[Entry]:
    """The drafts as the next entries of `chain` after `head` (None: the chain is empty)."""
    seq, prev = (head.seq + 1, head.hash) if head is not None else (0, "")
    entries = []
    for draft in drafts:
        detail = json.loads(canonical(scrub(draft.detail)))  # what is hashed is what is stored
        if len(canonical(detail)) > MAX_DETAIL_BYTES:
            raise ValueError(f"an audit detail is limited to {MAX_DETAIL_BYTES} bytes")
        fields: dict[str, Any] = {
            "chain": chain,
            "seq": seq,
            "at": _utc(draft.at or now),
            "actor": redact(draft.actor),
            "role": draft.role,
            "token_id": draft.token_id,
            "action": draft.action,
            "target": redact(draft.target),
            "detail": detail,
            "prev": prev,
        }
        entry = Entry(**fields, hash=entry_hash(fields))
        entries.append(entry)
        seq, prev = entry.seq + 1, entry.hash
    return entries


def _utc(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("an audit time must carry its time zone")
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """The first entry where a chain is broken, and why."""

    chain: str
    seq: int
    why: str
    unpublished: bool = False  # only in Redis so far: perhaps its Kafka copy is on its way

    def __str__(self) -> str:
        return f"chain {self.chain!r}, seq {self.seq}: {self.why}"


@dataclass
class KafkaCopy:
    """One chain as the `audit` topic holds it."""

    entries: dict[int, Entry] = field(default_factory=dict)  # seq -> entry
    forks: set[int] = field(default_factory=set)  # seqs published twice, differently
    unreadable: int = 0  # messages keyed by this chain that are not audit entries
    complete: bool = True  # False: retention removed older messages of its partition
    # The last seq published before Redis was read (-1: none): Redis must hold at least that.
    # An entry published later may have been appended after the read, so it does not count.
    settled_head: int = -1

    def add(self, entry: Entry, *, settled: bool = True) -> None:
        known = self.entries.setdefault(entry.seq, entry)
        if known != entry:
            self.forks.add(entry.seq)
        if settled:
            self.settled_head = max(self.settled_head, entry.seq)

    @property
    def head(self) -> int:
        """The last seq published (-1: none)."""
        return max(self.entries, default=-1)

    def requires(self, seq: int) -> bool:
        """Whether entry `seq` must be in this copy (retention may have removed old ones)."""
        return self.complete or seq > min(self.entries, default=seq)


def verify_chain(chain: str, stored: Sequence[bytes | str], copy: KafkaCopy) -> Break | None:
    """The first broken entry of `chain` as stored in Redis, checked against its Kafka copy."""
    if copy.unreadable:
        return Break(chain, max(copy.head, 0), "a message on the audit topic is not an entry")
    prev = ""
    for position, raw in enumerate(stored):
        try:
            entry = Entry.decode(raw)
        except ValidationError:
            return Break(chain, position, "not a well-formed audit entry")
        why = _link_fault(chain, position, prev, entry) or _copy_fault(entry, copy)
        if why is not None:
            return Break(chain, position, why, unpublished=why == _UNPUBLISHED)
        prev = entry.hash
    if copy.settled_head >= len(stored):
        return Break(
            chain,
            len(stored),
            f"missing from Redis: the copy in Kafka goes on to seq {copy.settled_head} "
            "(entries were removed from the end)",
        )
    return None


_UNPUBLISHED = "not in the copy in Kafka"


def _link_fault(chain: str, position: int, prev: str, entry: Entry) -> str | None:
    if entry.chain != chain:
        return f"it belongs to chain {entry.chain!r}"
    if entry.seq != position:
        return f"found seq {entry.seq} in its place: an entry was removed or moved"
    if entry.hash != entry_hash(entry.model_dump()):
        return "its hash does not match its content: it was edited"
    if entry.prev != prev:
        return "it does not link to the entry before it (prev is not that entry's hash)"
    return None


def _copy_fault(entry: Entry, copy: KafkaCopy) -> str | None:
    if entry.seq in copy.forks:
        return "two different entries with this seq were published to Kafka"
    published = copy.entries.get(entry.seq)
    if published is None:
        return _UNPUBLISHED if copy.requires(entry.seq) else None
    if published != entry:
        return "it differs from its copy in Kafka"
    return None


@dataclass(frozen=True)
class Verdict:
    entries: int  # entries checked in Redis
    chains: int
    broken: Break | None

    def __str__(self) -> str:
        if self.broken is None:
            return f"audit chain intact: {self.entries} entries in {self.chains} chains"
        return f"audit chain broken at {self.broken}"


def verify_all(
    stored: Mapping[str, Sequence[bytes | str] | None], copies: Mapping[str, KafkaCopy]
) -> Verdict:
    """Every chain in Redis (None: its key is not a list) and every chain only in Kafka."""
    broken = None
    for chain in sorted({*stored, *copies}):
        entries = stored.get(chain, ())
        if chain not in stored:
            settled = copies[chain].settled_head >= 0 or copies[chain].unreadable > 0
            found: Break | None = (
                Break(chain, 0, "the whole chain is missing from Redis") if settled else None
            )
        elif entries is None:
            found = Break(chain, 0, "its Redis key is not a list of entries")
        else:
            found = verify_chain(chain, entries, copies.get(chain, KafkaCopy()))
        if found is not None:
            broken = found
            break
    total = sum(len(e or ()) for e in stored.values())
    return Verdict(total, len(stored), broken)


def newest_first(entries: Iterable[Entry]) -> list[Entry]:
    """Entries of several chains, newest first (within a chain, by seq)."""
    return sorted(entries, key=lambda e: (e.at, e.chain, e.seq), reverse=True)
