"""Doubles for tests of the worker's batch path: a store that must not reach Redis, and a
publisher that keeps what the batch hands to Kafka."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from alerts.model import Alert
from streams.batch import Recheck, Rejected
from streams.store import Changes, Loaded, PersonStore


class Collected:
    """The Publisher protocol (streams.batch): what a batch publishes itself, kept."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.rejected: list[Rejected] = []
        self.rechecks: list[Recheck] = []
        self.roster_markers_sent: list[tuple[int, bytes]] = []

    async def publish(self, alerts: Sequence[Alert], rejected: Sequence[Rejected]) -> None:
        self.alerts.extend(alerts)
        self.rejected.extend(rejected)

    async def recheck(self, rechecks: Sequence[Recheck]) -> None:
        self.rechecks.extend(rechecks)

    async def roster_markers(self, markers: Sequence[tuple[int, bytes]]) -> None:
        self.roster_markers_sent.extend(markers)


class ProgressOnly(PersonStore):
    """For a batch of messages that name no one who can be loaded (unreadable ones): its save
    holds only how far the input is done, kept in `saved`. Any other use of Redis fails
    (`unreachable()` points the client at a port nobody listens on)."""

    def __init__(self, redis: aioredis.Redis) -> None:
        super().__init__(redis)
        self.saved: list[Changes] = []

    async def save(self, changes: Changes, loaded: Loaded) -> list[str]:
        assert not (changes.roster or changes.facts or changes.alerts or changes.offsets)
        self.saved.append(changes)
        return []

    @property
    def progress(self) -> dict[tuple[str, int], int]:  # type: ignore[override]
        done: dict[tuple[str, int], int] = {}
        for changes in self.saved:
            done.update(changes.progress)
        return done


def unreachable() -> aioredis.Redis:
    return aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
