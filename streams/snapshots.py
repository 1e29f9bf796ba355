"""Households are judged once a roster snapshot has reached all of them.

A snapshot's `replace` and `remove` messages are spread over the partitions of roster.changes,
which workers take at their own pace. While one partition has applied its share and another
has not, a household whose members are in both is half old, half new: judged then, it can
raise an alert that the rest of the snapshot ends (a per-capita income over one member of two).

So the store keeps, per snapshot, the partitions that have ended it (names.SNAPSHOTS). From
the first of its messages a worker applies until every partition has ended it, the snapshot is
*open*, and anyone with a household who would be evaluated waits instead, in a pending set of
their partition named after the snapshot and their trigger (`waiting_delivery`). The save that
ends the snapshot in its last partition makes it *whole*; its worker then puts an end marker for
those sets on every partition of roster.changes (`whole_markers`), behind the snapshot's own
messages, and each partition's worker evaluates their people then: every member of every
household has the snapshot by that time.

A set that waits for a snapshot is a pending delivery like any other: `welfare-watch wait`
counts its people, and the abandoned-delivery sweep ends it if no marker comes (the worker
died between the save and the markers). A snapshot whose loader died before all its end
markers is ended by the same sweep once it has been quiet (`stuck`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from alerts.model import TRIGGERS, Trigger
from connectors.delivery import SNAPSHOT_FEED, marker

_WAITS = "/waits/"
# The sets that wait for one snapshot in one partition end together, in this order: someone in
# two is evaluated as the first (a department's record before the roster's own change).
WAITING_ORDER: tuple[Trigger, ...] = ("payment", "event", "scan", "enrollment")


def waiting_delivery(snapshot: str, trigger: Trigger) -> str:
    """The pending set of people who wait for `snapshot` to be whole, evaluated then as
    `trigger` (what brought them in: a payment file keeps `payment`)."""
    return f"{snapshot}{_WAITS}{trigger}"


def waited_for(delivery: str) -> tuple[str, Trigger] | None:
    """(snapshot, trigger) when `delivery` is a set waiting for a snapshot, else None."""
    snapshot, found, named = delivery.rpartition(_WAITS)
    trigger = next((t for t in TRIGGERS if t == named), None)
    return (snapshot, trigger) if found and trigger else None


@dataclass(frozen=True)
class SnapshotProgress:
    """What the store knows of one snapshot (names.SNAPSHOTS): when a worker last applied any
    of it, the partitions that have ended it, and when it became whole."""

    snapshot: str
    seen: float
    ended: frozenset[int] = frozenset()
    whole: float | None = None

    @classmethod
    def decode(cls, snapshot: bytes | str, raw: bytes | str) -> SnapshotProgress:
        name = snapshot.decode() if isinstance(snapshot, bytes) else snapshot
        body = json.loads(raw)
        ended = body.get("ended") or []  # Lua's cjson writes an empty list as {}
        return cls(name, float(body["seen"]), frozenset(int(p) for p in ended), body.get("whole"))


def still_open(
    known: Iterable[SnapshotProgress], ending: Mapping[str, Iterable[int]], partitions: int
) -> list[str]:
    """The snapshots that are not whole even with the partitions `ending` them in this batch
    (a batch that ends one in its last partition judges households at once: every other
    partition's share is saved, and its own is in hand), oldest first."""
    return [
        s.snapshot
        for s in _oldest_first(known)
        if len(s.ended.union(ending.get(s.snapshot, ()))) < partitions
    ]


def whole_markers(snapshot: str, partitions: int) -> list[tuple[int, bytes]]:
    """(partition, end marker) of the sets that wait for `snapshot`, for every partition (one
    ends them all, streams.batch)."""
    delivery = waiting_delivery(snapshot, WAITING_ORDER[0])
    return [(p, marker(delivery, True, SNAPSHOT_FEED)) for p in range(partitions)]


def stuck(
    known: Iterable[SnapshotProgress], partitions: int, now: float, after: float
) -> list[tuple[str, list[int]]]:
    """Open snapshots no worker has applied anything of for `after` seconds (their loader died
    before the end markers), with the partitions that have not ended them."""
    return [
        (s.snapshot, [p for p in range(partitions) if p not in s.ended])
        for s in _oldest_first(known)
        if now - s.seen > after
    ]


def _oldest_first(known: Iterable[SnapshotProgress]) -> list[SnapshotProgress]:
    """The snapshots not yet whole, the one a worker last applied anything of longest ago
    first."""
    return sorted((s for s in known if s.whole is None), key=lambda s: (s.seen, s.snapshot))
