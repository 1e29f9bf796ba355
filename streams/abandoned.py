"""Deliveries whose sender died before the end marker: ended on their behalf.

A connector marks the end of each delivery so that its people are evaluated together. If the
sender dies first, those people would wait for the next daily scan. The worker keeps, per
pending set, when it last saw one of the delivery's facts; once that is `abandon_after`
seconds ago the group leader publishes the end marker itself (flagged as abandoned, so it does
not count as the feed having delivered), and the worker that owns the partition evaluates
those people as for any delivery and cleans the pending set up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connectors.delivery import SNAPSHOT_FEED, marker
from streams.snapshots import stuck
from streams.store import PendingDelivery, PersonStore


def abandoned(
    pending: Iterable[PendingDelivery], now: float, after: float
) -> list[PendingDelivery]:
    """The pending sets whose delivery has been quiet for longer than `after` seconds."""
    return sorted((p for p in pending if now - p.seen > after), key=lambda p: (p.seen, p.field))


def end_marker(pending: PendingDelivery) -> bytes:
    return marker(pending.delivery, pending.payment, pending.feed, abandoned=True)


async def end_quiet(store: PersonStore, facts: Any, roster: Any, partitions: int, now: float,
                    after: float) -> tuple[int, int]:  # fmt: skip
    """Send the end markers of the deliveries and roster snapshots quiet for `after` seconds
    (Faust topics `facts` and `roster`): a snapshot's go onto roster.changes, behind its
    messages. Returns how many of each were ended."""
    quiet = abandoned(await store.pending_deliveries(), now, after)
    for pending in quiet:
        topic = roster if pending.feed == SNAPSHOT_FEED else facts
        await topic.send(value=end_marker(pending), partition=pending.partition)
    gone = stuck(await store.snapshots(), partitions, now, after)
    for snapshot, missing in gone:
        value = marker(snapshot, False, SNAPSHOT_FEED, abandoned=True)
        for partition in missing:
            await roster.send(value=value, partition=partition)
    return len(quiet), len(gone)
